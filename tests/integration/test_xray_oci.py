"""`slim xray oci:DIR` on an OCI image layout produced for real: Docker 26 with the containerd
image store writes one in `docker save` (oci-layout, index.json, blobs/sha256/, plus its own
manifest.json). The layout is unpacked, manifest.json dropped, and read with no Docker at all
(DOCKER_HOST points nowhere); its figures must equal the same image read from the default
engine (Docker 20.10's `docker save`) and from the archive.

The engine: SLIMMER_DOCKER26_HOSTS's containerd entry when set (.ci/run), else
scripts/docker26.sh start containerd, stopped after.
"""
from __future__ import annotations

import json
import os
import subprocess
import tarfile
import uuid

import pytest

from tests.integration.test_modern_engine import BASE, SCRIPT, SLIM, Created, _hosts_from_env, cli

pytestmark = pytest.mark.docker
NOWHERE = "unix:///nonexistent/docker.sock"


@pytest.fixture(scope="module")
def containerd_host(docker_engine):
    host = _hosts_from_env().get("containerd")
    started = False
    if host is None:
        if os.environ.get("CI") or os.environ.get("SLIMMER_REQUIRE_DOCKER"):
            pytest.fail("SLIMMER_DOCKER26_HOSTS must name the containerd-store engine (.ci/run starts it)",
                        pytrace=False)
        proc = subprocess.run(["bash", SCRIPT, "start", "containerd", BASE], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(f"scripts/docker26.sh start containerd failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}",
                        pytrace=False)
        host = subprocess.run(["bash", SCRIPT, "host", "containerd"], capture_output=True, text=True,
                              check=True).stdout.strip()
        started = True
    try:
        yield host
    finally:
        if started:
            subprocess.run(["bash", SCRIPT, "stop", "containerd"], capture_output=True)


def xray_json(reference: str, host: str = NOWHERE) -> dict:
    proc = subprocess.run([SLIM, "xray", "--json", "--tree-limit", "0", reference], capture_output=True, text=True,
                          env=dict(os.environ, DOCKER_HOST=host), timeout=600)
    assert proc.returncode == 0, f"slim xray {reference} failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def figures(report: dict) -> dict:
    return {key: report[key] for key in ("size_bytes", "reclaimable_bytes", "file_count", "efficiency",
                                         "largest", "duplicates")} | {
        "layers": [(l["size_bytes"], l["added"], l["tree"]) for l in report["layers"]]}


def test_oci_layout_from_docker_save_on_the_containerd_store(containerd_host, tmp_path):
    """Two layers, one of them gzip-compressed by BuildKit: both kinds of blob in one real layout."""
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "hello.txt").write_text("hello\n" * 1000)
    (tmp_path / "ctx" / "Dockerfile").write_text(f"FROM {BASE}\nCOPY hello.txt /srv/hello.txt\n"
                                                 "RUN cp /srv/hello.txt /srv/copy.txt && rm -rf /var/lib/apt/lists\n")
    tag = f"slimmer-test/xray-oci:{uuid.uuid4().hex[:8]}"
    created = Created(containerd_host)
    created.tags.append(tag)
    try:
        cli(containerd_host, "buildx", "build", "-q", "--output",
            f"type=image,name={tag},compression=gzip,force-compression=true", str(tmp_path / "ctx"))
        archive = tmp_path / "image.tar"
        cli(containerd_host, "save", "-o", str(archive), tag)
    finally:
        created.remove()
    layout = tmp_path / "layout"
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        assert {"oci-layout", "index.json"} <= names and any(n.startswith("blobs/sha256/") for n in names)
        tar.extractall(layout)
    os.remove(layout / "manifest.json")          # what remains is the OCI image layout alone
    assert json.loads((layout / "oci-layout").read_text())["imageLayoutVersion"] == "1.0.0"

    from_dir = xray_json(f"oci:{layout}")
    from_plain_dir = xray_json(str(layout))
    from_archive = xray_json(f"docker-archive:{archive}")
    assert figures(from_dir) == figures(from_plain_dir) == figures(from_archive)
    assert from_dir["layers"][-1]["created_by"].startswith("RUN cp /srv/hello.txt")
    top = {c["path"]: c for c in from_dir["layers"][-1]["tree"]["changes"]}
    assert top["/srv/copy.txt"]["change"] == "added" and top["/srv/copy.txt"]["size"] == 6000
    assert top["/var/lib/apt/lists"]["change"] == "removed"
    assert [d["paths"] for d in from_dir["duplicates"]][0] == ["/srv/copy.txt", "/srv/hello.txt"]
    base = xray_json(BASE, host=os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock"))
    assert from_dir["size_bytes"] == base["size_bytes"] + 12000
    assert figures(from_dir)["layers"][0] == figures(base)["layers"][0]
