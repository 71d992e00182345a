"""What every language shares: the filesystem view, an import as written, which language a
file is, the interpreter lookups (PATH, globs, -I dirs) and the per-language resolver base.

Each language module (python.py, node.py, ruby.py, perl.py) builds on these; none of them
imports another language's module.
"""
from __future__ import annotations

import fnmatch
import posixpath
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Protocol, Sequence

from ..model import EntryType, ImageIndex

if TYPE_CHECKING:
    from .resolver import SearchPaths

MAX_SOURCE_BYTES = 8 << 20          # bigger "sources" are data (a generated table), not code


class FsView(Protocol):
    """The image filesystem as the resolvers see it. Paths are absolute; symlinks are followed."""

    def is_file(self, path: str) -> bool: ...

    def is_dir(self, path: str) -> bool: ...

    def read(self, path: str) -> bytes | None: ...

    def children(self, path: str) -> list[str]:
        """Names of the entries directly in a directory ([] when it is none)."""
        ...

    def realpath(self, path: str) -> str | None: ...


class IndexFs:
    """An FsView over an image index; file content through `read_file` (the original
    image's bytes), each file read at most once."""

    def __init__(self, index: ImageIndex, read_file: Callable[[str], "bytes | None"] | None):
        self.index = index
        self.read_file = read_file
        self._real: dict[str, str | None] = {}
        self._content: dict[str, bytes | None] = {}

    def realpath(self, path: str) -> str | None:
        if path not in self._real:
            self._real[path] = self.index.resolve(path).path
        return self._real[path]

    def _type(self, path: str) -> EntryType | None:
        real = self.realpath(path)
        entry = self.index.get(real) if real else None
        return entry.type if entry is not None else (EntryType.DIR if real == "/" else None)

    def is_file(self, path: str) -> bool:
        return self._type(path) in (EntryType.FILE, EntryType.HARDLINK)

    def is_dir(self, path: str) -> bool:
        return self._type(path) is EntryType.DIR

    def children(self, path: str) -> list[str]:
        real = self.realpath(path)
        return [posixpath.basename(child) for child in self.index.children(real)] if real else []

    def read(self, path: str) -> bytes | None:
        real = self.realpath(path)
        if real is None or not self.is_file(real) or self.read_file is None:
            return None
        if real not in self._content:
            captured = self.index.contents.get(real)
            try:
                self._content[real] = captured if captured is not None else self.read_file(real)
            except (OSError, KeyError):
                self._content[real] = None
        return self._content[real]


@dataclass(frozen=True)
class Import:
    """One import statement's target, as written.

    kind -- python: "import" | "from"; node: "require" | "import";
            ruby: "require" | "require_relative" | "require_file" | "load" | "load_path" | "load_path_file";
            perl: "use" | "require" | "file" | "xs" | "lib"
    level -- Python's relative level (the number of leading dots)
    names -- Python's `from X import a, b` names (submodules or attributes)
    unless -- Python: a fallback in `except ImportError:`, needed only when one of
              these modules (imported by the `try:` body) is missing
    when -- Python: in a function that runs only once one of these modules is
            imported (python.PYTHON_DEFERRED): followed when a scanned source imports one
    """

    name: str
    kind: str
    level: int = 0
    names: tuple[str, ...] = ()
    unless: tuple[str, ...] = ()
    when: tuple[str, ...] = ()


# --- languages -------------------------------------------------------------------------

_EXTENSIONS = {".py": "python", ".pyw": "python", ".js": "node", ".mjs": "node", ".cjs": "node",
               ".rb": "ruby", ".pm": "perl", ".pl": "perl"}
_INTERPRETERS = (("python", re.compile(r"^python(\d+(\.\d+)?)?$")), ("node", re.compile(r"^(node|nodejs)$")),
                 ("ruby", re.compile(r"^ruby(\d+(\.\d+)*)?$")), ("perl", re.compile(r"^perl(5[\d.]*)?$")))


def interpreter_language(name: str) -> str | None:
    """"python" for python3.11, "node" for nodejs, ...: the language an interpreter's basename runs."""
    base = posixpath.basename(name)
    for language, pattern in _INTERPRETERS:
        if pattern.match(base):
            return language
    return None


def language_of(path: str, shebang: str | None = None) -> str | None:
    """The language of a source file: by extension, else by the shebang's interpreter
    (`#!/usr/bin/env python3` too)."""
    language = _EXTENSIONS.get(posixpath.splitext(path)[1])
    if language or not shebang:
        return language
    words = shebang.lstrip("#!").split()
    if not words:
        return None
    if posixpath.basename(words[0]) == "env":
        words = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        if not words:
            return None
    return interpreter_language(words[0])


# --- interpreters and their directories ---------------------------------------------

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def which(fs: FsView, command: str, env: dict[str, str], workdir: str = "/") -> str | None:
    """A command's path on the image PATH, as named (not resolved)."""
    if "/" in command:
        return command if command.startswith("/") else posixpath.normpath(posixpath.join(workdir, command))
    for directory in env.get("PATH", DEFAULT_PATH).split(":"):
        candidate = posixpath.join(directory or workdir, command)
        if fs.is_file(candidate):
            return candidate
    return None


def glob(fs: FsView, pattern: str) -> list[str]:
    """Existing paths matching an absolute glob, component by component, sorted per level."""
    paths = ["/"]
    for part in [p for p in pattern.split("/") if p]:
        next_paths = []
        for base in paths:
            if any(c in part for c in "*?["):
                next_paths += [posixpath.join(base, name) for name in sorted(fs.children(base))
                               if fnmatch.fnmatchcase(name, part)]
            else:
                candidate = posixpath.join(base, part)
                if fs.is_dir(candidate) or fs.is_file(candidate):
                    next_paths.append(candidate)
        paths = next_paths
    return paths


def existing_dirs(fs: FsView, dirs: Iterable[str]) -> tuple[str, ...]:
    """The directories that exist, in order, each once: by the first name given for it.
    The name matters: Debian's perl searches /usr/share/perl/5.36, a symlink to 5.36.0,
    and the slim image needs the link as much as the file."""
    seen: set[str] = set()
    found = []
    for directory in dirs:
        if not directory or not directory.startswith("/") or not fs.is_dir(directory):
            continue
        real = fs.realpath(directory)
        if real not in seen:
            seen.add(real)
            found.append(posixpath.normpath(directory))
    return tuple(found)


def processes_of(language: str, processes: Sequence) -> list:
    """The traced processes that run LANGUAGE's interpreter (by exe or argv[0])."""
    found = []
    for process in processes:
        names = [process.exe] + ([process.argv[0]] if process.argv else [])
        if any(interpreter_language(name) == language for name in names if name):
            found.append(process)
    return found


def default_interpreters(fs: FsView, env: dict[str, str], names: Sequence[str]) -> list[str]:
    """The interpreters NAMES found on the image PATH, each once: the ones a shebang would run."""
    found = []
    for name in names:
        path = which(fs, name, env)
        if path and path not in found:
            found.append(path)
    return found


@dataclass
class Proc:
    """A process the image would run (its interpreter on PATH), when none was traced."""

    exe: str
    argv: tuple[str, ...] = field(default_factory=tuple)


def dash_i(args: Sequence[str]) -> list[str]:
    """The absolute directories of `-I DIR` / `-IDIR` arguments (ruby and perl)."""
    dirs = []
    for i, arg in enumerate(args):
        if arg == "-I" and i + 1 < len(args):
            dirs += args[i + 1].split(":")
        elif arg.startswith("-I") and len(arg) > 2:
            dirs += arg[2:].split(":")
    return [d for d in dirs if d.startswith("/")]


# --- scanning and resolving ------------------------------------------------------------

def cut_comment(line: str, marker: str, ruby: bool = False) -> str:
    """LINE without its MARKER comment, quotes respected (Ruby's and Perl's `#`)."""
    quote = None
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            if char == "\\":
                i += 1
            elif char == quote:
                quote = None
        elif char in "'\"":
            quote = char
        elif char == marker:
            if ruby and i > 0 and line[i - 1] == "?":          # ?# is a character literal
                i += 1
                continue
            if not ruby and i > 0 and (line[i - 1] in "$@%\\" or line[i - 1].isalnum()):   # $#array, s#a#b#
                i += 1
                continue
            return line[:i]
        i += 1
    return line


def unique(imports: Iterable[Import]) -> list[Import]:
    """IMPORTS in order, each once."""
    return list(dict.fromkeys(imports))


class LanguageResolver:
    """One language's resolution against one image's search paths (python.py, node.py,
    ruby.py, perl.py subclass it). Resolutions are cached per instance: each name is
    searched once per search path, however many files import it."""

    def __init__(self, fs: FsView, paths: "SearchPaths"):
        self.fs = fs
        self.paths = paths
        self._cache: dict[tuple, tuple] = {}

    def real_dir(self, directory: str) -> str:
        return self.fs.realpath(directory) or directory
