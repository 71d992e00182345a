"""The xray page's per-layer file tree, read back from the HTML: marks, sizes, nesting, filters."""
from __future__ import annotations

import io
import re
from html.parser import HTMLParser

from imagetar import dir_, file, opaque, save_archive, whiteout
from slimmer.html import render_xray_html
from slimmer.xray import analyse, layer_instructions, read_image

LAYERS = [
    [dir_("/etc"), file("/etc/a", b"a" * 100), file("/data/big", b"b" * 5000), dir_("/cache"),
     file("/cache/x", b"x" * 300), file("/cache/y", b"y" * 200), file("/usr/lib/app/one.so", b"1" * 700)],
    [file("/etc/a", b"A" * 150), file("/new", b"n" * 50), whiteout("/data/big"),
     file("/usr/lib/app/two.so", b"2" * 900), file("/usr/lib/app/<odd>&.txt", b"o" * 3)],
    [opaque("/cache"), file("/cache/z", b"z" * 30), whiteout("/usr/lib/app")],
]
STEPS = ["ADD rootfs.tar /", "RUN edit", "RUN clean"]


def report():
    saved = read_image(io.BytesIO(save_archive(LAYERS, created_by=STEPS)))
    return analyse(saved.layers, layer_instructions(saved), image="demo/tree:1", image_id="sha256:" + "cd" * 32)


class TreeReader(HTMLParser):
    """Every tree row (li) with its layer, the directory rows it sits in, its classes and data-*."""

    def __init__(self):
        super().__init__()
        self.rows: list[dict] = []
        self.stack: list[dict | None] = []       # open li elements (None for other tags we track)
        self.layer: int | None = None
        self.details_depth = 0
        self.layer_depth = None
        self.text_into: dict | None = None
        self.summaries: dict[int, str] = {}
        self.in_layer_summary = False
        self.checkboxes: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input" and attrs.get("type") == "checkbox":
            self.checkboxes.append(attrs["id"])
        if tag == "details":
            self.details_depth += 1
            if "layer" in (attrs.get("class") or "").split():
                self.layer, self.layer_depth = int(attrs["data-layer"]), self.details_depth
                self.summaries[self.layer] = ""
        if tag == "summary" and self.layer is not None and self.details_depth == self.layer_depth:
            self.in_layer_summary = True
        if tag == "li" and "data-path" not in attrs:
            self.stack.append(None)               # the findings list
        elif tag == "li":
            parents = [row["path"] for row in self.stack if row]
            row = {"layer": self.layer, "path": attrs["data-path"], "bytes": int(attrs["data-bytes"]),
                   "classes": attrs["class"].split(), "change": attrs.get("data-change"), "parents": parents,
                   "text": ""}
            self.rows.append(row)
            self.stack.append(row)

    def handle_endtag(self, tag):
        if tag == "li":
            self.stack.pop()
        if tag == "summary":
            self.in_layer_summary = False
        if tag == "details":
            if self.details_depth == self.layer_depth:
                self.layer = self.layer_depth = None
            self.details_depth -= 1

    def handle_data(self, data):
        if self.in_layer_summary:
            self.summaries[self.layer] += data
        if self.stack and self.stack[-1] is not None:
            self.stack[-1]["text"] += data


def read(page: str) -> TreeReader:
    reader = TreeReader()
    reader.feed(page)
    return reader


def test_each_layer_tree_has_marks_sizes_and_nesting():
    page = render_xray_html(report())
    tree = read(page)
    files = {(r["layer"], r["path"]): r for r in tree.rows if "file" in r["classes"]}
    marks = {key: (row["change"], row["bytes"], row["text"][0]) for key, row in files.items()}
    assert marks[(1, "/etc/a")] == ("modified", 150, "~")
    assert files[(1, "/etc/a")]["text"] == "~a150 B" and files[(0, "/data/big")]["text"] == "+big5.0 kB"
    assert marks[(1, "/new")] == ("added", 50, "+")
    assert marks[(1, "/data/big")] == ("removed", 5000, "-")
    assert marks[(1, "/usr/lib/app/<odd>&.txt")] == ("added", 3, "+")
    assert marks[(2, "/cache/x")] == ("removed", 300, "-") and marks[(2, "/cache/z")] == ("added", 30, "+")
    assert marks[(0, "/data/big")] == ("added", 5000, "+")
    # nesting: a file sits in its directories' rows, outermost first
    assert files[(1, "/usr/lib/app/two.so")]["parents"] == ["/usr", "/usr/lib", "/usr/lib/app"]
    assert files[(1, "/new")]["parents"] == []
    dirs = {(r["layer"], r["path"]): r for r in tree.rows if "dir" in r["classes"]}
    # a directory's size is every change under it; its class names the kinds it holds
    assert dirs[(1, "/usr/lib")]["bytes"] == 903 and "d-a" in dirs[(1, "/usr/lib")]["classes"]
    assert dirs[(2, "/cache")]["bytes"] == 530 and "d-ar" in dirs[(2, "/cache")]["classes"]
    # a removed directory is one row with the bytes under it, marked removed
    removed_dir = dirs[(2, "/usr/lib/app")]
    assert removed_dir["bytes"] == 1603 and "removed" in removed_dir["classes"] and \
        removed_dir["text"].startswith("-app/")
    assert "1.6 kB" in removed_dir["text"]
    # every changed path of every layer is listed, once
    listed = {(r["layer"], r["path"]) for r in tree.rows if "file" in r["classes"] or "removed" in r["classes"]}
    expected = {(l.index, c.path) for l in report().layers for c in l.changes}
    assert listed == expected
    assert tree.summaries[1] == "#1 RUN edit · 3 added (953 B), 1 modified (150 B), 1 removed (5.0 kB)"


def test_tree_works_without_script_and_filters_in_css():
    page = render_xray_html(report())
    assert "<script" not in page and "<details" in page
    assert read(page).checkboxes == ["hide-added", "hide-modified", "hide-removed"]
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "#hide-removed:checked~.trees li.file.removed{display:none}" in style
    # a directory holding added and removed changes hides only when both are hidden
    assert "#hide-added:checked~#hide-removed:checked~.trees li.dir.d-ar{display:none}" in style
    assert not re.search(r"#hide-added:checked~\.trees li\.dir\.d-ar\{", style)
    assert "&lt;odd&gt;&amp;.txt" in page and "<odd>" not in page


def test_a_big_layer_lists_its_biggest_changes_and_says_how_many_are_left():
    page = render_xray_html(report(), tree_limit=2)
    tree = read(page)
    layer1 = [r["path"] for r in tree.rows if r["layer"] == 1 and "file" in r["classes"]]
    assert sorted(layer1) == ["/data/big", "/usr/lib/app/two.so"]          # the two biggest of 5
    assert "3 smaller changed paths not listed" in page
    usr = next(r for r in tree.rows if r["layer"] == 1 and r["path"] == "/usr/lib")
    assert usr["bytes"] == 903                     # totals still count every change
