"""The page of `slim xray --html`: a bar per layer, the findings, the largest files, and each
layer's file tree (dive's layer view, changes only).

The tree, one collapsible `<details>` per layer and per directory (no script: it works with
JavaScript off):
  1. every path the layer added (+), modified (~) or removed (-), with its bytes; a directory
     shows the bytes of all the changes under it (xray.tree's rule 2 for removed directories);
  2. a layer with more than tree_limit changed paths lists the biggest ones and says how
     many are left out; the directory totals still count every change;
  3. three checkboxes hide added, modified or removed paths, in CSS alone: a directory is
     hidden when every kind of change under it is (its class names the kinds it holds);
  4. each row carries data-path, data-change and data-bytes for tools and tests.

With --unmodified (FULL: xray.tree.full_trees' rows of the layers asked for), the per-layer
trees give way to dive's view: the whole filesystem at a layer, one layer picked at a time:
  5. one tree holds every path of the picked layers, once; a radio button per layer (its
     label is the layer's line) shows the paths present at that layer and the ones it removed
     (marked -), marks its added (+) and modified (~) paths, and shows each row's bytes at that
     layer (a directory's: the files present under it): classes on each row say at which layers
     it is visible (runs "v0-3"), changed ("a1", "m2", "r3"), and which kinds a directory holds
     ("k1-au": added and unmodified), and the page's CSS turns them on for the checked layer;
  6. "changed files only" hides the unmodified paths and the directories with no change under
     them; the three hide checkboxes work as in rule 3, per layer;
  7. why one tree and not one per layer: postgres (10.6k paths at its top layer, 4 layers) is
     33k rows as a tree per layer, but 10.6k rows (a 2.0 MB page) as one; a tree per layer
     listing only the biggest unmodified paths of each directory was still 5.3 MB at 50 per
     directory and 3.4 MB at 10, and no longer the whole filesystem. Pure CSS (no script).
"""
from __future__ import annotations

from html import escape
from itertools import combinations
from typing import Mapping, Sequence

from ..textfmt import human_size
from ..xray.render import shorten
from ..xray.report import FileChange, LayerReport, XrayReport
from ..xray.tree import MARKS, TREE_LIMIT
from .page import kpi, page

KINDS = ("added", "modified", "removed")
_KIND_LETTER = {"added": "a", "modified": "m", "removed": "r", "unmodified": "u"}
_FILTER = {"added": "hide-added", "modified": "hide-modified", "removed": "hide-removed",
           "unmodified": "only-changed"}


def _tree_style() -> str:
    rules = [
        ".filters label{margin-right:14px}.filters{margin:4px 0 10px}",
        "details.layer{margin:4px 0;border:1px solid #d0d7de;border-radius:6px;padding:4px 8px}",
        "details.layer>summary{cursor:pointer;font-weight:600}",
        "ul.tree{list-style:none;margin:2px 0 2px 0;padding-left:18px;"
        "font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}",
        "ul.tree summary{cursor:pointer}",
        "ul.tree .size{color:#59636e;margin-left:10px;font-variant-numeric:tabular-nums}",
        ".mark{display:inline-block;width:1.2em;font-weight:700}",
        "li.added>.mark{color:#15803d}li.modified>.mark{color:#a16207}li.removed>.mark{color:#b91c1c}",
        "li.removed>.name{text-decoration:line-through}",
        ".more{color:#59636e;font-style:italic}",
    ]
    for kind in KINDS:
        rules.append(f"#hide-{kind}:checked~.trees li.file.{kind}{{display:none}}")
    # rule 3: a directory holding the kinds S is hidden when every kind in S is hidden
    for checked, letters in _hidden_sets(KINDS):
        rules.append(f"{checked}~.trees li.dir.d-{letters}{{display:none}}")
    return "\n".join(rules)


def _hidden_sets(kinds: Sequence[str]):
    """(CSS selector "every checkbox of S checked", S's letters) for each non-empty set S of KINDS."""
    for size in range(1, len(kinds) + 1):
        for subset in combinations(kinds, size):
            yield ("~".join(f"#{_FILTER[kind]}:checked" for kind in subset),
                   "".join(_KIND_LETTER[kind] for kind in subset))


def render_xray_html(report: XrayReport, tree_limit: int = TREE_LIMIT,
                     full: Mapping[int, Sequence[FileChange]] | None = None) -> str:
    """The page; TREE_LIMIT: changed paths listed per layer (0: all); FULL: the whole filesystem
    of the layers it holds (by index; xray.tree.full_trees' rows), shown instead of their changes."""
    biggest = max((layer.size_bytes for layer in report.layers), default=0) or 1
    rows = []
    for layer in report.layers:
        width = 100 * layer.size_bytes / biggest
        # the part of this layer's bytes that later layers hide, drawn in red at the bar's end
        hidden = min(layer.size_bytes, layer.hidden_later.bytes)
        hidden_share = 100 * hidden / layer.size_bytes if layer.size_bytes else 0
        rows.append(
            f'<div class="row"><div class="num">#{layer.index}</div><div>'
            f'<div class="track"><div class="bar" style="width:{width:.2f}%">'
            f'<div style="flex:1"></div><div class="hid" style="width:{hidden_share:.2f}%"></div></div></div>'
            f'<div class="label" title="{escape(layer.created_by)}">{escape(shorten(layer.created_by, 140))}</div>'
            f'</div><div class="num">{escape(human_size(layer.size_bytes))}</div></div>')
    findings = "".join(f"<li>{escape(f.message)}</li>" for f in report.findings[:20]) or "<li>none</li>"
    largest = "".join(f"<tr><td class=\"num\">{escape(human_size(f.bytes))}</td><td>{escape(f.path)}</td>"
                      f"<td>layer {f.layer}</td></tr>" for f in report.largest_files[:10])
    body = (
        f"<h1>xray: {escape(report.image)}</h1><p class=\"sub\">{escape(report.image_id)}</p>"
        f"<div class=\"kpis\">{kpi('size', human_size(report.size_bytes))}"
        f"{kpi('layers', str(len(report.layers)))}{kpi('files', str(report.file_count))}"
        f"{kpi('reclaimable', human_size(report.reclaimable_bytes))}"
        f"{kpi('efficiency', f'{report.efficiency:.1%}')}</div>"
        f"<h2>Layers</h2><p class=\"legend\"><span style=\"background:#3b82f6\"></span>bytes in the layer"
        f"<span style=\"background:#ef4444\"></span>hidden by a later layer (still shipped)</p>"
        + "\n".join(rows)
        + f"<h2>Findings</h2><ul class=\"findings\">{findings}</ul>"
        + (f"<h2>Largest files</h2><table>{largest}</table>" if largest else "")
        )
    if full:
        whole = _WholeView(report.layers, full)
        return page(f"xray {report.image}", body + whole.html(), _tree_style() + "\n" + whole.style())
    return page(f"xray {report.image}", body + _trees(report.layers, tree_limit), _tree_style())


def _trees(layers: Sequence[LayerReport], limit: int) -> str:
    filters = "".join(
        f'<input type="checkbox" id="hide-{kind}"><label for="hide-{kind}">hide {kind} '
        f'({MARKS[kind]})</label>' for kind in KINDS)
    sections = "\n".join(_layer_tree(layer, limit) for layer in layers)
    return (f'<h2>Files by layer</h2><p class="hint legend">each layer\'s changes: {MARKS["added"]} added, '
            f'{MARKS["modified"]} modified, {MARKS["removed"]} removed (still shipped in the layer below); '
            f'a directory shows the bytes changed under it</p>'
            f'<div class="filters">{filters}\n<div class="trees">{sections}</div></div>')


def _layer_tree(layer: LayerReport, limit: int) -> str:
    changes = list(layer.changes)
    shown = changes
    if limit and len(changes) > limit:
        shown = sorted(sorted(changes, key=lambda c: (-c.bytes, c.path))[:limit], key=lambda c: c.path)
    totals: dict[str, int] = {}
    kinds: dict[str, set] = {}
    for change in changes:                    # rule 2: totals and kinds from every change
        parent = change.path
        while parent != "/":
            parent = parent.rsplit("/", 1)[0] or "/"
            totals[parent] = totals.get(parent, 0) + change.bytes
            kinds.setdefault(parent, set()).add(change.change)
    root: dict = {}
    for change in shown:
        node = root
        parts = change.path.strip("/").split("/")
        for part in parts[:-1]:
            node = node.setdefault(part + "/", {})
        if change.type == "dir":       # a removed directory: a directory node of its own ("" holds the row)
            node.setdefault(parts[-1] + "/", {})[""] = change
        else:
            node[parts[-1]] = change
    summary = _summary(layer)
    if not changes:
        body = '<p class="more">no changed files</p>'
    else:
        body = _list(root, "", totals, kinds, depth=0)
        if len(shown) < len(changes):
            body += (f'<p class="more">{len(changes) - len(shown)} smaller changed paths not listed '
                     f'(the {len(shown)} biggest are); slim xray --json --tree-limit 0 lists all</p>')
    return (f'<details class="layer" data-layer="{layer.index}" id="tree-layer-{layer.index}">'
            f'<summary>{summary}</summary>{body}</details>')


def _list(node: dict, prefix: str, totals: dict[str, int], kinds: dict[str, set], depth: int) -> str:
    items = []
    for name in sorted(node, key=lambda n: n.rstrip("/")):
        child = node[name]
        if name == "":
            continue
        if isinstance(child, FileChange):
            items.append(_file_row(child, name))
            continue
        path = prefix + "/" + name.rstrip("/")
        own = child.get("")          # the directory itself changed (a removed directory)
        held = set(kinds.get(path, set())) | ({own.change} if own else set())
        letters = "".join(_KIND_LETTER[kind] for kind in KINDS if kind in held)
        nbytes = totals.get(path, 0) + (own.bytes if own else 0)
        mark = f'<span class="mark">{MARKS[own.change]}</span>' if own else ""
        is_open = " open" if depth < 1 else ""
        items.append(
            f'<li class="dir d-{letters}{" " + own.change if own else ""}" data-path="{escape(path)}" '
            f'data-bytes="{nbytes}"><details{is_open}><summary>{mark}<span class="name">{escape(name)}</span>'
            f'<span class="size">{escape(human_size(nbytes))}</span></summary>'
            f'{_list(child, path, totals, kinds, depth + 1)}</details></li>')
    return f'<ul class="tree">{"".join(items)}</ul>'


def _file_row(change: FileChange, name: str) -> str:
    suffix = "/" if change.type == "dir" else ""
    return (f'<li class="file {change.change}" data-path="{escape(change.path)}" data-change="{change.change}" '
            f'data-bytes="{change.bytes}"><span class="mark">{MARKS[change.change]}</span>'
            f'<span class="name">{escape(name + suffix)}</span>'
            f'<span class="size">{escape(human_size(change.bytes))}</span></li>')


def _summary(layer: LayerReport) -> str:
    return (f"#{layer.index} {escape(shorten(layer.described('(no instruction)'), 110))} &middot; "
            f"{layer.added.count} added ({escape(human_size(layer.added.bytes))}), {layer.modified.count} "
            f"modified ({escape(human_size(layer.modified.bytes))}), {layer.deleted.count} removed "
            f"({escape(human_size(layer.deleted.bytes))})")


# --- the whole filesystem at a layer (--unmodified): rules 5-7 ----------------------------------

class _Path:
    """One path of the union tree: its row at each picked layer where it is visible, its children."""
    __slots__ = ("rows", "kids")

    def __init__(self):
        self.rows: dict[int, FileChange] = {}
        self.kids: dict[str, _Path] = {}


class _WholeView:
    """The union tree of the picked layers, rendered once; it remembers the layer runs its rows
    use, so the style has one rule per run and layer the page needs."""

    def __init__(self, layers: Sequence[LayerReport], full: Mapping[int, Sequence[FileChange]]):
        self.picked = [layer for layer in layers if layer.index in full]
        self.next = {a.index: b.index for a, b in zip(self.picked, self.picked[1:])}
        self.full = full
        self.shown_runs: set[tuple[int, int]] = set()       # "v{a}-{b}": visible at layers a..b
        self.size_runs: set[tuple[int, int]] = set()        # "z{a}-{b}": this size at layers a..b

    def runs(self, indexes) -> list[tuple[int, int]]:
        """INDEXES (picked layers) as runs of neighbours in the picked order."""
        runs: list[tuple[int, int]] = []
        for index in sorted(indexes):
            if runs and self.next.get(runs[-1][1]) == index:
                runs[-1] = (runs[-1][0], index)
            else:
                runs.append((index, index))
        return runs

    def html(self) -> str:
        root = _Path()
        for layer in self.picked:
            for row in self.full[layer.index]:
                node = root
                for part in row.path.strip("/").split("/"):
                    node = node.kids.setdefault(part, _Path())
                node.rows[layer.index] = row
        top = self.picked[-1].index
        radios = "".join(f'<input type="radio" name="at-layer" id="at-{l.index}"'
                         f'{" checked" if l.index == top else ""}>' for l in self.picked)
        toggles = "".join(f'<input type="checkbox" id="{_FILTER[kind]}">' for kind in KINDS + ("unmodified",))
        picker = "".join(f'<label for="at-{l.index}">{_summary(l)}</label>' for l in self.picked)
        filters = "".join(f'<label for="hide-{kind}">hide {kind} ({MARKS[kind]})</label>' for kind in KINDS)
        filters += '<label for="only-changed">changed files only</label>'
        root_bytes = {index: sum(r.bytes for r in rows if r.change != "removed" and r.path.count("/") == 1)
                      for index, rows in self.full.items()}
        return (f'<h2>Files: the filesystem at a layer</h2><p class="hint legend">pick a layer: every path '
                f'present there, its changes marked {MARKS["added"]} added, {MARKS["modified"]} modified, '
                f'{MARKS["removed"]} removed (no longer present, still shipped below); a directory shows the '
                f'bytes of the files present under it</p>'
                f'<div class="whole-view">{radios}{toggles}<div class="picker">{picker}</div>'
                f'<div class="filters">{filters}</div>'
                f'<div class="whole"><span class="name">/</span>{self.sizes(root_bytes)}'
                f'{self.listing(root, "")}</div></div>')

    def sizes(self, by_layer: Mapping[int, int]) -> str:
        """A size span per run of layers with the same bytes; one plain span when it never changes."""
        if len(set(by_layer.values())) == 1:
            return f'<span class="size">{escape(human_size(next(iter(by_layer.values()))))}</span>'
        spans = []
        for value in sorted(set(by_layer.values())):
            for run in self.runs(index for index, nbytes in by_layer.items() if nbytes == value):
                self.size_runs.add(run)
                spans.append(f'<span class="size zs z{run[0]}-{run[1]}">{escape(human_size(value))}</span>')
        return "".join(spans)

    def listing(self, node: _Path, path: str) -> str:
        items = []
        for name in sorted(node.kids):
            child = node.kids[name]
            child_path = f"{path}/{name}"
            runs = self.runs(child.rows)
            self.shown_runs.update(runs)
            classes = [f"v{a}-{b}" for a, b in runs]
            classes += [f"{_KIND_LETTER[row.change]}{index}" for index, row in child.rows.items() if row.change]
            sizes = self.sizes({index: row.bytes for index, row in child.rows.items()})
            if not child.kids and all(row.type != "dir" or row.change == "removed" for row in child.rows.values()):
                target = child.rows[max(child.rows)].target          # a link's, at its last layer
                arrow = f'<span class="size">&rarr; {escape(target)}</span>' if target else ""
                items.append(f'<li class="f {" ".join(classes)}" data-path="{escape(child_path)}">'
                             f'<span class="mark"></span><span class="name">{escape(name)}</span>{arrow}{sizes}</li>')
                continue
            classes.append("d")
            for index, row in child.rows.items():      # a path that is no directory at INDEX holds itself
                held = _kinds_under(child, index) if row.type == "dir" and row.change != "removed" \
                    else {row.change or "unmodified"}
                classes.append(f"k{index}-" + "".join(_KIND_LETTER[k] for k in KINDS + ("unmodified",) if k in held))
            items.append(f'<li class="{" ".join(classes)}" data-path="{escape(child_path)}"><details>'
                         f'<summary><span class="mark"></span><span class="name">{escape(name)}/</span>{sizes}'
                         f'</summary>{self.listing(child, child_path)}</details></li>')
        return f'<ul class="tree">{"".join(items)}</ul>'

    def style(self) -> str:
        """Show the picked layer (rule 5) and filter it (rule 6); call after html()."""
        rules = [".whole-view>input{display:none}.picker label{display:block;cursor:pointer;padding:2px 6px;"
                 "border-radius:4px;font-size:13px}.whole-view .filters label{cursor:pointer;margin-right:14px}"
                 ".whole-view .filters label::before{content:'\\2610  '}",
                 ".whole{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}"
                 ".whole li{display:none}.whole .zs{display:none}.whole .size{color:#59636e;margin-left:10px}",
                 ".whole ul.tree{list-style:none;margin:2px 0;padding-left:18px}.whole summary{cursor:pointer}"
                 ".whole .mark{display:inline-block;width:1.2em;font-weight:700}"]
        for kind in KINDS + ("unmodified",):
            rules.append(f"#{_FILTER[kind]}:checked~.filters label[for={_FILTER[kind]}]::before"
                         f"{{content:'\\2611  '}}")
        colors = {"a": "#15803d", "m": "#a16207", "r": "#b91c1c"}
        for layer in self.picked:
            i = layer.index
            at = f"#at-{i}:checked"
            rules.append(f"{at}~.picker label[for=at-{i}]{{background:#dbeafe;font-weight:600}}")
            rules += [f"{at}~.whole li.v{a}-{b}{{display:list-item}}" for a, b in sorted(self.shown_runs)
                      if a <= i <= b and self._within(a, i, b)]
            rules += [f"{at}~.whole .z{a}-{b}{{display:inline}}" for a, b in sorted(self.size_runs)
                      if self._within(a, i, b)]
            for letter, kind in (("a", "added"), ("m", "modified"), ("r", "removed")):
                rules.append(f"{at}~.whole .{letter}{i}>.mark::before,{at}~.whole .{letter}{i}>details>summary>"
                             f".mark::before{{content:'{MARKS[kind]}';color:{colors[letter]}}}")
                rules.append(f"{at}~#hide-{kind}:checked~.whole li.{letter}{i}{{display:none}}")
            rules.append(f"{at}~.whole .r{i}>.name,{at}~.whole .r{i}>details>summary>.name"
                         f"{{text-decoration:line-through}}")
            rules.append(f"{at}~#only-changed:checked~.whole li.f:not(.a{i}):not(.m{i}):not(.r{i}){{display:none}}")
            for checked, letters in _hidden_sets(KINDS + ("unmodified",)):
                rules.append(f"{at}~{checked}~.whole li.d.k{i}-{letters}{{display:none}}")
        return "\n".join(rules)

    def _within(self, first: int, index: int, last: int) -> bool:
        """INDEX is in the run FIRST..LAST (runs follow the picked order)."""
        current = first
        while current != last and current != index:
            current = self.next[current]
        return current == index


def _kinds_under(node: _Path, index: int) -> set:
    """The kinds of the paths visible under NODE at layer INDEX ("unmodified" for an empty directory)."""
    kinds = set()
    for child in node.kids.values():
        row = child.rows.get(index)
        if row is None:
            continue
        kinds.add(row.change or "unmodified")
        if child.kids and row.change != "removed":
            kinds |= _kinds_under(child, index)
    return kinds or {"unmodified"}
