"""Rule "state" (on by default, reason `state`): a directory the app writes into, whole.

The nearest existing directory of every path the app wrote (opened for
write, created, mkdir, unlink, rename) is kept whole from the original image,
empty subdirectories included: a partial copy of state (a database's data
directory, a spool) is corrupt state. System roots are never kept whole
(STATE_DENY: /, /tmp, /run, /var/log, /root, /home/USER, /etc, /usr, ...);
writes there keep only what the other rules keep. Caches are never state: a
write to a cache path (Python's bytecode next to its stdlib, `__pycache__/`
and `*.pyc`; package managers' and tools' caches: /var/cache/*, ~/.cache,
~/.npm) triggers nothing: the program rebuilds a cache it lacks, and keeping
the directory whole kept the whole stdlib directory (2.8 MB) for one
interpreter trying to write its bytecode.
"""
from __future__ import annotations

import posixpath

from ..model import EntryType, KeepReason
from .core import never_kept
from .rule import Rule, Stage

STATE_DENY = frozenset((
    "/", "/tmp", "/dev", "/proc", "/sys", "/run", "/var/run", "/var/tmp", "/var/log", "/root",
    "/home", "/etc", "/usr", "/usr/local", "/usr/lib", "/usr/share", "/usr/bin", "/usr/sbin",
    "/var", "/var/lib", "/var/cache", "/opt", "/srv", "/mnt", "/media", "/bin", "/sbin",
    "/lib", "/lib64", "/.slimmer",
))
CACHE_ROOTS = ("/var/cache",)
# __pycache__: Python's bytecode; .cache: XDG caches (pip, go-build, yarn, fontconfig);
# .npm: npm's cache directory (_cacache, _logs, _npx); _cacache: the same under another cache dir
CACHE_COMPONENTS = frozenset(("__pycache__", ".cache", ".npm", "_cacache"))
CACHE_SUFFIXES = (".pyc", ".pyo")


class StateRule(Rule):
    """Keep whole the directory each write of the app lands in (see the module docstring)."""

    name = "state"
    stage = Stage.SEED
    reasons = (KeepReason.STATE,)
    default = True
    cost = "0 MB on most sample apps, 30 MB on postgres (its data directory, indispensable)"

    def apply(self) -> None:
        index = self.keeper.index
        for traced in self.keeper.trace.paths.values():
            if not traced.write or never_kept(traced.path) or is_cache(traced.path):
                continue
            directory = posixpath.dirname(posixpath.normpath(traced.path))
            real = index.resolve(directory).path
            while real is None and directory != "/":
                directory = posixpath.dirname(directory)
                real = index.resolve(directory).path
            if real is None or real in STATE_DENY or is_home(real):
                continue
            if index.get(real).type is EntryType.DIR:
                self.keeper.keep_tree(real, KeepReason.STATE, traced.path)


def is_cache(path: str) -> bool:
    """A path a program writes only to cache what it can compute again."""
    path = posixpath.normpath(path)
    if path.endswith(CACHE_SUFFIXES) or any(path.startswith(root + "/") for root in CACHE_ROOTS):
        return True
    return not CACHE_COMPONENTS.isdisjoint(path.split("/"))


def is_home(path: str) -> bool:
    parts = path.strip("/").split("/")
    return len(parts) == 2 and parts[0] == "home"
