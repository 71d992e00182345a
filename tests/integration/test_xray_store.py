"""`slim xray` read from Docker's layer store (overlay2) equals `slim xray` read through
`docker save`, field by field, on the sample images and on a built image whose layers hold
whiteouts, an opaque directory, hardlinks (within a layer and onto a lower file), a
chmod of a lower file, a symlink and names that need JSON escapes or are not UTF-8.
When the store cannot be read (SLIMMER_DOCKER_ROOT pointing nowhere, a Docker 26 engine
with the containerd image store), `--read store` fails with exit 2 and names why, and the
default `--read auto` falls back to docker save with the same report.

Needs Docker (fails without) and root on the daemon's host (the layer store is root's).
The built image carries the label slimmer.test=1 and is removed afterwards.
"""
from __future__ import annotations

import json
import subprocess
import uuid

import pytest

from tests.apps import TEST_LABELS, docker_client
from tests.integration.test_xray_oci import containerd_host, figures  # noqa: F401  (the Docker 26 engine)
from tests.slimtest import slim_cli

pytestmark = pytest.mark.docker

SAMPLES = ("slimmer-sample/postgres:latest", "slimmer-sample/java-digest:latest",
           "slimmer-sample/node-express:latest")
BASE = "debian:bookworm-slim"
DOCKERFILE = f"""FROM {BASE}
RUN mkdir -p /data/keep /data/replace && echo one > /data/replace/a && echo two > /data/replace/b \\
 && head -c 200000 /dev/urandom > /data/big && cp /data/big /data/keep/big-copy \\
 && echo lower > /data/keep/lower.txt && head -c 3000 /dev/urandom > /data/keep/h1
RUN rm -f /data/big && rm -rf /data/replace && mkdir /data/replace && echo new > /data/replace/c \\
 && ln /data/keep/h1 /data/keep/h1-link
RUN chmod 600 /data/keep/lower.txt && head -c 5000 /dev/urandom > /data/same1 && ln /data/same1 /data/same2 \\
 && ln -s /data/keep/lower.txt /data/sym && rm -rf /usr/share/doc \\
 && echo escaped > '/data/we"ird <name>&\\x' && echo latin > "$(printf '/data/caf\\351')" \\
 && echo utf8 > /data/unicode-\u00e9.txt
"""


@pytest.fixture(scope="module")
def layered_image(docker_engine, tmp_path_factory):
    context = tmp_path_factory.mktemp("xray-store")
    (context / "Dockerfile").write_text(DOCKERFILE)
    tag = f"slimmer-test/xray-store:{uuid.uuid4().hex[:8]}"
    client = docker_client()
    try:
        client.images.build(path=str(context), tag=tag, labels=TEST_LABELS, rm=True, forcerm=True)
        yield tag
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def xray(image: str, read: str, env: dict | None = None) -> dict:
    proc = slim_cli("xray", image, "--json", "--tree-limit", "0", "--read", read, env=env)
    assert proc.returncode == 0, f"slim xray {image} --read {read} failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout)


def assert_same_report(ours: dict, theirs: dict) -> None:
    assert (ours.pop("read"), theirs.pop("read")) == ("layer store", "docker save")
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert ours[key] == theirs[key], f"{key} differs between the layer store and docker save"


@pytest.mark.parametrize("image", SAMPLES)
def test_the_store_reads_what_docker_save_reads(sample_images, image):
    assert_same_report(xray(image, "store"), xray(image, "save"))


def test_whiteouts_opaque_dirs_and_hardlinks_from_the_store(layered_image):
    ours, theirs = xray(layered_image, "store"), xray(layered_image, "save")
    assert len(ours["layers"]) == 4
    run1, run2, run3 = ({c["path"]: c for c in layer["tree"]["changes"]} for layer in ours["layers"][1:])
    assert run2["/data/big"]["change"] == "removed"                    # a whiteout
    assert run2["/data/replace/a"]["change"] == "removed"              # hidden by the opaque dir
    assert run2["/data/replace/c"]["change"] == "added"
    assert run2["/data/keep/h1-link"]["type"] == "hardlink"            # onto the copied-up lower file
    assert run3["/data/keep/lower.txt"]["change"] == "modified"        # chmod copies it up
    assert run3["/data/same2"]["type"] == "hardlink" and run3["/data/sym"]["type"] == "symlink"
    assert {'/data/we"ird <name>&\\x', "/data/unicode-\u00e9.txt"} <= set(run3)
    assert "/data/caf\udce9" in run3                                  # byte 0xe9: not UTF-8
    assert ours["reclaimable_bytes"] >= 200_000
    assert_same_report(ours, theirs)


def test_read_store_names_why_it_cannot(layered_image, tmp_path):
    nowhere = str(tmp_path / "no-docker-root")
    proc = slim_cli("xray", layered_image, "--json", "--read", "store", env={"SLIMMER_DOCKER_ROOT": nowhere})
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "the image config is missing from the layer store" in proc.stderr and nowhere in proc.stderr
    assert "slim xray --read save IMAGE" in proc.stderr


def test_auto_falls_back_to_docker_save(layered_image, tmp_path):
    fallen_back = xray(layered_image, "auto", env={"SLIMMER_DOCKER_ROOT": str(tmp_path / "no-docker-root")})
    assert fallen_back["read"] == "docker save"
    from_store = xray(layered_image, "auto")
    assert from_store["read"] == "layer store"
    fallen_back["read"] = "docker save"
    assert_same_report(from_store, fallen_back)


def test_the_containerd_image_store_is_read_through_docker_save(containerd_host):
    """Docker 26 with the containerd image store keeps no overlay2 layerdb: auto reads docker save."""
    engine = {"DOCKER_HOST": containerd_host}
    proc = slim_cli("xray", BASE, "--json", "--read", "store", env=engine)
    assert proc.returncode == 2, proc.stderr
    assert "storage driver is not overlay2" in proc.stderr and "slim xray --read save IMAGE" in proc.stderr
    there = xray(BASE, "auto", env=engine)
    here = xray(BASE, "auto")
    assert (there["read"], here["read"]) == ("docker save", "layer store")
    assert figures(there) == figures(here)
