"""`slim build` end to end on every sample app, each slimmed once per session.

What a user would notice is asserted: the exit code, the slim image passing the
app's independent functional check, the report's figures, the artifacts
directory rebuilding the same image with plain `docker build`, the original
image untouched, nothing left behind.
"""
from __future__ import annotations

import os
import subprocess
import tarfile

import pytest

from tests.slimtest import REPO, SlimRun, once_per_session

APPS = ["python-flask", "node-express", "nginx-static", "entrypoint-script", "java-digest",
        "batch-job", "static-scratch", "postgres"]


def probe_args(name: str) -> list[str]:
    probe_file = os.path.join(REPO, "probes", f"{name}.toml")
    return ["--probe-file", probe_file] if os.path.exists(probe_file) else []


@pytest.fixture(scope="session")
def slimmed(sample_images, tmp_path_factory, docker_client):
    """One `slim build` of a sample app with its probe file, done at most once per session."""
    workdir = str(tmp_path_factory.mktemp("slim-builds"))

    def make(name: str) -> SlimRun:
        original_id = docker_client.images.get(sample_images[name]).id
        run = SlimRun(sample_images[name], f"slimmer-test/{name}:slim", workdir, name, *probe_args(name))
        run.original_id = original_id
        return run

    yield from once_per_session(make, docker_client)


@pytest.mark.parametrize("name", APPS)
def test_slim_build_succeeds_and_verifies(slimmed, name):
    result = slimmed(name)
    assert result.proc.returncode == 0, result.explain()
    report = result.report
    assert report["status"] == "ok"
    assert report["verify"]["ran"] and report["verify"]["failed"] == 0, result.explain()
    assert report["verify"]["passed"] >= 1
    assert report["slim"]["image"] == result.tag
    if name == "static-scratch":
        # FROM scratch with one static binary and its data: nothing to remove, nothing lost
        assert report["slim"]["size_bytes"] <= report["original"]["size_bytes"]
    else:
        assert report["slim"]["size_bytes"] < 0.7 * report["original"]["size_bytes"]
        assert report["reduction"]["ratio"] > 1.4
    assert report["keep"]["files"] > 0 and report["keep"]["bytes"] > 0
    assert "traced" in report["keep"]["by_reason"]
    assert report["timings"]["total_s"] > 0
    for key in ("inspect_s", "trace_s", "keep_s", "build_s", "verify_s"):
        assert key in report["timings"], key


@pytest.mark.parametrize("name", APPS)
def test_slim_image_passes_functional_check(slimmed, name):
    from tests.apps import check_app
    result = slimmed(name)
    assert result.proc.returncode == 0, result.explain()
    check_app(name, result.tag)


@pytest.mark.parametrize("name", APPS)
def test_original_image_unchanged(slimmed, docker_client, name):
    result = slimmed(name)
    assert docker_client.images.get(result.image).id == result.original_id


def test_report_names_removed_directories(slimmed):
    report = slimmed("python-flask").report
    top = report["removed"]["top_dirs"]
    assert top and all(item["bytes"] > 0 for item in top)
    assert top == sorted(top, key=lambda item: -item["bytes"])
    assert report["original"]["id"].startswith("sha256:")
    assert report["probes"] and all(p["ok"] for p in report["probes"])


def test_artifacts_rebuild_the_same_image(slimmed, docker_client, ledger):
    """`docker build ARTIFACTS` gives an image with exactly the slim image's files."""
    result = slimmed("python-flask")
    assert result.proc.returncode == 0, result.explain()
    # --report put the report elsewhere: nothing but what the build needs (generated/: the
    # dpkg status trimmed to the packages left, rule package-metadata; image-config.json: the
    # slim image's config for the builder-less build) and removed.list, which .dockerignore
    # keeps out of the build context
    assert set(os.listdir(result.artifacts)) == {".dockerignore", "Dockerfile", "keep.list", "sensor", "generated",
                                                  "image-config.json", "removed.list"}
    with open(os.path.join(result.artifacts, ".dockerignore")) as handle:
        assert "removed.list" not in handle.read()
    assert os.listdir(os.path.join(result.artifacts, "generated", "var", "lib", "dpkg")) == ["status"]
    rebuilt = ledger.image("slimmer-test/rebuilt:latest")
    _build_recording_images(result.artifacts, rebuilt, ledger)
    assert _file_list(docker_client, rebuilt, ledger) == _file_list(docker_client, result.tag, ledger)


def _build_recording_images(context: str, tag: str, ledger) -> None:
    """`docker build -t TAG CONTEXT`, putting every image the build created in the ledger:
    the legacy builder leaves the collect stage's intermediate images dangling. Only
    those are removed, by id; never a prune, which would take a user's images too.
    1. The ids the builder prints after each step (" ---> ID"), except after FROM (an
       existing image) and except an image that existed before (a cache hit).
    2. In build order: the ledger removes them newest first, children before parents."""
    import re
    before = set(subprocess.run(["docker", "images", "-aq", "--no-trunc"], capture_output=True, text=True,
                                check=True).stdout.split())
    done = subprocess.run(["docker", "build", "-t", tag, context], capture_output=True, text=True, timeout=600)
    after_from = False
    for line in (done.stdout + done.stderr).splitlines():
        step = re.match(r"Step \d+/\d+ : (\w+)", line.strip())
        if step:
            after_from = step.group(1).upper() == "FROM"
        made = re.match(r"\s*---> ([0-9a-f]{12})\s*$", line)
        if made and not after_from and not any(image.startswith(f"sha256:{made.group(1)}") for image in before):
            ledger.image(made.group(1))
    assert done.returncode == 0, done.stderr[-3000:]


def _file_list(docker_client, image: str, ledger) -> list[tuple[str, int, int, int]]:
    container = docker_client.containers.create(image, command=["/nonexistent"])
    ledger.container(container.id)
    stream = container.export()
    import io
    raw = io.BytesIO(b"".join(stream))
    with tarfile.open(fileobj=raw) as archive:
        return sorted((m.name, m.mode, m.uid, m.size) for m in archive.getmembers()
                      if m.name not in (".dockerenv",) and not m.name.startswith(("dev", "proc", "sys", "etc/hostname",
                                                                                  "etc/hosts", "etc/resolv.conf")))


def test_slim_image_keeps_user_and_config(slimmed, docker_client):
    result = slimmed("entrypoint-script")
    assert result.proc.returncode == 0, result.explain()
    original = docker_client.images.get(result.image).attrs["Config"]
    slim = docker_client.images.get(result.tag).attrs["Config"]
    for key in ("User", "Entrypoint", "Cmd", "Env", "WorkingDir", "ExposedPorts"):
        assert slim.get(key) == original.get(key), key
    assert original["User"] not in ("", "root", "0")
    assert slim["Labels"]["slimmer.source.id"] == result.original_id
