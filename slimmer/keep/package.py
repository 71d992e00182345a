"""Rule "package" (on by default, reason `package`): a language package is kept whole.

  1. Python: a kept file of a distribution (site-packages or dist-packages)
     keeps its whole top-level package directory and its *.dist-info /
     *.egg-info (the one named after the module, or listing it in RECORD or
     top_level.txt). This is what prevents the ModuleNotFoundError class of
     failures: a module of that package imported lazily, or by a computed
     name, by a request no probe made.
  2. Not the distribution's other top-level packages its RECORD lists: a
     package imports another by name, which rule `imports` follows (PyYAML's
     _yaml, setuptools' pkg_resources and setuptools beside the
     _distutils_hack that a venv's .pth imports: 3 MB on python-venv).
  3. An entry point (entry_points.txt) is loaded by name through
     importlib.metadata / pkg_resources (plugins, console scripts), so the
     top-level package each one names is kept too; except the groups only a
     distribution build runs (distutils.*, setuptools.*, egg_info.*: setup.py
     commands and hooks; a build imports setuptools, kept whole then).
  4. Node: a kept file under node_modules/NAME (or @scope/NAME, or Debian's
     /usr/share/nodejs, /usr/lib/nodejs) keeps that package directory whole.
  5. The Python standard library is not a distribution and is never kept
     whole: the stdlib modules kept sources import are kept by rule `imports`.
  6. Bytecode caches are not part of "whole": `__pycache__/` (PEP 3147: read
     only next to its source, which is kept, and recompiled from it when
     missing) and a Python 2 `X.pyc`/`X.pyo` beside its `X.py`. A cache the
     app read is kept as traced; a sourceless `X.pyc` (no `X.py`) is kept.
     On python-venv they were 4.5 MB of the 7.7 MB the rule kept (setuptools'
     and pkg_resources' caches).
"""
from __future__ import annotations

import posixpath
import re

from ..model import EntryType, FsEntry, KeepReason
from .rule import Rule, Stage

_PY_SITE = re.compile(r"^(.*/(?:site|dist)-packages)/([^/]+)")
_NODE_PKG = re.compile(r"^(.*/node_modules|/usr/share/nodejs|/usr/lib/nodejs|/usr/lib/[^/]+-linux-gnu/nodejs)"
                       r"/((?:@[^/]+/)?[^/]+)")


class PackageRule(Rule):
    """Keep the whole Python distribution / Node package of a kept file (see the module docstring)."""

    name = "package"
    stage = Stage.EACH
    reasons = (KeepReason.PACKAGE,)
    default = True
    cost = ("0-0.5 MB per sample app (python-flask's packages' lazy modules); the top-level packages of kept "
            "files and their entry points', not every package of the distribution; bytecode caches left out")

    def __init__(self, keeper) -> None:
        super().__init__(keeper)
        self.done: set[str] = set()                 # package directories and metadata expanded
        self.metadata: dict[str, tuple[str, ...]] = {}

    def each(self, path: str, entry: FsEntry) -> None:
        python = _PY_SITE.match(path)
        if python:
            self.keep_python_distribution(python.group(1), python.group(2), path)
        node = _NODE_PKG.match(path)
        if node:
            package_dir = f"{node.group(1)}/{node.group(2)}"
            if package_dir not in self.done:
                self.done.add(package_dir)
                self.keeper.keep_tree(package_dir, KeepReason.PACKAGE, path)

    def keep_python_distribution(self, site: str, top: str, because_of: str) -> None:
        keeper = self.keeper
        key = f"{site}/{top}"
        if key in self.done or top == "__pycache__":
            return
        self.done.add(key)
        if top.endswith((".dist-info", ".egg-info")):
            keeper.keep_tree(key, KeepReason.PACKAGE, because_of)
            return
        module = top.split(".", 1)[0]
        entry = keeper.index.get(key)
        if entry is not None and entry.type is EntryType.DIR:
            keeper.keep_tree(key, KeepReason.PACKAGE, because_of, skip=self.bytecode_cache)
        # the distribution's metadata: named after the module, or listing it
        for meta in self.metadata_dirs(site):
            if meta in self.done:
                continue
            dist_name = _normalise_dist(posixpath.basename(meta).split("-", 1)[0].rsplit(".", 1)[0])
            record = keeper.content(meta + "/RECORD")
            top_level = keeper.content(meta + "/top_level.txt")
            tops = set()
            if top_level:
                tops.update(line.strip() for line in top_level.decode("utf-8", "replace").splitlines())
            if record:
                for line in record.decode("utf-8", "replace").splitlines():
                    first = line.split(",", 1)[0]
                    if first and not first.startswith(".."):
                        tops.add(first.split("/", 1)[0].split(".", 1)[0] if "/" in first
                                 else first.rsplit(".", 1)[0])
            if dist_name != _normalise_dist(module) and module not in tops:
                continue
            self.done.add(meta)
            keeper.keep_tree(meta, KeepReason.PACKAGE, because_of)
            for target in entry_point_modules(keeper.content(meta + "/entry_points.txt")):   # rule 3
                self.keep_top_level(site, target.split(".", 1)[0], meta + "/entry_points.txt")

    def keep_top_level(self, site: str, module: str, because_of: str) -> None:
        """An entry point's top-level package (whole, rule 1) or module file, as `package`."""
        entry = self.keeper.index.get(f"{site}/{module}")
        if entry is not None and entry.type is EntryType.DIR:
            self.keep_python_distribution(site, module, because_of)
        elif f"{site}/{module}.py" in self.keeper.index:
            self.keeper.keep(f"{site}/{module}.py", KeepReason.PACKAGE, because_of)

    def bytecode_cache(self, path: str) -> bool:
        """A compiled module Python reads only as a cache of a source kept beside it (rule 6)."""
        if "/__pycache__/" in path or path.endswith("/__pycache__"):
            return True
        return path.endswith((".pyc", ".pyo")) and path[:-1] in self.keeper.index

    def metadata_dirs(self, site: str) -> tuple[str, ...]:
        """The *.dist-info / *.egg-info entries directly in a site directory (cached)."""
        if site not in self.metadata:
            self.metadata[site] = tuple(p for p in self.keeper.index.children(site)
                                        if p.endswith((".dist-info", ".egg-info")))
        return self.metadata[site]


_BUILD_GROUPS = ("distutils.", "setuptools.", "egg_info.")


def entry_point_modules(text: bytes | None) -> list[str]:
    """The modules an entry_points.txt names (`name = module:attr [extra]`), outside the
    groups only a distribution build loads (rule 3)."""
    modules: list[str] = []
    group = ""
    for line in (text or b"").decode("utf-8", "replace").splitlines():
        line = line.strip()
        if line.startswith("["):
            group = line.strip("[]").strip()
        elif "=" in line and not line.startswith(("#", ";")) and not group.startswith(_BUILD_GROUPS):
            module = line.split("=", 1)[1].split(":", 1)[0].split("[", 1)[0].strip()
            if re.fullmatch(r"[A-Za-z_][\w.]*", module):
                modules.append(module)
    return list(dict.fromkeys(modules))


def _normalise_dist(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()
