"""imagefs on a real image: debian:bookworm-slim through `docker save` (needs Docker; fails without)."""
from __future__ import annotations

import time

import pytest

from slimmer.docker_api import Docker
from slimmer.imagefs import children, index_image
from slimmer.model import EntryType

pytestmark = pytest.mark.docker

IMAGE = "debian:bookworm-slim"


def test_index_debian_bookworm_slim():
    docker = Docker()
    image_id = docker.inspect_image(IMAGE)["Id"]
    started = time.monotonic()
    index = index_image(docker.export_image(image_id))
    elapsed = time.monotonic() - started

    bash = index.get("/usr/bin/bash")
    assert bash.type is EntryType.FILE and bash.mode == 0o755
    assert bash.elf is not None and bash.elf.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert "libc.so.6" in bash.elf.needed
    assert index.get("/bin").type is EntryType.SYMLINK and index.get("/bin").link_target == "usr/bin"
    assert index.get("/lib64").link_target == "usr/lib64"
    passwd = index.get("/etc/passwd")
    assert passwd.type is EntryType.FILE and passwd.size > 0 and passwd.elf is None
    assert index.get("/tmp").mode == 0o1777
    assert index.get("/usr/bin/su").mode & 0o4000          # setuid survives
    assert index.get("/usr/bin/zcat").shebang == "/bin/sh"
    libc = index.get("/usr/lib/x86_64-linux-gnu/libc.so.6")
    assert libc.elf is not None and libc.elf.soname == "libc.so.6"
    assert {e.path for e in children(index, "/")} >= {"/etc", "/usr", "/var", "/bin", "/tmp"}
    assert len(index) > 3000
    # about 75 MB streamed in one pass: a generous bound that still catches a quadratic slip
    assert elapsed < 20, f"indexing took {elapsed:.1f}s"
    print(f"indexed {len(index)} entries of {IMAGE} in {elapsed:.2f}s")

    # its size (docs/BUILD.md): the content of its regular files (one layer: the merged view's),
    # known without a second docker save now that its layer was read; on overlay2 the API's
    # Size, the layer's disk usage, adds the symlinks' targets
    files = [e for e in index.entries.values() if e.type is EntryType.FILE]
    started = time.monotonic()
    assert docker.image_size(image_id) == sum(e.size for e in files)
    assert time.monotonic() - started < 1
    symlinks = sum(len(e.link_target.encode()) for e in index.entries.values() if e.type is EntryType.SYMLINK)
    assert int(docker.inspect_image(image_id)["Size"]) == sum(e.size for e in files) + symlinks


def test_a_second_index_of_the_same_image_reads_no_layer_tar(tmp_path, monkeypatch):
    """The layer cache (slimmer/imagefs/cache.py) in a directory of this test's own: the
    second index of an image opens no `docker save` stream and parses no layer tar, and
    gives the same index and the same image size."""
    from slimmer import imagefs
    docker = Docker()
    raw = docker.inspect_image(IMAGE)
    diff_ids = raw["RootFS"]["Layers"]
    cache = imagefs.LayerCache(str(tmp_path / "cache"))
    saves: list[str] = []
    layers_parsed: list[int] = []
    parse_layer = imagefs.saved.parse_layer

    def counted_parse(*args, **kwargs):
        layers_parsed.append(1)
        return parse_layer(*args, **kwargs)

    def open_save():
        saves.append(raw["Id"])
        return docker.export_image(raw["Id"])

    monkeypatch.setattr(imagefs.saved, "parse_layer", counted_parse)
    first = imagefs.index_image_cached(diff_ids, open_save, cache, image_id=raw["Id"])
    assert (len(saves), len(layers_parsed), first.from_cache) == (1, len(diff_ids), 0)
    assert cache.stats.writes == len(set(diff_ids))

    monkeypatch.setattr(imagefs.size, "_LAYER_CONTENT_BYTES", {})    # as in a new process
    second = imagefs.index_image_cached(diff_ids, open_save, cache, image_id=raw["Id"])
    assert (len(saves), len(layers_parsed)) == (1, len(diff_ids))     # no docker save, no layer tar read
    assert not second.save_read and second.from_cache == len(diff_ids)
    assert dict(second.index.entries) == dict(first.index.entries)
    assert dict(second.index.contents) == dict(first.index.contents)
    assert second.config == first.config and second.config["history"]     # the config's empty_layer flags too
    bash = second.index.get("/usr/bin/bash")
    assert bash.elf is not None and bash.elf.interpreter == "/lib64/ld-linux-x86-64.so.2"
    # the image's size comes with the cached layers: no docker save for it either
    files = sum(e.size for e in first.index.entries.values() if e.type is EntryType.FILE)
    assert imagefs.known_content_size(diff_ids, cache) == files
