"""xray: what each layer of an image costs, and what it wastes.

The analysis is pure: it takes the per-layer data of imagefs (LayerFiles) and
the layer instructions, and computes an XrayReport. Reading the image is one
streaming pass (read_image), done apart from the analysis.

How the figures are scored:
  1. a layer's size is the content bytes of the regular files in its tar
     (hardlinks, directories, symlinks and whiteouts store none);
  2. the image's size is the sum of its layers' sizes;
  3. a file version is *hidden* when a later layer overwrites it, deletes it
     (whiteout), hides it (opaque directory) or replaces a directory above it
     with a non-directory; its bytes still ship in the image;
  4. reclaimable bytes are the bytes of hidden versions, each version counted
     once, however many later layers touch the same path again;
  5. efficiency = 1 - reclaimable / image size (1.0 for an empty image);
  6. per layer: added = paths new to the filesystem, modified = paths that
     overwrite a lower layer's version, deleted = lower-layer versions this
     layer hides; directories are not counted (every layer touches a few);
  7. the per-layer file tree lists the same paths with their mark; a deleted
     directory is listed once, with the bytes of everything under it.
Advice goes where the user can act:
  a. an imported base layer (a rootfs ADDed by the base image, or a layer
     with no instruction) is context, never a finding: no "clean it in the
     same RUN" for caches it holds, no "layer 0 is 90% of the image";
  b. caches left by a RUN: clean them in that RUN; by a COPY/ADD: keep them
     out of the build context;
  c. duplicates skip files that are identical by nature and nobody can
     deduplicate (package changelogs and copyright files, man pages, a
     database's catalog files), and are ranked by wasted bytes.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Mapping, Sequence

from . import units
from .errors import BadInput
from .imagefs import LayerFiles, MergedTree, SavedImage, read_saved_image, stored_bytes
from .model import EntryType, FsEntry, ImageInfo

MB = 1_000_000
TOP_N = 20


# --- the report -----------------------------------------------------------------

@dataclass(frozen=True)
class Change:
    count: int = 0
    bytes: int = 0


@dataclass(frozen=True)
class FileChange:
    path: str
    change: str                  # "added", "modified" or "removed"
    bytes: int                   # content bytes in this layer; for "removed", the bytes hidden under path
    type: str = "file"           # EntryType value: file, dir, symlink, hardlink, ...


@dataclass(frozen=True)
class LayerReport:
    index: int
    digest: str
    size_bytes: int
    created_by: str
    added: Change
    modified: Change
    deleted: Change
    caches: Mapping[str, int] = field(default_factory=dict)   # cache kind -> bytes it left in the image
    hidden_later: Change = Change()   # this layer's file versions that later layers hide (still shipped)
    changes: tuple[FileChange, ...] = ()   # the layer's file tree: every added, modified, removed path
    imported: bool = False       # a base layer the user imported (rule a): context, not advice

    @property
    def kind(self) -> str:
        """The instruction's keyword (RUN, COPY, ADD, ...); "" when unknown."""
        return self.created_by.split(" ", 1)[0].upper() if self.created_by else ""


@dataclass(frozen=True)
class SizedPath:
    path: str
    bytes: int
    layer: int | None = None     # the layer that wrote a file (None for directories)


@dataclass(frozen=True)
class Duplicate:
    sha256: str
    size_bytes: int              # bytes of one copy
    paths: tuple[str, ...]

    @property
    def wasted_bytes(self) -> int:
        return self.size_bytes * (len(self.paths) - 1)


@dataclass(frozen=True)
class Finding:
    id: str                      # "deleted-later", "overwritten-later", "cache-left", "big-layer", "duplicates"
    layer: int | None
    bytes: int
    message: str


@dataclass(frozen=True)
class XrayReport:
    image: str
    image_id: str
    size_bytes: int
    reclaimable_bytes: int
    efficiency: float
    file_count: int
    layers: tuple[LayerReport, ...]
    largest_files: tuple[SizedPath, ...]
    largest_dirs: tuple[SizedPath, ...]
    duplicates: tuple[Duplicate, ...]
    findings: tuple[Finding, ...]
    dir_bytes: Mapping[str, int]  # final filesystem, directories down to depth 2 ("/usr", "/usr/lib")
    base_image: str = ""          # the base image's name when the image's labels say it

    @property
    def user_bytes(self) -> int:
        """Bytes of the layers above the first (dive's "user" layers)."""
        return sum(layer.size_bytes for layer in self.layers[1:])


# --- reading an image -----------------------------------------------------------------

def read_image(stream: BinaryIO, *, duplicates: bool = True) -> SavedImage:
    """One streaming pass over a `docker save` stream, with content hashes when DUPLICATES."""
    return read_saved_image(stream, hashes=duplicates, elf=False)


def layer_instructions(saved: SavedImage, info: ImageInfo | None = None) -> list[str]:
    """The instruction that made each layer: ImageInfo's when known, else the config history's."""
    if info is not None and len(info.layers) == len(saved.layers) and any(l.created_by for l in info.layers):
        return [layer.created_by for layer in info.layers]
    made_layer = [instruction(h.get("created_by") or "") for h in saved.history() if not h.get("empty_layer")]
    if len(made_layer) != len(saved.layers):
        return [""] * len(saved.layers)
    return made_layer


def instruction(created_by: str) -> str:
    """'/bin/sh -c #(nop) COPY file:ab in /' -> 'COPY file:ab in /'; '/bin/sh -c apt-get …' -> 'RUN apt-get …'."""
    text = " ".join(created_by.split())
    if text.startswith("|"):                      # "|2 A=1 B=2 /bin/sh -c ..." (build args)
        _, _, rest = text.partition(" /bin/sh -c ")
        text = "/bin/sh -c " + rest if rest else text
    if text.startswith("/bin/sh -c #(nop) "):
        return text[len("/bin/sh -c #(nop) "):]
    if text.startswith("/bin/sh -c "):
        return "RUN " + text[len("/bin/sh -c "):]
    return text


# --- analysis (pure) -------------------------------------------------------------------

# Package-manager caches worth naming; each pattern matches a path in the final filesystem.
CACHE_KINDS: tuple[tuple[str, re.Pattern], ...] = (
    ("apt lists", re.compile(r"^/var/lib/apt/lists/(?!lock$|partial$|auxfiles$).+")),
    ("apt archives", re.compile(r"^/var/cache/apt/.+")),
    ("pip cache", re.compile(r"^/(?:root|home/[^/]+)/\.cache/pip/.+")),
    ("npm cache", re.compile(r"^/(?:root|home/[^/]+)/\.npm/.+")),
    ("yarn cache", re.compile(r"^/(?:usr/local/share|root|home/[^/]+)/\.cache/yarn/.+")),
    ("apk cache", re.compile(r"^/var/cache/apk/.+")),
    ("dnf/yum cache", re.compile(r"^/var/cache/(?:dnf|yum)/.+")),
)


def cache_kind(path: str) -> str | None:
    for kind, pattern in CACHE_KINDS:
        if pattern.match(path):
            return kind
    return None


_IMPORTED = re.compile(r"^(?:ADD|COPY) (?:file|multi|dir):[0-9a-f]+ in /\s*$")


def is_imported(created_by: str, index: int) -> bool:
    """A base layer the user did not build here: a rootfs `ADD file:... in /`, or the bottom
    layer with no instruction (docker import, debootstrap)."""
    return bool(_IMPORTED.match(created_by)) or (index == 0 and not created_by.strip())


def analyse(layers: Sequence[LayerFiles], instructions: Sequence[str] = (), *, image: str = "",
            image_id: str = "", finding_min_bytes: int = MB, big_layer_ratio: float = 0.5,
            base_image: str = "") -> XrayReport:
    """The xray report of LAYERS (bottom first); INSTRUCTIONS name the step that made each one."""
    layers = sorted(layers, key=lambda item: item.index)
    instructions = list(instructions) + [""] * (len(layers) - len(instructions))
    hidden: dict[tuple[int, int, str], list[int]] = {}     # (by layer, from layer, how) -> [count, bytes]
    overwritten_paths: set[str] = set()
    removed_here: dict[str, list] = {}                      # path -> [type, bytes] this layer deleted

    def on_hidden(entry: FsEntry, by_layer: int, how: str) -> None:
        if how != "overwritten" and entry.layer < by_layer:
            removed_here[entry.path] = [entry.type.value, stored_bytes(entry)]
        if entry.type is EntryType.DIR:
            return
        if how == "overwritten" and entry.layer < by_layer:
            overwritten_paths.add(entry.path)
        tally = hidden.setdefault((by_layer, entry.layer, how), [0, 0])
        tally[0] += 1
        tally[1] += stored_bytes(entry)

    tree = MergedTree(on_hidden)
    changes: list[tuple[Change, Change]] = []
    trees: list[tuple[FileChange, ...]] = []
    for layer in layers:
        overwritten_paths.clear()
        removed_here.clear()
        tree.apply(layer)
        last_version = {entry.path: entry for entry in layer.entries if entry.type is not EntryType.DIR}
        added = [e for p, e in last_version.items() if p not in overwritten_paths]
        modified = [e for p, e in last_version.items() if p in overwritten_paths]
        changes.append((_change(added), _change(modified)))
        trees.append(_file_changes(added, modified, removed_here))
    final = tree.entries

    size = sum(layer.size_bytes for layer in layers)
    reclaimable = sum(b for (_, _, _), (_, b) in hidden.items())
    deleted_by: dict[int, list[int]] = {}
    hidden_from: dict[int, list[int]] = {}
    for (by_layer, from_layer, how), (count, nbytes) in hidden.items():
        tally = hidden_from.setdefault(from_layer, [0, 0])
        tally[0] += count
        tally[1] += nbytes
        if how != "overwritten":
            tally = deleted_by.setdefault(by_layer, [0, 0])
            tally[0] += count
            tally[1] += nbytes

    caches: dict[int, dict[str, int]] = {}
    files = [e for e in final.values() if e.type is EntryType.FILE]
    for entry in files:
        kind = cache_kind(entry.path)
        if kind and entry.size:
            per_layer = caches.setdefault(entry.layer, {})
            per_layer[kind] = per_layer.get(kind, 0) + entry.size

    reports = tuple(
        LayerReport(index=layer.index, digest=layer.digest, size_bytes=layer.size_bytes,
                    created_by=instructions[position], added=changes[position][0],
                    modified=changes[position][1],
                    deleted=Change(*deleted_by.get(layer.index, (0, 0))),
                    caches=caches.get(layer.index, {}),
                    hidden_later=Change(*hidden_from.get(layer.index, (0, 0))),
                    changes=trees[position], imported=is_imported(instructions[position], position))
        for position, layer in enumerate(layers))

    duplicates = _duplicates(files, layers)
    dir_totals = _dir_totals(files)
    largest_files = tuple(SizedPath(e.path, e.size, e.layer)
                          for e in sorted(files, key=lambda e: (-e.size, e.path))[:TOP_N])
    largest_dirs = tuple(SizedPath(path, nbytes) for path, nbytes in
                         sorted(((p, b) for p, b in dir_totals.items() if p != "/"),
                                key=lambda item: (-item[1], item[0]))[:TOP_N])
    findings = _findings(reports, hidden, duplicates, size, finding_min_bytes, big_layer_ratio)
    return XrayReport(
        image=image, image_id=image_id, size_bytes=size, reclaimable_bytes=reclaimable,
        efficiency=1.0 if size == 0 else 1 - reclaimable / size,
        file_count=sum(1 for e in final.values() if e.type is not EntryType.DIR),
        layers=reports, largest_files=largest_files, largest_dirs=largest_dirs,
        duplicates=duplicates, findings=findings,
        dir_bytes={p: b for p, b in dir_totals.items() if p.count("/") <= 2}, base_image=base_image)


def _file_changes(added: list[FsEntry], modified: list[FsEntry],
                  removed: Mapping[str, list]) -> tuple[FileChange, ...]:
    """One layer's tree, sorted by path; a removed directory stands for everything under it."""
    rows = [FileChange(e.path, "added", stored_bytes(e), e.type.value) for e in added]
    rows += [FileChange(e.path, "modified", stored_bytes(e), e.type.value) for e in modified]
    roots: dict[str, list] = {}
    for path in sorted(removed):              # parents sort before their children
        parent = path
        root = None
        while parent not in ("/", ""):
            parent = parent.rsplit("/", 1)[0] or "/"
            if parent in roots:
                root = parent
                break
        if root is None:
            roots[path] = list(removed[path])
        else:
            roots[root][1] += removed[path][1]
    rows += [FileChange(path, "removed", nbytes, kind) for path, (kind, nbytes) in roots.items()]
    rows.sort(key=lambda row: row.path)
    return tuple(rows)


def _change(entries: list[FsEntry]) -> Change:
    return Change(len(entries), sum(stored_bytes(e) for e in entries))


def _dir_totals(files: list[FsEntry], depth: int = 3) -> dict[str, int]:
    """Bytes under each directory down to DEPTH levels ("/usr/lib/x86_64-linux-gnu"), "/" for all."""
    totals: dict[str, int] = {"/": 0}
    for entry in files:
        totals["/"] += entry.size
        parts = entry.path.split("/")[1:-1]
        for level in range(1, min(depth, len(parts)) + 1):
            key = "/" + "/".join(parts[:level])
            totals[key] = totals.get(key, 0) + entry.size
    return totals


# Files identical by nature that nobody can deduplicate (rule c).
DUPLICATE_NOISE = re.compile(
    r"^/usr/share/(?:doc|man|info|doc-base|lintian)/|/changelog[^/]*$|/copyright$|/NEWS(?:\.Debian)?(?:\.gz)?$|"
    r"^/var/lib/postgresql/.*/(?:base|global|pg_\w+)/|^/var/lib/mysql/|^/var/lib/dpkg/info/")


def _duplicates(files: list[FsEntry], layers: Sequence[LayerFiles]) -> tuple[Duplicate, ...]:
    hashes_by_layer = {layer.index: layer.hashes for layer in layers}
    groups: dict[str, list[FsEntry]] = {}
    for entry in files:
        table = hashes_by_layer.get(entry.layer)
        if not entry.size or not table or entry.path not in table or DUPLICATE_NOISE.search(entry.path):
            continue
        groups.setdefault(table[entry.path], []).append(entry)
    found = [Duplicate(digest, group[0].size, tuple(sorted(e.path for e in group)))
             for digest, group in groups.items() if len(group) > 1]
    found.sort(key=lambda d: (-d.wasted_bytes, d.paths))
    return tuple(found[:TOP_N])


def _findings(layers: Sequence[LayerReport], hidden, duplicates, size: int,
              min_bytes: int, big_layer_ratio: float) -> tuple[Finding, ...]:
    """Plain-word findings, each tied to the layer that can fix it, biggest first."""
    by_index = {layer.index: layer for layer in layers}
    found: list[Finding] = []
    for (by_layer, from_layer, how), (count, nbytes) in hidden.items():
        if nbytes < max(min_bytes, 1) or by_layer == from_layer:
            continue
        verb = "overwrites" if how == "overwritten" else "deletes"
        found.append(Finding(
            "overwritten-later" if how == "overwritten" else "deleted-later", by_layer, nbytes,
            f"{_layer_name(by_index, by_layer)} {verb} {human_bytes(nbytes)} ({count} files) that "
            f"layer {from_layer} added: the bytes still ship in layer {from_layer}; "
            f"remove them in the step that creates them"))
    for layer in layers:
        if layer.imported:
            continue                  # rule a: the base image's caches are context
        for kind, nbytes in sorted(layer.caches.items()):
            if nbytes >= max(min_bytes, 1):
                advice = "clean it in the same RUN" if layer.kind == "RUN" else \
                    "keep it out of the build context (.dockerignore) or copy only what the app needs"
                found.append(Finding("cache-left", layer.index, nbytes,
                                     f"{kind} left in {_layer_name(by_index, layer.index)}: "
                                     f"{human_bytes(nbytes)}; {advice}"))
    if len(layers) > 1 and size:
        for layer in layers:
            if layer.imported:
                continue
            share = layer.size_bytes / size
            if share >= big_layer_ratio and layer.size_bytes >= min_bytes:
                found.append(Finding("big-layer", layer.index, layer.size_bytes,
                                     f"{_layer_name(by_index, layer.index)} is {share:.0%} of the image "
                                     f"({human_bytes(layer.size_bytes)})"))
    for duplicate in duplicates:
        if duplicate.wasted_bytes >= max(min_bytes, 1):
            found.append(Finding("duplicates", None, duplicate.wasted_bytes,
                                 f"{len(duplicate.paths)} identical copies of {human_bytes(duplicate.size_bytes)}"
                                 f" ({', '.join(duplicate.paths[:3])}{', ...' if len(duplicate.paths) > 3 else ''})"
                                 f" waste {human_bytes(duplicate.wasted_bytes)}"))
    found.sort(key=lambda f: (-f.bytes, f.layer if f.layer is not None else -1, f.id))
    return tuple(found)


def _layer_name(by_index: Mapping[int, LayerReport], index: int) -> str:
    layer = by_index.get(index)
    text = layer.created_by if layer else ""
    return f"layer {index} ({shorten(text, 60)})" if text else f"layer {index}"


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"


def human_bytes(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    return f"{count:.1f} GB"


# --- CI rules ----------------------------------------------------------------------------

RULES = ("max_reclaimable", "min_efficiency", "max_size", "max_layer_ratio", "max_user_wasted_ratio")
BYTE_RULES = ("max_reclaimable", "max_size")
DEFAULT_RULES = {"min_efficiency": 0.9}
CI_FILE = ".slim-ci.toml"
DIVE_CI_FILE = ".dive-ci"
# dive's .dive-ci keys, scored with slimmer's figures (reclaimable bytes are dive's "wasted" bytes)
DIVE_KEYS = {"lowestEfficiency": "min_efficiency", "highestWastedBytes": "max_reclaimable",
             "highestUserWastedPercent": "max_user_wasted_ratio"}


@dataclass(frozen=True)
class RuleResult:
    name: str
    value: float
    threshold: float
    passed: bool
    message: str


def parse_bytes(value: object, what: str = "size") -> int:
    """1000, "20MB", "1.5 GiB", "300k" -> bytes (slimmer.units' reading, as for every flag)."""
    return units.parse_size(value, what)


def parse_ratio(value: object, what: str = "ratio") -> float:
    """0.95, "0.95", "95%" -> 0.95 (between 0 and 1)."""
    return units.parse_ratio(value, what)


DISABLED = "disabled"     # dive's value for a rule that is off


def rule_flag(name: str):
    """argparse `type=` for a CI rule's flag: the rule's size or ratio, or "disabled"."""
    convert = units.size_argument if name in BYTE_RULES else units.ratio_argument

    def parse(text: str):
        return DISABLED if text.strip().lower() == DISABLED else convert(text)
    parse.__name__ = convert.__name__
    return parse


def rule_value(name: str, value: object, what: str | None = None) -> float | None:
    """A rule's threshold from a flag or a file; None for dive's "disabled"."""
    if isinstance(value, str) and value.strip().lower() == DISABLED:
        return None
    if name in BYTE_RULES:
        return parse_bytes(value, what or name)
    return parse_ratio(value, what or name)


def rule_name(key: str) -> str | None:
    """'max-reclaimable' -> 'max_reclaimable'; dive's 'lowestEfficiency' -> 'min_efficiency'."""
    if key in DIVE_KEYS:
        return DIVE_KEYS[key]
    name = key.replace("-", "_")
    return name if name in RULES else None


def load_ci_rules(directory: str = ".", path: str | None = None) -> dict[str, float | None]:
    """CI rules from PATH, or else from DIRECTORY's .dive-ci and .slim-ci.toml (this one wins).

    A value of None means the rule was switched off ("disabled", as dive writes it)."""
    if path is not None:
        if not os.path.isfile(path):
            raise BadInput("cannot read the CI rules file", path, "pass an existing .slim-ci.toml or .dive-ci")
        return _load_toml_rules(path) if path.endswith(".toml") else _load_dive_rules(path)
    rules: dict[str, float | None] = {}
    dive = os.path.join(directory, DIVE_CI_FILE)
    if os.path.isfile(dive):
        rules.update(_load_dive_rules(dive))
    toml = os.path.join(directory, CI_FILE)
    if os.path.isfile(toml):
        rules.update(_load_toml_rules(toml))
    return rules


def _load_toml_rules(path: str) -> dict[str, float | None]:
    """Top level, or a [rules] or [xray] table; slimmer's names or dive's keys."""
    try:
        import tomllib
    except ModuleNotFoundError:   # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, ValueError) as exc:
        raise BadInput("cannot read the CI rules file", f"{path}: {exc}",
                       "fix the TOML, e.g. max_reclaimable = \"20MB\" and min_efficiency = 0.95") from exc
    table = data.get("rules") or data.get("xray") or data
    rules: dict[str, float | None] = {}
    for key, value in table.items():
        name = rule_name(key)
        if name is None:
            if isinstance(value, dict):
                continue
            raise BadInput("unknown rule in the CI rules file", f"{path}: {key}",
                           f"known rules: {', '.join(RULES + tuple(DIVE_KEYS))}")
        rules[name] = rule_value(name, value, f"{path}: {key}")
    return rules


def _load_dive_rules(path: str) -> dict[str, float | None]:
    """dive's .dive-ci: the `key: value` lines of its `rules:` section (comments, quotes and
    blank lines allowed); other sections are dive's own and are skipped."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput("cannot read the CI rules file", f"{path}: {exc}", "pass a readable .dive-ci") from exc
    rules: dict[str, float | None] = {}
    section = None
    for number, raw in enumerate(lines, 1):
        text = re.sub(r"(?:^|\s)#.*$", "", raw).rstrip()
        if not text.strip():
            continue
        match = re.fullmatch(r"(\s*)([\w-]+)\s*:\s*(.*)", text)
        if not match:
            raise BadInput("cannot read the CI rules file", f"{path}:{number}: {raw.strip()}",
                           "write rules as `  key: value` lines under `rules:`")
        indent, key, value = match.groups()
        if not indent:
            section = key
            if value.strip():
                raise BadInput("cannot read the CI rules file", f"{path}:{number}: {raw.strip()}",
                               "put the rules under a `rules:` line, indented")
            continue
        if section != "rules":
            continue
        name = rule_name(key)
        if name is None:
            raise BadInput("unknown rule in the CI rules file", f"{path}:{number}: {key}",
                           f"dive's keys: {', '.join(DIVE_KEYS)}")
        rules[name] = rule_value(name, value.strip().strip("\"'"), f"{path}:{number}: {key}")
    return rules


def evaluate_rules(report: XrayReport, rules: Mapping[str, float | None]) -> list[RuleResult]:
    """Every rule evaluated; none is skipped when an earlier one fails. None thresholds are off."""
    results = []
    biggest = max(report.layers, key=lambda layer: layer.size_bytes, default=None)
    for name in RULES:
        if rules.get(name) is None:
            continue
        threshold = rules[name]
        if name == "max_reclaimable":
            value, passed = report.reclaimable_bytes, report.reclaimable_bytes <= threshold
            text = f"reclaimable bytes {report.reclaimable_bytes} ({human_bytes(value)}), " \
                   f"threshold max {int(threshold)} ({human_bytes(threshold)})"
        elif name == "min_efficiency":
            value = report.efficiency
            passed = value >= threshold
            text = f"efficiency {value:.4f}, threshold min {threshold:.4f}"
        elif name == "max_size":
            value, passed = report.size_bytes, report.size_bytes <= threshold
            text = f"image size {value} ({human_bytes(value)}), threshold max {int(threshold)} ({human_bytes(threshold)})"
        elif name == "max_user_wasted_ratio":
            user = report.user_bytes
            value = report.reclaimable_bytes / user if user else 0.0
            passed = value <= threshold
            text = f"reclaimable bytes / bytes above the base layer {value:.4f} " \
                   f"({human_bytes(report.reclaimable_bytes)} of {human_bytes(user)}), threshold max {threshold:.4f}"
        else:
            value = (biggest.size_bytes / report.size_bytes) if biggest and report.size_bytes else 0.0
            passed = value <= threshold
            where = f" (layer {biggest.index})" if biggest else ""
            text = f"largest layer ratio {value:.4f}{where}, threshold max {threshold:.4f}"
        results.append(RuleResult(name, value, threshold, passed, f"{'PASS' if passed else 'FAIL'} {name}: {text}"))
    return results


# --- output --------------------------------------------------------------------------------

TREE_LIMIT = 1000     # changed paths per layer in --json; the biggest are kept, the count says how many there were


def to_json(report: XrayReport, rules: Sequence[RuleResult] = (), *, tree_limit: int = TREE_LIMIT) -> dict:
    """The JSON schema of `slim xray --json` (kept apart from the dataclasses on purpose).

    tree_limit: changed paths listed per layer (0: all)."""
    def change(item: Change) -> dict:
        return {"count": item.count, "bytes": item.bytes}
    data = {
        "image": report.image,
        "id": report.image_id,
        "size_bytes": report.size_bytes,
        "reclaimable_bytes": report.reclaimable_bytes,
        "efficiency": round(report.efficiency, 6),
        "file_count": report.file_count,
        "base_image": report.base_image or None,
        "layers": [{"index": l.index, "digest": l.digest, "size_bytes": l.size_bytes, "created_by": l.created_by,
                    "imported": l.imported,
                    "added": change(l.added), "modified": change(l.modified), "deleted": change(l.deleted),
                    "hidden_later": change(l.hidden_later), "caches": dict(l.caches),
                    "tree": _tree_json(l.changes, tree_limit)} for l in report.layers],
        "largest": [{"path": f.path, "bytes": f.bytes, "layer": f.layer} for f in report.largest_files],
        "largest_dirs": [{"path": d.path, "bytes": d.bytes} for d in report.largest_dirs],
        "duplicates": [{"sha256": d.sha256, "size_bytes": d.size_bytes, "paths": list(d.paths),
                        "wasted_bytes": d.wasted_bytes} for d in report.duplicates],
        "findings": [{"id": f.id, "layer": f.layer, "bytes": f.bytes, "message": f.message}
                     for f in report.findings],
    }
    if rules:
        data["ci"] = {"passed": all(r.passed for r in rules),
                      "rules": [{"name": r.name, "value": r.value, "threshold": r.threshold,
                                 "passed": r.passed, "message": r.message} for r in rules]}
    return data


def _tree_json(changes: Sequence[FileChange], limit: int) -> dict:
    shown = list(changes)
    if limit and len(shown) > limit:
        shown = sorted(sorted(shown, key=lambda c: (-c.bytes, c.path))[:limit], key=lambda c: c.path)
    return {"count": len(changes), "truncated": len(shown) < len(changes),
            "changes": [{"path": c.path, "change": c.change, "size": c.bytes, "type": c.type} for c in shown]}


def _base_line(report: XrayReport) -> str | None:
    imported = [layer for layer in report.layers if layer.imported]
    if not imported:
        return None
    nbytes = sum(layer.size_bytes for layer in imported)
    name = f" ({report.base_image})" if report.base_image else ""
    which = ", ".join(str(layer.index) for layer in imported)
    share = f", {nbytes / report.size_bytes:.0%} of the image" if report.size_bytes else ""
    return f"base image{name}: layer{'s' if len(imported) > 1 else ''} {which}, {human_bytes(nbytes)}{share} " \
           f"(imported, not built by this Dockerfile)"


def render_text(report: XrayReport, rules: Sequence[RuleResult] = ()) -> str:
    lines = [f"image {report.image or report.image_id[:19]}  {report.image_id[:19]}",
             f"size {human_bytes(report.size_bytes)} ({report.size_bytes} bytes) in {len(report.layers)} layers, "
             f"{report.file_count} files",
             f"reclaimable {human_bytes(report.reclaimable_bytes)} ({report.reclaimable_bytes} bytes), "
             f"efficiency {report.efficiency:.2%}"]
    base = _base_line(report)
    if base:
        lines.append(base)
    lines += ["", f"{'layer':>5} {'size':>10} {'added':>14} {'modified':>14} {'deleted':>14}  instruction"]
    for layer in report.layers:
        cells = [f"{c.count}/{human_bytes(c.bytes)}" for c in (layer.added, layer.modified, layer.deleted)]
        what = layer.created_by or ("(imported base layer)" if layer.imported else "")
        lines.append(f"{layer.index:>5} {human_bytes(layer.size_bytes):>10} {cells[0]:>14} {cells[1]:>14} "
                     f"{cells[2]:>14}  {shorten(what, 70)}")
    if report.largest_files:
        lines += ["", "largest files:"]
        lines += [f"  {human_bytes(f.bytes):>10}  {f.path}  (layer {f.layer})" for f in report.largest_files[:10]]
    if report.largest_dirs:
        lines += ["", "largest directories:"]
        lines += [f"  {human_bytes(d.bytes):>10}  {d.path}" for d in report.largest_dirs[:10]]
    if report.duplicates:
        lines += ["", "duplicate files:"]
        lines += [f"  {human_bytes(d.wasted_bytes):>10} wasted: {len(d.paths)} x {human_bytes(d.size_bytes)}  "
                  f"{', '.join(d.paths[:4])}" for d in report.duplicates[:10]]
    lines += ["", "findings:" if report.findings else "findings: none"]
    lines += [f"  - {f.message}" for f in report.findings]
    if rules:
        lines += ["", "CI rules:"] + [f"  {r.message}" for r in rules]
        lines.append("CI: " + ("passed" if all(r.passed for r in rules) else "FAILED"))
    return "\n".join(lines)


MARKS = {"added": "+", "modified": "~", "removed": "-"}


def select_layer(report: XrayReport, which: str | int) -> LayerReport:
    """A layer by index ("2"; negative counts from the top: "-1" is the top layer)."""
    try:
        index = int(which)
        return report.layers[index]
    except (ValueError, IndexError):
        raise BadInput("no such layer", which,
                       f"layers are 0..{len(report.layers) - 1} (or -1 for the top one)") from None


def render_tree(layer: LayerReport, kinds: Sequence[str] = ("added", "modified", "removed")) -> str:
    """One layer's changes as a tree (dive's layer view, changes only): a mark per path
    (+ added, ~ modified, - removed), each directory with the bytes of the changes under it."""
    rows = [c for c in layer.changes if c.change in kinds]
    head = [f"layer {layer.index}: {layer.created_by or ('(imported base layer)' if layer.imported else '(no instruction)')}",
            f"  {layer.added.count} added ({human_bytes(layer.added.bytes)}), {layer.modified.count} modified "
            f"({human_bytes(layer.modified.bytes)}), {layer.deleted.count} removed ({human_bytes(layer.deleted.bytes)})"
            f"   marks: + added  ~ modified  - removed", ""]
    if not rows:
        return "\n".join(head + ["  (no changed files)"])
    root: dict = {}
    for row in rows:
        node = root
        parts = row.path.strip("/").split("/")
        for part in parts[:-1]:
            node = node.setdefault(part + "/", {})
        node[parts[-1] + ("/" if row.type == "dir" else "")] = row
    totals: dict[int, int] = {}

    def total(node) -> int:
        if isinstance(node, FileChange):
            return node.bytes
        if id(node) not in totals:
            totals[id(node)] = sum(total(child) for child in node.values())
        return totals[id(node)]

    lines = [f"{human_bytes(total(root)):>10}  /"]

    def walk(node: dict, prefix: str) -> None:
        names = sorted(node)
        for position, name in enumerate(names):
            child = node[name]
            last = position == len(names) - 1
            branch = "└── " if last else "├── "
            if isinstance(child, FileChange):
                lines.append(f"{human_bytes(child.bytes):>10}  {prefix}{branch}{MARKS[child.change]} {name}")
            else:
                lines.append(f"{human_bytes(total(child)):>10}  {prefix}{branch}{name}")
                walk(child, prefix + ("    " if last else "│   "))
    walk(root, "")
    return "\n".join(head + lines)


# --- one call for the CLI and lint ------------------------------------------------------------

ARCHIVE_PREFIX = "docker-archive:"
BASE_LABEL = "org.opencontainers.image.base.name"


def xray_image(docker, reference: str, *, duplicates: bool = True) -> XrayReport:
    """Inspect REFERENCE, stream its `docker save` once and analyse it (docker: a docker_api.Docker).

    A `docker-archive:FILE.tar` reference is read from the file: no Docker needed."""
    if reference.startswith(ARCHIVE_PREFIX):
        return xray_archive(reference[len(ARCHIVE_PREFIX):], duplicates=duplicates, reference=reference)
    from .inspect import inspect_image
    info = inspect_image(docker, reference, content_size=False)   # the one docker save below gives the sizes
    saved = read_image(docker.export_image(info.id), duplicates=duplicates)
    return analyse(saved.layers, layer_instructions(saved, info), image=reference, image_id=info.id,
                   base_image=dict(info.config.labels).get(BASE_LABEL, ""))


def xray_archive(path: str, *, duplicates: bool = True, reference: str | None = None) -> XrayReport:
    """The xray report of a `docker save` archive (plain or gzip-compressed) at PATH."""
    import gzip
    hint = "pass a file written by docker save IMAGE -o FILE.tar, e.g. slim xray docker-archive:app.tar"
    if not path:
        raise BadInput("docker-archive: needs a path", reference, hint)
    try:
        handle = open(path, "rb", buffering=1 << 20)
    except OSError as exc:
        raise BadInput("cannot read the image archive", f"{path}: {exc.strerror}", hint) from exc
    with handle:
        stream = gzip.GzipFile(fileobj=handle) if handle.peek(2)[:2] == b"\x1f\x8b" else handle
        saved = read_image(stream, duplicates=duplicates)
    config_hex = os.path.basename(saved.config_name).removesuffix(".json")
    image_id = f"sha256:{config_hex}" if re.fullmatch(r"[0-9a-f]{64}", config_hex) else ""
    labels = (saved.config.get("config") or {}).get("Labels") or {}
    return analyse(saved.layers, layer_instructions(saved), image=reference or ARCHIVE_PREFIX + path,
                   image_id=image_id, base_image=labels.get(BASE_LABEL, ""))
