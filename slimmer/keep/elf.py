"""Rule "elf" (always on, reason `elf`): the dynamic loader's view of a kept ELF object.

For each kept ELF object, its PT_INTERP and DT_NEEDED, searched as glibc's
loader does, transitively:
  1. DT_RPATH of the object and of its loaders up to the executable (only
     while the object has no DT_RUNPATH);
  2. LD_LIBRARY_PATH of the image ENV;
  3. DT_RUNPATH;
  4. /etc/ld.so.conf with its includes (read through `read_file`: the
     ld.so.cache's source), then the default dirs.
$ORIGIN, $LIB and $PLATFORM are expanded; a candidate of another ELF class or
machine is skipped. musl objects (interpreter ld-musl-*) search
LD_LIBRARY_PATH, RUNPATH-or-RPATH of the object and its loaders, then
/etc/ld-musl-ARCH.path or /lib, /usr/local/lib, /usr/lib. A library that is
not found is ignored. No `ldd` inside the image: distroless, scratch, busybox
and musl images work the same.
"""
from __future__ import annotations

import fnmatch
import posixpath
import re
from collections import deque
from typing import Callable, Iterable, Iterator

from ..model import ElfInfo, FsEntry, ImageIndex, KeepReason
from .rule import Rule, Stage

GLIBC_DEFAULT_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib64", "/usr/lib64",
                      "/lib", "/usr/lib", "/usr/local/lib")
GLIBC_DEFAULT_DIRS_32 = ("/lib/i386-linux-gnu", "/usr/lib/i386-linux-gnu", "/lib32", "/usr/lib32",
                         "/lib", "/usr/lib")
MUSL_DEFAULT_DIRS = ("/lib", "/usr/local/lib", "/usr/lib")


class ElfRule(Rule):
    """Keep the interpreter and the DT_NEEDED libraries of a kept ELF object (see the module docstring)."""

    name = "elf"
    stage = Stage.EACH
    reasons = (KeepReason.ELF,)
    cost = "what the app's binaries cannot start without"

    def __init__(self, keeper) -> None:
        super().__init__(keeper)
        self.seen: set[tuple[str, tuple[tuple[str, ...], ...]]] = set()

    def each(self, path: str, entry: FsEntry) -> None:
        if entry.elf is None:
            return
        for dependency, loaded_by in self.keeper.loader.dependencies(path, entry.elf, self.seen):
            self.keeper.keep(dependency, KeepReason.ELF, loaded_by)


class Loader:
    """The dynamic loader's search, glibc's or musl's, over the image index."""

    def __init__(self, index: ImageIndex, env: dict[str, str], workdir: str,
                 content: Callable[[str], "bytes | None"]):
        self.index = index
        self.env = env
        self.workdir = workdir
        self.content = content
        self._ld_dirs: tuple[str, ...] | None = None
        self._musl_dirs: tuple[str, ...] | None = None
        self._musl_image: bool | None = None

    def dependencies(self, root: str, root_elf: ElfInfo, seen: set) -> Iterator[tuple[str, str]]:
        """(path as the loader finds it, the object that needs it): interpreters and
        DT_NEEDED libraries of `root`, transitively; `seen` bounds the walk."""
        musl = self.is_musl(root_elf)
        work = deque([(root, root_elf, ())])   # (path as loaded, elf, rpath dirs of its loaders)
        while work:
            loaded_as, elf, loader_rpaths = work.popleft()
            key = (loaded_as, loader_rpaths)
            if key in seen:
                continue
            seen.add(key)
            origin = posixpath.dirname(loaded_as)
            if elf.interpreter:
                yield elf.interpreter, loaded_as
            own_rpath = tuple(_expand_all(elf.rpath, origin, elf.elf_class))
            own_runpath = tuple(_expand_all(elf.runpath, origin, elf.elf_class))
            if musl:
                own = own_runpath or own_rpath
                rpaths_for_children = loader_rpaths + (own,)
                search = self.ld_library_path(origin, elf.elf_class) + \
                    [d for group in reversed(rpaths_for_children) for d in group] + list(self.musl_dirs())
            else:
                # glibc: an object's RPATH is ignored when it has a RUNPATH; RPATHs of
                # the loader chain apply only when the loading object has no RUNPATH
                own = () if elf.runpath else own_rpath
                rpaths_for_children = loader_rpaths + (own,)
                search = []
                if not elf.runpath:
                    search += [d for group in reversed(rpaths_for_children) for d in group]
                search += self.ld_library_path(origin, elf.elf_class)
                search += list(own_runpath)
                search += list(self.ld_conf_dirs(elf.elf_class))
            for name in elf.needed:
                found = self.find_library(name, search, elf)
                if found is None:
                    continue
                candidate, _real, lib_elf = found
                yield candidate, loaded_as
                work.append((candidate, lib_elf, rpaths_for_children))

    def find_library(self, name: str, search: Iterable[str], wanted: ElfInfo):
        """(candidate path, real path, its ElfInfo) of the first match of wanted's class and machine."""
        candidates = [name] if "/" in name else [posixpath.join(d, name) for d in search]
        for candidate in candidates:
            if not candidate.startswith("/"):
                candidate = posixpath.join(self.workdir, candidate)
            real = self.index.resolve(candidate).path
            if real is None:
                continue
            entry = self.index.get(real)
            lib_elf = entry.elf if entry is not None else None
            if lib_elf is None or lib_elf.elf_class != wanted.elf_class or lib_elf.machine != wanted.machine:
                continue
            return candidate, real, lib_elf
        return None

    def is_musl(self, elf: ElfInfo) -> bool:
        if elf.interpreter:
            return "ld-musl" in elf.interpreter
        # a library reached without its executable: musl when the image has no glibc loader
        if self._musl_image is None:
            paths = self.index.entries
            self._musl_image = any(p.startswith("/lib/ld-musl-") for p in paths) and not any(
                p.startswith(("/lib64/ld-linux", "/lib/ld-linux")) for p in paths)
        return self._musl_image

    def ld_library_path(self, origin: str, elf_class: int) -> list[str]:
        value = self.env.get("LD_LIBRARY_PATH", "")
        if not value:
            return []
        dirs = []
        for part in re.split(r"[:;]", value):
            dirs.extend(_expand(part or self.workdir, origin, elf_class))
        return dirs

    def ld_conf_dirs(self, elf_class: int) -> tuple[str, ...]:
        """Directories of /etc/ld.so.conf (the ld.so.cache's source), then the defaults."""
        defaults = GLIBC_DEFAULT_DIRS if elf_class == 64 else GLIBC_DEFAULT_DIRS_32
        if self._ld_dirs is None:
            dirs: list[str] = []
            self._read_ld_conf("/etc/ld.so.conf", dirs, set())
            self._ld_dirs = tuple(dirs)
        return tuple(dict.fromkeys(self._ld_dirs + defaults))

    def _read_ld_conf(self, path: str, dirs: list[str], seen: set[str]) -> None:
        if path in seen or len(seen) > 64:
            return
        seen.add(path)
        data = self.content(path)
        if data is None:
            return
        for raw in data.decode("utf-8", "replace").splitlines():
            line = raw.split("#", 1)[0].strip()
            if not line or line.startswith("hwcap"):
                continue
            if line.startswith("include"):
                for pattern in line.split()[1:]:
                    if not pattern.startswith("/"):
                        pattern = posixpath.join(posixpath.dirname(path), pattern)
                    for match in self.glob(pattern):
                        self._read_ld_conf(match, dirs, seen)
                continue
            for directory in re.split(r"[:,\s]+", line):
                if directory.startswith("/") and directory not in dirs:
                    dirs.append(directory.rstrip("/") or "/")

    def musl_dirs(self) -> tuple[str, ...]:
        if self._musl_dirs is None:
            dirs: list[str] = []
            for entry_path in self.glob("/etc/ld-musl-*.path"):
                data = self.content(entry_path)
                if data:
                    dirs.extend(d for d in re.split(r"[:\n]", data.decode("utf-8", "replace"))
                                if d.strip().startswith("/"))
            self._musl_dirs = tuple(d.strip() for d in dirs) or MUSL_DEFAULT_DIRS
        return self._musl_dirs

    def search_dirs(self) -> set[str | None]:
        """Every directory the loader searches by default, resolved: they hold every
        library of the system, so a library there says nothing about its program."""
        return {self.index.resolve(d).path for d in
                self.ld_conf_dirs(64) + self.ld_conf_dirs(32) + self.musl_dirs()
                + tuple(self.ld_library_path("/", 64))}

    def glob(self, pattern: str) -> list[str]:
        """Index paths matching a glob whose directory part has no wildcard."""
        directory = self.index.resolve(posixpath.dirname(pattern)).path
        if directory is None:
            return []
        base = posixpath.basename(pattern)
        return sorted(posixpath.join(posixpath.dirname(pattern), posixpath.basename(p))
                      for p in self.index.children(directory)
                      if fnmatch.fnmatchcase(posixpath.basename(p), base))


def _expand(directory: str, origin: str, elf_class: int) -> list[str]:
    """A search directory with its dynamic string tokens expanded ($LIB may give two)."""
    libs = ("lib/x86_64-linux-gnu", "lib64") if elf_class == 64 else ("lib/i386-linux-gnu", "lib")
    results = []
    for lib in libs:
        value = directory
        for token, replacement in (("ORIGIN", origin), ("LIB", lib), ("PLATFORM", "x86_64")):
            value = value.replace("${" + token + "}", replacement)
            value = re.sub(r"\$" + token + r"(?![A-Za-z0-9_])", lambda _m, r=replacement: r, value)
        if not value.startswith("/"):
            continue      # relative to the process cwd: unknowable here
        value = posixpath.normpath(value)
        if value not in results:
            results.append(value)
        if "$LIB" not in directory and "${LIB}" not in directory:
            break
    return results


def _expand_all(dirs: Iterable[str], origin: str, elf_class: int) -> list[str]:
    return [expanded for d in dirs for expanded in _expand(d, origin, elf_class)]
