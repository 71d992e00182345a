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
     layer hides; directories are not counted (every layer touches a few).
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import BinaryIO, Mapping, Sequence

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


def analyse(layers: Sequence[LayerFiles], instructions: Sequence[str] = (), *, image: str = "",
            image_id: str = "", finding_min_bytes: int = MB, big_layer_ratio: float = 0.5) -> XrayReport:
    """The xray report of LAYERS (bottom first); INSTRUCTIONS name the step that made each one."""
    layers = sorted(layers, key=lambda item: item.index)
    instructions = list(instructions) + [""] * (len(layers) - len(instructions))
    hidden: dict[tuple[int, int, str], list[int]] = {}     # (by layer, from layer, how) -> [count, bytes]
    overwritten_paths: set[str] = set()
    current = [0]

    def on_hidden(entry: FsEntry, by_layer: int, how: str) -> None:
        if entry.type is EntryType.DIR:
            return
        if how == "overwritten" and entry.layer < by_layer:
            overwritten_paths.add(entry.path)
        tally = hidden.setdefault((by_layer, entry.layer, how), [0, 0])
        tally[0] += 1
        tally[1] += stored_bytes(entry)

    tree = MergedTree(on_hidden)
    changes: list[tuple[Change, Change]] = []
    for layer in layers:
        current[0] = layer.index
        overwritten_paths.clear()
        tree.apply(layer)
        last_version = {entry.path: entry for entry in layer.entries if entry.type is not EntryType.DIR}
        added = [e for p, e in last_version.items() if p not in overwritten_paths]
        modified = [e for p, e in last_version.items() if p in overwritten_paths]
        changes.append((_change(added), _change(modified)))
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
                    hidden_later=Change(*hidden_from.get(layer.index, (0, 0))))
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
        dir_bytes={p: b for p, b in dir_totals.items() if p.count("/") <= 2})


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


def _duplicates(files: list[FsEntry], layers: Sequence[LayerFiles]) -> tuple[Duplicate, ...]:
    hashes_by_layer = {layer.index: layer.hashes for layer in layers}
    groups: dict[str, list[FsEntry]] = {}
    for entry in files:
        table = hashes_by_layer.get(entry.layer)
        if not entry.size or not table or entry.path not in table:
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
        for kind, nbytes in sorted(layer.caches.items()):
            if nbytes >= max(min_bytes, 1):
                found.append(Finding("cache-left", layer.index, nbytes,
                                     f"{kind} left in {_layer_name(by_index, layer.index)}: "
                                     f"{human_bytes(nbytes)}; clean it in the same RUN"))
    if len(layers) > 1 and size:
        for layer in layers:
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

RULES = ("max_reclaimable", "min_efficiency", "max_size", "max_layer_ratio")
DEFAULT_RULES = {"min_efficiency": 0.9}
CI_FILE = ".slim-ci.toml"


@dataclass(frozen=True)
class RuleResult:
    name: str
    value: float
    threshold: float
    passed: bool
    message: str


def parse_bytes(value: object, what: str = "size") -> int:
    """1000, "20MB", "1.5 GiB", "300k" -> bytes."""
    if isinstance(value, bool):
        raise BadInput(f"{what} is not a byte count", value, "use a number of bytes or e.g. 20MB")
    if isinstance(value, (int, float)):
        return int(value)
    match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(i?)[bB]?\s*", str(value))
    if not match:
        raise BadInput(f"{what} is not a byte count", value, "use a number of bytes or e.g. 20MB, 1.5GiB")
    number, prefix, binary = match.groups()
    power = " KMGT".index(prefix.upper()) if prefix else 0
    return int(float(number) * (1024 if binary else 1000) ** power)


def load_ci_rules(directory: str = ".") -> dict[str, float]:
    """Rules from DIRECTORY/.slim-ci.toml: top level, or a [rules] or [xray] table."""
    path = os.path.join(directory, CI_FILE)
    if not os.path.exists(path):
        return {}
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
    rules: dict[str, float] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name not in RULES:
            if isinstance(value, dict):
                continue
            raise BadInput("unknown rule in the CI rules file", f"{path}: {key}",
                           f"known rules: {', '.join(RULES)}")
        rules[name] = parse_bytes(value, key) if name in ("max_reclaimable", "max_size") else _ratio(value, key)
    return rules


def _ratio(value: object, key: str) -> float:
    try:
        number = float(str(value).rstrip("%")) / (100 if str(value).endswith("%") else 1)
    except ValueError:
        raise BadInput("CI rule needs a ratio", f"{key} = {value!r}", "use a number between 0 and 1, e.g. 0.9")
    if not 0 <= number <= 1:
        raise BadInput("CI rule needs a ratio between 0 and 1", f"{key} = {value!r}", "e.g. 0.9 or 90%")
    return number


def evaluate_rules(report: XrayReport, rules: Mapping[str, float]) -> list[RuleResult]:
    """Every rule evaluated; none is skipped when an earlier one fails."""
    results = []
    biggest = max(report.layers, key=lambda layer: layer.size_bytes, default=None)
    for name in RULES:
        if name not in rules:
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
        else:
            value = (biggest.size_bytes / report.size_bytes) if biggest and report.size_bytes else 0.0
            passed = value <= threshold
            where = f" (layer {biggest.index})" if biggest else ""
            text = f"largest layer ratio {value:.4f}{where}, threshold max {threshold:.4f}"
        results.append(RuleResult(name, value, threshold, passed, f"{'PASS' if passed else 'FAIL'} {name}: {text}"))
    return results


# --- output --------------------------------------------------------------------------------

def to_json(report: XrayReport, rules: Sequence[RuleResult] = ()) -> dict:
    """The JSON schema of `slim xray --json` (kept apart from the dataclasses on purpose)."""
    def change(item: Change) -> dict:
        return {"count": item.count, "bytes": item.bytes}
    data = {
        "image": report.image,
        "id": report.image_id,
        "size_bytes": report.size_bytes,
        "reclaimable_bytes": report.reclaimable_bytes,
        "efficiency": round(report.efficiency, 6),
        "file_count": report.file_count,
        "layers": [{"index": l.index, "digest": l.digest, "size_bytes": l.size_bytes, "created_by": l.created_by,
                    "added": change(l.added), "modified": change(l.modified), "deleted": change(l.deleted),
                    "hidden_later": change(l.hidden_later), "caches": dict(l.caches)} for l in report.layers],
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


def render_text(report: XrayReport, rules: Sequence[RuleResult] = ()) -> str:
    lines = [f"image {report.image or report.image_id[:19]}  {report.image_id[:19]}",
             f"size {human_bytes(report.size_bytes)} ({report.size_bytes} bytes) in {len(report.layers)} layers, "
             f"{report.file_count} files",
             f"reclaimable {human_bytes(report.reclaimable_bytes)} ({report.reclaimable_bytes} bytes), "
             f"efficiency {report.efficiency:.2%}", "",
             f"{'layer':>5} {'size':>10} {'added':>14} {'modified':>14} {'deleted':>14}  instruction"]
    for layer in report.layers:
        cells = [f"{c.count}/{human_bytes(c.bytes)}" for c in (layer.added, layer.modified, layer.deleted)]
        lines.append(f"{layer.index:>5} {human_bytes(layer.size_bytes):>10} {cells[0]:>14} {cells[1]:>14} "
                     f"{cells[2]:>14}  {shorten(layer.created_by, 70)}")
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


# --- one call for the CLI and lint ------------------------------------------------------------

def xray_image(docker, reference: str, *, duplicates: bool = True) -> XrayReport:
    """Inspect REFERENCE, stream its `docker save` once and analyse it (docker: a docker_api.Docker)."""
    from .inspect import inspect_image
    info = inspect_image(docker, reference)
    saved = read_image(docker.export_image(info.id), duplicates=duplicates)
    return analyse(saved.layers, layer_instructions(saved, info), image=reference, image_id=info.id)
