"""imagefs: merging docker-save layers into one filesystem index."""
from __future__ import annotations

import hashlib
import io
import posixpath
import resource
import tarfile

import pytest

from imagetar import (char_device, dir_, fifo, file, hardlink, layer_tar, opaque, save_archive,
                      symlink, whiteout)
from slimmer.errors import BadInput
from slimmer.imagefs import (children, index_image, iter_layers, read_saved_image, walk,
                             bytes_by_top_dir)
from slimmer.model import EntryType

TRUE_BYTES = open("/bin/true", "rb").read()


def index_of(layers, **kwargs):
    return index_image(io.BytesIO(save_archive(layers, **kwargs)))


# Each case: layers, paths that must exist with (type, layer), paths that must not exist.
MERGE_CASES = {
    "whiteout deletes a file": (
        [[dir_("/etc"), file("/etc/a", b"1"), file("/etc/b", b"2")], [whiteout("/etc/a")]],
        {"/etc/b": (EntryType.FILE, 0), "/etc": (EntryType.DIR, 0)},
        ["/etc/a"],
    ),
    "whiteout deletes a directory and everything under it": (
        [[dir_("/var/lib/apt/lists"), file("/var/lib/apt/lists/x", b"xx"), file("/var/lib/apt/keep", b"k")],
         [whiteout("/var/lib/apt/lists")]],
        {"/var/lib/apt/keep": (EntryType.FILE, 0)},
        ["/var/lib/apt/lists", "/var/lib/apt/lists/x"],
    ),
    "whiteout does not touch the same layer's new entry": (
        [[file("/a", b"old")], [whiteout("/a"), file("/a", b"new")]],
        {"/a": (EntryType.FILE, 1)},
        [],
    ),
    "opaque dir hides lower children only": (
        [[dir_("/cache"), file("/cache/old1", b"1"), dir_("/cache/sub"), file("/cache/sub/old2", b"2")],
         [dir_("/cache"), opaque("/cache"), file("/cache/new", b"n")]],
        {"/cache": (EntryType.DIR, 1), "/cache/new": (EntryType.FILE, 1)},
        ["/cache/old1", "/cache/sub", "/cache/sub/old2"],
    ),
    "later layer overwrites a file": (
        [[file("/app/conf", b"v1")], [file("/app/conf", b"version2")]],
        {"/app/conf": (EntryType.FILE, 1)},
        [],
    ),
    "a file replacing a directory hides its subtree": (
        [[dir_("/x"), file("/x/inner", b"1")], [file("/x", b"now a file")]],
        {"/x": (EntryType.FILE, 1)},
        ["/x/inner"],
    ),
    "directory over directory keeps lower children": (
        [[dir_("/d", mode=0o700), file("/d/f", b"1")], [dir_("/d", mode=0o755)]],
        {"/d": (EntryType.DIR, 1), "/d/f": (EntryType.FILE, 0)},
        [],
    ),
    "implicit parents are added": (
        [[file("/opt/app/bin/run", b"#!/bin/sh\n")]],
        {"/opt": (EntryType.DIR, 0), "/opt/app": (EntryType.DIR, 0), "/opt/app/bin": (EntryType.DIR, 0),
         "/": (EntryType.DIR, 0)},
        [],
    ),
    "path traversal names stay inside the root": (
        [[file("raw:../../etc/evil", b"x"), file("raw:/abs/file", b"y"), file("raw:./a/../../b", b"z")]],
        {"/etc/evil": (EntryType.FILE, 0), "/abs/file": (EntryType.FILE, 0), "/b": (EntryType.FILE, 0)},
        [],
    ),
    "a whiteout with a traversal name stays inside the root": (
        [[file("/etc/shadow", b"s"), file("/keep", b"k")], [file("raw:../../etc/.wh.shadow")]],
        {"/keep": (EntryType.FILE, 0)},
        ["/etc/shadow"],
    ),
    "symlinks, devices and fifos are entries": (
        [[dir_("/usr/bin"), symlink("/bin", "usr/bin"), char_device("/dev/null"), fifo("/run/p")]],
        {"/bin": (EntryType.SYMLINK, 0), "/dev/null": (EntryType.CHAR, 0), "/run/p": (EntryType.FIFO, 0)},
        [],
    ),
    "deleted then re-added in a later layer": (
        [[file("/f", b"1")], [whiteout("/f")], [file("/f", b"3")]],
        {"/f": (EntryType.FILE, 2)},
        [],
    ),
}


@pytest.mark.parametrize("layers,present,absent", MERGE_CASES.values(), ids=MERGE_CASES.keys())
def test_merge(layers, present, absent):
    index = index_of(layers)
    for path, (kind, layer) in present.items():
        entry = index.get(path)
        assert entry is not None, path
        assert (entry.type, entry.layer) == (kind, layer), path
    for path in absent:
        assert path not in index, path
    for path in index.entries:   # every entry's parent exists: the index is a tree
        assert path == "/" or posixpath.dirname(path) in index, path
        assert path.startswith("/") and ".." not in path.split("/"), path


def test_entry_fields_are_kept():
    index = index_of([[dir_("/tmp", mode=0o1777), file("/usr/bin/su", b"data", mode=0o4755, uid=0, gid=5),
                       file("/home/u/notes", b"hello", mode=0o600, uid=1000, gid=1000)]])
    su = index.get("/usr/bin/su")
    assert (su.mode, su.uid, su.gid, su.size, su.mtime) == (0o4755, 0, 5, 4, 1_700_000_000)
    assert index.get("/tmp").mode == 0o1777
    notes = index.get("/home/u/notes")
    assert (notes.mode, notes.uid, notes.gid) == (0o600, 1000, 1000)
    implicit = index.get("/home/u")
    assert (implicit.type, implicit.mode, implicit.uid, implicit.gid) == (EntryType.DIR, 0o755, 0, 0)


def test_hardlink_carries_target_elf_and_shebang():
    index = index_of([[file("/usr/bin/true", TRUE_BYTES, mode=0o755), hardlink("/usr/bin/true2", "/usr/bin/true"),
                       file("/usr/bin/tool", b"#!/usr/bin/env python3 -u\nprint(1)\n", mode=0o755),
                       hardlink("/usr/local/bin/tool", "/usr/bin/tool")]])
    link = index.get("/usr/bin/true2")
    assert link.type is EntryType.HARDLINK
    assert link.link_target == "/usr/bin/true"
    assert link.elf is not None and link.elf.interpreter == index.get("/usr/bin/true").elf.interpreter
    assert link.size == len(TRUE_BYTES)
    tool = index.get("/usr/local/bin/tool")
    assert (tool.link_target, tool.shebang) == ("/usr/bin/tool", "/usr/bin/env python3 -u")


def test_elf_detection_uses_real_binary():
    index = index_of([[file("/bin/true", TRUE_BYTES, mode=0o755), file("/data.bin", b"\x7fELX" + b"\0" * 100),
                       file("/fake.elf", b"\x7fELF garbage")]])
    elf = index.get("/bin/true").elf
    assert elf is not None
    assert elf.elf_class == 64 and elf.machine == "EM_X86_64"
    assert elf.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert "libc.so.6" in elf.needed
    assert index.get("/data.bin").elf is None
    assert index.get("/fake.elf").elf is None    # magic but unreadable: not an ELF for us


SHEBANG_CASES = {
    "plain": (b"#!/bin/sh\necho hi\n", "/bin/sh"),
    "spaces and args": (b"#!  /usr/bin/env  node \r\n", "/usr/bin/env  node"),
    "no newline": (b"#!/bin/bash", "/bin/bash"),
    "capped at 256 bytes": (b"#!/" + b"x" * 400 + b"\n", "/" + "x" * 255),
    "not a script": (b"echo #!/bin/sh\n", None),
    "two bytes": (b"#!", ""),
}


@pytest.mark.parametrize("content,expected", SHEBANG_CASES.values(), ids=SHEBANG_CASES.keys())
def test_shebang(content, expected):
    index = index_of([[file("/s", content, mode=0o755)]])
    assert index.get("/s").shebang == expected


@pytest.mark.parametrize("layout,manifest_first", [("docker", False), ("docker", True), ("oci", False)])
def test_layer_order_follows_manifest_not_stream(layout, manifest_first):
    layers = [[file(f"/f{i}", b"x" * i), file("/same", str(i).encode())] for i in range(6)]
    archive = save_archive(layers, layout=layout, manifest_first=manifest_first,
                           created_by=[f"RUN {i}" for i in range(6)])
    saved = read_saved_image(io.BytesIO(archive))
    assert [layer.index for layer in saved.layers] == list(range(6))
    assert [layer.size_bytes for layer in saved.layers] == [i + 1 for i in range(6)]
    assert all(layer.digest.startswith("sha256:") for layer in saved.layers)
    assert saved.repo_tags == ("test/image:1",)
    assert [h["created_by"] for h in saved.history()] == [f"RUN {i}" for i in range(6)]
    index = index_image(io.BytesIO(archive))
    assert index.get("/same").layer == 5 and index.get("/f3").layer == 3


def test_per_layer_api_and_hashes():
    layers = [[file("/a", b"same"), file("/b", b"same"), hardlink("/c", "/a"), file("/empty")],
              [whiteout("/a"), opaque("/d")]]
    first, second = iter_layers(io.BytesIO(save_archive(layers)), hashes=True)
    same = hashlib.sha256(b"same").hexdigest()
    assert first.hashes == {"/a": same, "/b": same, "/c": same, "/empty": hashlib.sha256(b"").hexdigest()}
    assert first.size_bytes == 8            # the hardlink stores no bytes
    assert [e.path for e in first.entries] == ["/a", "/b", "/c", "/empty"]
    assert (second.whiteouts, second.opaque_dirs, second.entries) == (("/a",), ("/d",), ())
    plain = iter_layers(io.BytesIO(save_archive(layers)))
    assert plain[0].hashes is None


class _Zeros(io.RawIOBase):
    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def test_large_non_elf_file_is_not_read_into_memory(tmp_path):
    """A 192 MiB file streams through: peak RSS must not grow by anything like its size."""
    size = 192 << 20
    inner_path = tmp_path / "layer.tar"
    with tarfile.open(inner_path, mode="w") as tar:
        info = tarfile.TarInfo("srv/big.img")
        info.size = size
        tar.addfile(info, io.BufferedReader(_Zeros(size)))
    template = tarfile.open(fileobj=io.BytesIO(save_archive([[file("/placeholder")]])))
    archive_path = tmp_path / "image.tar"
    with tarfile.open(archive_path, mode="w") as out:
        for member in template.getmembers():
            if member.name.endswith("layer.tar"):
                member.size = inner_path.stat().st_size
                with open(inner_path, "rb") as layer:
                    out.addfile(member, layer)
            else:
                out.addfile(member, template.extractfile(member))
    inner_path.unlink()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with open(archive_path, "rb") as stream:
        index = index_image(stream)
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    big = index.get("/srv/big.img")
    assert (big.type, big.size, big.elf, big.shebang) == (EntryType.FILE, size, None, None)
    assert grown_kib < 32 * 1024


def test_children_and_walk():
    index = index_of([[dir_("/etc"), file("/etc/b"), file("/etc/a"), dir_("/etc/sub"), file("/etc/sub/c"),
                       file("/top")], [whiteout("/etc/b")]])
    assert [e.path for e in children(index, "/etc")] == ["/etc/a", "/etc/sub"]
    assert [e.path for e in children(index, "/")] == ["/etc", "/top"]
    assert children(index, "/nope") == []
    assert [e.path for e in walk(index, "/etc")] == ["/etc", "/etc/a", "/etc/sub", "/etc/sub/c"]


def test_bytes_by_top_dir_counts_hardlinks_once():
    index = index_of([[file("/usr/a", b"1234"), hardlink("/usr/b", "/usr/a"), file("/etc/c", b"12"),
                       file("/rootfile", b"1")]])
    assert bytes_by_top_dir(index) == {"/usr": 4, "/etc": 2, "/": 1}


BAD_INPUTS = {
    "not a tar": (b"this is not a tar archive" * 40, "not a docker save archive"),
    "no manifest": (layer_tar([file("/x", b"1")]), "no manifest.json"),
    "layer missing": (save_archive([[file("/a")], [file("/b")]], drop_layer=1), "lacks a layer"),
}


@pytest.mark.parametrize("data,message", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input(data, message):
    with pytest.raises(BadInput) as caught:
        index_image(io.BytesIO(data))
    assert message in caught.value.what
    assert caught.value.hint


def test_the_files_the_resolvers_and_keep_rules_read_are_captured_while_indexing():
    """What the keep stage would otherwise read one Docker API call each (0.1 s apiece):
    Node's package.json, a venv's pyvenv.cfg, .pth files, the NSS modules (ELF files too)."""
    package = b'{"name": "express", "main": "index.js"}'
    nss = TRUE_BYTES + b"_nss_files_getpwnam\0"
    index = index_of([[file("/usr/share/nodejs/express/package.json", package),
                       file("/opt/venv/pyvenv.cfg", b"home = /usr/bin\n"),
                       file("/opt/venv/lib/python3.11/site-packages/distutils-precedence.pth", b"import os\n"),
                       file("/usr/lib/x86_64-linux-gnu/libnss_files.so.2", nss),
                       file("/usr/lib/x86_64-linux-gnu/libz.so.1", TRUE_BYTES),
                       file("/srv/data.json", b"{}")]])
    contents = index.contents
    assert contents["/usr/share/nodejs/express/package.json"] == package
    assert contents["/opt/venv/pyvenv.cfg"] == b"home = /usr/bin\n"
    assert contents["/opt/venv/lib/python3.11/site-packages/distutils-precedence.pth"] == b"import os\n"
    assert contents["/usr/lib/x86_64-linux-gnu/libnss_files.so.2"] == nss
    assert index.get("/usr/lib/x86_64-linux-gnu/libnss_files.so.2").elf is not None     # still read as an ELF
    assert "/usr/lib/x86_64-linux-gnu/libz.so.1" not in contents         # other ELF files: no bytes kept
    assert "/srv/data.json" not in contents
