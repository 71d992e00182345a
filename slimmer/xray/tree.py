"""A layer's file tree: every path it added (+), modified (~) or removed (-).

  1. added and modified are the layer's non-directory entries (analyse's rule 6),
     with the bytes the layer stores for them;
  2. a removed path is a lower-layer version the layer hid; a removed directory
     is listed once, with the bytes of everything under it;
  3. --json lists at most TREE_LIMIT paths per layer, the biggest, with the count
     of all; the text view (render_tree) shows every path, each directory with
     the bytes of the changes under it.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from ..errors import BadInput
from ..imagefs import stored_bytes
from ..model import FsEntry
from ..textfmt import human_size
from .report import FileChange, LayerReport, XrayReport

TREE_LIMIT = 1000     # changed paths per layer in --json; the biggest are kept, the count says how many there were
MARKS = {"added": "+", "modified": "~", "removed": "-"}


def file_changes(added: list[FsEntry], modified: list[FsEntry],
                 removed: Mapping[str, list]) -> tuple[FileChange, ...]:
    """One layer's tree, sorted by path; REMOVED maps a hidden path to [type, bytes]."""
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


def tree_json(changes: Sequence[FileChange], limit: int) -> dict:
    shown = list(changes)
    if limit and len(shown) > limit:
        shown = sorted(sorted(shown, key=lambda c: (-c.bytes, c.path))[:limit], key=lambda c: c.path)
    return {"count": len(changes), "truncated": len(shown) < len(changes),
            "changes": [{"path": c.path, "change": c.change, "size": c.bytes, "type": c.type} for c in shown]}


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
    head = [f"layer {layer.index}: {layer.described('(no instruction)')}",
            f"  {layer.added.count} added ({human_size(layer.added.bytes)}), {layer.modified.count} modified "
            f"({human_size(layer.modified.bytes)}), {layer.deleted.count} removed ({human_size(layer.deleted.bytes)})"
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

    lines = [f"{human_size(total(root)):>10}  /"]

    def walk(node: dict, prefix: str) -> None:
        names = sorted(node)
        for position, name in enumerate(names):
            child = node[name]
            last = position == len(names) - 1
            branch = "└── " if last else "├── "
            if isinstance(child, FileChange):
                lines.append(f"{human_size(child.bytes):>10}  {prefix}{branch}{MARKS[child.change]} {name}")
            else:
                lines.append(f"{human_size(total(child)):>10}  {prefix}{branch}{name}")
                walk(child, prefix + ("    " if last else "│   "))
    walk(root, "")
    return "\n".join(head + lines)
