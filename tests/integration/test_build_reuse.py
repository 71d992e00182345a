"""A second `slim build` from the same inputs reuses the first one's image (build.py,
reuse), on the real daemon: it is still verified, a failing second run leaves the user's
earlier slim image alone, --rebuild builds afresh, and an image removed since is built
again. One cache directory of the test's own; every image made is removed at the end."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from tests.apps import check_app
from tests.slimtest import REPO, slim_cli

APP = "batch-job"
TAG = "slimmer-test/reuse:slim"


def _image_id(reference: str) -> str:
    proc = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", reference],
                          capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


@pytest.fixture
def build(sample_images, tmp_path):
    made: set[str] = set()
    env = {"SLIMMER_CACHE_DIR": str(tmp_path / "cache")}
    probe_file = os.path.join(REPO, "probes", f"{APP}.toml")

    def run(name: str, *extra: str):
        report = tmp_path / f"{name}.json"
        proc = slim_cli("build", sample_images[APP], "--tag", TAG, "--probe-file", probe_file,
                        "--report", str(report), *extra, env=env)
        doc = json.loads(report.read_text()) if report.exists() else {}
        if (doc.get("slim") or {}).get("id"):
            made.add(doc["slim"]["id"])
        return proc, doc

    yield run
    for image in sorted(made) + [TAG]:
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True)


def test_a_second_build_reuses_the_first_image_and_still_verifies_it(build):
    first, doc1 = build("first")
    assert first.returncode == 0, first.stderr[-3000:]
    assert doc1["slim"]["reused"] is False
    slim_id = _image_id(TAG)
    assert slim_id == doc1["slim"]["id"]

    second, doc2 = build("second")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "reuse sha256:" in second.stderr and "docker load" not in second.stderr
    assert doc2["slim"]["reused"] is True and doc2["slim"]["id"] == slim_id
    assert doc2["slim"]["size_bytes"] == doc1["slim"]["size_bytes"]
    assert doc2["verify"]["ran"] and doc2["verify"]["failed"] == 0 and doc2["verify"]["passed"] >= 1
    assert doc2["timings"]["build_s"] < doc1["timings"]["build_s"]
    assert _image_id(TAG) == slim_id
    check_app(APP, TAG)

    # a second run that fails (here a size gate) leaves the user's slim image as it was
    failing, doc3 = build("failing", "--max-size", "1kB")
    assert failing.returncode == 1, failing.stderr[-3000:]
    assert doc3["slim"]["reused"] is True
    assert _image_id(TAG) == slim_id
    leftovers = subprocess.run(["docker", "images", "--format", "{{.Repository}}:{{.Tag}}",
                                "slimmer-test/reuse"], capture_output=True, text=True).stdout.split()
    assert leftovers == [TAG], leftovers        # no work tag left behind

    rebuilt, doc4 = build("rebuilt", "--rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert doc4["slim"]["reused"] is False and doc4["slim"]["id"] != slim_id
    assert "docker load" in rebuilt.stderr
    check_app(APP, TAG)

    # the image the cache names is gone: built again, not an error
    subprocess.run(["docker", "rmi", TAG], capture_output=True, check=True)
    again, doc5 = build("again")
    assert again.returncode == 0, again.stderr[-3000:]
    assert doc5["slim"]["reused"] is False
    check_app(APP, TAG)
