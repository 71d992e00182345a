"""The index stage (slimmer/index.py) reads an image from Docker's layer store when it can,
and through `docker save` when it cannot or when the store fails on the way: the same index
either way. A layer store on disk written by tests/unit/test_xray_store.py's write_store."""
from __future__ import annotations

import io
import os
from dataclasses import dataclass

import pytest

from imagetar import save_archive
from slimmer import imagefs
from slimmer.layerstore import locate_image, saved_image_stream
from slimmer.index import read_index
from tests.unit.test_xray_store import LAYERS, STEPS, StoreDocker, write_store


@dataclass(frozen=True)
class _Layer:
    digest: str


@dataclass(frozen=True)
class _Image:
    id: str
    layers: tuple
    repo_tags: tuple = ("test/image:1",)


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("SLIMMER_CACHE_DIR", "off")
    root = tmp_path / "docker"
    image_id = write_store(root, LAYERS, STEPS)
    archive = save_archive(LAYERS, created_by=STEPS)
    stored = locate_image(str(root), image_id)
    image = _Image(image_id, tuple(_Layer(d) for d in stored.diff_ids))
    return root, image, StoreDocker(root, image_id, archive)


def _same(a: imagefs.IndexRead, b: imagefs.IndexRead) -> None:
    assert dict(a.index.entries) == dict(b.index.entries)
    assert dict(a.index.contents) == dict(b.index.contents)


def test_the_store_gives_the_index_docker_save_gives(store, monkeypatch):
    root, image, docker = store
    from_store = read_index(docker, image)
    assert from_store.source == "layer store" and docker.saved == 0
    monkeypatch.setenv("SLIMMER_READ", "save")
    from_save = read_index(docker, image)
    assert from_save.source == "docker save" and docker.saved == 1
    _same(from_store, from_save)
    assert len(from_store.index) > 10


def test_the_assembled_stream_is_docker_saves_layer_for_layer(store):
    """Each layer tar byte for byte: the sha256 of every assembled layer is its diff_id."""
    root, image, _ = store
    stored = locate_image(str(root), image.id)
    import hashlib
    import tarfile
    with tarfile.open(fileobj=saved_image_stream(stored), mode="r|") as archive:
        digests = {member.name: "sha256:" + hashlib.sha256(archive.extractfile(member).read()).hexdigest()
                   for member in archive if member.name.endswith("/layer.tar")}
    assert sorted(digests.values()) == sorted(stored.diff_ids)
    assert all(name == digest.split(":")[1] + "/layer.tar" for name, digest in digests.items())


def test_a_store_that_changed_under_us_falls_back_to_docker_save(store, monkeypatch):
    """A file of the same size with other bytes: the layer's sha256 is not its diff_id."""
    root, image, docker = store
    changed = root / "overlay2" / "cache1" / "diff" / "etc" / "a"
    changed.write_bytes(b"B" * os.path.getsize(changed))
    read = read_index(docker, image)
    assert read.source == "docker save" and docker.saved == 1
    monkeypatch.setenv("SLIMMER_READ", "save")
    _same(read, read_index(docker, image))


@pytest.mark.parametrize("local, driver", [(False, "overlay2"), (True, "overlayfs")])
def test_no_usable_store_reads_docker_save(store, local, driver):
    root, image, _ = store
    docker = StoreDocker(root, image.id, save_archive(LAYERS, created_by=STEPS), local=local, driver=driver)
    read = read_index(docker, image)
    assert read.source == "docker save" and docker.saved == 1


def test_a_warm_layer_cache_reads_nothing(store, tmp_path, monkeypatch):
    root, image, docker = store
    monkeypatch.setenv("SLIMMER_CACHE_DIR", str(tmp_path / "cache"))
    first = read_index(docker, image)
    assert first.source == "layer store"
    again = read_index(docker, image)
    assert again.source == "layer cache" and docker.saved == 0
    _same(first, again)


class _Fallback:
    def __init__(self):
        self.asked: list[str] = []
        self.closed = False

    def __call__(self, path: str):
        self.asked.append(path)
        return b"from a container"

    def close(self) -> None:
        self.closed = True


def test_the_keep_stage_reads_files_from_the_layer_that_wrote_them(store):
    from slimmer.index import StoreFileReader
    root, image, docker = store
    index = read_index(docker, image).index
    fallback = _Fallback()
    reader = StoreFileReader(locate_image(str(root), image.id), index, fallback)
    layer0 = root / "overlay2" / "cache0" / "diff" / "usr" / "bin"
    os.link(layer0 / "tool", layer0 / "tool2")              # as Docker's diff dir holds a hardlink
    assert reader("/etc/a") == b"A" * 150                   # layer 1's version, not layer 0's
    assert reader("/usr/bin/tool2") == b"T" * 1000           # a hardlink: the same file
    assert reader("/opt/copy1") == b"T" * 1000
    assert fallback.asked == []
    assert reader("/data/big") == b"from a container"        # deleted by a whiteout: not in the index
    assert reader("/etc") == b"from a container"             # not a file
    changed = root / "overlay2" / "cache2" / "diff" / "opt" / "other"
    changed.write_bytes(b"short")                            # the store no longer matches the index
    assert reader("/opt/other") == b"from a container"
    assert fallback.asked == ["/data/big", "/etc", "/opt/other"]
    reader.close()
    assert fallback.closed
