"""Rule "program-data" (on by default, reason `program-data`): a program's private data tree.

The data tree of an executable the app ran, /usr/share/NAME/VERSION or
/usr/share/NAME (also under /usr/local/share), is kept whole (but its man/
and doc/: documentation is read by people, not by the program) once the app
read a file in it, up to KeepOptions.program_data_max_bytes (default 32 MB).
NAME and VERSION come from the executable's private prefix
(/usr/lib/postgresql/15/bin/postgres: postgresql, 15), or NAME is its
basename in a bin directory (/usr/sbin/nginx). The program reads the rest by
name later: PostgreSQL's extension/*.control and *.sql, tsearch dictionaries.
"""
from __future__ import annotations

import posixpath
import re

from ..model import EntryType, KeepReason
from .core import ACCESSED, file_bytes
from .rule import Rule, Stage

_PRIVATE_PREFIX = re.compile(r"^(?:/usr/lib|/usr/lib64|/usr/libexec|/usr/local/lib|/opt)/([^/]+)(?:/([^/]+))?/")
_BIN_DIRS = frozenset(("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin"))


class ProgramDataRule(Rule):
    """Keep whole a program's data tree the app read from (see the module docstring)."""

    name = "program-data"
    stage = Stage.CLOSED
    reasons = (KeepReason.PROGRAM_DATA,)
    default = True
    cost = "0 MB on most sample apps, 1.8 MB on postgres"

    def apply(self) -> None:
        keeper = self.keeper
        index = keeper.index
        trees: dict[str, str] = {}
        for path, kept in keeper.kept.items():
            entry = index.get(path)
            if (kept.reason not in ACCESSED or entry is None or entry.type is not EntryType.FILE
                    or not entry.mode & 0o111 or (entry.elf is None and not entry.shebang)):
                continue
            for tree in self.data_trees(path):
                trees.setdefault(tree, path)
        for accessed in keeper.accessed:
            real = index.resolve(accessed).path
            if real is None:
                continue
            for tree, program in trees.items():
                if real.startswith(tree + "/") and tree not in keeper.expanded_trees:
                    keeper.expanded_trees.add(tree)
                    size = sum(file_bytes(index.get(p)) for p in index.under(tree))
                    if size <= keeper.options.program_data_max_bytes:
                        keeper.keep_tree_except(tree, ("man", "doc"), KeepReason.PROGRAM_DATA, program)

    def data_trees(self, executable: str) -> list[str]:
        names: list[tuple[str, str | None]] = []
        private = _PRIVATE_PREFIX.match(executable)
        if private:
            names.append((private.group(1), private.group(2)))
        if posixpath.dirname(executable) in _BIN_DIRS:
            names.append((posixpath.basename(executable), None))
        trees = []
        for name, version in names:
            for share in ("/usr/share", "/usr/local/share"):
                base = f"{share}/{name}"
                narrow = f"{base}/{version}" if version else None
                for tree in (narrow, base):
                    entry = self.keeper.index.get(tree) if tree else None
                    if entry is not None and entry.type is EntryType.DIR:
                        trees.append(tree)
                        break
        return trees
