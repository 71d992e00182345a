"""xray's reader: tar headers only (scan.py), OCI image layouts (layout.py), hashing only on size collisions."""
from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

import pytest

from imagetar import dir_, file, hardlink, opaque, save_archive, symlink, whiteout
from slimmer.errors import BadInput
from slimmer.imagefs import read_saved_image
from slimmer.xray import analyse, layer_instructions, read_image, to_json, xray_image
from slimmer.xray import scan
from slimmer.xray.scan import Blob, scan_layer

LONG = "/opt/" + "/".join(["a-rather-long-directory-name"] * 6) + "/file.txt"     # > 100 bytes: pax or GNU
LAYERS = [
    [dir_("/etc"), file("/etc/a", b"a" * 100, mode=0o4755, uid=7, gid=8), file("/usr/bin/tool", b"T" * 1000),
     file("/data/big", b"b" * 5000), dir_("/cache"), file("/cache/x", b"x" * 300), file(LONG, b"L" * 77),
     symlink("/usr/bin/alias", "tool"), hardlink("/usr/bin/tool2", "/usr/bin/tool")],
    [file("/etc/a", b"A" * 150), whiteout("/data/big"), opaque("/cache"), file("/cache/z", b"z" * 30),
     file("/empty")],
    [file("/opt/copy1", b"T" * 1000), file("/opt/copy2", b"T" * 1000), file("/opt/other", b"U" * 1000)],
]
STEPS = ["ADD rootfs.tar /", "RUN edit", "COPY copies /opt/"]


def _fields(layer):
    return ([(e.path, e.type, e.mode, e.uid, e.gid, e.size, e.link_target, e.layer, e.mtime) for e in layer.entries],
            layer.whiteouts, layer.opaque_dirs, layer.digest)


def _blob_of(data: bytes, tmp_path, codec="tar") -> Blob:
    path = tmp_path / f"blob-{hashlib.sha256(data).hexdigest()[:12]}"
    path.write_bytes(data)
    return Blob(open(path, "rb", buffering=0), 0, len(data), codec, path.name)


@pytest.mark.parametrize("tar_format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT, tarfile.USTAR_FORMAT])
def test_header_scan_reads_what_imagefs_reads(tmp_path, tar_format):
    """Every entry field, whiteout and opaque dir alike, in pax, GNU and ustar (prefix) tars."""
    items = LAYERS[0] + LAYERS[1]
    if tar_format == tarfile.USTAR_FORMAT:     # ustar: a long path goes in the prefix field
        items = [i for i in items if i.info.name != LONG.lstrip("/")] + [file("/p/" + "d" * 90 + "/f", b"p")]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tar_format) as tar:
        for item in items:
            tar.addfile(item.info, io.BytesIO(item.data) if item.info.isreg() else None)
    expected = read_saved_image(io.BytesIO(_with_layer(buffer.getvalue()))).layers[0]
    scanned = scan_layer(_blob_of(buffer.getvalue(), tmp_path), 0, expected.digest)
    assert _fields(scanned.files) == _fields(expected)
    assert len(expected.entries) == len(items) - 2       # the whiteout and the opaque marker are not entries
    long = "/p/" + "d" * 90 + "/f" if tar_format == tarfile.USTAR_FORMAT else LONG
    assert long in [e.path for e in scanned.files.entries]


def _with_layer(layer: bytes) -> bytes:
    """A docker save archive whose one layer is the tar LAYER, given as is."""
    config = json.dumps({"rootfs": {"diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]},
                         "history": [{"created_by": "ADD x /"}]}).encode()
    members = [("l/layer.tar", layer), ("c.json", config),
               ("manifest.json", json.dumps([{"Config": "c.json", "Layers": ["l/layer.tar"]}]).encode())]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize("layout,compression", [("docker", "none"), ("oci", "none"), ("oci", "gzip"),
                                                ("oci", "zstd")])
def test_docker_archive_report_equals_the_imagefs_report(tmp_path, layout, compression):
    archive = save_archive(LAYERS, created_by=STEPS, layout=layout, compression=compression)
    path = tmp_path / "image.tar"
    path.write_bytes(archive)
    report = xray_image(None, f"docker-archive:{path}")
    saved = read_image(io.BytesIO(archive))
    expected = analyse(saved.layers, layer_instructions(saved), image=report.image, image_id=report.image_id)
    ours, theirs = to_json(report), to_json(expected)
    assert ours.pop("duplicates_hashed") == {"files": 4, "bytes": 4000}      # the four 1000-byte files
    theirs.pop("duplicates_hashed")
    assert ours == theirs
    assert [d.paths for d in report.duplicates] == [("/opt/copy1", "/opt/copy2", "/usr/bin/tool")]


def test_only_files_whose_size_collides_are_hashed(tmp_path, monkeypatch):
    """Unique sizes are never read: 3 files share 1000 bytes (2 identical), the rest have sizes of their own."""
    opened = []

    class CountingHashlib:
        @staticmethod
        def sha256(*args):
            opened.append(args)
            return hashlib.sha256(*args)
    monkeypatch.setattr(scan, "hashlib", CountingHashlib)
    layers = [[file(f"/unique/{n}", b"u" * (n + 1)) for n in range(50)] +
              [file("/same/a", b"S" * 4000), file("/same/b", b"S" * 4000), file("/same/c", b"D" * 4000)]]
    path = tmp_path / "image.tar"
    path.write_bytes(save_archive(layers))
    report = xray_image(None, f"docker-archive:{path}")
    assert (report.hashed_files, report.hashed_bytes) == (3, 12000)
    assert len(opened) == 3
    assert [(d.paths, d.wasted_bytes) for d in report.duplicates] == [(("/same/a", "/same/b"), 4000)]
    opened.clear()
    report = xray_image(None, f"docker-archive:{path}", duplicates=False)
    assert (report.hashed_files, report.duplicates, opened) == (0, (), [])


# --- OCI image layouts ---------------------------------------------------------------------------------

def oci_dir(tmp_path, archive: bytes, keep_manifest: bool = False):
    """An OCI image layout directory: the OCI part of a Docker 25+ save (manifest.json dropped)."""
    target = tmp_path / "layout"
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target)
    if not keep_manifest:
        os.remove(target / "manifest.json")
    return target


@pytest.mark.parametrize("compression", ["none", "gzip", "zstd"])
def test_oci_layout_directory(tmp_path, compression):
    archive = save_archive(LAYERS, created_by=STEPS, layout="oci", compression=compression)
    layout = oci_dir(tmp_path, archive)
    assert sorted(os.listdir(layout)) == ["blobs", "index.json", "oci-layout"]
    (tmp_path / "image.tar").write_bytes(archive)
    expected = to_json(xray_image(None, f"docker-archive:{tmp_path / 'image.tar'}"))
    for reference in (f"oci:{layout}", str(layout), f"oci:{layout}:test/image:1"):
        report = xray_image(None, reference)
        got = to_json(report)
        assert got["image"] == reference
        got["image"] = expected["image"]
        assert got == expected
        assert [l.created_by for l in report.layers] == STEPS


def test_oci_archive_is_an_oci_layout_in_a_tar(tmp_path):
    archive = save_archive(LAYERS, created_by=STEPS, layout="oci", compression="gzip")
    layout = oci_dir(tmp_path, archive)
    path = tmp_path / "oci.tar"
    with tarfile.open(path, "w") as tar:
        for name in ("oci-layout", "index.json", "blobs"):
            tar.add(layout / name, arcname=name)
    report = xray_image(None, f"oci-archive:{path}")
    assert (report.size_bytes, len(report.layers)) == (sum(l.size_bytes for l in report.layers), 3)
    assert (report.layers[1].deleted.count, report.layers[1].deleted.bytes) == (2, 5300)   # /data/big, /cache/x


def test_oci_layout_picks_a_manifest_by_reference_and_platform(tmp_path):
    archive = save_archive(LAYERS, created_by=STEPS, layout="oci")
    layout = oci_dir(tmp_path, archive)
    index = json.loads((layout / "index.json").read_text())
    only = index["manifests"][0]
    amd64 = {**only, "platform": {"os": "linux", "architecture": "amd64"}, "annotations": {}}
    other = {**only, "digest": "sha256:" + "0" * 64, "platform": {"os": "linux", "architecture": "arm64"},
             "annotations": {"org.opencontainers.image.ref.name": "arm"}}
    (layout / "index.json").write_text(json.dumps({**index, "manifests": [other, amd64]}))
    assert len(xray_image(None, f"oci:{layout}").layers) == 3          # linux/amd64
    with pytest.raises(BadInput, match="lacks a blob"):
        xray_image(None, f"oci:{layout}:arm")                         # its manifest blob is not there
    with pytest.raises(BadInput, match="(?s)no image with this reference.*references there: arm"):
        xray_image(None, f"oci:{layout}:nope")


def test_oci_layout_errors(tmp_path):
    with pytest.raises(BadInput, match="not an OCI image layout"):
        xray_image(None, f"oci:{tmp_path}")
    archive = save_archive(LAYERS, created_by=STEPS, layout="oci")
    layout = oci_dir(tmp_path, archive)
    manifest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"].split(":")[1]
    layers = json.loads((layout / "blobs" / "sha256" / manifest).read_text())["layers"]
    os.remove(layout / "blobs" / "sha256" / layers[1]["digest"].split(":")[1])
    with pytest.raises(BadInput, match="(?s)lacks a layer blob.*layer 1"):
        xray_image(None, f"oci:{layout}")


def test_truncated_archive_is_an_error(tmp_path):
    archive = save_archive(LAYERS, created_by=STEPS)
    path = tmp_path / "cut.tar"
    path.write_bytes(archive[:len(archive) // 2])
    with pytest.raises(BadInput):
        xray_image(None, f"docker-archive:{path}")


def test_header_scan_reads_base256_numbers_and_global_pax_headers(tmp_path):
    """GNU base-256 (a uid past 8**7, an mtime before 1970) and a pax 'g' header, as imagefs reads them."""
    items = [file("/big-owner", b"x" * 10, uid=3_000_000, gid=2_500_000), dir_("/d"), file("/d/f", b"y")]
    items[2].info.mtime = -86400
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for item in items:
            tar.addfile(item.info, io.BytesIO(item.data) if item.info.isreg() else None)
    expected = read_saved_image(io.BytesIO(_with_layer(buffer.getvalue()))).layers[0]
    scanned = scan_layer(_blob_of(buffer.getvalue(), tmp_path), 0, expected.digest)
    assert _fields(scanned.files) == _fields(expected)
    assert [(e.uid, e.gid, e.mtime) for e in scanned.files.entries][0::2] == [(3_000_000, 2_500_000, 1700000000),
                                                                                (0, 0, -86400)]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT,
                      pax_headers={"comment": "global header first"}) as tar:
        for item in items:
            tar.addfile(item.info, io.BytesIO(item.data) if item.info.isreg() else None)
    assert buffer.getvalue()[156:157] == b"g"
    expected = read_saved_image(io.BytesIO(_with_layer(buffer.getvalue()))).layers[0]
    scanned = scan_layer(_blob_of(buffer.getvalue(), tmp_path), 0, expected.digest)
    assert _fields(scanned.files) == _fields(expected)
