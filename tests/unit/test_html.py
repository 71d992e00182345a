"""HTML pages: self-contained, and they render in headless Chromium (Debian's chromium).

The build report page is checked three ways: its text (self-contained, escaped),
its DOM after the page's own script ran (`chromium --dump-dom`: elements present,
numbers right, drill-down by URL), and a screenshot (the treemap's kept and
removed colours where the DOM says the treemap is; the probe table drawn).
"""
from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import pytest

from imagetar import file, save_archive, whiteout
from keepfakes import f, make_image, make_index, make_trace
from slimmer.html import render_build_report, render_xray_html
from slimmer.model import (Artifacts, BuiltImage, EntryType, FsEntry, KeepReason, KeepSet, KeptPath, ProbeCheck,
                           ProbeResult, RunSpec, Verification)
from slimmer.report import (GateEntry, evaluate_gates, filesystem_tree, make_report, removed_files,
                            write_removed_list)
from slimmer.textfmt import human_size
from slimmer.trace import TraceResult
from slimmer.xray import analyse, layer_instructions, read_image

MB = 1_000_000
KEPT_GREEN = (0x4A, 0xDE, 0x80)      # #4ade80, .kept in the page's style
REMOVED_RED = (0xF8, 0x71, 0x71)     # #f87171, .removed


def xray_report():
    layers = [[file("/usr/lib/libbig.so", b"l" * 6000), file("/etc/conf", b"c" * 300)],
              [file("/var/lib/apt/lists/Packages", b"p" * 4000)],
              [whiteout("/var/lib/apt/lists/Packages"), file("/app/<main>.py", b"m" * 1500)]]
    saved = read_image(io.BytesIO(save_archive(layers, created_by=[
        "ADD rootfs.tar /", "RUN apt-get update", "RUN rm -rf /var/lib/apt/lists/* && echo '<b>'"])))
    return analyse(saved.layers, layer_instructions(saved), image="demo/app:1", image_id="sha256:" + "ab" * 32,
                   finding_min_bytes=1)


def test_xray_html_is_self_contained_and_escaped():
    page = render_xray_html(xray_report())
    assert page.startswith("<!DOCTYPE html>")
    for external in ("<script", "<link", "src=", "url(", "@import"):
        assert external not in page
    assert "echo &#x27;&lt;b&gt;&#x27;" in page and "<b>'" not in page
    assert page.count('class="row"') == 3


# --- a build report from make_report, as the pipeline makes it --------------------------------

KEPT = {
    "/usr/bin/python3.11": (6 * MB, KeepReason.TRACED),
    "/usr/lib/x86_64-linux-gnu/libc.so.6": (2 * MB, KeepReason.ELF),
    "/usr/lib/x86_64-linux-gnu/libssl.so.3": (700_000, KeepReason.ELF),
    "/usr/lib/python3.11/json/__init__.py": (14_000, KeepReason.PACKAGE),
    "/usr/lib/python3.11/encodings/utf_8.py": (1_000, KeepReason.TRACED),
    "/usr/share/zoneinfo/Europe/Paris": (2_900, KeepReason.TRACED),
    "/etc/passwd": (900, KeepReason.ESSENTIAL),
    "/etc/ssl/certs/ca-certificates.crt": (210_000, KeepReason.TRACED),
    "/app/main.py": (40_000, KeepReason.APP),
    "/app/templates/index.html": (3_000, KeepReason.APP),
    "/app/__init__.py": (0, KeepReason.APP),       # kept, and empty: not a removed file
}
REMOVED = {
    "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1": (31 * MB, ),
    "/usr/lib/python3.11/unittest/case.py": (60_000, ),
    "/usr/lib/python3.11/tkinter/__init__.py": (170_000, ),
    "/usr/share/doc/python3.11/changelog.gz": (900_000, ),
    "/usr/share/locale/de/LC_MESSAGES/apt.mo": (80_000, ),
    "/usr/share/zoneinfo/America/New_York": (3_500, ),
    "/var/lib/apt/lists/deb.debian.org_bookworm_main_Packages": (9 * MB, ),
    "/var/cache/debconf/templates.dat": (1_500_000, ),
    "/usr/bin/perl5.36.0": (3_900_000, ),
    "/app/</script><b>.txt": (5_000, ),      # a hostile name: must stay text
}
ORIGINAL_SIZE = sum(v[0] for v in KEPT.values()) + sum(v[0] for v in REMOVED.values()) + 4_000_000
SLIM_SIZE = 9_600_000


def _index():
    spec = {path: f(size=size) for path, (size, *_rest) in {**KEPT, **REMOVED}.items()}
    spec["/usr/bin/python3"] = dict(type=EntryType.SYMLINK, mode=0o777, link_target="python3.11")
    return make_index(spec)


def _keep_set(index):
    kept = {path: KeptPath(path, reason) for path, (_, reason) in KEPT.items()}
    kept["/usr/bin/python3"] = KeptPath("/usr/bin/python3", KeepReason.SYMLINK)
    for path in list(kept):
        parent = os.path.dirname(path)
        while parent != "/":
            kept.setdefault(parent, KeptPath(parent, KeepReason.PARENT))
            parent = os.path.dirname(parent)
    return KeepSet(kept)


PROBES = [ProbeResult("GET :8080 /", "http", True, 200, "d1", 0.05),
          ProbeResult("GET :8080 /about", "http", True, 200, "d2", 0.04),
          ProbeResult("GET :8080 /time", "http", True, 200, "d3", 0.02, stable=False),
          ProbeResult("exec python3 -c 'import json'", "exec", True, 0, "d4", 0.3)]


def _verification(failed: bool):
    checks = [ProbeCheck(p.name, True, p, p) for p in PROBES]
    checks[2] = ProbeCheck(PROBES[2].name, True, PROBES[2], PROBES[2], warning="the body differs, same status 200")
    if failed:
        slim = ProbeResult(PROBES[1].name, "http", False, 500, "dx", 0.01, error="status 500, expected 200")
        checks[1] = ProbeCheck(PROBES[1].name, False, PROBES[1], slim, reason="status 500, expected 200")
    return Verification(tuple(checks), repairs=((1, "/usr/lib/python3.11/encodings/utf_8.py", "GET :8080 /"),))


def build_doc(tmp_path, failed: bool = False):
    index = _index()
    keep_set = _keep_set(index)
    image = make_image()
    image = type(image)(**{**image.__dict__, "reference": "shop/web:1.4", "size_bytes": ORIGINAL_SIZE})
    built = BuiltImage("shop/web:1.4-slim", "sha256:" + "c" * 64, SLIM_SIZE)
    runs = [(RunSpec(), TraceResult(make_trace(*KEPT), tuple(PROBES), None, "", (8080,)))]
    verification = _verification(failed)
    gates = evaluate_gates(ORIGINAL_SIZE, SLIM_SIZE, 5 * MB if failed else 80 * MB, 3.0)
    failures = ["verification failed: GET :8080 /about: status 500, expected 200"] if failed else []
    failures += [g.message for g in gates if not g.passed]
    artifacts_dir = tmp_path / "artifacts"
    artifacts_dir.mkdir()
    artifacts = Artifacts(str(artifacts_dir), str(artifacts_dir / "Dockerfile"), str(artifacts_dir / "keep.list"),
                          str(artifacts_dir / "sensor"))
    timings = {"inspect_s": 0.1, "trace_s": 4.2, "keep_s": 0.3, "build_s": 2.5, "verify_s": 3.1, "total_s": 10.4}
    return make_report(image, built, index, make_trace(*KEPT), keep_set, runs, verification, gates, timings,
                       artifacts, failures)


def test_build_report_is_self_contained_and_escaped(tmp_path):
    page = render_build_report(build_doc(tmp_path))
    assert page.startswith("<!DOCTYPE html>")
    for external in ("<link", "src=", "url(", "@import", "http://", "https://", "fetch(", "XMLHttpRequest",
                     "import("):
        assert external not in page, external
    assert page.count("<script") == 2           # the data block and the page's own script
    assert "</script><b>" not in page            # the hostile file name stays inside the JSON data


def test_removed_list_and_tree_account_every_byte(tmp_path):
    doc = build_doc(tmp_path)
    lines = (tmp_path / "artifacts" / "removed.list").read_text().splitlines()
    assert lines == [f"{REMOVED[p][0]}\t{p}" for p in sorted(REMOVED)]
    assert doc.removed["files"] == len(REMOVED) and doc.removed["list"] == "removed.list"
    assert doc.removed["bytes"] == sum(v[0] for v in REMOVED.values())
    assert "tree" not in json.loads(doc.to_json())          # the tree is for the page, not the JSON contract

    def walk(node, prefix):
        name, rest = node[0], node[1:]
        path = f"{prefix}/{name}" if name else ""
        if len(rest) == 2:
            yield path, rest[0], doc.tree["reasons"][rest[1]]
        else:
            for child in rest[0]:
                yield from walk(child, path)
    files = {path: (size, reason) for path, size, reason in walk(doc.tree["root"], "")}
    assert files == {**{p: (s, r.value) for p, (s, r) in KEPT.items()}, **{p: (s[0], "removed") for p, s in REMOVED.items()}}


def test_a_kept_hardlink_keeps_the_bytes_of_its_file(tmp_path):
    index = make_index({"/usr/bin/perl": f(size=500), "/usr/bin/perl5.36": f(size=9)})
    entries = dict(index.entries)
    entries["/usr/bin/perl5.36"] = FsEntry("/usr/bin/perl5.36", EntryType.HARDLINK, 0o755, 0, 0, 0,
                                           "/usr/bin/perl", 0)
    index = type(index)(entries)
    keep_set = KeepSet({"/usr/bin/perl5.36": KeptPath("/usr/bin/perl5.36", KeepReason.TRACED)})
    assert list(removed_files(index, keep_set)) == []
    write_removed_list(str(tmp_path), index, keep_set)
    assert (tmp_path / "removed.list").read_text() == ""
    assert filesystem_tree(index, keep_set)["root"] == ["", [["usr", [["bin", [["perl", 500, 1]]]]]]]


# --- Chromium: the DOM after the page's script ran, and a screenshot -------------------------

def _chromium() -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is needed for this test: make test-deps (apt-get install -y chromium)"
    return chromium


def _chromium_args(tmp_path, *extra) -> list[str]:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
            f"--user-data-dir={profile}", *extra]


def _dump_dom(html: str, tmp_path, fragment: str = "", window="1200,1800") -> "Node":
    page = tmp_path / "dom.html"
    page.write_text(html)
    proc = subprocess.run(_chromium_args(tmp_path, f"--window-size={window}", "--dump-dom",
                                         page.as_uri() + fragment),
                          capture_output=True, text=True, timeout=120, check=True)
    return parse_dom(proc.stdout)


def _screenshot(html: str, tmp_path, window="1200,1800") -> str:
    page = tmp_path / "page.html"
    page.write_text(html)
    shot = tmp_path / "shot.png"
    subprocess.run(_chromium_args(tmp_path, f"--window-size={window}", f"--screenshot={shot}", page.as_uri()),
                   capture_output=True, timeout=120, check=True)
    return str(shot)


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children, self.texts = tag, dict(attrs), parent, [], []

    @property
    def text(self) -> str:
        return "".join(self.texts[:1] + [c.text + t for c, t in zip(self.children, self.texts[1:])]) \
            if len(self.texts) == len(self.children) + 1 else ""

    def classes(self):
        return set((self.attrs.get("class") or "").split())

    def iter(self):
        yield self
        for child in self.children:
            yield from child.iter()

    def find_all(self, tag=None, cls=None, **attrs):
        return [n for n in self.iter() if (tag is None or n.tag == tag) and (cls is None or cls in n.classes())
                and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())]

    def by_id(self, ident):
        found = self.find_all(id=ident)
        assert found, f"no element #{ident}"
        return found[0]


_VOID = {"meta", "br", "input", "img", "hr", "link"}


def parse_dom(markup: str) -> Node:
    """A small DOM from Chromium's serialisation: tags, attributes, text."""
    class Builder(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.root = Node("#root", {})
            self.root.texts.append("")
            self.current = self.root

        def handle_starttag(self, tag, attrs):
            node = Node(tag, attrs, self.current)
            node.texts.append("")
            self.current.children.append(node)
            self.current.texts.append("")
            if tag not in _VOID:
                self.current = node

        def handle_endtag(self, tag):
            node = self.current
            while node is not self.root and node.tag != tag:
                node = node.parent
            if node is not self.root:
                self.current = node.parent

        def handle_data(self, data):
            self.current.texts[-1] += data
    builder = Builder()
    builder.feed(markup)
    return builder.root


def _rows(table: Node) -> list[list[str]]:
    return [[" ".join(cell.text.split()) for cell in row.children if cell.tag == "td"]
            for row in table.find_all("tr") if any(c.tag == "td" for c in row.children)]


@pytest.fixture(scope="module")
def passed_page(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("passed")
    doc = build_doc(tmp)
    return doc, render_build_report(doc), tmp


def test_build_report_dom_has_the_verdict_gates_sizes_and_probes(passed_page):
    doc, html, tmp = passed_page
    dom = _dump_dom(html, tmp)
    assert dom.by_id("verdict").text == "PASSED"
    assert not dom.find_all(id="error")
    gates = {row[0]: row for row in _rows(dom.by_id("gates"))}
    assert gates["verification"][1] == "pass, with warnings" and gates["verification"][2] == "4 passed, 0 failed"
    assert gates["max_size"][1:4] == ["pass", human_size(SLIM_SIZE), f"max {human_size(80 * MB)}"]
    ratio = round(ORIGINAL_SIZE / SLIM_SIZE, 2)
    assert gates["min_ratio"][1:4] == ["pass", f"{ratio:g}x", "min 3x"]
    assert human_size(ORIGINAL_SIZE) in dom.by_id("kpi-original").text
    assert human_size(SLIM_SIZE) in dom.by_id("kpi-slim").text
    assert f"{doc.reduction['ratio']}x" in dom.by_id("kpi-reduction").text
    assert f"{len(REMOVED)} files" in dom.by_id("kpi-removed").text

    probes = _rows(dom.by_id("probes"))
    assert [row[1] for row in probes] == [p.name for p in PROBES]
    assert all(row[3] == f"ok ({p.status})" for row, p in zip(probes, PROBES))
    assert probes[0][5] == "ok (200)"
    assert probes[2][5] == "ok (200), warning" and "body differs" in probes[2][6]
    repaired = _rows(dom.by_id("repaired"))
    assert repaired == [["1", "/usr/lib/python3.11/encodings/utf_8.py", "GET :8080 /"]]
    reasons = [node.attrs["data-reason"] for node in dom.by_id("reasons").find_all(cls="reason")]
    assert reasons[0] == "traced" and set(reasons) >= {"traced", "elf", "app", "package", "essential"}


def test_build_report_dom_has_the_treemap_and_every_removed_file(passed_page):
    doc, html, tmp = passed_page
    dom = _dump_dom(html, tmp)
    treemap = dom.by_id("treemap")
    assert treemap.attrs["data-path"] == "/"
    kept = {n.attrs.get("data-path") for n in treemap.find_all(cls="kept") if "file" in n.classes()}
    removed = {n.attrs.get("data-path") for n in treemap.find_all(cls="removed") if "file" in n.classes()}
    assert "/usr/bin/python3.11" in kept and "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1" in removed
    dirs = {n.attrs.get("data-path") for n in treemap.find_all(cls="dir")}
    assert {"/usr", "/var", "/usr/lib"} <= dirs
    # the directory table: the root's children, largest first, with kept and removed bytes
    rows = _rows(dom.by_id("dirtable"))
    usr_kept = sum(s for p, (s, _) in KEPT.items() if p.startswith("/usr/"))
    usr_removed = sum(s[0] for p, s in REMOVED.items() if p.startswith("/usr/"))
    assert rows[0][:4] == ["usr/", human_size(usr_kept + usr_removed), human_size(usr_kept), human_size(usr_removed)]
    assert [row[0] for row in rows] == ["usr/", "var/", "etc/", "app/"]
    # removed files: all of them listed, largest first, the hostile name as text
    listed = [row[1] for row in _rows(dom.by_id("removed"))]
    assert listed[0] == "/usr/lib/x86_64-linux-gnu/libLLVM-15.so.1" and len(listed) == len(REMOVED)
    assert "/app/</script><b>.txt" in listed
    assert dom.by_id("removed-count").text.startswith(f"{len(REMOVED)} files, {human_size(doc.removed['bytes'])}")


def test_build_report_drills_down_into_a_directory_by_url(passed_page):
    _, html, tmp = passed_page
    dom = _dump_dom(html, tmp, fragment="#/usr/share")
    assert dom.by_id("treemap").attrs["data-path"] == "/usr/share"
    assert [a.text for a in dom.by_id("crumbs").find_all("a")] == ["/ (root)", "usr", "share"]
    rows = _rows(dom.by_id("dirtable"))
    assert [row[0] for row in rows] == ["doc/", "locale/", "zoneinfo/"]
    zoneinfo = rows[2]
    assert zoneinfo[2] == human_size(2_900) and zoneinfo[3] == human_size(3_500)
    assert "/usr/share: " in dom.by_id("dirsummary").text


def test_failed_build_report_says_why(tmp_path):
    doc = build_doc(tmp_path, failed=True)
    dom = _dump_dom(render_build_report(doc), tmp_path)
    assert dom.by_id("verdict").text == "FAILED"
    assert "status 500, expected 200" in dom.by_id("error").text
    gates = {row[0]: row for row in _rows(dom.by_id("gates"))}
    assert gates["verification"][1] == "FAIL" and gates["verification"][2] == "3 passed, 1 failed"
    assert gates["max_size"][1] == "FAIL" and gates["min_ratio"][1] == "pass"
    probes = _rows(dom.by_id("probes"))
    assert probes[1][5] == "FAIL (500)" and probes[1][6] == "status 500, expected 200"


# --- screenshots: what a person sees ----------------------------------------------------------

def read_png(path) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB bytes) of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    assert depth == 8
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            chunks.append(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    channels = {2: 3, 6: 4}[colour]
    stride = width * channels + 1
    rows, previous = [], bytearray(stride - 1)
    for row in range(height):     # undo PNG filters to read real pixels
        line = bytearray(raw[row * stride + 1:(row + 1) * stride])
        kind = raw[row * stride]
        for i in range(len(line)):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 255
            elif kind == 2:
                line[i] = (line[i] + up) & 255
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 255
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                line[i] = (line[i] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
        rows.append(bytes(line) if channels == 3 else bytes(b for i in range(0, len(line), 4) for b in line[i:i + 3]))
        previous = line
    return width, height, rows


def _colours(rows, box) -> dict[tuple[int, int, int], int]:
    x, y, w, h = (int(v) for v in box)
    counts: dict = {}
    for row in rows[y:y + h]:
        for i in range(x * 3, (x + w) * 3, 3):
            pixel = tuple(row[i:i + 3])
            counts[pixel] = counts.get(pixel, 0) + 1
    return counts


def _near(counts, colour, tolerance=6) -> int:
    return sum(n for c, n in counts.items() if all(abs(a - b) <= tolerance for a, b in zip(c, colour)))


# Appended to the page only in the test: where the page put its parts, for the screenshot.
_WHERE = """<script>
document.body.insertAdjacentHTML("beforeend", '<pre id="where">' + JSON.stringify(
  ["treemap", "probes", "verdict", "gates"].reduce(function (o, id) {
    var r = document.getElementById(id).getBoundingClientRect();
    o[id] = [r.left, r.top, r.width, r.height]; return o; }, {})) + "</pre>");
</script></body>"""


def test_build_report_screenshot_shows_the_treemap_and_the_probe_table(passed_page):
    _, html, tmp = passed_page
    where = json.loads(_dump_dom(html.replace("</body>", _WHERE), tmp).by_id("where").text)
    shot = _screenshot(html, tmp)
    shutil.copy(shot, tmp / "build-report.png")        # kept for a person to look at (pytest's tmp dir)
    width, height, rows = read_png(shot)
    assert (width, height) == (1200, 1800)
    x, y, w, h = where["treemap"]
    assert w > 800 and h > 400 and y + h < height, where
    treemap = _colours(rows, (x + 2, y + 2, w - 4, h - 4))
    area = (w - 4) * (h - 4)
    green, red = _near(treemap, KEPT_GREEN), _near(treemap, REMOVED_RED)
    # the original is ~60% removed bytes (libLLVM, apt lists...): both colours cover real area
    assert red > 0.35 * area and green > 0.08 * area, (green, red, area)
    assert 0.5 < red / (red + green) < 0.95
    x, y, w, h = where["probes"]
    assert y + h < height, "the probe table must be on the first screen of a 1200x1800 window"
    probes = _colours(rows, where["probes"])
    ink = sum(n for c, n in probes.items() if max(c) < 120)            # text, dark on light
    assert ink > 400, "the probe table has text"
    verdict = _colours(rows, where["verdict"])
    assert _near(verdict, (0x15, 0x80, 0x3D), 10) > 0.4 * where["verdict"][2] * where["verdict"][3]


def test_pipeline_report_renders(tmp_path):
    """The report the real pipeline makes (in-memory Docker) renders with its tree and probes."""
    from tests.unit.test_pipeline import build, fake
    outcome, _ = build(fake(), tmp_path)
    dom = _dump_dom(render_build_report(outcome.report), tmp_path)
    assert dom.by_id("verdict").text == "PASSED"
    assert dom.by_id("treemap").find_all(cls="file")
    assert [row[1] for row in _rows(dom.by_id("probes"))] == [p.name for p in outcome.report.probes]
    listed = {row[1] for row in _rows(dom.by_id("removed"))}
    assert listed == {p for p, _ in removed_files_from_list(tmp_path / "art" / "removed.list")}


def removed_files_from_list(path):
    for line in path.read_text().splitlines():
        size, name = line.split("\t", 1)
        yield name, int(size)


def test_xray_html_renders_in_chromium(tmp_path):
    shot = _screenshot(render_xray_html(xray_report()), tmp_path, window="1000,700")
    width, height, rows = read_png(shot)
    assert (width, height) == (1000, 700)
    counts = _colours(rows, (0, 0, width, height))
    assert len(counts) > 20        # text, blue and red bars on white: far from blank
    assert _near(counts, (0x3B, 0x82, 0xF6)) > 1000     # the layers' blue bars
