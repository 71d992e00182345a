"""Build `docker save` archives in memory for tests.

A layer is a list of items made by the functions below:

    layers = [
        [dir_("/etc"), file("/etc/passwd", b"root:x:0:0::/root:/bin/sh\\n")],
        [whiteout("/etc/passwd"), opaque("/var/cache")],
    ]
    archive = save_archive(layers, created_by=["ADD rootfs /", "RUN rm /etc/passwd"])

save_archive returns bytes in Docker 20.10's layout (`<hex>/layer.tar`,
manifest.json last) or, with layout="oci", Docker 25's (`blobs/sha256/<hex>`
in digest order, an OCI manifest blob declaring each layer's media type,
index.json, manifest.json). With layout="oci", compression= "gzip", "zstd" or
"zstd-frames" (two zstd frames, as a parallel compressor writes) compresses
the layer blobs, as the containerd image store keeps them.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass

MTIME = 1_700_000_000


@dataclass(frozen=True)
class Item:
    info: tarfile.TarInfo
    data: bytes = b""


def _info(name: str, kind: bytes, mode: int, uid: int = 0, gid: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name.lstrip("/") if not name.startswith("raw:") else name[4:])
    info.type = kind
    info.mode = mode
    info.uid, info.gid = uid, gid
    info.mtime = MTIME
    return info


def file(path: str, data: bytes = b"", mode: int = 0o644, uid: int = 0, gid: int = 0) -> Item:
    """A regular file. A path starting with "raw:" is used as the member name verbatim."""
    info = _info(path, tarfile.REGTYPE, mode, uid, gid)
    info.size = len(data)
    return Item(info, data)


def dir_(path: str, mode: int = 0o755, uid: int = 0, gid: int = 0) -> Item:
    return Item(_info(path.rstrip("/") + "/" if path != "/" else "./", tarfile.DIRTYPE, mode, uid, gid))


def symlink(path: str, target: str) -> Item:
    info = _info(path, tarfile.SYMTYPE, 0o777)
    info.linkname = target
    return Item(info)


def hardlink(path: str, target: str) -> Item:
    info = _info(path, tarfile.LNKTYPE, 0o644)
    info.linkname = target.lstrip("/")
    return Item(info)


def char_device(path: str, major: int = 1, minor: int = 3) -> Item:
    info = _info(path, tarfile.CHRTYPE, 0o666)
    info.devmajor, info.devminor = major, minor
    return Item(info)


def fifo(path: str) -> Item:
    return Item(_info(path, tarfile.FIFOTYPE, 0o644))


def whiteout(path: str) -> Item:
    head, _, name = path.rstrip("/").rpartition("/")
    return file(f"{head}/.wh.{name}")


def opaque(directory: str) -> Item:
    return file(directory.rstrip("/") + "/.wh..wh..opq")


def layer_tar(items: list[Item]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for item in items:
            tar.addfile(item.info, io.BytesIO(item.data) if item.info.isreg() else None)
    return buffer.getvalue()


def layer_bytes(items: list[Item]) -> int:
    """What xray counts as a layer's size: its regular files' content."""
    return sum(len(item.data) for item in items if item.info.isreg() and not
               item.info.name.rsplit("/", 1)[-1].startswith(".wh."))


MEDIA_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
    "zstd-frames": "application/vnd.oci.image.layer.v1.tar+zstd",
}


def compress(data: bytes, compression: str) -> bytes:
    if compression == "none":
        return data
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    import zstandard
    if compression == "zstd":
        return zstandard.ZstdCompressor().compress(data)
    if compression == "zstd-frames":
        half = len(data) // 2
        return zstandard.ZstdCompressor().compress(data[:half]) + zstandard.ZstdCompressor().compress(data[half:])
    raise ValueError(compression)


def save_archive(layers: list[list[Item]], created_by: list[str] | None = None,
                 repo_tags: tuple[str, ...] = ("test/image:1",), layout: str = "docker",
                 manifest_first: bool = False, drop_layer: int | None = None,
                 compression: str | list[str] = "none", media_types: list[str] | None = None,
                 oci_manifest: str = "sorted") -> bytes:
    """A docker-save tar of one image with LAYERS (bottom first).

    layout="oci" only: COMPRESSION per layer (one value or a list); MEDIA_TYPES
    overrides what the OCI manifest declares per layer; OCI_MANIFEST places the
    manifest blob "sorted" (by digest, as docker save does), "first" or "last"
    among the blobs.
    """
    tars = [layer_tar(items) for items in layers]
    diff_ids = ["sha256:" + hashlib.sha256(t).hexdigest() for t in tars]
    codecs = [compression] * len(tars) if isinstance(compression, str) else list(compression)
    blobs = [compress(t, codec) for t, codec in zip(tars, codecs)]
    declared = media_types or [MEDIA_TYPES[codec] for codec in codecs]
    created_by = created_by or [f"RUN step {i}" for i in range(len(tars))]
    config = {
        "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/usr/bin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": text, "created": "2024-01-01T00:00:00Z"} for text in created_by],
    }
    config_bytes = json.dumps(config).encode()
    config_hex = hashlib.sha256(config_bytes).hexdigest()
    members: list[tuple[str, bytes]] = []
    layer_names = []
    for index, data in enumerate(tars):
        hexname = hashlib.sha256(data + bytes([index])).hexdigest()
        if layout == "oci":
            data = blobs[index]
            name = f"blobs/sha256/{hashlib.sha256(data).hexdigest()}"
        else:
            name = f"{hexname}/layer.tar"
            members.append((f"{hexname}/VERSION", b"1.0"))
            members.append((f"{hexname}/json", b"{}"))
        layer_names.append(name)
        if index != drop_layer:
            members.append((name, data))
    config_name = f"blobs/sha256/{config_hex}" if layout == "oci" else f"{config_hex}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": list(repo_tags),
                            "Layers": layer_names}]).encode()
    if layout == "oci":
        # Docker 25+ tars its export directory: blobs/sha256/* in digest order, so the
        # manifest blob may come before or after the layers it declares.
        oci_manifest_bytes = json.dumps({
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": f"sha256:{config_hex}", "size": len(config_bytes)},
            "layers": [{"mediaType": media, "digest": "sha256:" + hashlib.sha256(blob).hexdigest(),
                        "size": len(blob)} for media, blob in zip(declared, blobs)],
        }).encode()
        manifest_digest = hashlib.sha256(oci_manifest_bytes).hexdigest()
        manifest_member = (f"blobs/sha256/{manifest_digest}", oci_manifest_bytes)
        members.append((config_name, config_bytes))
        members.sort(key=lambda pair: pair[0])
        if oci_manifest == "first":
            members.insert(0, manifest_member)
        elif oci_manifest == "last":
            members.append(manifest_member)
        else:
            members = sorted(members + [manifest_member], key=lambda pair: pair[0])
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                 "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                                "digest": f"sha256:{manifest_digest}", "size": len(oci_manifest_bytes),
                                "annotations": {"io.containerd.image.name": repo_tags[0] if repo_tags else ""}}]}
        members.append(("index.json", json.dumps(index).encode()))
        members.append(("oci-layout", b'{"imageLayoutVersion": "1.0.0"}'))
    else:
        # Docker 20.10 streams layer directories sorted by name: not in manifest order.
        members.sort(key=lambda pair: pair[0])
        members.append((config_name, config_bytes))
    if manifest_first:
        members.insert(0, ("manifest.json", manifest))
    else:
        members.append(("manifest.json", manifest))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = MTIME
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
