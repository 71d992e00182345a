"""slimmer as a container image (the Dockerfile at the repository root): it slims a
sample app through the host's Docker socket, then slims itself, and its own slim
image still works (`slim --version`, `slim xray`, `slim build`).

The tool container runs with --network host: the probes reach the ports the app
publishes on the host's 127.0.0.1 (inside a container on the default bridge,
127.0.0.1 is the tool container itself). docs/CI.md, "The tool image".
"""
from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

from tests.slimtest import REPO

pytestmark = pytest.mark.docker

SOCKET = "/var/run/docker.sock:/var/run/docker.sock"
SENSOR_STAGE_LABEL = "org.slimmer.stage=sensor-build"


def docker(*argv, timeout=900, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *argv], capture_output=True, text=True, timeout=timeout)
    if check:
        assert proc.returncode == 0, f"docker {' '.join(argv[:6])}... exit {proc.returncode}\n" \
                                     f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def image_ids(*filters: str) -> set[str]:
    args = ["images", "-q", "--no-trunc"] + [arg for f in filters for arg in ("--filter", f)]
    return set(docker(*args).stdout.split())


def tool(image: str, *argv: str, mounts=(), network_host=True, timeout=900) -> subprocess.CompletedProcess:
    """`docker run --rm [--network host] -v SOCKET [mounts] IMAGE ARGV...`"""
    options = ["run", "--rm", "-v", SOCKET] + (["--network", "host"] if network_host else [])
    for mount in mounts:
        options += ["-v", mount]
    return docker(*options, image, *argv, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def tool_image(docker_client):
    """The tool image built from the repository's Dockerfile; removed afterwards, with the
    sensor build stage's untagged image."""
    tag = f"slimmer-test/tool:{uuid.uuid4().hex[:8]}"
    stages_before = image_ids("label=" + SENSOR_STAGE_LABEL)
    try:
        docker("build", "--pull=false", "-t", tag, REPO, timeout=1500)
        yield tag
    finally:
        docker("rmi", "-f", tag, check=False)
        for stage in image_ids("label=" + SENSOR_STAGE_LABEL, "dangling=true") - stages_before:
            docker("rmi", stage, check=False)


def test_the_tool_image_slims_an_app_with_exposed_ports(tool_image, sample_images, tmp_path, ledger):
    tag = ledger.image("slimmer-test/tool-nginx:slim")
    out = tmp_path / "out"
    out.mkdir()
    proc = tool(tool_image, "build", sample_images["nginx-static"], "--tag", tag,
                "--probe-file", "/probes/nginx-static.toml", "--report", "/out/report.json", "--quiet",
                mounts=[f"{REPO}/probes:/probes:ro", f"{out}:/out"])
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout == f"{tag}\n"
    report = json.loads((out / "report.json").read_text())
    assert report["status"] == "ok" and report["verify"]["failed"] == 0
    https = [c for c in report["verify"]["checks"] if "443" in c["name"]]
    assert https and all(c["passed"] for c in https), report["verify"]["checks"]
    assert report["slim"]["size_bytes"] < report["original"]["size_bytes"] / 4


def test_the_tool_slims_itself_and_its_slim_image_still_works(tool_image, sample_images, tmp_path, ledger,
                                                              capsys):
    slim_tool = ledger.image(tool_image + "-slim")
    inner = ledger.image("slimmer-test/tool-inner:slim")
    out = tmp_path / "out"
    out.mkdir()
    batch = sample_images["batch-job"]
    inner_before = image_ids(f"label=slimmer.source.image={batch}")
    try:
        # the traced runs: what the tool is for. The nested `slim build` runs in the traced
        # container and talks to the same daemon (the socket is part of the run context).
        proc = tool(tool_image, "build", tool_image, "--tag", slim_tool, "--run=--version",
                    f"--run=xray {sample_images['static-scratch']}",
                    f"--run=build {batch} --tag {inner} --quiet",
                    "--volume", SOCKET, "--report", "/out/report.json", "--html", "/out/report.html",
                    mounts=[f"{out}:/out"], timeout=1800)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-4000:]
    finally:
        # each traced `slim build` tagged its own slim batch-job; the later one left the earlier untagged
        for image in image_ids(f"label=slimmer.source.image={batch}", "dangling=true") - inner_before:
            docker("rmi", image, check=False)
    report = json.loads((out / "report.json").read_text())
    original, slim = report["original"]["size_bytes"], report["slim"]["size_bytes"]
    with capsys.disabled():
        print(f"\n[tool image] {tool_image}: original {original} bytes ({original / 1e6:.1f} MB), "
              f"slimmed by itself to {slim} bytes ({slim / 1e6:.1f} MB), {original / slim:.2f}x smaller")
    assert report["status"] == "ok" and report["verify"]["passed"] == 3
    assert slim < original / 2
    assert (out / "report.html").stat().st_size > 10_000

    version = tool(slim_tool, "--version", network_host=False)
    assert version.returncode == 0 and version.stdout.startswith("slimmer "), version.stderr
    xray = tool(slim_tool, "xray", batch, "--json", network_host=False)
    assert xray.returncode == 0, xray.stderr[-3000:]
    assert json.loads(xray.stdout)["size_bytes"] > 0
    # and it still slims an app: the sensor and the build code were kept
    again = ledger.image("slimmer-test/tool-inner:again")
    build = tool(slim_tool, "build", batch, "--tag", again, "--quiet", network_host=False)
    assert build.returncode == 0, build.stderr[-3000:]
    assert build.stdout == f"{again}\n"
