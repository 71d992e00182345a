"""The whole filesystem at a layer (--unmodified, dive's view): replayed from the analysis's changes,
checked against imagefs's own merge of the same layers, then as text, JSON, HTML and on the command line."""
from __future__ import annotations

import io
import json
import re
import subprocess
from html import unescape
from html.parser import HTMLParser

import pytest

from imagetar import dir_, file, hardlink, opaque, save_archive, symlink, whiteout
from slimmer.html import render_xray_html
from slimmer.imagefs import merge_layers
from slimmer.xray import analyse, layer_instructions, read_image, to_json
from slimmer.xray.tree import full_trees, render_full_tree
from tests.unit.test_xray import run_xray_cli as run

# layer 0 a base; 1 edits, deletes a file, adds to a directory; 2 makes /cache opaque, removes a
# whole directory and puts a file where a directory was
LAYERS = [
    [dir_("/etc"), file("/etc/a", b"a" * 100), file("/etc/keep", b"k" * 10), file("/data/big", b"b" * 5000),
     dir_("/cache"), file("/cache/x", b"x" * 300), file("/cache/y", b"y" * 200), dir_("/empty"),
     file("/usr/lib/app/one.so", b"1" * 700), symlink("/lib", "usr/lib"), dir_("/swap"), file("/swap/in", b"s" * 40)],
    [file("/etc/a", b"A" * 150), file("/new", b"n" * 50), whiteout("/data/big"), hardlink("/newlink", "/new"),
     file("/usr/lib/app/two.so", b"2" * 900)],
    [opaque("/cache"), file("/cache/z", b"z" * 30), whiteout("/usr/lib/app"), file("/swap", b"f" * 7)],
]
STEPS = ["ADD rootfs.tar /", "RUN edit", "RUN clean"]


def saved_and_report():
    saved = read_image(io.BytesIO(save_archive(LAYERS, created_by=STEPS)))
    report = analyse(saved.layers, layer_instructions(saved), image="demo/full:1", image_id="sha256:" + "ef" * 32)
    return saved, report


def rows_at(report, index):
    [(layer, rows)] = list(full_trees(report.layers, {index}))
    assert layer.index == index
    return {row.path: (row.change, row.bytes, row.type) for row in rows}


def test_the_full_tree_at_each_layer_is_the_merged_filesystem():
    saved, report = saved_and_report()
    trees = list(full_trees(report.layers))
    assert [layer.index for layer, _ in trees] == [0, 1, 2]
    for layer, rows in trees:
        merged = merge_layers(saved.layers[:layer.index + 1]).entries
        present = {row.path: row for row in rows if row.change != "removed"}
        assert set(present) == set(merged) - {"/"}, layer.index
        for path, row in present.items():
            entry = merged[path]
            assert row.type == entry.type.value, path
            if row.type == "file":
                assert row.bytes == entry.size, path
        # tree order: a parent before its children
        paths = [row.path for row in rows]
        assert all(paths.index(p.rsplit("/", 1)[0]) < paths.index(p) for p in paths if p.count("/") > 1)


def test_marks_unmodified_paths_removed_paths_and_an_opaque_dir():
    _, report = saved_and_report()
    at0 = rows_at(report, 0)
    assert at0["/etc/a"] == ("added", 100, "file") and at0["/empty"] == ("", 0, "dir")
    assert at0["/lib"] == ("added", 0, "symlink")
    at1 = rows_at(report, 1)
    assert at1["/etc/a"] == ("modified", 150, "file")
    assert at1["/etc/keep"] == ("", 10, "file")                     # unchanged: listed, unmarked
    assert at1["/new"] == ("added", 50, "file") and at1["/newlink"] == ("added", 0, "hardlink")
    assert at1["/data/big"] == ("removed", 5000, "file")             # no longer present, still listed
    assert at1["/data"] == ("", 0, "dir")                            # its directory stays, now empty
    assert at1["/usr/lib/app"] == ("", 1600, "dir") and at1["/usr"] == ("", 1600, "dir")
    assert at1["/empty"] == ("", 0, "dir") and at1["/cache/x"] == ("", 300, "file")
    at2 = rows_at(report, 2)
    # the opaque /cache hides x and y (marked -), z is new; /cache holds only z's bytes
    assert [(p, at2[p]) for p in sorted(at2) if p.startswith("/cache")] == [
        ("/cache", ("", 30, "dir")), ("/cache/x", ("removed", 300, "file")), ("/cache/y", ("removed", 200, "file")),
        ("/cache/z", ("added", 30, "file"))]
    # a removed directory is one row with the bytes under it; nothing under it is listed
    assert at2["/usr/lib/app"] == ("removed", 1600, "dir")
    assert not [p for p in at2 if p.startswith("/usr/lib/app/")]
    # a file where a directory was: its children removed, the file listed
    assert at2["/swap"] == ("added", 7, "file") and "/swap/in" not in at2      # as the changes say
    assert at2["/etc/a"] == ("", 150, "file") and at2["/new"] == ("", 50, "file")
    # a removed row is not counted in its directory's bytes
    assert at2["/usr/lib"] == ("", 0, "dir")


def test_text_view_of_the_whole_filesystem():
    _, report = saved_and_report()
    [(layer, rows)] = list(full_trees(report.layers, {1}))
    text = render_full_tree(layer, rows)
    assert text.splitlines()[:3] == [
        "layer 1: RUN edit",
        "  3 added (950 B), 1 modified (150 B), 1 removed (5.0 kB)   "
        "marks: + added  ~ modified  - removed  (unmarked: unmodified)",
        "  the filesystem at this layer: 18 paths"]
    assert text.split("\n\n", 1)[1] == "\n".join([
        "    2.4 kB  /",
        "     500 B  ├── cache/",
        "     300 B  │   ├── x",
        "     200 B  │   └── y",
        "       0 B  ├── data/",
        "    5.0 kB  │   └── - big",
        "       0 B  ├── empty/",
        "     160 B  ├── etc/",
        "     150 B  │   ├── ~ a",
        "      10 B  │   └── keep",
        "       0 B  ├── lib → usr/lib",
        "      50 B  ├── + new",
        "       0 B  ├── + newlink → /new",
        "      40 B  ├── swap/",
        "      40 B  │   └── in",
        "    1.6 kB  └── usr/",
        "    1.6 kB      └── lib/",
        "    1.6 kB          └── app/",
        "     700 B              ├── one.so",
        "     900 B              └── + two.so"])
    cut = render_full_tree(layer, rows, depth=1)
    assert "  the filesystem at this layer: 18 paths, 1 level shown" in cut
    assert "     160 B  ├── etc/  (2 paths below not shown, 1 changed)" in cut
    assert "    1.6 kB  └── usr/  (4 paths below not shown, 1 changed)" in cut
    assert "     500 B  ├── cache/  (2 paths below not shown)" in cut and "one.so" not in cut


def test_json_lists_the_whole_filesystem_of_the_layers_asked_for():
    _, report = saved_and_report()
    full = {layer.index: rows for layer, rows in full_trees(report.layers, {2})}
    data = to_json(report, tree_limit=1, full=full)
    assert ["files" in layer for layer in data["layers"]] == [False, False, True]
    files = data["layers"][2]["files"]
    paths = {row["path"]: row for row in files["paths"]}
    assert paths["/etc/keep"] == {"path": "/etc/keep", "size": 10, "type": "file", "change": None}
    assert paths["/cache/x"]["change"] == "removed" and paths["/cache/z"]["change"] == "added"
    assert paths["/lib"] == {"path": "/lib", "size": 0, "type": "symlink", "change": None, "target": "usr/lib"}
    assert paths["/newlink"]["target"] == "/new"
    assert files["count"] == len([p for p in paths.values() if p["change"] != "removed"]) and not files["truncated"]
    assert len(data["layers"][2]["tree"]["changes"]) == 1            # --tree-limit cuts the changes, not the files
    cut = to_json(report, full=full, depth=1)["layers"][2]["files"]
    assert cut["truncated"] and cut["count"] == files["count"]
    assert all(row["path"].count("/") == 1 for row in cut["paths"])
    assert "files" not in to_json(report)["layers"][2]                 # never by default


# --- the page ---------------------------------------------------------------------------------------

class Rows(HTMLParser):
    def __init__(self):
        super().__init__()
        self.rows: dict[str, list[str]] = {}
        self.inputs: list[tuple[str, str, bool]] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "input":
            self.inputs.append((attrs["type"], attrs["id"], "checked" in attrs))
        if tag == "li" and "data-path" in attrs:
            self.rows[attrs["data-path"]] = attrs["class"].split()


def test_the_page_shows_the_whole_filesystem_with_a_changed_files_only_toggle():
    _, report = saved_and_report()
    page = render_xray_html(report, full={layer.index: rows for layer, rows in full_trees(report.layers)})
    assert "<script" not in page
    parsed = Rows()
    parsed.feed(page)
    # a radio per layer (the top one picked), then the filters, "changed files only" among them
    assert parsed.inputs == [("radio", "at-0", False), ("radio", "at-1", False), ("radio", "at-2", True),
                             ("checkbox", "hide-added", False), ("checkbox", "hide-modified", False),
                             ("checkbox", "hide-removed", False), ("checkbox", "only-changed", False)]
    assert '<label for="only-changed">changed files only</label>' in page
    rows = parsed.rows
    # each path once; classes say where it is visible, changed, and what a directory holds
    assert set(rows["/etc/keep"]) == {"f", "v0-2", "a0"}                # unmodified at 1 and 2, in the page
    assert set(rows["/etc/a"]) == {"f", "v0-2", "a0", "m1"}
    assert set(rows["/data/big"]) == {"f", "v0-1", "a0", "r1"}           # gone at 2; removed at 1
    assert set(rows["/cache/x"]) == {"f", "v0-2", "a0", "r2"}            # the opaque dir removed it at 2
    assert set(rows["/usr/lib/app"]) == {"d", "v0-2", "r2", "k0-a", "k1-au", "k2-r"}
    assert set(rows["/empty"]) == {"d", "v0-2", "k0-u", "k1-u", "k2-u"}
    assert set(rows["/swap"]) == {"d", "v0-2", "a2", "k0-a", "k1-u", "k2-a"}     # a directory, then a file
    style = page.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "#at-1:checked~.whole li.v0-1{display:list-item}" in style
    assert "#at-2:checked~.whole li.v0-1{" not in style                 # /data/big is gone at layer 2
    assert "#at-1:checked~#only-changed:checked~.whole li.f:not(.a1):not(.m1):not(.r1){display:none}" in style
    assert "#at-1:checked~#only-changed:checked~.whole li.d.k1-u{display:none}" in style
    assert "#at-1:checked~#hide-added:checked~#only-changed:checked~.whole li.d.k1-au{display:none}" in style
    assert "#at-2:checked~#hide-removed:checked~.whole li.r2{display:none}" in style
    assert '<span class="name">lib</span><span class="size">&rarr; usr/lib</span>' in page
    # a directory's bytes at each layer: /usr is 700 B at 0, 1.6 kB at 1, 0 B at 2
    usr = page.split('data-path="/usr"', 1)[1].split("</summary>", 1)[0]
    assert re.findall(r'class="size zs (z\d-\d)">([^<]+)<', usr) == [("z2-2", "0 B"), ("z0-0", "700 B"),
                                                                     ("z1-1", "1.6 kB")]


def test_a_page_without_the_flag_keeps_the_changes_trees():
    _, report = saved_and_report()
    page = render_xray_html(report)
    assert "only-changed" not in page and 'class="whole"' not in page and 'id="tree-layer-2"' in page


# --- the command line --------------------------------------------------------------------------------

@pytest.fixture
def archive(tmp_path):
    path = tmp_path / "full.tar"
    path.write_bytes(save_archive(LAYERS, created_by=STEPS))
    return f"docker-archive:{path}"


def test_cli_unmodified(archive, capsys, tmp_path):
    code, out, err = run(capsys, archive, "--tree", "1", "--unmodified")
    assert code == 0, err
    assert out.startswith("layer 1: RUN edit\n") and "      10 B  │   └── keep\n" in out
    code, changes_only, _ = run(capsys, archive, "--tree", "1")
    assert "keep" not in changes_only                                   # --tree alone: the changes, as before
    code, out, _ = run(capsys, archive, "--tree", "all", "--unmodified", "--tree-depth", "1")
    assert out.count("the filesystem at this layer") == 3 and "one.so" not in out
    code, out, _ = run(capsys, archive, "--json", "--tree", "-1", "--unmodified")
    assert ["files" in layer for layer in json.loads(out)["layers"]] == [False, False, True]
    code, _, _ = run(capsys, archive, "--html", str(tmp_path / "x.html"), "--unmodified")
    assert code == 0 and "changed files only" in (tmp_path / "x.html").read_text()


def test_cli_unmodified_needs_a_view_and_depth_needs_unmodified(archive, capsys):
    code, _, err = run(capsys, archive, "--unmodified")
    assert code == 2 and "--tree LAYER" in err
    code, _, err = run(capsys, archive, "--tree", "1", "--tree-depth", "2")
    assert code == 2 and "add --unmodified" in err
    code, _, err = run(capsys, archive, "--tree", "1", "--unmodified", "--tree-depth", "-1")
    assert code == 2 and "--tree-depth must be 0 or more" in err


# --- the page in a browser: what the layer picker and the toggles show ------------------------------

SEEN = """<pre id="seen"></pre><script>
const seen = [];
for (const li of document.querySelectorAll(".whole li[data-path]")) {
  let shown = true;
  for (let e = li; e && !e.classList.contains("whole"); e = e.parentElement)
    if (e.tagName === "LI" && getComputedStyle(e).display === "none") shown = false;
  if (!shown) continue;
  const head = li.querySelector(":scope>.mark") ? li : li.querySelector(":scope>details>summary");
  const mark = getComputedStyle(head.querySelector(":scope>.mark"), "::before").content;
  const size = [...head.querySelectorAll(":scope>.size")].filter(s => getComputedStyle(s).display !== "none")
    .map(s => s.textContent).join("|");
  seen.push([li.dataset.path, mark === "none" ? "" : JSON.parse(mark), size]);
}
document.getElementById("seen").textContent = JSON.stringify(seen);
</script></body>"""


def seen_in_chromium(page: str, tmp_path, layer: int, *checked: str) -> dict[str, tuple[str, str]]:
    """The rows Chromium shows with LAYER picked and the CHECKED toggles on: path -> (mark, size)."""
    from test_html import _chromium_args
    page = page.replace(" checked>", ">").replace(f'id="at-{layer}">', f'id="at-{layer}" checked>')
    for toggle in checked:
        page = page.replace(f'id="{toggle}">', f'id="{toggle}" checked>')
    path = tmp_path / f"seen-{layer}-{'-'.join(checked)}.html"
    path.write_text(page.replace("</body>", SEEN))
    dom = subprocess.run(_chromium_args(tmp_path, "--dump-dom", path.as_uri()), capture_output=True, text=True,
                         timeout=120, check=True).stdout
    rows = json.loads(unescape(dom.split('<pre id="seen">', 1)[1].split("</pre>", 1)[0]))
    return {path: (mark, size) for path, mark, size in rows}


def test_the_layer_picker_and_the_toggles_in_a_browser(tmp_path):
    _, report = saved_and_report()
    page = render_xray_html(report, full={layer.index: rows for layer, rows in full_trees(report.layers)})
    top = seen_in_chromium(page, tmp_path, 2)
    expected_top = {p: (c, b) for p, (c, b, _) in rows_at(report, 2).items()}
    assert set(top) == set(expected_top)                                # every path at layer 2, the removed too
    assert top["/cache/z"][0] == "+" and top["/cache/x"][0] == "-" and top["/etc/a"] == ("", "150 B")
    assert top["/usr"] == ("", "0 B") and top["/usr/lib/app"][0] == "-" and top["/swap"] == ("+", "7 B")
    at1 = seen_in_chromium(page, tmp_path, 1)
    assert set(at1) == set(rows_at(report, 1))
    assert at1["/data/big"] == ("-", "5.0 kB") and at1["/etc/a"] == ("~", "150 B") and at1["/usr"] == ("", "1.6 kB")
    assert at1["/etc/keep"] == ("", "10 B") and at1["/swap/in"] == ("", "40 B") and "/cache/z" not in at1
    only = seen_in_chromium(page, tmp_path, 1, "only-changed")
    assert set(only) == {"/data", "/data/big", "/etc", "/etc/a", "/new", "/newlink", "/usr", "/usr/lib",
                         "/usr/lib/app", "/usr/lib/app/two.so"}
    assert set(seen_in_chromium(page, tmp_path, 2, "hide-removed", "only-changed")) == {"/cache", "/cache/z", "/swap"}
