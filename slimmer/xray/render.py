"""`slim xray`'s outputs: the JSON schema (kept apart from the dataclasses on purpose) and the text."""
from __future__ import annotations

from typing import Mapping, Sequence

from ..textfmt import human_size
from .ci import RuleResult
from .report import Change, FileChange, XrayReport
from .tree import TREE_LIMIT, full_tree_json, tree_json


def to_json(report: XrayReport, rules: Sequence[RuleResult] = (), *, tree_limit: int = TREE_LIMIT,
            full: Mapping[int, Sequence[FileChange]] | None = None, depth: int = 0) -> dict:
    """The JSON schema of `slim xray --json` (kept apart from the dataclasses on purpose).

    tree_limit: changed paths listed per layer (0: all). full: the whole filesystem of the layers
    asked for (--unmodified; tree.full_trees' rows by layer index), listed as their "files",
    down to DEPTH levels (0: all); --tree-limit does not cut it."""
    def change(item: Change) -> dict:
        return {"count": item.count, "bytes": item.bytes}
    data = {
        "image": report.image,
        "id": report.image_id,
        "read": report.read or None,
        "size_bytes": report.size_bytes,
        "reclaimable_bytes": report.reclaimable_bytes,
        "efficiency": round(report.efficiency, 6),
        "file_count": report.file_count,
        "base_image": report.base_image or None,
        "layers": [{"index": l.index, "digest": l.digest, "size_bytes": l.size_bytes, "created_by": l.created_by,
                    "imported": l.imported,
                    "added": change(l.added), "modified": change(l.modified), "deleted": change(l.deleted),
                    "hidden_later": change(l.hidden_later), "caches": dict(l.caches),
                    "tree": tree_json(l.changes, tree_limit),
                    **({"files": full_tree_json(full[l.index], depth)} if full and l.index in full else {})}
                   for l in report.layers],
        "largest": [{"path": f.path, "bytes": f.bytes, "layer": f.layer} for f in report.largest_files],
        "largest_dirs": [{"path": d.path, "bytes": d.bytes} for d in report.largest_dirs],
        "duplicates": [{"sha256": d.sha256, "size_bytes": d.size_bytes, "paths": list(d.paths),
                        "wasted_bytes": d.wasted_bytes} for d in report.duplicates],
        "duplicates_hashed": {"files": report.hashed_files, "bytes": report.hashed_bytes},
        "findings": [{"id": f.id, "layer": f.layer, "bytes": f.bytes, "message": f.message}
                     for f in report.findings],
    }
    if rules:
        data["ci"] = {"passed": all(r.passed for r in rules),
                      "rules": [{"name": r.name, "value": r.value, "threshold": r.threshold,
                                 "passed": r.passed, "message": r.message} for r in rules]}
    return data


def render_text(report: XrayReport, rules: Sequence[RuleResult] = ()) -> str:
    read = f"  (read from the {report.read})" if report.read else ""
    lines = [f"image {report.image or report.image_id[:19]}  {report.image_id[:19]}{read}",
             f"size {human_size(report.size_bytes)} ({report.size_bytes} bytes) in {len(report.layers)} layers, "
             f"{report.file_count} files",
             f"reclaimable {human_size(report.reclaimable_bytes)} ({report.reclaimable_bytes} bytes), "
             f"efficiency {report.efficiency:.2%}"]
    base = _base_line(report)
    if base:
        lines.append(base)
    lines += ["", f"{'layer':>5} {'size':>10} {'added':>14} {'modified':>14} {'deleted':>14}  instruction"]
    for layer in report.layers:
        cells = [f"{c.count}/{human_size(c.bytes)}" for c in (layer.added, layer.modified, layer.deleted)]
        lines.append(f"{layer.index:>5} {human_size(layer.size_bytes):>10} {cells[0]:>14} {cells[1]:>14} "
                     f"{cells[2]:>14}  {shorten(layer.described(), 70)}")
    if report.largest_files:
        lines += ["", "largest files:"]
        lines += [f"  {human_size(f.bytes):>10}  {f.path}  (layer {f.layer})" for f in report.largest_files[:10]]
    if report.largest_dirs:
        lines += ["", "largest directories:"]
        lines += [f"  {human_size(d.bytes):>10}  {d.path}" for d in report.largest_dirs[:10]]
    if report.duplicates:
        lines += ["", "duplicate files:"]
        lines += [f"  {human_size(d.wasted_bytes):>10} wasted: {len(d.paths)} x {human_size(d.size_bytes)}  "
                  f"{', '.join(d.paths[:4])}" for d in report.duplicates[:10]]
    lines += ["", "findings:" if report.findings else "findings: none"]
    lines += [f"  - {f.message}" for f in report.findings]
    if rules:
        lines += ["", "CI rules:"] + [f"  {r.message}" for r in rules]
        lines.append("CI: " + ("passed" if all(r.passed for r in rules) else "FAILED"))
    return "\n".join(lines)


def _base_line(report: XrayReport) -> str | None:
    imported = [layer for layer in report.layers if layer.imported]
    if not imported:
        return None
    nbytes = sum(layer.size_bytes for layer in imported)
    name = f" ({report.base_image})" if report.base_image else ""
    which = ", ".join(str(layer.index) for layer in imported)
    share = f", {nbytes / report.size_bytes:.0%} of the image" if report.size_bytes else ""
    return f"base image{name}: layer{'s' if len(imported) > 1 else ''} {which}, {human_size(nbytes)}{share} " \
           f"(imported, not built by this Dockerfile)"


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 1] + "…"
