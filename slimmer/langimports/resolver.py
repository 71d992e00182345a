"""The whole image's view: every language's search path (discover) and one resolver
that hands each source file to its language's module."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import Sequence

from .core import FsView, Import, language_of, processes_of
from .node import NodePath, NodeResolver, node_path
from .perl import PerlPath, PerlResolver, perl_path
from .python import PythonResolver
from .pythonpath import PythonPath, python_argv, python_paths
from .ruby import RubyPath, RubyResolver, ruby_path


@dataclass(frozen=True)
class SearchPaths:
    python: tuple[PythonPath, ...] = ()
    node: NodePath | None = None
    ruby: RubyPath | None = None
    perl: PerlPath | None = None
    workdir: str = "/"
    python_scripts: frozenset[str] = frozenset()     # scripts Python ran as __main__ (real paths)


def discover(fs: FsView, env: dict[str, str], processes: Sequence, workdir: str = "/") -> SearchPaths:
    """Every language's search path for an image: `processes` are the traced ones
    (objects with .exe, the real executable, and .argv), plus any the caller adds for
    interpreters that shebangs name. A language whose interpreter the image lacks
    gets no search path."""
    workdir = workdir or "/"
    scripts = set()
    for process in processes_of("python", processes):
        script = python_argv(list(process.argv[1:]))[1]
        if script:
            path = script if script.startswith("/") else posixpath.join(workdir, script)
            scripts.add(fs.realpath(path) or posixpath.normpath(path))
    return SearchPaths(python=python_paths(fs, env, processes, workdir), node=node_path(fs, env, processes),
                       ruby=ruby_path(fs, env, processes), perl=perl_path(fs, env, processes), workdir=workdir,
                       python_scripts=frozenset(scripts))


class ImportResolver:
    """Scans sources and resolves their imports against one image's search paths, each
    language by its own resolver (python.py, node.py, ruby.py, perl.py). Resolutions of
    absolute names are cached: each name is searched once per interpreter, however
    many files import it."""

    def __init__(self, fs: FsView, paths: SearchPaths, python_scans=None):
        """PYTHON_SCANS: a mapping that keeps Python scans by content across runs (PythonResolver)."""
        self.fs = fs
        self.paths = paths
        self.python = PythonResolver(fs, paths, python_scans)
        self.node = NodeResolver(fs, paths)
        self.ruby = RubyResolver(fs, paths)
        self.perl = PerlResolver(fs, paths)

    def language(self, path: str, shebang: str | None = None) -> str | None:
        """The file's language when the image has that interpreter."""
        language = language_of(path, shebang)
        present = {"python": bool(self.paths.python), "node": self.paths.node is not None,
                   "ruby": self.paths.ruby is not None, "perl": self.paths.perl is not None}
        return language if language and present[language] else None

    def imports_of(self, path: str, source: bytes, language: str, shebang: str | None = None,
                   imports: list[Import] | None = None) -> list[str]:
        """The files the interpreter would open for the imports of `path`, in order, each
        once. A Python file runs as __main__ when a traced Python ran it or it has a shebang;
        `imports`: python_scan()'s for it, when the caller has them."""
        if language == "python":
            found = self.python.imports_of(path, source, self.runs_as_main(path, shebang), imports)
        else:
            found = {"node": self.node, "ruby": self.ruby, "perl": self.perl}[language].imports_of(path, source)
        return [p for p in dict.fromkeys(found) if p != path]

    def runs_as_main(self, path: str, shebang: str | None) -> bool:
        """A traced Python ran it as its script, or it is a program (a shebang) that is not a
        standard library module (Debian's tarfile.py, base64.py are executable: imported,
        their __main__ blocks do not run)."""
        return path in self.paths.python_scripts or (bool(shebang) and not self.python.stdlib_module(path))

    def python_stdlib_module(self, path: str) -> bool:
        return self.python.stdlib_module(path)

    def python_scan(self, path: str, source: bytes, shebang: str | None = None) -> list[Import]:
        """What a Python file imports, deferred functions' imports marked (python.PythonResolver.scan)."""
        return self.python.scan(path, source, self.runs_as_main(path, shebang))

    def real_dir(self, directory: str) -> str:
        return self.fs.realpath(directory) or directory

    def python_for(self, path: str) -> PythonPath | None:
        return self.python.python_for(path)

    def resolve_python(self, imp: Import, importer: str, env: PythonPath | None) -> list[str]:
        return self.python.resolve_python(imp, importer, env)

    def resolve_node(self, imp: Import, importer: str) -> list[str]:
        return self.node.resolve_node(imp, importer)

    def resolve_ruby(self, imp: Import, importer: str, extra_dirs: tuple[str, ...] = ()) -> list[str]:
        return self.ruby.resolve_ruby(imp, importer, extra_dirs)

    def resolve_perl(self, imp: Import, importer: str, extra_dirs: tuple[str, ...] = ()) -> list[str]:
        return self.perl.resolve_perl(imp, importer, extra_dirs)

    def ruby_counterparts(self, extension: str) -> list[str]:
        """A Ruby extension's pure-Ruby counterpart (ruby.RubyResolver.ruby_counterparts)."""
        return self.ruby.ruby_counterparts(extension)
