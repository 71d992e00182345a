"""`slim compare A B`: two images side by side, from their xray reports.

What a CI step prints after slimming an image built elsewhere: total size,
layer count, file count, and the directories (down to two levels) that lost
or gained the most bytes from A to B.
"""
from __future__ import annotations

from dataclasses import dataclass

from .textfmt import human_size
from .xray import XrayReport

TOP_DIRS = 10


@dataclass(frozen=True)
class DirChange:
    path: str
    bytes_a: int
    bytes_b: int

    @property
    def delta(self) -> int:
        return self.bytes_b - self.bytes_a


@dataclass(frozen=True)
class Comparison:
    a: XrayReport
    b: XrayReport
    removed: tuple[DirChange, ...]     # most bytes removed first
    added: tuple[DirChange, ...]       # most bytes added first


def compare(a: XrayReport, b: XrayReport, top: int = TOP_DIRS) -> Comparison:
    paths = (set(a.dir_bytes) | set(b.dir_bytes)) - {"/"}
    changes = [DirChange(p, a.dir_bytes.get(p, 0), b.dir_bytes.get(p, 0)) for p in paths]
    removed = sorted((c for c in changes if c.delta < 0), key=lambda c: (c.delta, c.path))[:top]
    added = sorted((c for c in changes if c.delta > 0), key=lambda c: (-c.delta, c.path))[:top]
    return Comparison(a, b, tuple(removed), tuple(added))


def to_json(comparison: Comparison) -> dict:
    def side(report: XrayReport) -> dict:
        return {"image": report.image, "id": report.image_id, "size_bytes": report.size_bytes,
                "layers": len(report.layers), "file_count": report.file_count,
                "reclaimable_bytes": report.reclaimable_bytes}
    a, b = comparison.a, comparison.b
    return {
        "a": side(a), "b": side(b),
        "delta": {"size_bytes": b.size_bytes - a.size_bytes, "layers": len(b.layers) - len(a.layers),
                  "file_count": b.file_count - a.file_count},
        "ratio": (a.size_bytes / b.size_bytes) if b.size_bytes else None,
        "top_dirs_removed": [{"path": c.path, "bytes_a": c.bytes_a, "bytes_b": c.bytes_b, "delta": c.delta}
                             for c in comparison.removed],
        "top_dirs_added": [{"path": c.path, "bytes_a": c.bytes_a, "bytes_b": c.bytes_b, "delta": c.delta}
                           for c in comparison.added],
    }


def render_text(comparison: Comparison) -> str:
    a, b = comparison.a, comparison.b
    width = max(len(a.image), len(b.image), 12)
    rows = [("size", human_size(a.size_bytes), human_size(b.size_bytes),
             _signed(b.size_bytes - a.size_bytes, human=True)),
            ("size bytes", str(a.size_bytes), str(b.size_bytes), _signed(b.size_bytes - a.size_bytes)),
            ("layers", str(len(a.layers)), str(len(b.layers)), _signed(len(b.layers) - len(a.layers))),
            ("files", str(a.file_count), str(b.file_count), _signed(b.file_count - a.file_count))]
    lines = [f"{'':<12} {a.image:>{width}} {b.image:>{width}} {'change':>12}"]
    lines += [f"{name:<12} {x:>{width}} {y:>{width}} {d:>12}" for name, x, y, d in rows]
    if b.size_bytes:
        lines.append(f"{b.image} is {b.size_bytes / a.size_bytes:.1%} of {a.image}" if a.size_bytes else "")
    for title, items in (("top directories by bytes removed:", comparison.removed),
                         ("top directories by bytes added:", comparison.added)):
        lines += ["", title if items else title + " none"]
        lines += [f"  {_signed(c.delta, human=True):>10}  {c.path}  ({human_size(c.bytes_a)} -> "
                  f"{human_size(c.bytes_b)})" for c in items]
    return "\n".join(lines)


def _signed(value: int, human: bool = False) -> str:
    text = human_size(abs(value)) if human else str(abs(value))
    return ("+" if value > 0 else "-" if value < 0 else "±") + text
