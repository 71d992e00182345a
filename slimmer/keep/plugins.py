"""Rule "plugins" (on by default, reason `plugin`): the shared objects of a plugin directory.

The rule is named `plugins` (the --keep-rule name users' scripts use); what
it keeps is reported with the reason `plugin`.
  1. A plugin directory is the directory of a traced shared object that no
     kept ELF object names in DT_NEEDED (it was dlopen'ed), or a traced
     directory (stat'ed, listed) holding shared objects. The loader's search
     directories never are: they hold every library of the system.
  2. Every shared object directly in it is kept with its ELF closure, unless
     the two would add more than KeepOptions.plugin_max_bytes (default 1 MB)
     of files not kept yet: PostgreSQL's llvmjit.so pulls libLLVM, 134 MB, and
     the server runs without JIT then (pg_jit_available() = f); 1 MB keeps
     every other PostgreSQL extension (docs/KEEP-RULES.md has the measurement).
  3. With the rule `imports` on, a directory of an interpreter's module search
     path itself (Python's lib-dynload and site dirs, Ruby's arch dir
     /usr/lib/ARCH/ruby/X.Y.0, Perl's @INC dirs) is no plugin directory: the
     interpreter loads those extensions by module name, and `imports` keeps
     the ones a kept source imports (sqlite3 -> _sqlite3), not every one
     (_dbm -> libdb). Their subdirectories stay plugin directories: Ruby loads
     enc/*.so and enc/trans/*.so (String#encode), digest.rb digest/*.so, by
     names computed at run time.
"""
from __future__ import annotations

import posixpath
import re

from ..model import EntryType, FsEntry, KeepReason
from .core import file_bytes
from .imports import ImportsRule, language_library_dirs
from .rule import Rule, Stage
from .state import STATE_DENY

_SHARED_OBJECT = re.compile(r"\.so(\.[0-9.]+)?$")


class PluginsRule(Rule):
    """Keep the dlopen'able shared objects of each plugin directory (see the module docstring)."""

    name = "plugins"
    stage = Stage.CLOSED
    reasons = (KeepReason.PLUGIN,)
    default = True
    cost = "0-6.5 MB per sample app (postgres's extensions, Python's lib-dynload, a JVM's lib/)"

    def apply(self) -> None:
        keeper = self.keeper
        limit = keeper.options.plugin_max_bytes
        for directory, because_of in self.plugin_dirs():
            for path in keeper.index.children(directory):
                entry = keeper.index.get(path)
                if (path in keeper.kept or entry.type is not EntryType.FILE
                        or entry.elf is None or not _SHARED_OBJECT.search(path)):
                    continue
                if self.closure_cost(path, entry) <= limit:
                    keeper.keep(path, KeepReason.PLUGIN, because_of)

    def plugin_dirs(self) -> list[tuple[str, str]]:
        """(directory, the accessed path that makes it one), sorted."""
        keeper = self.keeper
        index = keeper.index
        needed = set()
        for path in keeper.kept:
            entry = index.get(path)
            if entry is not None and entry.elf is not None:
                needed.update(entry.elf.needed)
        loader_dirs = keeper.loader.search_dirs()
        module_dirs = language_library_dirs(keeper) if keeper.rule_on(ImportsRule) else ()
        found: dict[str, str] = {}
        for accessed in keeper.accessed:
            real = index.resolve(accessed).path
            entry = index.get(real) if real else None
            if entry is None:
                continue
            if entry.type is EntryType.DIR:
                candidate = real
                holds = any(_SHARED_OBJECT.search(p) and index.get(p).elf is not None
                            for p in index.children(real))
                if not holds:
                    continue
            elif entry.type is EntryType.FILE and entry.elf is not None and _SHARED_OBJECT.search(real):
                names = {posixpath.basename(accessed), posixpath.basename(real), entry.elf.soname}
                if names & needed:
                    continue
                candidate = posixpath.dirname(real)
            else:
                continue
            if candidate in loader_dirs or candidate in STATE_DENY or candidate in module_dirs:
                continue
            found.setdefault(candidate, accessed)
        return sorted(found.items())

    def closure_cost(self, path: str, entry: FsEntry) -> int:
        """Bytes that keeping `path` with its ELF closure would add to the keep set."""
        index = self.keeper.index
        files = {path}
        for dependency, _ in self.keeper.loader.dependencies(path, entry.elf, set()):
            real = index.resolve(dependency).path
            if real is not None:
                files.add(real)
        return sum(file_bytes(index.get(p)) for p in files if p not in self.keeper.kept)
