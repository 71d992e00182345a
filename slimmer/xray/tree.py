"""A layer's file tree: every path it added (+), modified (~) or removed (-); and, when asked
(--unmodified), the whole filesystem as it stands at a layer, as dive shows it.

  1. added and modified are the layer's non-directory entries (analyse's rule 6),
     with the bytes the layer stores for them;
  2. a removed path is a lower-layer version the layer hid; a removed directory
     is listed once, with the bytes of everything under it;
  3. --json lists at most TREE_LIMIT paths per layer, the biggest, with the count
     of all; the text view (render_tree) shows every path, each directory with
     the bytes of the changes under it.

The full view (full_trees, dive's tree with its unmodified files shown):
  4. the filesystem after layer N is replayed from the changes of layers 0..N
     that analyse's merge already produced (removals first, then the layer's new
     directories, then its added and modified paths: MergedTree.apply's order),
     so whiteouts, opaque directories and a directory replaced by a file are
     honoured as the merge resolved them, and no layer is read or merged again;
     this is dive's way too (each layer's tree stacked on the ones below);
  5. every path present after layer N is listed, unmarked unless layer N added
     (+) or modified (~) it; the paths layer N removed are listed too, marked -
     (no longer present, still shipped below), a removed directory as one row;
  6. a directory's bytes are those of the files present under it (removed paths
     are not counted); a file's are its content bytes, 0 for links, which show
     their target (dive's "bin → usr/bin");
  7. built only when asked, one layer at a time, from the report alone: the
     analysis keeps nothing more than each layer's changes and new directories.
"""
from __future__ import annotations

from typing import Collection, Iterator, Mapping, Sequence

from ..errors import BadInput
from ..imagefs import stored_bytes
from ..model import FsEntry
from ..textfmt import human_size
from .report import FileChange, LayerReport, XrayReport

TREE_LIMIT = 1000     # changed paths per layer in --json; the biggest are kept, the count says how many there were
MARKS = {"added": "+", "modified": "~", "removed": "-"}
UNMODIFIED = ""       # FileChange.change of a path the layer did not touch (the full view)


def file_changes(added: list[FsEntry], modified: list[FsEntry],
                 removed: Mapping[str, list]) -> tuple[FileChange, ...]:
    """One layer's tree, sorted by path; REMOVED maps a hidden path to [type, bytes]."""
    rows = [FileChange(e.path, "added", stored_bytes(e), e.type.value, e.link_target) for e in added]
    rows += [FileChange(e.path, "modified", stored_bytes(e), e.type.value, e.link_target) for e in modified]
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


def full_tree_json(rows: Sequence[FileChange], depth: int = 0) -> dict:
    """--json's "files" of a layer (the full view): every path at the layer, rows in tree order,
    change null for unmodified; DEPTH > 0 keeps DEPTH levels, count still counts every path."""
    shown = [row for row in rows if not depth or row.path.count("/") <= depth]
    return {"count": sum(1 for row in rows if row.change != "removed"), "truncated": len(shown) < len(rows),
            "paths": [{"path": r.path, "size": r.bytes, "type": r.type, "change": r.change or None,
                       **({"target": r.target} if r.target else {})} for r in shown]}


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


def full_trees(layers: Sequence[LayerReport],
               wanted: Collection[int] | None = None) -> Iterator[tuple[LayerReport, tuple[FileChange, ...]]]:
    """The whole filesystem at each layer whose index is WANTED (all when None), bottom first
    (rules 4-7): each layer with its rows, parents before children, siblings by name; directory
    rows carry type "dir" and the bytes under them, unmodified paths change "" (UNMODIFIED)."""
    root: dict = {}                 # name -> FileChange (a leaf) or dict (a directory)
    positions = [p for p, layer in enumerate(layers) if wanted is None or layer.index in wanted]
    for layer in layers[:positions[-1] + 1] if positions else ():
        for change in layer.changes:
            if change.change == "removed":
                parent = _node(root, _parent_parts(change.path), create=False)
                if parent is not None:
                    parent.pop(_name(change.path), None)
        for path in layer.dirs_added:
            if path != "/":
                node = _node(root, _parent_parts(path), create=True)
                if not isinstance(node.get(_name(path)), dict):
                    node[_name(path)] = {}
        for change in layer.changes:
            if change.change != "removed":
                node = _node(root, _parent_parts(change.path), create=True)
                node[_name(change.path)] = FileChange(change.path, UNMODIFIED, change.bytes, change.type,
                                                      change.target)
        if wanted is None or layer.index in wanted:
            yield layer, _rows(root, layer)


def _parent_parts(path: str) -> list[str]:
    return path.strip("/").split("/")[:-1]


def _name(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _node(root: dict, parts: list[str], create: bool) -> dict | None:
    node = root
    for part in parts:
        child = node.get(part)
        if not isinstance(child, dict):
            if not create:
                return None
            child = node[part] = {}           # a file in the way was replaced: its removal said so
        node = child
    return node


def _rows(root: dict, layer: LayerReport) -> tuple[FileChange, ...]:
    """ROOT's paths in tree order with LAYER's marks (rule 5) and directory totals (rule 6)."""
    marks = {c.path: c.change for c in layer.changes if c.change != "removed"}
    removed: dict[str, list[FileChange]] = {}            # parent dir -> the rows the layer removed
    removed_rows = {c.path: c for c in layer.changes if c.change == "removed"}
    rows: list[FileChange] = []

    def walk(node: dict, path: str) -> int:
        gone = removed.get(path or "/", [])
        names = sorted(set(node) | {_name(c.path) for c in gone})
        total = 0
        for name in names:
            child_path = f"{path}/{name}"
            child = node.get(name)
            if child is None:
                rows.append(removed_rows[child_path])
            elif isinstance(child, dict):
                at = len(rows)
                rows.append(None)
                nbytes = walk(child, child_path)
                rows[at] = FileChange(child_path, UNMODIFIED, nbytes, "dir")
                total += nbytes
            else:
                mark = marks.get(child_path, UNMODIFIED)
                rows.append(child if mark == UNMODIFIED else
                            FileChange(child_path, mark, child.bytes, child.type, child.target))
                total += child.bytes
        return total
    for change in removed_rows.values():
        removed.setdefault(change.path.rsplit("/", 1)[0] or "/", []).append(change)
    walk(root, "")
    return tuple(rows)


def render_full_tree(layer: LayerReport, rows: Sequence[FileChange], depth: int = 0) -> str:
    """The whole filesystem at LAYER (ROWS from full_trees) as a tree, dive's view: every path
    present, LAYER's changes marked (+ added, ~ modified, - removed, still listed), each directory
    with the bytes of the files present under it. DEPTH > 0 lists DEPTH levels (`tree -L`); a
    directory cut there says how many paths it holds and how many of them LAYER changed."""
    present = [row for row in rows if row.change != "removed"]
    head = [f"layer {layer.index}: {layer.described('(no instruction)')}",
            f"  {layer.added.count} added ({human_size(layer.added.bytes)}), {layer.modified.count} modified "
            f"({human_size(layer.modified.bytes)}), {layer.deleted.count} removed ({human_size(layer.deleted.bytes)})"
            f"   marks: + added  ~ modified  - removed  (unmarked: unmodified)",
            f"  the filesystem at this layer: {len(present)} paths"
            + (f", {depth} level{'s' if depth != 1 else ''} shown" if depth else ""), ""]
    children: dict[str, list[FileChange]] = {}
    for row in rows:
        children.setdefault(row.path.rsplit("/", 1)[0] or "/", []).append(row)
    lines = [f"{human_size(sum(r.bytes for r in children.get('/', ()) if r.change != 'removed')):>10}  /"]

    def under(path: str) -> tuple[int, int]:
        """Paths under PATH and how many of them LAYER changed."""
        count = changed = 0
        for row in children.get(path, ()):
            count += 1
            changed += row.change != UNMODIFIED
            if row.type == "dir" and row.change != "removed":
                below = under(row.path)
                count, changed = count + below[0], changed + below[1]
        return count, changed

    def walk(path: str, prefix: str, level: int) -> None:
        kids = children.get(path, [])
        for position, row in enumerate(kids):
            last = position == len(kids) - 1
            branch = "└── " if last else "├── "
            name = row.path.rsplit("/", 1)[-1] + ("/" if row.type == "dir" else "") + \
                (f" → {row.target}" if row.target and row.change != "removed" else "")
            mark = f"{MARKS[row.change]} " if row.change else ""
            line = f"{human_size(row.bytes):>10}  {prefix}{branch}{mark}{name}"
            if row.type == "dir" and row.change != "removed" and row.path in children:
                if depth and level >= depth:
                    count, changed = under(row.path)
                    lines.append(f"{line}  ({count} path{'s' if count != 1 else ''} below not shown"
                                 + (f", {changed} changed)" if changed else ")"))
                    continue
                lines.append(line)
                walk(row.path, prefix + ("    " if last else "│   "), level + 1)
            else:
                lines.append(line)
    walk("/", "", 1)
    return "\n".join(head + lines)
