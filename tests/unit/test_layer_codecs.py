"""Compressed layers (the containerd image store's docker save) and an image's content size.

Each archive is crafted with tests/unit/imagetar.py in Docker 25's OCI layout:
layer blobs compressed with gzip or zstd, the OCI manifest declaring their media
types, the manifest blob before, among or after the layer blobs.
"""
from __future__ import annotations

import io

import pytest

from slimmer import imagefs, xray
from slimmer.errors import BadInput
from slimmer.imagefs import content_size, index_image, known_content_size, read_saved_image, saved_content_size
from tests.unit.imagetar import (compress, dir_, file, hardlink, layer_bytes, layer_tar, save_archive,
                                 symlink, whiteout)

BASH = b"\x7fELF" + b"\0" * 60          # not a valid ELF: indexed as a file, no ElfInfo
LAYERS = [
    [dir_("/usr"), dir_("/usr/bin"), file("/usr/bin/tool", b"#!/bin/sh\necho hi\n" * 40, mode=0o755),
     file("/usr/bin/big", bytes(range(256)) * 400), hardlink("/usr/bin/big2", "/usr/bin/big"),
     symlink("/usr/bin/sh", "tool")],
    [dir_("/etc"), file("/etc/app.conf", b"x = 1\n" * 100), whiteout("/usr/bin/big2")],
    [dir_("/srv"), file("/srv/data", b"0123456789" * 3000), file("/etc/app.conf", b"x = 2\n")],
]
CREATED_BY = ["ADD rootfs /", "RUN configure", "COPY data /srv"]


def listing(archive: bytes) -> dict:
    index = index_image(io.BytesIO(archive))
    return {path: (e.type, e.mode, e.uid, e.gid, e.size, e.link_target, e.layer, e.shebang)
            for path, e in index.entries.items()}


PLAIN = listing(save_archive(LAYERS, CREATED_BY, layout="oci"))


@pytest.mark.parametrize("compression", ["gzip", "zstd", "zstd-frames", ["zstd", "none", "gzip"]])
@pytest.mark.parametrize("manifest", ["sorted", "first", "last"])
def test_compressed_layers_index_like_plain_ones(compression, manifest):
    archive = save_archive(LAYERS, CREATED_BY, layout="oci", compression=compression, oci_manifest=manifest)
    assert listing(archive) == PLAIN
    assert listing(archive)["/usr/bin/tool"][-1] == "/bin/sh"


def test_xray_reads_a_zstd_layered_image():
    archive = save_archive(LAYERS, CREATED_BY, layout="oci", compression="zstd")
    saved = xray.read_image(io.BytesIO(archive))
    report = xray.analyse(saved.layers, xray.layer_instructions(saved), image="test/image:1")
    plain = xray.read_image(io.BytesIO(save_archive(LAYERS, CREATED_BY, layout="oci")))
    expected = xray.analyse(plain.layers, xray.layer_instructions(plain), image="test/image:1")
    assert report.size_bytes == expected.size_bytes == sum(layer_bytes(items) for items in LAYERS)
    assert report.reclaimable_bytes == expected.reclaimable_bytes == 600      # the first /etc/app.conf
    assert [(l.size_bytes, l.created_by) for l in report.layers] == \
        [(l.size_bytes, l.created_by) for l in expected.layers]
    assert [l.created_by for l in report.layers] == CREATED_BY
    assert report.duplicates == expected.duplicates


def test_a_zstd_layer_without_its_media_type_declared_first_is_checked_against_it():
    # declared gzip, but the blob is zstd: named, with its media type, whatever the stream order
    for manifest in ("first", "last"):
        archive = save_archive(LAYERS, CREATED_BY, layout="oci", compression=["none", "zstd", "none"],
                               media_types=["application/vnd.oci.image.layer.v1.tar",
                                            "application/vnd.oci.image.layer.v1.tar+gzip",
                                            "application/vnd.oci.image.layer.v1.tar"],
                               oci_manifest=manifest)
        with pytest.raises(BadInput) as caught:
            index_image(io.BytesIO(archive))
        assert "layer 1 (sha256:" in caught.value.value
        assert "application/vnd.oci.image.layer.v1.tar+gzip" in caught.value.value
        assert "lacks a layer" not in caught.value.what


@pytest.mark.parametrize("manifest", ["first", "last"])
def test_a_media_type_without_a_codec_names_the_layer(manifest):
    archive = save_archive(LAYERS, CREATED_BY, layout="oci", compression="none", oci_manifest=manifest,
                           media_types=["application/vnd.oci.image.layer.v1.tar",
                                        "application/vnd.oci.image.layer.v1.tar",
                                        "application/vnd.oci.image.layer.v1.tar+bzip2"])
    with pytest.raises(BadInput) as caught:
        index_image(io.BytesIO(archive))
    assert caught.value.what == "a layer of the image cannot be read"
    assert caught.value.value.startswith("layer 2 (sha256:")
    assert caught.value.value.endswith("media type application/vnd.oci.image.layer.v1.tar+bzip2: "
                                       "no codec for this media type")
    assert "zstd" in caught.value.hint


@pytest.mark.parametrize("manifest", ["first", "last"])
def test_a_corrupt_zstd_layer_names_the_layer_and_its_media_type(manifest):
    archive = bytearray(save_archive(LAYERS, CREATED_BY, layout="oci", compression="zstd", oci_manifest=manifest))
    blob = compress(layer_tar(LAYERS[2]), "zstd")
    at = bytes(archive).index(blob)
    archive[at + len(blob) // 2: at + len(blob) // 2 + 64] = b"\xff" * 64
    with pytest.raises(BadInput) as caught:
        index_image(io.BytesIO(bytes(archive)))
    assert caught.value.what == "a layer of the image cannot be read"
    assert caught.value.value.startswith("layer 2 (sha256:")
    assert "media type application/vnd.oci.image.layer.v1.tar+zstd: zstd data" in caught.value.value


def test_content_size_is_the_regular_file_bytes_of_every_layer():
    expected = sum(layer_bytes(items) for items in LAYERS)   # hardlinks and symlinks store none
    sizes = set()
    for layout, compression in (("docker", "none"), ("oci", "none"), ("oci", "gzip"), ("oci", "zstd")):
        archive = save_archive(LAYERS, CREATED_BY, layout=layout, compression=compression)
        saved = read_saved_image(io.BytesIO(archive))
        sizes.add(content_size(saved.layers))
        sizes.add(saved_content_size(io.BytesIO(archive)))
    assert sizes == {expected}
    assert len(archive) != expected
    # the layers just read are known by their diff_ids from now on
    diff_ids = [layer.digest for layer in saved.layers]
    assert known_content_size(diff_ids) == expected
    assert known_content_size(diff_ids + ["sha256:" + "0" * 64]) is None


def test_the_size_xray_reports_is_the_content_size():
    archive = save_archive(LAYERS, CREATED_BY, layout="oci", compression="gzip")
    saved = xray.read_image(io.BytesIO(archive))
    assert xray.analyse(saved.layers).size_bytes == imagefs.content_size(saved.layers)
