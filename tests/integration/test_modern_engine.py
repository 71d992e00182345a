"""slimmer on Docker 26 (Debian 13's docker.io), once with the overlay2 store and once with
the containerd image store, each a private engine started by scripts/docker26.sh beside
the machine's own (its own socket, data-root, exec-root, containerd and bridge).

Everything goes through the real `slim` CLI in a subprocess with DOCKER_HOST set, the way
a CI job on a modern engine runs it:
  1. xray reads each store's `docker save` (uncompressed layers on overlay2; on the
     containerd store an image built by BuildKit with zstd layers);
  2. one full `slim build` per store, verified; the sizes it reports are the same on both
     stores (within 1%) and the same as xray's and as 20.10's figure for the original;
  3. the artifacts directory rebuilt with `docker buildx build` (BuildKit) and with the
     legacy builder gives the slim image's file listing exactly.

.ci/run starts the engines and says where they are in SLIMMER_DOCKER26_HOSTS
("overlay2=unix:///...,containerd=unix:///..."); in CI a missing engine fails the tests.
Elsewhere the fixture starts them itself (scripts/docker26.sh start) and stops them after.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.integration.conftest import REPO_ROOT
from tests.integration.test_dockerfile_build import image_listing

pytestmark = pytest.mark.docker

STORES = ("overlay2", "containerd")
SCRIPT = os.path.join(REPO_ROOT, "scripts", "docker26.sh")
BASE = "debian:bookworm-slim"
APP = "slimmer-sample/batch-job:latest"
IMAGES = (BASE, APP)
SLIM = os.path.join(os.path.dirname(sys.executable), "slim")


def _hosts_from_env() -> dict[str, str]:
    spec = os.environ.get("SLIMMER_DOCKER26_HOSTS", "")
    return dict(item.split("=", 1) for item in spec.split(",") if "=" in item)


@pytest.fixture(scope="module")
def engines(sample_images):
    """store -> DOCKER_HOST of a running Docker 26 holding IMAGES."""
    hosts = _hosts_from_env()
    started = []
    in_ci = bool(os.environ.get("CI") or os.environ.get("SLIMMER_REQUIRE_DOCKER"))
    if in_ci and set(hosts) != set(STORES):
        pytest.fail("SLIMMER_DOCKER26_HOSTS must name a Docker 26 engine per store "
                    f"({', '.join(STORES)}): .ci/run starts them with scripts/docker26.sh; got "
                    f"{os.environ.get('SLIMMER_DOCKER26_HOSTS')!r}", pytrace=False)
    for store in STORES:
        if store not in hosts:
            proc = subprocess.run(["bash", SCRIPT, "start", store, *IMAGES], capture_output=True, text=True)
            if proc.returncode != 0:
                pytest.fail(f"scripts/docker26.sh start {store} failed:\n{proc.stdout[-2000:]}\n"
                            f"{proc.stderr[-3000:]}", pytrace=False)
            hosts[store] = subprocess.run(["bash", SCRIPT, "host", store], capture_output=True, text=True,
                                          check=True).stdout.strip()
            started.append(store)
    try:
        for store, host in hosts.items():
            for image in IMAGES:
                proc = cli(host, "image", "inspect", "-f", "{{.Id}}", image, check=False)
                assert proc.returncode == 0, f"the Docker 26 engine ({store}) lacks {image}: {proc.stderr}"
        yield hosts
    finally:
        for store in started:
            subprocess.run(["bash", SCRIPT, "stop", store], capture_output=True)


_CLI: list[str] = []


def cli_path() -> str:
    if not _CLI:
        _CLI.append(subprocess.run(["bash", SCRIPT, "cli"], capture_output=True, text=True,
                                   check=True).stdout.strip())
    return _CLI[0]


def cli(host: str, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([cli_path(), *args], capture_output=True, text=True,
                          env=dict(os.environ, DOCKER_HOST=host, **(env or {})))
    if check:
        assert proc.returncode == 0, f"docker {' '.join(args)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def slim(host: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([SLIM, *args], capture_output=True, text=True, cwd=REPO_ROOT,
                          env=dict(os.environ, DOCKER_HOST=host), timeout=900)


class Created:
    """Images a test made on one engine, removed at the end (by tag and by the ids a
    legacy build left: the engine is private, so what appeared during the build is ours)."""

    def __init__(self, host: str):
        self.host = host
        self.tags: list[str] = []
        self.ids: list[str] = []

    def all_ids(self) -> set[str]:
        return set(cli(self.host, "images", "-a", "-q", "--no-trunc").stdout.split())

    def remove(self) -> None:
        for reference in self.tags + list(reversed(self.ids)):
            cli(self.host, "rmi", "-f", reference, check=False)


@pytest.fixture(scope="module")
def slim_builds(engines, tmp_path_factory):
    """One verified `slim build` of APP per store: store -> (report, artifacts dir, tag, host)."""
    builds, cleanups = {}, []
    try:
        for store, host in engines.items():
            created = Created(host)
            cleanups.append(created)
            tag = f"slimmer-test/modern-{store}:{uuid.uuid4().hex[:8]}"
            created.tags.append(tag)
            artifacts = tmp_path_factory.mktemp(f"artifacts-{store}")
            proc = slim(host, "build", APP, "--tag", tag, "--artifacts", str(artifacts),
                        "--probe-file", os.path.join(REPO_ROOT, "probes", "batch-job.toml"))
            assert proc.returncode == 0, f"slim build on Docker 26 ({store}) failed:\n{proc.stdout[-3000:]}\n" \
                                         f"{proc.stderr[-3000:]}"
            with open(artifacts / "slim.report.json") as handle:
                builds[store] = (json.load(handle), str(artifacts), tag, host)
        yield builds
    finally:
        for created in cleanups:
            created.remove()


def test_slim_build_is_verified_on_each_store(slim_builds):
    for store, (report, _, tag, host) in slim_builds.items():
        assert report["status"] == "ok" and report["verify"]["failed"] == 0, (store, report.get("error"))
        assert report["slim"]["image"] == tag
        assert cli(host, "image", "inspect", "-f", "{{.Id}}", tag).stdout.strip() == report["slim"]["id"]
        ran = cli(host, "run", "--rm", "--network=none", tag).stdout
        assert ran == cli(host, "run", "--rm", "--network=none", APP).stdout, store


def test_sizes_are_the_same_on_both_stores_and_engines(slim_builds, engines, docker_engine):
    overlay, containerd = slim_builds["overlay2"][0], slim_builds["containerd"][0]
    original = overlay["original"]["size_bytes"]
    assert containerd["original"]["size_bytes"] == original
    # 20.10's figure for the same image, computed the same way
    default = subprocess.run([SLIM, "xray", "--json", APP], capture_output=True, text=True, cwd=REPO_ROOT,
                             env={k: v for k, v in os.environ.items() if k != "DOCKER_HOST"})
    assert default.returncode == 0, default.stderr
    assert json.loads(default.stdout)["size_bytes"] == original
    slim_overlay, slim_containerd = overlay["slim"]["size_bytes"], containerd["slim"]["size_bytes"]
    assert abs(slim_containerd - slim_overlay) <= 0.01 * slim_overlay, (slim_overlay, slim_containerd)
    assert abs(containerd["reduction"]["ratio"] - overlay["reduction"]["ratio"]) <= 0.01 * overlay["reduction"]["ratio"]
    for store, (report, _, tag, host) in slim_builds.items():      # xray and compare say the same
        xray = slim(host, "xray", "--json", tag)
        assert xray.returncode == 0, xray.stderr
        assert json.loads(xray.stdout)["size_bytes"] == report["slim"]["size_bytes"], store
        compared = slim(host, "compare", "--json", APP, tag)
        assert compared.returncode == 0, compared.stderr
        sides = json.loads(compared.stdout)
        assert (sides["a"]["size_bytes"], sides["b"]["size_bytes"]) == \
            (report["original"]["size_bytes"], report["slim"]["size_bytes"]), store
    # the API's Size is not that figure on the containerd store: what the report must not use
    api = int(cli(engines["containerd"], "image", "inspect", "-f", "{{.Size}}", slim_builds["containerd"][2]).stdout)
    assert api != slim_containerd


@pytest.mark.parametrize("store", STORES)
def test_buildkit_and_the_legacy_builder_reproduce_the_slim_image(slim_builds, store):
    _, artifacts, tag, host = slim_builds[store]
    created = Created(host)
    suffix = uuid.uuid4().hex[:8]
    env = dict(os.environ, DOCKER_HOST=host)
    try:
        expected = image_listing(tag, cli=(cli_path(),), env=env)
        buildkit_tag = f"slimmer-test/modern-buildkit:{suffix}"
        created.tags.append(buildkit_tag)
        cli(host, "buildx", "build", "-q", "-t", buildkit_tag, artifacts)
        assert image_listing(buildkit_tag, cli=(cli_path(),), env=env) == expected
        legacy_tag = f"slimmer-test/modern-legacy:{suffix}"
        created.tags.append(legacy_tag)
        before = created.all_ids()
        legacy = cli(host, "build", "-q", "-t", legacy_tag, artifacts, check=False, env={"DOCKER_BUILDKIT": "0"})
        created.ids += sorted(created.all_ids() - before)
        assert legacy.returncode == 0, legacy.stderr[-3000:]
        assert image_listing(legacy_tag, cli=(cli_path(),), env=env) == expected
    finally:
        created.remove()


def test_xray_reads_zstd_layers_on_the_containerd_store(engines, tmp_path):
    host = engines["containerd"]
    (tmp_path / "hello.txt").write_text("hello\n")
    (tmp_path / "Dockerfile").write_text(f"FROM {BASE}\nCOPY hello.txt /srv/hello.txt\n")
    tag = f"slimmer-test/modern-zstd:{uuid.uuid4().hex[:8]}"
    created = Created(host)
    created.tags.append(tag)
    try:
        cli(host, "buildx", "build", "-q", "--output",
            f"type=image,name={tag},compression=zstd,force-compression=true", str(tmp_path))
        layers = _layer_media_types(host, tag)
        assert layers and set(layers) == {"application/vnd.oci.image.layer.v1.tar+zstd"}, layers
        xray = slim(host, "xray", "--json", tag)
        assert xray.returncode == 0, xray.stderr
        report = json.loads(xray.stdout)
        base = json.loads(slim(host, "xray", "--json", BASE).stdout)
        assert report["size_bytes"] == base["size_bytes"] + len("hello\n")
        assert [layer["size_bytes"] for layer in report["layers"]][-1] == len("hello\n")
    finally:
        created.remove()


def _layer_media_types(host: str, tag: str) -> list[str]:
    """The layer media types the image's manifests declare (from its docker save)."""
    import tarfile
    proc = subprocess.Popen([cli_path(), "save", tag], stdout=subprocess.PIPE, env=dict(os.environ, DOCKER_HOST=host))
    found = []
    with tarfile.open(fileobj=proc.stdout, mode="r|") as archive:
        for member in archive:
            if member.isfile() and member.name.startswith("blobs/") and member.size < 100_000:
                try:
                    document = json.loads(archive.extractfile(member).read())
                except ValueError:
                    continue
                if isinstance(document, dict) and document.get("config", {}).get("mediaType", "").endswith(
                        "image.config.v1+json"):
                    found += [layer["mediaType"] for layer in document.get("layers", [])
                              if ".layer." in layer["mediaType"]]      # not the attestation's in-toto
    proc.wait()
    return found


def test_the_engines_are_docker_26_with_the_expected_stores(engines):
    for store, host in engines.items():
        info = json.loads(cli(host, "info", "--format", "{{json .}}").stdout)
        assert info["ServerVersion"].startswith("26."), info["ServerVersion"]
        snapshotter = "io.containerd.snapshotter.v1" in json.dumps(info.get("DriverStatus"))
        assert snapshotter == (store == "containerd"), (store, info.get("Driver"), info.get("DriverStatus"))
    assert shutil.which("docker")
