"""HTML pictures: self-contained, and they render in headless Chromium (Debian's chromium)."""
from __future__ import annotations

import io
import shutil
import struct
import subprocess
import zlib

from imagetar import file, save_archive, whiteout
from slimmer.html import render_build_html, render_xray_html
from slimmer.xray import analyse, layer_instructions, read_image


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


def test_build_html_lists_every_top_dir():
    page = render_build_html({"/usr": 60_000_000, "/var": 5_000_000, "/etc": 1_000_000},
                             {"/usr": 9_000_000, "/etc": 200_000}, before_title="app:1.0",
                             after_title="app:1.0-slim")
    for text in ("/usr", "/var", "/etc", "app:1.0-slim", "66.0 MB", "9.2 MB", "7.2x smaller"):
        assert text in page


def _png_pixels_spread(path) -> tuple[int, int, int]:
    """(width, height, distinct colours in a sample) of an 8-bit RGB/RGBA PNG."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height, depth, colour = struct.unpack(">IIBB", data[16:26])
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            chunks.append(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    raw = zlib.decompress(b"".join(chunks))
    channels = {2: 3, 6: 4}[colour]
    stride = width * channels + 1
    colours = set()
    previous = bytearray(stride - 1)
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
        if row % 7 == 0:
            colours.update(bytes(line[i:i + 3]) for i in range(0, len(line), channels * 5))
        previous = line
    return width, height, len(colours)


def _screenshot(html: str, tmp_path) -> str:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is needed for this test: apt-get install -y chromium"
    page = tmp_path / "page.html"
    page.write_text(html)
    shot = tmp_path / "shot.png"
    profile = tmp_path / "profile"
    profile.mkdir()
    subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--no-first-run",
                    f"--user-data-dir={profile}", "--window-size=1000,700", f"--screenshot={shot}",
                    page.as_uri()], capture_output=True, timeout=120, check=True)
    return str(shot)


def test_xray_html_renders_in_chromium(tmp_path):
    shot = _screenshot(render_xray_html(xray_report()), tmp_path)
    width, height, colours = _png_pixels_spread(shot)
    assert (width, height) == (1000, 700)
    assert colours > 20        # text, blue and red bars on white: far from blank


def test_build_html_renders_in_chromium(tmp_path):
    html = render_build_html({"/usr": 60_000_000, "/var": 5_000_000}, {"/usr": 9_000_000})
    width, height, colours = _png_pixels_spread(_screenshot(html, tmp_path))
    assert colours > 20
