"""A rendered Dockerfile built with plain `docker build` (legacy builder, the
real sensor's collect step) reproduces the original's config exactly, holds
exactly the kept files, and runs like the original."""
from __future__ import annotations

import os
import posixpath
import subprocess
import tarfile
import uuid

import pytest

from slimmer.docker_api import Docker
from slimmer.dockerfile import SLIMMER_LABELS, write_artifacts
from slimmer.inspect import inspect_image
from slimmer.keep import compute_keep_set
from slimmer.model import KeepOptions, KeepReason, TraceLog, TracedPath
from slimmer.sensor import sensor_path
from tests.integration.test_elf_closure import export_index

ORIGINAL_DOCKERFILE = r'''FROM debian:bookworm-slim
ENV GREETING="hello \"world\" \$HOME \${USER} `id` back\\slash  two  spaces" \
    UNICODE="café ☃" SINGLE="it's" EMPTY="" TRAILING="ends with \\" PERCENT="100%"
LABEL "org.example.title"="App \"One\"" price="\$5 & up" multi.word="a b  c"
WORKDIR /srv/app
USER nobody
EXPOSE 8080/tcp 53/udp
VOLUME ["/data", "/var/cache/app"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=2s --retries=3 CMD ["/usr/bin/true", "--x"]
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/usr/bin/printenv"]
CMD ["GREETING"]
'''
CONFIG_KEYS = ("Env", "Entrypoint", "Cmd", "User", "WorkingDir", "ExposedPorts", "Volumes", "Healthcheck",
               "StopSignal")


def docker(*args: str) -> str:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True)
    assert proc.returncode == 0, f"docker {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout


def remove_image_and_descendants(image_id: str) -> None:
    """Remove an image, the stage images built on it (the collect stage) and itself."""
    ids = docker("images", "-a", "-q", "--no-trunc").split()
    parents = {}
    for line in docker("image", "inspect", "-f", "{{.Id}} {{.Parent}}", *ids).splitlines() if ids else []:
        child, _, parent = line.partition(" ")
        parents[child] = parent
    def depth(candidate):
        steps, current = 0, candidate
        while current and current != image_id:
            current, steps = parents.get(current, ""), steps + 1
        return steps if current == image_id else None
    descendants = sorted((i for i in parents if i != image_id and depth(i) is not None), key=depth, reverse=True)
    for doomed in descendants + [image_id]:
        subprocess.run(["docker", "rmi", "-f", doomed], capture_output=True)


@pytest.fixture(scope="module")
def built(docker_engine, tmp_path_factory):
    suffix = uuid.uuid4().hex[:10]
    original_tag, slim_tag = f"slimmer-test-df-original:{suffix}", f"slimmer-test-df-slim:{suffix}"
    source = tmp_path_factory.mktemp("original")
    (source / "Dockerfile").write_text(ORIGINAL_DOCKERFILE, encoding="utf-8")
    docker("build", "-q", "-t", original_tag, str(source))
    original_id = docker("image", "inspect", "-f", "{{.Id}}", original_tag).strip()
    try:
        image = inspect_image(Docker(), original_tag)
        index, texts = export_index(original_tag)
        trace = TraceLog(version=1, paths={"/usr/bin/printenv": TracedPath("/usr/bin/printenv",
                                                                           frozenset({"execve"}), False)})
        keep_set = compute_keep_set(trace, index, image, KeepOptions(), read_file=texts.get)
        artifacts_dir = str(tmp_path_factory.mktemp("artifacts"))
        artifacts = write_artifacts(artifacts_dir, image, keep_set, index, sensor_path(), "0.1.0-test")
        docker("build", "-q", "-t", slim_tag, artifacts_dir)
        yield dict(image=image, keep_set=keep_set, index=index, artifacts=artifacts,
                   original=original_tag, slim=slim_tag)
    finally:
        subprocess.run(["docker", "rmi", "-f", slim_tag], capture_output=True)
        remove_image_and_descendants(original_id)


def config_of(tag: str) -> dict:
    import json
    return json.loads(docker("image", "inspect", "-f", "{{json .Config}}", tag))


@pytest.mark.docker
def test_slim_image_has_the_original_config_exactly(built):
    original, slim = config_of(built["original"]), config_of(built["slim"])
    for key in CONFIG_KEYS:
        assert slim.get(key) == original.get(key), key
    labels = dict(original["Labels"])
    labels.update({"slimmer.source.image": built["original"], "slimmer.source.id": built["image"].id,
                   "slimmer.version": "0.1.0-test"})
    assert slim["Labels"] == labels
    assert set(SLIMMER_LABELS) <= set(slim["Labels"])


@pytest.mark.docker
def test_slim_image_runs_like_the_original(built):
    for args in ([], ["UNICODE"], ["SINGLE"], ["TRAILING"]):
        assert docker("run", "--rm", "--network=none", built["slim"], *args) == \
            docker("run", "--rm", "--network=none", built["original"], *args)
    assert "back\\slash" in docker("run", "--rm", "--network=none", built["slim"])


@pytest.mark.docker
def test_slim_image_holds_exactly_the_keep_set(built):
    container = docker("create", built["slim"]).strip()
    try:
        proc = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
        members = {}
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                members[posixpath.normpath("/" + member.name)] = member
        assert proc.wait() == 0
    finally:
        docker("rm", "-f", "-v", container)
    # Docker adds its own mount points and runtime files to every container's export
    docker_made = {"/", "/.dockerenv", "/dev", "/dev/console", "/dev/pts", "/dev/shm", "/etc/hostname",
                   "/etc/hosts", "/etc/mtab", "/etc/resolv.conf", "/proc", "/sys"}
    kept = set(built["keep_set"].paths())
    assert set(members) - docker_made - kept == set()
    assert kept - set(members) == set()
    index = built["index"]
    for path in kept:
        entry, member = index.get(path), members[path]
        assert member.mode & 0o7777 == entry.mode, path
        assert (member.uid, member.gid) == (entry.uid, entry.gid), path
    assert members["/tmp"].mode & 0o7777 == 0o1777
    keep = built["keep_set"].kept
    assert keep["/etc/passwd"].reason is KeepReason.ESSENTIAL           # USER nobody
    assert keep["/usr/bin/true"].reason is KeepReason.HEALTHCHECK
    assert keep["/srv/app"].reason is KeepReason.ESSENTIAL                # WORKDIR
    assert "/data" not in index             # VOLUME makes no layer entry: Docker creates it at run time
    assert sorted(os.listdir(built["artifacts"].directory)) == [".dockerignore", "Dockerfile", "keep.list", "sensor"]
