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
