"""How a layer blob is decoded (tar, tar+gzip or tar+zstd):
  1. by the media type the image's OCI manifest declares for it (index.json ->
     manifest blob -> layers[].mediaType), see LAYER_CODECS;
  2. docker save writes blobs/sha256/ in digest order, so a layer blob can
     stream by before the manifest blob that declares it; such a blob is
     decoded by its leading bytes provisionally, and once the manifest is read
     that choice is checked against the declared media type: a mismatch, a
     media type without a codec here, or data that does not decode is an error
     naming the layer and its media type (never a misleading "lacks a layer");
  3. Docker 20.10's layout (`<hex>/layer.tar`) declares no media type: its
     layers are plain tars (gzip accepted).
"""
from __future__ import annotations

import gzip
from typing import BinaryIO

# The codec of a layer blob by its declared media type (OCI image spec; Docker's
# image manifest v2 schema 2). Non-distributable and foreign layers decode alike.
LAYER_CODECS = {
    "application/vnd.oci.image.layer.v1.tar": "tar",
    "application/vnd.oci.image.layer.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.v1.tar+zstd": "zstd",
    "application/vnd.oci.image.layer.nondistributable.v1.tar": "tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": "gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": "zstd",
    "application/vnd.docker.image.rootfs.diff.tar": "tar",
    "application/vnd.docker.image.rootfs.diff.tar.gzip": "gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip": "gzip",
}
GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
LAYER_HINT = "slimmer reads tar, tar+gzip and tar+zstd layers; re-run docker save, or rebuild the image " \
             "with one of those (buildx: --output type=image,compression=gzip)"


class LayerUnreadable(Exception):
    """A layer blob that does not decode; reported with the layer's index and media type."""


def codec_by_magic(head: bytes, size: int) -> str | None:
    """The provisional codec of a blob whose media type is not known yet (rule 2), or
    None when it is not a layer (then it is JSON: a config, manifest or index)."""
    if head[:2] == GZIP_MAGIC:
        return "gzip"
    if head[:4] == ZSTD_MAGIC:
        return "zstd"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if size >= 512 and head[:512] == b"\0" * 512:   # an empty layer: end-of-archive blocks only
        return "tar"
    return None


def is_json_type(media_type: str) -> bool:
    return media_type.endswith("+json") or media_type.endswith(".json")


def declared_layers(document) -> dict[str, str]:
    """Blob member name -> media type for the layers an OCI/Docker manifest lists."""
    if not isinstance(document, dict) or not isinstance(document.get("layers"), list):
        return {}
    declared = {}
    for descriptor in document["layers"]:
        if isinstance(descriptor, dict) and isinstance(descriptor.get("digest"), str) \
                and isinstance(descriptor.get("mediaType"), str):
            algorithm, _, encoded = descriptor["digest"].partition(":")
            declared[f"blobs/{algorithm}/{encoded}"] = descriptor["mediaType"]
    return declared


def decoded(content: BinaryIO, codec: str) -> BinaryIO:
    """The uncompressed tar stream of a layer blob."""
    if codec == "tar":
        return content
    if codec == "gzip":
        return gzip.GzipFile(fileobj=content, mode="rb")
    try:                                   # Python 3.14's standard library
        from compression import zstd as stdlib_zstd
    except ImportError:
        stdlib_zstd = None
    if stdlib_zstd is not None:
        return stdlib_zstd.ZstdFile(content, mode="rb")
    try:
        import zstandard
    except ImportError as exc:
        raise LayerUnreadable("zstd-compressed, and no zstd codec is installed "
                              "(pip install zstandard, or Python 3.14+)") from exc
    return zstandard.ZstdDecompressor().stream_reader(content, read_across_frames=True, closefd=False)
