"""A fake image filesystem for the slimmer.langimports tests: files, directories and
symlinks as a dict, the FsView protocol the resolvers read."""
from __future__ import annotations

import posixpath
from dataclasses import dataclass

from slimmer.langimports import ImportResolver, discover


@dataclass(frozen=True)
class Link:
    target: str


class FakeFs:
    """{path: bytes | Link}; directories are implied by the paths under them (or "DIR")."""

    def __init__(self, files: dict):
        self.files = {}
        self.dirs = {"/"}
        for path, content in files.items():
            if content == "DIR":
                self.dirs.add(path)
            else:
                self.files[path] = content.encode() if isinstance(content, str) else content
            parent = posixpath.dirname(path)
            while parent not in self.dirs:
                self.dirs.add(parent)
                parent = posixpath.dirname(parent)

    def realpath(self, path: str) -> str | None:
        current = "/"
        pending = [p for p in path.split("/") if p]
        hops = 0
        while pending:
            name = pending.pop(0)
            if name == "..":
                current = posixpath.dirname(current)
                continue
            candidate = posixpath.join(current, name)
            entry = self.files.get(candidate)
            if isinstance(entry, Link):
                hops += 1
                if hops > 40:
                    return None
                if entry.target.startswith("/"):
                    current = "/"
                pending = [p for p in entry.target.split("/") if p] + pending
                continue
            if candidate not in self.files and candidate not in self.dirs:
                return None
            current = candidate
        return current

    def is_file(self, path: str) -> bool:
        real = self.realpath(path)
        return real is not None and real in self.files

    def is_dir(self, path: str) -> bool:
        real = self.realpath(path)
        return real is not None and real in self.dirs

    def read(self, path: str) -> bytes | None:
        return self.files.get(self.realpath(path) or "") if self.is_file(path) else None

    def children(self, path: str) -> list[str]:
        real = self.realpath(path)
        if real is None or real not in self.dirs:
            return []
        prefix = real.rstrip("/") + "/"
        names = {p[len(prefix):].split("/", 1)[0] for p in list(self.files) + list(self.dirs)
                 if p.startswith(prefix) and p != real}
        return sorted(names)


@dataclass(frozen=True)
class Proc:
    exe: str
    argv: tuple[str, ...]


def imports(fs: FakeFs, path: str, workdir: str = "/app") -> list[str]:
    """What `path` imports, resolved in an image with no traced process and no ENV."""
    resolver = ImportResolver(fs, discover(fs, {}, [], workdir))
    return resolver.imports_of(path, fs.read(path), resolver.language(path))
