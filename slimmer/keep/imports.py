"""Rule "imports" (on by default, reason `imports`): what kept interpreted sources import.

Interpreted code loads modules only on the paths that run: a handler no probe
called imports sqlite3, a CLI branch requires IO::Compress::Gzip.
  1. A kept source file of a language whose interpreter is in the image is read
     and scanned for what it imports by a literal name, wherever the statement
     is (inside a function, a try/except, an if): Python (.py, or a script whose
     shebang names python), Node (.js/.mjs/.cjs, shebang node), Ruby (.rb,
     shebang ruby), Perl (.pm/.pl, shebang perl). The package
     slimmer/langimports/ defines the statements and the search, one module
     per language.
  2. Each name is resolved as the interpreter resolves it, against its own
     search path as the image configures it: sys.path of the Python the app
     ran (stdlib, lib-dynload, site-/dist-packages, the venv of argv[0]'s
     pyvenv.cfg, PYTHONPATH, the script's directory, .pth entries); Node's
     node_modules and package.json main/exports, NODE_PATH, Debian's
     /usr/share/nodejs; Ruby's $LOAD_PATH with the gems' lib dirs; Perl's
     @INC found in the image (no version hard-coded). The first match wins, as
     at run time.
  3. What it finds is kept with the reason `imports` and closed like any kept
     path: scanned in turn (transitively), a C extension (.so, a Perl
     auto/Module/Name.so, a .node addon) gets its ELF closure, a file of a
     third-party Python distribution or Node package keeps that package whole
     (rule `package`).
  4. A kept Ruby extension keeps its pure-Ruby counterpart: psych.so keeps
     psych.rb and psych/ (`require 'yaml'` loads them, then psych.so).
  5. Never run, so not followed: a Python library module's
     `if __name__ == "__main__":` body and the private functions only it calls,
     `if TYPE_CHECKING:` bodies, an `except ImportError:` fallback whose
     `try:` imports all resolve (decimal's _pydecimal), site's interactive
     hooks; nor the files of modules CPython never opens (the import
     system's sources, 3.11's frozen stdlib modules: their imports are
     followed). langimports/python.py says which.
  6. Only a file that runs is scanned: one kept as traced, repaired, included,
     essential, healthcheck, interpreter, script, app or imports; one kept
     only because its whole package (or plugin directory, or data tree) is
     kept runs only when something imports it, and is scanned then
     (pkg_resources' 100 modules import half the stdlib).
  7. Each file is read and scanned once, each name resolved once per search
     path; the walk ends when no new file appears (bounded by the image).
  8. CPython's import system runs frozen into the interpreter (importlib's
     __init__ takes _frozen_importlib and _frozen_importlib_external), whether
     or not its source is kept; importlib/_bootstrap.py and
     _bootstrap_external.py are that source, and are not scanned: what they
     import inside a method runs when the method is called, and those methods
     are callbacks other modules call by name. So each such import is kept
     for a scanned source that names its method (FROZEN_CALLBACKS), resolved
     by that source's interpreter: importlib.metadata for
     `find_distributions` (only importlib.metadata and its backport call it),
     importlib.readers for `get_resource_reader` (importlib.resources,
     importlib_resources), tokenize for `get_source`/`decode_source`
     (linecache, inspect). python-cli: 2 MB (importlib.metadata's email,
     zipfile, csv, pathlib..., and importlib.resources' tempfile, shutil,
     tarfile, lzma, bz2, random, statistics, decimal) reached through
     warnings -> traceback -> ast -> inspect -> importlib.machinery.
  9. A Python function that runs only once another module is imported
     (langimports' PYTHON_DEFERRED) has its imports kept once a scanned source
     of the same interpreter imports that module, whichever is scanned first;
     what they import can trigger more. setuptools' _distutils_hack (the
     distutils-precedence.pth that site runs in an environment with setuptools
     imports it) imports setuptools._distutils in spec_for_distutils, which its
     finder calls when something imports `distutils`; traceback for `pip`; the
     rest when setuptools imports _distutils_hack.override. site's
     register_readline (readline, libreadline, libtinfo) never: it is the
     interactive prompt's hook. python-venv: -6.3 MB (setuptools, with rule
     `package` keeping the top-level package of a kept file).
 10. Out of reach: a name computed at run time (`importlib.import_module(name)`,
     `require(variable)`, `require "x/#{y}"`, `require $module`), and what a C
     extension imports. Those are kept when a probe makes the app load them
     (traced), or with --include-path.
"""
from __future__ import annotations

import posixpath
from dataclasses import replace

from ..langimports import Import, ImportResolver, IndexFs, discover, imported_modules
from ..model import EntryType, FsEntry, KeepReason
from .rule import Rule, Stage

_SOURCE_MAX_BYTES = 8 << 20       # bigger "sources" are data (a generated table), not code
# rule 8: the frozen import system's source files, and what each of its callbacks imports
FROZEN_IMPORT_SYSTEM = ("/importlib/_bootstrap.py", "/importlib/_bootstrap_external.py")
FROZEN_CALLBACKS: dict[bytes, str] = {
    b"find_distributions": "importlib.metadata",      # PathFinder.find_distributions
    b"get_resource_reader": "importlib.readers",      # FileLoader / NamespaceLoader.get_resource_reader
    b"get_source": "tokenize",                        # SourceLoader.get_source -> decode_source
    b"decode_source": "tokenize",                     # importlib.util.decode_source
}
# A file kept for one of these reasons runs (or may run) as code; a file kept only because
# its package, plugin directory or data tree is kept whole runs only if something imports it.
RUNS = frozenset((KeepReason.TRACED, KeepReason.REPAIRED, KeepReason.INCLUDE, KeepReason.ESSENTIAL,
                  KeepReason.HEALTHCHECK, KeepReason.INTERPRETER, KeepReason.SCRIPT, KeepReason.APP,
                  KeepReason.IMPORTS))


class ImportsRule(Rule):
    """Keep what kept Python, Node, Ruby and Perl sources import by a literal name (see the module docstring)."""

    name = "imports"
    stage = Stage.EACH
    reasons = (KeepReason.IMPORTS,)
    default = True
    cost = ("-1.3 to +3.5 MB per sample app (python-venv's handlers: libsqlite3, PyYAML; python-cli 1.7 MB "
            "since the frozen import system's callbacks wait for their callers); lib-dynload is no longer a "
            "plugin directory kept whole; one Docker read per kept source")

    def __init__(self, keeper) -> None:
        super().__init__(keeper)
        self._resolver: ImportResolver | None = None
        self.scanned: set[str] = set()
        self.callbacks_kept: set[tuple[str, str | None]] = set()   # (module, stdlib) rule 8 resolved
        # rule 9, per interpreter (its stdlib): modules scanned sources import, and the
        # deferred imports (importer, Import) waiting for one of their `when` modules
        self.python_imported: set[tuple[str | None, str]] = set()
        self.deferred: dict[tuple[str | None, str], list[tuple[str, Import]]] = {}
        self.deferred_done: set[tuple[str, Import]] = set()

    def resolver(self) -> ImportResolver:
        """Search paths are discovered once, on the first kept file that needs them."""
        if self._resolver is None:
            self._resolver = search_resolver(self.keeper)
        return self._resolver

    def each(self, path: str, entry: FsEntry) -> None:
        work = [path]
        while work:
            work += self.visit(work.pop())

    def visit(self, path: str) -> list[str]:
        """Scan one kept file once it runs as code; the real paths it made the keeper keep.
        A file first kept whole with its package is scanned when an import reaches it
        (its reason becomes `imports`), which the keeper does not queue a second time."""
        keeper = self.keeper
        entry = keeper.index.get(path)
        kept = keeper.kept.get(path)
        if (path in self.scanned or kept is None or entry is None
                or entry.type not in (EntryType.FILE, EntryType.HARDLINK)):
            return []
        resolver = self.resolver()
        if entry.elf is not None:
            self.scanned.add(path)
            found = [(target, path) for target in
                     (resolver.ruby_counterparts(path) if path.endswith(".so") else [])]
        else:
            language = resolver.language(path, entry.shebang)
            if language is None or entry.size > _SOURCE_MAX_BYTES:
                self.scanned.add(path)
                return []
            if kept.reason not in RUNS:
                return []
            self.scanned.add(path)
            if self.frozen_import_system(path, language):
                return []                                           # rule 8: its imports wait for a caller
            data = keeper.content(path)
            if data is None:
                return []
            runs_as_main = entry.shebang if entry.mode & 0o111 else None
            imports = resolver.python_scan(path, data, runs_as_main) if language == "python" else None
            found = [(target, path) for target in resolver.imports_of(path, data, language, runs_as_main, imports)]
            if imports is not None:
                found += self.callback_imports(path, data)
                found += self.deferred_imports(path, imports)
        reached = (keeper.keep(target, KeepReason.IMPORTS, because) for target, because in found)
        return [real for real in reached if real is not None and real not in self.scanned]

    def frozen_import_system(self, path: str, language: str) -> bool:
        """importlib/_bootstrap*.py of a Python standard library the image has."""
        if language != "python" or not path.endswith(FROZEN_IMPORT_SYSTEM):
            return False
        stdlib = posixpath.dirname(posixpath.dirname(path))
        resolver = self.resolver()
        return any(resolver.real_dir(python.stdlib) == stdlib for python in resolver.paths.python)

    def callback_imports(self, path: str, source: bytes) -> list[tuple[str, str]]:
        """Rule 8: what the frozen import system imports for the callbacks `source` names,
        resolved by the interpreter that runs `path` (once per module and interpreter)."""
        resolver = self.resolver()
        python = resolver.python_for(path)
        found: list[tuple[str, str]] = []
        for name, module in FROZEN_CALLBACKS.items():
            key = (module, python.stdlib if python is not None else None)
            if name in source and key not in self.callbacks_kept:
                self.callbacks_kept.add(key)
                found += [(target, path) for target in
                          resolver.imports_of(path, f"import {module}\n".encode(), "python", None)]
        return found


    def deferred_imports(self, path: str, imports: list[Import]) -> list[tuple[str, str]]:
        """Rule 9: `path`'s deferred imports whose trigger was imported, and those waiting
        for a module `path` imports (then for what they import in turn)."""
        resolver = self.resolver()
        python = resolver.python_for(path)
        stdlib = python.stdlib if python is not None else None
        for imp in imports:
            for module in imp.when:
                self.deferred.setdefault((stdlib, module), []).append((path, imp))
        found: list[tuple[str, str]] = []
        names = set(imported_modules(imports))
        names |= {module for imp in imports for module in imp.when if (stdlib, module) in self.python_imported}
        while names:
            module = names.pop()
            self.python_imported.add((stdlib, module))
            for importer, imp in self.deferred.pop((stdlib, module), ()):
                if (importer, imp) in self.deferred_done:
                    continue
                self.deferred_done.add((importer, imp))
                found += [(target, importer) for target in
                          resolver.resolve_python(imp, importer, resolver.python_for(importer))]
                names |= {name for name in imported_modules([replace(imp, when=())])
                          if (stdlib, name) not in self.python_imported}
        return found


def search_resolver(keeper) -> ImportResolver:
    """The image's import resolver, shared by the rules that need its search paths."""
    def build() -> ImportResolver:
        fs = IndexFs(keeper.index, keeper.read_file)
        return ImportResolver(fs, discover(fs, keeper.env, keeper.trace.processes, keeper.workdir),
                              keeper.python_scans)
    return keeper.shared("imports:resolver", build)


def language_library_dirs(keeper) -> tuple[str, ...]:
    """Directories whose shared objects an interpreter loads by module name, as real
    paths: Python's stdlib (lib-dynload) and site dirs, Ruby's $LOAD_PATH, Perl's @INC."""
    resolver = search_resolver(keeper)
    paths = resolver.paths
    dirs: list[str] = []
    for python in paths.python:
        dirs += [d for d in python.dirs if d == python.stdlib or d.startswith(python.stdlib + "/")
                 or posixpath.basename(d) in ("site-packages", "dist-packages")]
    dirs += list(paths.ruby.dirs if paths.ruby else ()) + list(paths.perl.dirs if paths.perl else ())
    return tuple(dict.fromkeys(map(resolver.real_dir, dirs)))
