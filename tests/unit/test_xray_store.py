"""Reading a layer from Docker's layer store (slimmer/layerstore.py, slimmer/xray/store.py),
without Docker.

Each test writes a real layer tar with tarfile, then what Docker keeps of it: a
tar-split.json.gz (raw segments and file entries, one JSON object a line, as Go's
encoding/json writes them) and the diff directory holding the files' data. Reading
the store must see exactly what reading the tar itself sees.
"""
from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from imagetar import dir_, file, hardlink, layer_tar, opaque, save_archive, symlink, whiteout
from slimmer.errors import BadInput
from slimmer import layerstore as store
from slimmer.xray import render_text, to_json, xray_image
from slimmer.xray.read import _analysed
from slimmer.xray.scan import Blob, _Positioned, hash_files, members, scan_layer
from slimmer.xray.store import StoredLayer, StoreUnusable, chain_ids, store_layout

LONG = "/opt/" + "/".join(["a-rather-long-directory-name"] * 6) + "/file.txt"     # > 100 bytes: pax or GNU
LAYERS = [
    [dir_("/etc"), file("/etc/a", b"a" * 100, mode=0o4755, uid=7, gid=8), file("/usr/bin/tool", b"T" * 1000),
     file("/data/big", b"b" * 5000), dir_("/cache"), file("/cache/x", b"x" * 300), file(LONG, b"L" * 77),
     symlink("/usr/bin/alias", "tool"), hardlink("/usr/bin/tool2", "/usr/bin/tool"),
     file('/odd/we"ird <name>&', b"q" * 1000), file("/odd/caf\u00e9", b"c" * 1000)],
    [file("/etc/a", b"A" * 150), whiteout("/data/big"), opaque("/cache"), file("/cache/z", b"z" * 30),
     file("/empty")],
    [file("/opt/copy1", b"T" * 1000), file("/opt/copy2", b"T" * 1000), file("/opt/other", b"U" * 1000)],
]
STEPS = ["ADD rootfs.tar /", "RUN edit", "COPY copies /opt/"]


def _line(entry: dict) -> bytes:
    return json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"


def write_tar_split(tar: bytes, tar_split: str, diff_dir: str | None, segment_max: int = 0) -> None:
    """TAR's tar-split at TAR_SPLIT and its files' data under DIFF_DIR (None: no data written).

    As tar-split writes it: a type 2 segment for the bytes up to a member's data (its
    headers, and the padding of the data before), a type 1 entry per member ("size"
    only when not 0, a non-UTF-8 name base64 in "name_raw"), a last segment with the
    end blocks. SEGMENT_MAX > 0 cuts segments into pieces that long (reads across them)."""
    lines, position, at = [], 0, 0

    def segment(data: bytes):
        nonlocal position
        step = segment_max or max(len(data), 1)
        for start in range(0, len(data), step):
            lines.append(_line({"type": 2, "payload": base64.b64encode(data[start:start + step]).decode(),
                                "position": position}))
            position += 1
    with tarfile.open(fileobj=io.BytesIO(tar), mode="r", encoding="utf-8", errors="surrogateescape") as archive:
        for member in archive:
            segment(tar[at:member.offset_data])
            at = member.offset_data
            raw = member.name.encode("utf-8", "surrogateescape")
            entry = {"type": 1, "name": raw.decode("utf-8", "replace")}
            if raw != entry["name"].encode():
                entry["name_raw"] = base64.b64encode(raw).decode()
            if member.isreg() and member.size:
                entry["size"] = member.size
                data = tar[at:at + member.size]
                at += member.size
                if diff_dir is not None:
                    path = os.path.join(os.fsencode(diff_dir), raw)
                    os.makedirs(os.path.dirname(path), exist_ok=True)
                    with open(path, "wb") as handle:
                        handle.write(data)
            entry.update(payload=None, position=position)
            lines.append(_line(entry))
            position += 1
    segment(tar[at:])
    with gzip.open(tar_split, "wb") as handle:
        handle.writelines(lines)


def _stored(tmp_path, tar: bytes, name: str = "layer", with_data: bool = True, segment_max: int = 0) -> StoredLayer:
    diff_dir = tmp_path / name / "diff"
    diff_dir.mkdir(parents=True)
    tar_split = str(tmp_path / name / "tar-split.json.gz")
    write_tar_split(tar, tar_split, str(diff_dir) if with_data else None, segment_max)
    return StoredLayer(tar_split, str(diff_dir), name)


def _blob(tmp_path, tar: bytes, name: str = "layer.tar") -> Blob:
    path = tmp_path / name
    path.write_bytes(tar)
    return Blob(open(path, "rb", buffering=0), 0, len(tar), "tar", name)


def _tar(items, tar_format=tarfile.PAX_FORMAT) -> bytes:
    if tar_format == tarfile.PAX_FORMAT:
        return layer_tar(items)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as tar:
        for item in items:
            tar.addfile(item.info, io.BytesIO(item.data) if item.info.isreg() else None)
    return buffer.getvalue()


def _fields(layer):
    return ([(e.path, e.type, e.mode, e.uid, e.gid, e.size, e.link_target, e.layer, e.mtime) for e in layer.entries],
            layer.whiteouts, layer.opaque_dirs)


@pytest.mark.parametrize("tar_format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
@pytest.mark.parametrize("segment_max", [0, 1, 300])
def test_tar_split_gives_the_tar_members(tmp_path, tar_format, segment_max):
    """Every member, at the same position of the tar, from segments cut anywhere."""
    tar = _tar(LAYERS[0] + LAYERS[1], tar_format)
    ours = [vars(m) for m in members(_stored(tmp_path, tar, segment_max=segment_max).source())]
    blob = _blob(tmp_path, tar)
    theirs = [vars(m) for m in members(_Positioned(blob))]
    assert ours == theirs
    assert len(ours) == len(LAYERS[0] + LAYERS[1])


def test_scanning_reads_no_file_data(tmp_path, monkeypatch):
    """The headers come from the tar-split alone: the diff directory may even be empty."""
    opened = []
    monkeypatch.setattr(store.os, "open", lambda *args: opened.append(args))
    tar = _tar(LAYERS[0])
    scanned = scan_layer(_stored(tmp_path, tar, with_data=False), 0, "sha256:x")
    expected = scan_layer(_blob(tmp_path, tar), 0, "sha256:x")
    assert _fields(scanned.files) == _fields(expected.files)
    assert opened == []


def test_hashes_read_the_diff_directory(tmp_path):
    """hash_files reads each wanted file from the diff directory: the digests of the tar's bytes."""
    tars = [_tar(items) for items in LAYERS]
    stored = {i: scan_layer(_stored(tmp_path, tar, f"l{i}", segment_max=700), i, "") for i, tar in enumerate(tars)}
    saved = {i: scan_layer(_blob(tmp_path, tar, f"l{i}.tar"), i, "") for i, tar in enumerate(tars)}
    wanted = [e for layer in stored.values() for e in layer.files.entries if e.size]
    digests = hash_files(stored, wanted)
    assert digests == hash_files(saved, wanted)
    by_path = dict(zip([e.path for e in wanted], digests))
    assert by_path["/odd/caf\u00e9"] == hashlib.sha256(b"c" * 1000).digest()
    assert by_path['/odd/we"ird <name>&'] == hashlib.sha256(b"q" * 1000).digest()


def test_a_name_that_is_not_utf8_comes_from_name_raw(tmp_path):
    name = "bin/caf\udce9"                           # byte 0xe9: Latin-1, not UTF-8
    item = file("/" + name, b"n" * 64)
    tar = _tar([item], tarfile.GNU_FORMAT)
    layer = _stored(tmp_path, tar)
    assert b"name_raw" in gzip.open(layer.tar_split).read()
    scanned = scan_layer(layer, 0, "")
    assert hash_files({0: scanned}, list(scanned.files.entries)) == [hashlib.sha256(b"n" * 64).digest()]


def test_a_file_of_another_size_is_an_error(tmp_path):
    tar = _tar([file("/etc/a", b"a" * 100), file("/etc/b", b"b" * 100)])
    layer = _stored(tmp_path, tar)
    (tmp_path / "layer" / "diff" / "etc" / "b").write_bytes(b"b" * 99)
    scanned = scan_layer(layer, 0, "")                   # the headers do not need the data
    with pytest.raises(BadInput) as caught:
        hash_files({0: scanned}, list(scanned.files.entries))
    assert isinstance(caught.value, StoreUnusable)
    message = caught.value.message
    assert "does not have the size its tar-split says" in message and "etc/b: 99 bytes, tar-split 100" in message
    assert "--read save" in message


def test_a_missing_file_is_an_error(tmp_path):
    layer = _stored(tmp_path, _tar([file("/etc/a", b"a" * 100)]), with_data=False)
    scanned = scan_layer(layer, 0, "")
    with pytest.raises(StoreUnusable, match="a file of the layer store cannot be read: .*etc/a"):
        hash_files({0: scanned}, list(scanned.files.entries))


def test_a_damaged_tar_split_is_an_error(tmp_path):
    layer = _stored(tmp_path, _tar([file("/etc/a", b"a" * 100)]))
    with open(layer.tar_split, "r+b") as handle:
        handle.truncate(30)
    with pytest.raises(StoreUnusable, match="a layer's tar-split cannot be read"):
        scan_layer(layer, 0, "")


def test_a_name_outside_the_layer_is_refused(tmp_path):
    tar = _tar([file("/etc/a", b"a" * 100)])
    layer = _stored(tmp_path, tar)
    text = gzip.open(layer.tar_split).read().replace(b'"name":"etc/a"', b'"name":"../../etc/a"')
    with gzip.open(layer.tar_split, "wb") as handle:
        handle.write(text)
    scanned = scan_layer(layer, 0, "")
    with pytest.raises(StoreUnusable, match="names a file outside its layer"):
        hash_files({0: scanned}, list(scanned.files.entries))


# --- a whole layer store -------------------------------------------------------------

def write_store(root, layers, created_by) -> str:
    """A Docker root dir holding one image of LAYERS (overlay2); returns the image id."""
    tars = [layer_tar(items) for items in layers]
    diff_ids = ["sha256:" + hashlib.sha256(tar).hexdigest() for tar in tars]
    for number, (tar, chain_id) in enumerate(zip(tars, chain_ids(diff_ids))):
        layer_dir = root / "image" / "overlay2" / "layerdb" / "sha256" / chain_id.split(":")[1]
        layer_dir.mkdir(parents=True)
        (layer_dir / "diff").write_text(diff_ids[number])
        (layer_dir / "cache-id").write_text(f"cache{number}")
        diff_dir = root / "overlay2" / f"cache{number}" / "diff"
        diff_dir.mkdir(parents=True)
        write_tar_split(tar, str(layer_dir / "tar-split.json.gz"), str(diff_dir))
    config = {"architecture": "amd64", "os": "linux", "config": {},
              "rootfs": {"type": "layers", "diff_ids": diff_ids},
              "history": [{"created_by": f"/bin/sh -c #(nop) {step}" if not step.startswith("RUN")
                           else f"/bin/sh -c {step[4:]}"} for step in created_by]}
    raw = json.dumps(config).encode()
    image_hex = hashlib.sha256(raw).hexdigest()
    content = root / "image" / "overlay2" / "imagedb" / "content" / "sha256"
    content.mkdir(parents=True)
    (content / image_hex).write_bytes(raw)
    return "sha256:" + image_hex


def test_chain_ids():
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_ids([a, b]) == [a, "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()]


def test_the_store_report_equals_the_archive_report(tmp_path):
    image_id = write_store(tmp_path / "docker", LAYERS, STEPS)
    layout = store_layout(str(tmp_path / "docker"), image_id)
    assert [layer.diff_dir for layer in layout.layers] == [
        str(tmp_path / "docker" / "overlay2" / f"cache{n}" / "diff") for n in range(3)]
    ours = to_json(_analysed(layout, "test/image:1", True, image_id=image_id, base_image=""))
    (tmp_path / "image.tar").write_bytes(save_archive(LAYERS, created_by=STEPS))
    theirs = to_json(xray_image(None, f"docker-archive:{tmp_path / 'image.tar'}"))
    for data in (ours, theirs):
        data.pop("image"), data.pop("id")
    assert ours == theirs
    assert ours["duplicates_hashed"]["files"] > 0


def test_what_makes_the_store_unusable(tmp_path):
    root = tmp_path / "docker"
    image_id = write_store(root, LAYERS[:2], STEPS[:2])
    with pytest.raises(StoreUnusable, match="storage driver is not overlay2: overlayfs"):
        store_layout(str(root), image_id, driver="overlayfs")
    with pytest.raises(StoreUnusable, match="the image config is missing from the layer store: .*imagedb"):
        store_layout(str(tmp_path / "elsewhere"), image_id)
    content = root / "image" / "overlay2" / "imagedb" / "content" / "sha256"
    os.link(content / image_id.split(":")[1], content / ("0" * 64))
    with pytest.raises(StoreUnusable, match="another image config under this id: .*/sha256/0000"):
        store_layout(str(root), "sha256:" + "0" * 64)
    layer_dirs = sorted((root / "image" / "overlay2" / "layerdb" / "sha256").iterdir())
    split = next(d for d in layer_dirs) / "tar-split.json.gz"
    split.rename(split.with_suffix(".gone"))
    with pytest.raises(StoreUnusable) as caught:
        store_layout(str(root), image_id)
    assert "tar-split is missing from the layer store" in caught.value.message
    assert "next step: read the image through docker save instead: slim xray --read save IMAGE" in caught.value.message


# --- xray_image: the store first, docker save when the store cannot be read ---------------

class StoreDocker:
    """What xray_image asks of Docker: one image, its `docker save`, where its store is."""

    def __init__(self, root, image_id: str, archive: bytes, *, local: bool = True, driver: str = "overlay2"):
        self.root, self.image_id, self.archive, self.local, self.driver = str(root), image_id, archive, local, driver
        self.saved = 0

    def inspect_image(self, reference: str) -> dict:
        return {"Id": self.image_id, "RepoTags": ["test/image:1"], "Os": "linux", "Architecture": "amd64",
                "Config": {}, "RootFS": {"Type": "layers", "Layers": []}, "GraphDriver": {"Name": self.driver}}

    def image_history(self, image_id: str) -> list[dict]:
        return [{"CreatedBy": step, "Size": 1} for step in reversed(STEPS)]

    def export_image(self, image_id: str):
        self.saved += 1
        return io.BytesIO(self.archive)

    def is_local(self) -> bool:
        return self.local

    def storage(self) -> tuple[str, str]:
        return self.root, self.driver


def _figures(report) -> dict:
    data = to_json(report, tree_limit=0)
    return {key: data[key] for key in ("size_bytes", "reclaimable_bytes", "file_count", "largest", "duplicates",
                                       "duplicates_hashed")} | {"layers": [
        (l["size_bytes"], l["added"], l["modified"], l["deleted"], l["tree"]) for l in data["layers"]]}


@pytest.mark.parametrize("local,driver,root,reads,why", [
    (True, "overlay2", "docker", "layer store", None),
    (False, "overlay2", "docker", "docker save", "not on this host"),    # DOCKER_HOST=tcp://...
    (True, "overlayfs", "docker", "docker save", "not overlay2: overlayfs"),     # Docker 26's containerd store
    (True, "overlay2", "elsewhere", "docker save", "missing from the layer store"),   # e.g. a daemon in a VM
])
def test_auto_reads_the_store_when_it_can(tmp_path, monkeypatch, local, driver, root, reads, why):
    image_id = write_store(tmp_path / "docker", LAYERS, STEPS)
    monkeypatch.setenv("SLIMMER_DOCKER_ROOT", str(tmp_path / root))
    docker = StoreDocker(tmp_path / "docker", image_id, save_archive(LAYERS, created_by=STEPS),
                         local=local, driver=driver)
    report = xray_image(docker, "test/image:1")
    assert (report.read, docker.saved) == (reads, 0 if reads == "layer store" else 1)
    assert to_json(report)["read"] == reads
    assert render_text(report).splitlines()[0].endswith(f"(read from the {reads})")
    assert _figures(report) == _figures(xray_image(docker, "test/image:1", read="save"))
    if why is not None:
        with pytest.raises(StoreUnusable) as caught:
            xray_image(docker, "test/image:1", read="store")
        assert caught.value.exit_code == 2
        assert why in caught.value.message and "slim xray --read save IMAGE" in caught.value.message


def test_a_store_that_is_not_readable_names_the_permission(tmp_path, monkeypatch):
    image_id = write_store(tmp_path / "docker", LAYERS, STEPS)

    def refused(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", path)
    monkeypatch.setattr(store, "open", refused, raising=False)
    with pytest.raises(StoreUnusable) as caught:
        store_layout(str(tmp_path / "docker"), image_id)
    assert "the image config is not readable (permission denied)" in caught.value.message
    assert "run as root on the daemon's host" in caught.value.message and "--read save" in caught.value.message
