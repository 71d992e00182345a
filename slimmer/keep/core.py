"""The keeper: the keep set being built, how a path gets into it, and the run.

Every kept path is a real path of the image index (no symlink in its parents),
listed explicitly: the collect step copies directories as entries, never
recursively. The keeper's own rules:
  1. SYMLINK: every symlink met while resolving a kept path (absolute and
     relative targets, links to directories, chains, merged-/usr `/lib ->
     usr/lib`; at most 40 links, the kernel's ELOOP bound) is kept; the final
     target too, with the reason of the path being resolved.
  2. PARENT: every ancestor directory of a kept path ("/" itself is not listed:
     the scratch stage has it), so the collect step copies its mode and owner.
     A path that does not exist (created at run time: a pid file, a lock, a
     socket) keeps its nearest existing directory, with the symlinks on the
     way (/var/run -> /run), so the create succeeds in the slim image too.
  3. Nothing under /proc, /sys, /dev or the sensor's /.slimmer is ever kept,
     however it is reached.
  4. INCLUDE: user globs (fnmatch over index paths, `*` crosses "/"); a pattern
     matching a directory keeps everything under it.
  5. Excludes apply last, as a veto over every rule: paths matching the glob,
     and everything under a directory the pattern names exactly; an ancestor
     directory of a path that stays kept is never removed (it is re-kept as
     PARENT).
  6. Precedence: a path keeps the FIRST reason in PRECEDENCE order, whatever
     order the rules met it in (TRACED beats everything, PARENT loses to
     everything), so the report says the strongest reason a path is there.
"""
from __future__ import annotations

import fnmatch
import posixpath
from collections import deque
from typing import Callable, Iterable, Sequence

from ..model import (EntryType, FsEntry, ImageIndex, ImageInfo, KeepOptions, KeepReason, KeepSet, KeptPath,
                     TraceLog)
from .elf import Loader
from .rule import Rule, Stage

ReadFile = Callable[[str], "bytes | None"]

PRECEDENCE: tuple[KeepReason, ...] = (
    KeepReason.TRACED, KeepReason.REPAIRED, KeepReason.INCLUDE, KeepReason.ESSENTIAL,
    KeepReason.HEALTHCHECK, KeepReason.INTERPRETER, KeepReason.ELF, KeepReason.SCRIPT, KeepReason.SYMLINK,
    KeepReason.STATE, KeepReason.APP, KeepReason.IMPORTS, KeepReason.PACKAGE, KeepReason.PLUGIN,
    KeepReason.PROGRAM_DATA, KeepReason.DATA, KeepReason.OS_PACKAGE, KeepReason.PARENT,
)
_RANK = {reason: rank for rank, reason in enumerate(PRECEDENCE)}
# what the app itself reached: traced, or found missing by the verifier's probes
ACCESSED = frozenset((KeepReason.TRACED, KeepReason.REPAIRED))

NEVER_KEPT = ("/proc", "/sys", "/dev", "/.slimmer")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Keeper:
    """The keep set of one run, and the rules (one instance each) that fill it."""

    def __init__(self, trace: TraceLog, index: ImageIndex, image: ImageInfo, options: KeepOptions,
                 read_file: ReadFile | None, rule_types: Sequence[type[Rule]], python_scans=None,
                 on_keep: Callable[[str], None] | None = None):
        self.trace = trace
        self.on_keep = on_keep                # told each path as it enters the set (record)
        self.python_scans = python_scans      # Python sources' scans by content, across runs (or None)
        self.index = index
        self.image = image
        self.options = options
        self.read_file = read_file
        self.env = image.config.env_dict()
        self.workdir = image.config.workdir or "/"
        self.kept: dict[str, KeptPath] = {}
        self.queue: deque[str] = deque()
        self.expanded_trees: set[object] = set()   # real paths (or (path, skip))
        # every path the app reached: traced, then repaired by the verifier
        self.accessed: tuple[str, ...] = tuple(traced.path for traced in trace.paths.values()) + tuple(
            path for path, _ in options.repaired)
        self.loader = Loader(index, self.env, self.workdir, self.content)
        self._shared: dict[str, object] = {}
        self.rules = [rule_type(self) for rule_type in rule_types if self.rule_on(rule_type)]

    def rule_on(self, rule_type: type[Rule]) -> bool:
        if not rule_type.switchable():
            return True
        return bool(self.options.rules.get(rule_type.name, rule_type.default))

    def rules_of(self, stage: Stage) -> list[Rule]:
        return [rule for rule in self.rules if rule.stage is stage]

    # --- the run ------------------------------------------------------------

    def run(self) -> KeepSet:
        for stage in (Stage.SEED, Stage.CLOSED, Stage.WIDEN):
            for rule in self.rules_of(stage):
                rule.apply()
            self.close()
        self.apply_excludes()
        generated: dict[str, bytes] = {}
        for rule in self.rules_of(Stage.GENERATE):
            generated.update(rule.generate())
        return KeepSet(dict(sorted(self.kept.items())), generated)

    def close(self) -> None:
        """Apply the EACH rules to every newly kept path until nothing new appears."""
        each = self.rules_of(Stage.EACH)
        while self.queue:
            path = self.queue.popleft()
            entry = self.index.entries[path]
            for rule in each:
                rule.each(path, entry)

    # --- keeping --------------------------------------------------------------

    def record(self, path: str, reason: KeepReason, because_of: str | None) -> None:
        """Record one real index path; a path new to the set is queued for closure."""
        if path == "/" or never_kept(path) or path not in self.index:
            return
        old = self.kept.get(path)
        if old is None:
            self.kept[path] = KeptPath(path, reason, because_of)
            self.queue.append(path)
            if self.on_keep is not None:
                self.on_keep(path)
        elif _RANK[reason] < _RANK[old.reason]:
            self.kept[path] = KeptPath(path, reason, because_of)

    def keep(self, path: str, reason: KeepReason, because_of: str | None,
             follow_last: bool = True) -> str | None:
        """Keep whatever `path` leads to, with the symlinks on the way; the real path or None."""
        if never_kept(posixpath.normpath(path)):
            return None
        found = self.index.resolve(path, follow_last)
        if found.path is None and follow_last:
            # a dangling symlink exists even though its target does not
            last = self.index.resolve(path, follow_last=False)
            entry = self.index.get(last.path) if last.path else None
            if entry is None or entry.type is not EntryType.SYMLINK:
                return None
            found = last
        if found.path is None:
            return None
        named = self.index.resolve(path, follow_last=False).path if found.symlinks else None
        for link in found.symlinks:
            # the link the rule named gets the rule's reason; links on the way are SYMLINK
            self.record(link, reason if link == named else KeepReason.SYMLINK,
                        because_of if link == named else path)
        self.record(found.path, reason, because_of)
        return found.path

    def keep_tree(self, path: str, reason: KeepReason, because_of: str | None,
                  skip: Callable[[str], bool] | None = None) -> None:
        """Keep a directory and every entry under it; symlinks inside that lead
        to directories are expanded as trees too (bounded by a seen set).
        `skip(path)` is true for each entry left out (it sees every path under
        the tree, so it names a directory's contents too); a tree is expanded
        once per filter (equal predicates: the same function or bound method)."""
        real = self.keep(path, reason, because_of)
        seen = real if skip is None else (real, skip)
        if real is None or seen in self.expanded_trees:
            return
        self.expanded_trees.add(seen)
        entry = self.index.get(real)
        if entry is None or entry.type is not EntryType.DIR:
            return
        for sub in self.index.under(real):
            if skip is not None and skip(sub):
                continue
            self.record(sub, reason, because_of)
            sub_entry = self.index.get(sub)
            if sub_entry is not None and sub_entry.type is EntryType.SYMLINK:
                target = self.index.resolve(sub)
                if target.path is not None and self.index.get(target.path).type is EntryType.DIR:
                    self.keep_tree(sub, reason, because_of, skip)

    def keep_tree_except(self, path: str, skipped: Iterable[str], reason: KeepReason,
                         because_of: str | None) -> None:
        """keep_tree, without the direct children named in `skipped`."""
        real = self.keep(path, reason, because_of)
        if real is None or self.index.get(real).type is not EntryType.DIR:
            return
        for child in self.index.children(real):
            if posixpath.basename(child) not in skipped:
                self.keep_tree(child, reason, because_of)

    def keep_nearest_directory(self, missing: str, because_of: str) -> None:
        """A path the app looked up or created at run time (a pid file, a lock,
        a socket) is not in the image; the directory it lives in must be, or
        the create fails in the slim image as it never did in the original."""
        parent = posixpath.dirname(posixpath.normpath(missing))
        while parent != "/" and not never_kept(parent):
            found = self.index.resolve(parent)
            entry = self.index.get(found.path) if found.path else None
            if entry is not None and entry.type is EntryType.DIR:
                self.keep(parent, KeepReason.PARENT, because_of)
                return
            parent = posixpath.dirname(parent)

    # --- the image, as the app sees it ----------------------------------------

    def which(self, command: str) -> str | None:
        """The path a command name resolves to through the image PATH (its name as found)."""
        if "/" in command:
            return command if command.startswith("/") else posixpath.join(self.workdir, command)
        for directory in self.env.get("PATH", DEFAULT_PATH).split(":"):
            candidate = posixpath.join(directory or self.workdir, command)
            found = self.index.resolve(candidate)
            if found.path is not None and self.index.get(found.path).type is not EntryType.DIR:
                return candidate
        return None

    def content(self, path: str) -> bytes | None:
        if self.read_file is None:
            return None
        real = self.index.resolve(path).path
        if real is None:
            return None
        try:
            return self.read_file(real)
        except (OSError, KeyError):
            return None

    def shared(self, key: str, build: Callable[[], object]) -> object:
        """Per-run data two rules read (the OS package database): built once."""
        if key not in self._shared:
            self._shared[key] = build()
        return self._shared[key]

    # --- excludes ---------------------------------------------------------------

    def excluded(self, path: str) -> bool:
        return excluded(self.index, self.options.exclude, path)

    def apply_excludes(self) -> None:
        if not self.options.exclude:
            return
        vetoed: set[str] = set()
        for pattern in self.options.exclude:
            vetoed.update(p for p in self.index.sorted_paths if fnmatch.fnmatchcase(p, pattern) and p in self.kept)
            named = self.index.resolve(pattern).path       # a directory named exactly: its whole tree
            if named is not None:
                vetoed.add(named)
                vetoed.update(p for p in self.index.under(named) if p in self.kept)
        vetoed &= set(self.kept)
        for path in vetoed:
            del self.kept[path]
        for path in list(self.kept):
            for parent in ancestors(path):
                if parent in vetoed and parent not in self.kept:
                    self.kept[parent] = KeptPath(parent, KeepReason.PARENT, path)


# --- the keeper's own rules ------------------------------------------------------------

class IncludeRule(Rule):
    """INCLUDE (rule 4 above): every index path an --include-path glob matches, or
    the path the pattern names exactly, kept whole when it is a directory."""

    name = "include"
    stage = Stage.SEED
    reasons = (KeepReason.INCLUDE,)
    cost = "what the user asked for"

    def apply(self) -> None:
        for pattern in self.keeper.options.include:
            for path in self.matches(pattern):
                self.keeper.keep_tree(path, KeepReason.INCLUDE, pattern)

    def matches(self, pattern: str) -> list[str]:
        index = self.keeper.index
        found = [p for p in index.sorted_paths if fnmatch.fnmatchcase(p, pattern)]
        exact = index.resolve(pattern).path
        if exact is not None and exact not in found:
            found.append(exact)
        if pattern in index and pattern not in found:
            found.append(pattern)
        return found


class ParentRule(Rule):
    """PARENT (rule 2 above): every ancestor directory of a kept path."""

    name = "parent"
    stage = Stage.EACH
    reasons = (KeepReason.PARENT,)
    cost = "directory entries only, no content"

    def each(self, path: str, entry: FsEntry) -> None:
        for parent in ancestors(path):
            self.keeper.record(parent, KeepReason.PARENT, path)


class SymlinkRule(Rule):
    """SYMLINK (rule 1 above): a kept symlink keeps its final target, with the
    reason that kept the link; the links on the way are kept by Keeper.keep."""

    name = "symlink"
    stage = Stage.EACH
    reasons = (KeepReason.SYMLINK,)
    cost = "links only; the target costs what it is"

    def each(self, path: str, entry: FsEntry) -> None:
        if entry.type is EntryType.SYMLINK:
            self.keeper.keep(path, self.keeper.kept[path].reason, path)


# --- small pure helpers --------------------------------------------------------------

def never_kept(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in NEVER_KEPT)


def ancestors(path: str) -> list[str]:
    parents = []
    parent = posixpath.dirname(path)
    while parent not in ("/", ""):
        parents.append(parent)
        parent = posixpath.dirname(parent)
    return parents


def file_bytes(entry: FsEntry | None) -> int:
    return entry.size if entry is not None and entry.type is EntryType.FILE else 0


def excluded(index, patterns, path: str) -> bool:
    """An --exclude-path pattern matches the path or names a directory above it."""
    for pattern in patterns:
        named = index.resolve(pattern).path
        if fnmatch.fnmatchcase(path, pattern) or (named is not None and path.startswith(named + "/")):
            return True
    return False
