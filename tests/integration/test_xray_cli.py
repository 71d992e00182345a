"""`slim xray`, `slim compare` and `slim lint` on real images (needs Docker; fails without).

The test image is built FROM debian:bookworm-slim: one layer adds a 3,000,000
byte file, a later layer deletes it, so exactly 3,000,000 bytes are reclaimable.
Every image the module builds is removed afterwards.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile

import pytest

from slimmer.docker_api import Docker

pytestmark = pytest.mark.docker

BASE = "debian:bookworm-slim"
WASTE = 3_000_000
DOCKERFILE = f"""FROM {BASE}
RUN head -c {WASTE} /dev/urandom > /waste.bin
RUN echo hello > /hello.txt
RUN rm -f /waste.bin
"""


def slim(*args: str, cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "slimmer.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def wasteful_image():
    docker = Docker()
    context = tempfile.mkdtemp(prefix="slimmer-xray-test-")
    tag = f"slimmer-test/xray-waste:{docker.session}"
    try:
        with open(os.path.join(context, "Dockerfile"), "w") as handle:
            handle.write(DOCKERFILE)
        image_id = docker.build(context, tag)
        yield {"tag": tag, "id": image_id, "context": context}
    finally:
        docker.remove_intermediate(keep=[])
        try:
            docker.client.images.remove(tag, force=True)
        except Exception:   # never built: nothing to remove
            pass
        shutil.rmtree(context, ignore_errors=True)
        docker.cleanup()


def test_xray_json_reports_exact_reclaimable_bytes(wasteful_image):
    proc = slim("xray", wasteful_image["tag"], "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["reclaimable_bytes"] == WASTE
    assert len(data["layers"]) == 4
    waste_layer, hello_layer, rm_layer = data["layers"][1:]
    assert waste_layer["added"] == {"count": 1, "bytes": WASTE}
    assert waste_layer["created_by"] == f"RUN head -c {WASTE} /dev/urandom > /waste.bin"     # whole
    assert [(l["tree"]["changes"], l["tree"]["truncated"]) for l in (waste_layer, hello_layer, rm_layer)] == [
        ([{"path": "/waste.bin", "change": "added", "size": WASTE, "type": "file"}], False),
        ([{"path": "/hello.txt", "change": "added", "size": 6, "type": "file"}], False),
        ([{"path": "/waste.bin", "change": "removed", "size": WASTE, "type": "file"}], False)]
    assert hello_layer["added"] == {"count": 1, "bytes": 6}
    assert rm_layer["deleted"] == {"count": 1, "bytes": WASTE}
    assert data["size_bytes"] == sum(layer["size_bytes"] for layer in data["layers"])
    assert data["efficiency"] == pytest.approx(1 - WASTE / data["size_bytes"], abs=1e-6)
    messages = [f["message"] for f in data["findings"]]
    assert any(m.startswith("layer 3 (RUN rm -f /waste.bin) deletes 3.0 MB (1 files) that layer 1 added")
               for m in messages), messages


def test_xray_ci_rules_exit_codes(wasteful_image, tmp_path):
    failing = slim("xray", wasteful_image["tag"], "--ci", "--max-reclaimable", str(WASTE - 1))
    assert failing.returncode == 1
    message = f"FAIL max_reclaimable: reclaimable bytes {WASTE} (3.0 MB), threshold max {WASTE - 1} (3.0 MB)"
    assert (failing.stdout + failing.stderr).count(message) == 1        # printed once
    assert "slim: CI failed: max_reclaimable" in failing.stderr
    passing = slim("xray", wasteful_image["tag"], "--ci", "--max-reclaimable", str(WASTE), "--min-efficiency", "0.9")
    assert passing.returncode == 0, passing.stdout + passing.stderr
    assert "PASS max_reclaimable" in passing.stdout and "PASS min_efficiency" in passing.stdout
    (tmp_path / ".slim-ci.toml").write_text("[rules]\nmin_efficiency = 0.999\nmax_reclaimable = \"1MB\"\n")
    from_file = slim("xray", wasteful_image["tag"], "--ci", cwd=str(tmp_path))
    assert from_file.returncode == 1
    assert "FAIL min_efficiency" in from_file.stdout and "FAIL max_reclaimable" in from_file.stdout
    (tmp_path / ".slim-ci.toml").unlink()
    (tmp_path / ".dive-ci").write_text("rules:\n  lowestEfficiency: 0.9\n  highestWastedBytes: 3MB\n"
                                       "  highestUserWastedPercent: 0.99\n")
    dive = slim("xray", wasteful_image["tag"], "--json", cwd=str(tmp_path))
    assert dive.returncode == 1, dive.stderr
    # all the bytes above the base layer but the 6 of /hello.txt are wasted
    assert [(r["name"], r["passed"]) for r in json.loads(dive.stdout)["ci"]["rules"]] == [
        ("max_reclaimable", True), ("min_efficiency", True), ("max_user_wasted_ratio", False)]
    assert dive.stderr.count("slim: CI rule failed: FAIL max_user_wasted_ratio") == 1
    units = slim("xray", wasteful_image["tag"], "--max-reclaimable", "2.9MB", "--min-efficiency", "95%")
    assert units.returncode == 1 and "FAIL max_reclaimable" in units.stdout and "PASS min_efficiency" in units.stdout


def test_xray_tree_and_docker_archive(wasteful_image, tmp_path):
    archive = tmp_path / "waste.tar"
    saved = subprocess.run(["docker", "save", "-o", str(archive), wasteful_image["tag"]], capture_output=True,
                           text=True, timeout=300)
    assert saved.returncode == 0, saved.stderr
    from_daemon = json.loads(slim("xray", wasteful_image["tag"], "--json").stdout)
    proc = slim("xray", f"docker-archive:{archive}", "--json")
    assert proc.returncode == 0, proc.stderr
    from_file = json.loads(proc.stdout)
    assert from_file["id"] == wasteful_image["id"] == from_daemon["id"]
    for key in ("size_bytes", "reclaimable_bytes", "file_count", "duplicates", "largest"):
        assert from_file[key] == from_daemon[key], key
    assert [l["tree"] for l in from_file["layers"]] == [l["tree"] for l in from_daemon["layers"]]
    tree = slim("xray", f"docker-archive:{archive}", "--tree", "3")
    assert tree.returncode == 0, tree.stderr
    assert tree.stdout.splitlines()[0] == "layer 3: RUN rm -f /waste.bin"
    assert tree.stdout.splitlines()[-1] == "    3.0 MB  └── - waste.bin"
    added = slim("xray", wasteful_image["tag"], "--tree", "1").stdout.splitlines()
    assert added[-1] == "    3.0 MB  └── + waste.bin"


# paths the daemon puts in every container (its init layer; a RUN layer may hold some of them too)
CONTAINER_INIT = {"/.dockerenv", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/etc/mtab"}


def test_xray_unmodified_is_the_filesystem_a_container_gets(wasteful_image, tmp_path):
    """--unmodified at the top layer lists what the daemon itself puts in a container of the image."""
    docker = Docker()
    container = docker.create_container(wasteful_image["tag"], command=["true"], name_hint="xray-fs")
    try:
        in_container = {m.name for m in docker.get_archive(container, "/") if m.name} - CONTAINER_INIT
    finally:
        docker.cleanup()
    page = tmp_path / "xray.html"
    proc = slim("xray", wasteful_image["tag"], "--json", "--tree", "-1", "--unmodified", "--html", str(page))
    assert proc.returncode == 0, proc.stderr
    layers = json.loads(proc.stdout)["layers"]
    assert ["files" in layer for layer in layers] == [False, False, False, True]
    files = {row["path"]: row for row in layers[3]["files"]["paths"]}
    assert files["/waste.bin"] == {"path": "/waste.bin", "size": WASTE, "type": "file", "change": "removed"}
    assert files["/hello.txt"]["change"] is None and files["/usr/bin/perl"]["change"] is None
    present = {path for path, row in files.items() if row["change"] != "removed"}
    assert present - CONTAINER_INIT == in_container, (sorted(present - in_container)[:5], sorted(in_container - present)[:5])
    assert layers[3]["files"]["count"] == len(present)
    text = slim("xray", wasteful_image["tag"], "--tree", "2", "--unmodified", "--tree-depth", "1")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "    3.0 MB  └── waste.bin" in lines and "       6 B  ├── + hello.txt" in lines   # unmodified, added
    assert any("── usr/  (" in line and "paths below not shown" in line for line in lines)
    html = page.read_text()
    assert "changed files only" in html and 'data-path="/usr/bin/perl"' in html and "<script" not in html


def test_xray_base_image_and_html(tmp_path):
    page = tmp_path / "xray.html"
    proc = slim("xray", BASE, "--json", "--html", str(page))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["reclaimable_bytes"] == 0 and data["efficiency"] == 1.0
    assert 60_000_000 < data["size_bytes"] < 100_000_000
    assert data["largest"][0]["path"] == "/usr/bin/perl"
    assert data["layers"][0]["imported"] is True and data["findings"] == []   # the base layer is context
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>") and "http" not in html.split("<body>")[0]


def test_compare(wasteful_image):
    proc = slim("compare", BASE, wasteful_image["tag"], "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["delta"]["layers"] == 3
    assert data["delta"]["size_bytes"] == WASTE + 6
    assert data["delta"]["file_count"] == 1
    text = slim("compare", BASE, wasteful_image["tag"]).stdout
    assert "layers" in text and "+3" in text


def test_lint_with_image_figures(wasteful_image):
    dockerfile = os.path.join(wasteful_image["context"], "Dockerfile")
    proc = slim("lint", dockerfile, "--image", wasteful_image["tag"], "--json")
    assert proc.returncode == 1, proc.stderr       # findings make lint fail
    findings = json.loads(proc.stdout)["findings"]
    removed = next(f for f in findings if f["id"] == "remove-in-later-layer")
    assert (removed["line"], removed["layer"], removed["bytes"]) == (4, 3, WASTE)
    assert {"no-user", "remove-in-later-layer"} <= {f["id"] for f in findings}
    assert (removed["severity"], removed["column"]) == ("warning", 11)   # at /waste.bin
    sarif = slim("lint", dockerfile, "--image", wasteful_image["tag"], "--format", "sarif")
    assert sarif.returncode == 1, sarif.stderr
    [result] = [r for r in json.loads(sarif.stdout)["runs"][0]["results"] if r["ruleId"] == "remove-in-later-layer"]
    assert result["properties"]["bytes"] == WASTE
    assert result["locations"][0]["physicalLocation"]["region"] == {"startLine": 4, "startColumn": 11}
    quiet = slim("lint", dockerfile, "--failure-threshold", "error")
    assert quiet.returncode == 0, quiet.stdout + quiet.stderr


def test_bad_input_exit_code_2(tmp_path):
    assert slim("xray", "slimmer-test/no-such-image:404").returncode == 2
    missing = slim("lint", str(tmp_path / "Dockerfile"))
    assert missing.returncode == 2 and "cannot read the Dockerfile" in missing.stderr
    assert slim("compare", BASE, "slimmer-test/no-such-image:404").returncode == 2
