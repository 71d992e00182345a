"""A rendered Dockerfile built with plain `docker build` (legacy builder, the
real sensor's collect step) reproduces the original's config exactly, holds
exactly the kept files, and runs like the original; slim build's builder-less
way (build.load_slim_image) gives the same files and config from the same
artifacts directory."""
from __future__ import annotations

import os
import posixpath
import subprocess
import tarfile
import uuid

import pytest

from slimmer.build import load_slim_image
from slimmer.docker_api import Docker
from slimmer.dockerfile import SLIMMER_LABELS, write_artifacts
from slimmer.imagefs import merge_layers, read_saved_image
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


def image_listing(image: str, cli: tuple[str, ...] = ("docker",), env: dict | None = None) -> dict:
    """Every path of IMAGE (from `docker save`, whiteouts applied): type, mode, owner,
    size, link target and content sha256. mtimes are left out: the builders stamp
    the directories they write into."""
    proc = subprocess.Popen([*cli, "save", image], stdout=subprocess.PIPE, env=env)
    saved = read_saved_image(proc.stdout, hashes=True, elf=False)
    assert proc.wait() == 0, f"docker save {image} failed"
    index = merge_layers(saved.layers)
    digests = {}
    for layer in saved.layers:
        for path, digest in (layer.hashes or {}).items():
            if index.get(path) is not None and index.get(path).layer == layer.index:
                digests[path] = digest
    listing = {path: (entry.type.value, oct(entry.mode), entry.uid, entry.gid, entry.size, entry.link_target,
                      digests.get(path)) for path, entry in index.entries.items()}
    for path in DOCKER_MOUNTED & set(listing):
        listing[path] = listing[path][:4] + ("(per container)",) * 3
    return listing


# Docker bind-mounts these into every container, the collect step's too: what it copies
# is that container's own version (the Dockerfile's RUN sees the builder's), and every
# container of the slim image gets its own again.
DOCKER_MOUNTED = {"/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}


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
    loaded_tag = f"slimmer-test-df-loaded:{suffix}"
    adapter = Docker()
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
        adapter.track_image(loaded_tag)
        loaded = load_slim_image(adapter, artifacts, loaded_tag)
        yield dict(image=image, keep_set=keep_set, index=index, artifacts=artifacts,
                   original=original_tag, slim=slim_tag, loaded=loaded)
    finally:
        adapter.cleanup()          # the loaded image and any collect container left by a failure
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
def test_the_builderless_way_gives_the_same_image_as_docker_build(built):
    loaded = built["loaded"]
    assert loaded.tag == f"slimmer-test-df-loaded:{built['slim'].rsplit(':', 1)[1]}"
    assert loaded.id == docker("image", "inspect", "-f", "{{.Id}}", loaded.tag).strip()
    built_config, loaded_config = config_of(built["slim"]), config_of(loaded.tag)
    for key in CONFIG_KEYS + ("Labels", "Shell"):
        assert loaded_config.get(key) == built_config.get(key), key
    listing = image_listing(loaded.tag)
    assert listing == image_listing(built["slim"])
    # one size: the content size, read back from its docker save; on overlay2 the API's
    # Size (disk usage) is that plus the symlinks' targets
    assert loaded.size_bytes == Docker().image_size(loaded.tag)
    api_size = int(docker("image", "inspect", "-f", "{{.Size}}", loaded.tag))
    symlink_bytes = sum(len(item[5].encode()) for item in listing.values() if item[0] == "symlink")
    assert api_size == loaded.size_bytes + symlink_bytes
    assert docker("run", "--rm", "--network=none", loaded.tag) == docker("run", "--rm", "--network=none",
                                                                        built["original"])


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
    assert sorted(os.listdir(built["artifacts"].directory)) == [".dockerignore", "Dockerfile", "image-config.json",
                                                                 "keep.list", "sensor"]


@pytest.mark.docker
@pytest.mark.parametrize("step", ["attach_output", "import_layer", "load_image"])
def test_an_interrupted_builderless_build_leaves_nothing_behind(built, step):
    """Ctrl-C while the collected files stream out, once the layer is imported, or while the
    image loads: the collect container is gone when load_slim_image returns, and once the
    session is cleaned up no image carries the tag or the session's label."""
    adapter = Docker()
    tag = f"slimmer-test-df-interrupted:{uuid.uuid4().hex[:10]}"
    real = getattr(adapter, step)

    def interrupted(*args, **kwargs):
        result = real(*args, **kwargs)
        if step != "attach_output":   # the daemon has the layer, or the whole image: interrupt right after
            raise KeyboardInterrupt
        real_read, reads = result.read, []

        def read(*read_args):         # Ctrl-C while the collected tree streams out
            reads.append(1)
            if len(reads) > 3:
                raise KeyboardInterrupt
            return real_read(*read_args)
        result.read = read
        return result
    setattr(adapter, step, interrupted)
    adapter.track_image(tag)          # as the pipeline does with its work tag
    try:
        with pytest.raises(KeyboardInterrupt):
            load_slim_image(adapter, built["artifacts"], tag)
        left = docker("ps", "-a", "-q", "--filter", f"label=slimmer.session={adapter.session}").split()
        assert left == []
    finally:
        adapter.cleanup()
    assert subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode != 0
    assert docker("images", "-q", "--filter", f"label=slimmer.session={adapter.session}").split() == []
