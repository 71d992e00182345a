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
"""
from __future__ import annotations

from html import escape
from itertools import combinations
from typing import Sequence

from ..textfmt import human_size
from ..xray.render import shorten
from ..xray.report import FileChange, LayerReport, XrayReport
from ..xray.tree import MARKS, TREE_LIMIT
from .page import kpi, page

KINDS = ("added", "modified", "removed")
_KIND_LETTER = {"added": "a", "modified": "m", "removed": "r"}


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
    for size in range(1, 4):
        for subset in combinations(KINDS, size):
            checked = "~".join(f"#hide-{kind}:checked" for kind in subset)
            letters = "".join(_KIND_LETTER[kind] for kind in subset)
            rules.append(f"{checked}~.trees li.dir.d-{letters}{{display:none}}")
    return "\n".join(rules)


def render_xray_html(report: XrayReport, tree_limit: int = TREE_LIMIT) -> str:
    """The page; TREE_LIMIT: changed paths listed per layer (0: all)."""
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
        + _trees(report.layers, tree_limit))
    return page(f"xray {report.image}", body, _tree_style())


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
    summary = (f"#{layer.index} {escape(shorten(layer.described('(no instruction)'), 110))} &middot; "
               f"{layer.added.count} added ({escape(human_size(layer.added.bytes))}), {layer.modified.count} "
               f"modified ({escape(human_size(layer.modified.bytes))}), {layer.deleted.count} removed "
               f"({escape(human_size(layer.deleted.bytes))})")
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
