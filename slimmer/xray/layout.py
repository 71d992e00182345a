"""Where an image's config and layer blobs are: a docker save archive or an OCI image layout.

  1. `docker-archive:FILE.tar` (Docker 20.10's `<hex>/layer.tar`, or Docker 25+'s
     OCI blobs with manifest.json): manifest.json names the config and the layers
     in order; an OCI manifest in the archive, when there is one, declares each
     layer's media type (else the codec is told by the blob's first bytes);
  2. `oci:DIR[:REF]` or a directory holding `oci-layout` (the OCI image-layout
     spec: oci-layout, index.json, blobs/<alg>/<hex>), and `oci-archive:FILE.tar`
     (the same as a tar): index.json -> (nested indexes) -> one image manifest
     -> config and layers; REF picks a manifest by its
     org.opencontainers.image.ref.name (or containerd's image name) annotation;
     among several platforms, linux/amd64 (attestation manifests are skipped);
  3. a tar is indexed by its headers only (no blob is read but the small JSON
     ones); a gzip-compressed archive or a stream (`docker save` from the
     daemon) is first copied to a temporary file (the spool, removed on close):
     hashing on size collisions reads some files a second time.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import os
import posixpath
import shutil
import tempfile
from dataclasses import dataclass
from typing import BinaryIO, Callable

from ..errors import BadInput
from ..imagefs import LAYER_CODECS
from .scan import BLOCK, CHUNK, Blob, _Positioned, members

ARCHIVE_PREFIX = "docker-archive:"
OCI_PREFIX = "oci:"
OCI_ARCHIVE_PREFIX = "oci-archive:"
_JSON_MAX = 64 << 20
_INDEX_TYPES = ("application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json")
_REF_ANNOTATIONS = ("org.opencontainers.image.ref.name", "io.containerd.image.name")
_ARCHIVE_HINT = "pass a file written by docker save IMAGE -o FILE.tar, e.g. slim xray docker-archive:app.tar"
_OCI_HINT = "pass a directory in the OCI image layout (oci-layout, index.json, blobs/sha256/), e.g. slim xray oci:./app"


@dataclass(frozen=True)
class ImageLayout:
    """One image's config and layer blobs, bottom first."""

    config: dict
    config_name: str
    image_id: str                  # sha256 of the config ("" when unknown)
    repo_tags: tuple[str, ...]
    layers: tuple[Blob, ...]


def needs_docker(reference: str) -> bool:
    return not (reference.startswith((ARCHIVE_PREFIX, OCI_PREFIX, OCI_ARCHIVE_PREFIX)) or is_oci_dir(reference))


def is_oci_dir(path: str) -> bool:
    return os.path.isfile(os.path.join(path, "oci-layout"))


def _codec_by_magic(head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    return "tar"


def _codec(media_type: str | None, head: Callable[[], bytes], what: str) -> str:
    if media_type is None:
        return _codec_by_magic(head())
    if media_type not in LAYER_CODECS:
        raise BadInput("a layer's media type has no codec here", f"{what}: {media_type}",
                       "slimmer reads tar, tar+gzip and tar+zstd layers")
    return LAYER_CODECS[media_type]


# --- a tar: docker-archive and oci-archive ---------------------------------------------------

class _TarIndex:
    """The members of an outer tar in an open file: name -> (data offset, size); links followed."""

    def __init__(self, handle: BinaryIO, what: str):
        self.handle = handle
        self.what = what
        self.members: dict[str, tuple[int, int]] = {}
        aliases: dict[str, str] = {}
        size = os.fstat(handle.fileno()).st_size
        try:
            for member in members(_Positioned(Blob(handle, 0, size))):
                name = posixpath.normpath(member.name.lstrip("/")) if member.name not in ("", "./") else ""
                if member.kind is not None and member.kind.value in ("symlink", "hardlink"):
                    target = member.linkname
                    if member.kind.value == "symlink":
                        target = posixpath.join(posixpath.dirname(name), target)
                    aliases[name] = posixpath.normpath(target.lstrip("/"))
                elif member.kind is not None and member.kind.value == "file":
                    if member.data_at + member.size > size:
                        raise BadInput("the image archive ends early", f"{what}: {name}", _ARCHIVE_HINT)
                    self.members[name] = (member.data_at, member.size)
        except (EOFError, ValueError) as exc:
            raise BadInput("not a docker save archive (not a tar)", f"{what}: {exc}", _ARCHIVE_HINT) from exc
        for name, target in aliases.items():
            seen = {name}
            while target in aliases and target not in seen:
                seen.add(target)
                target = aliases[target]
            if target in self.members:
                self.members.setdefault(name, self.members[target])

    def blob(self, name: str) -> Blob | None:
        found = self.members.get(posixpath.normpath(name.lstrip("/")))
        return Blob(self.handle, found[0], found[1], name=name) if found else None

    def read(self, name: str) -> bytes | None:
        blob = self.blob(name)
        if blob is None:
            return None
        if blob.size > _JSON_MAX:
            raise BadInput("the image archive has an oversized JSON member", f"{self.what}: {name}", _ARCHIVE_HINT)
        return _Positioned(blob).read(blob.size)


def _json(data: bytes | None, what: str, hint: str):
    try:
        return json.loads(data)
    except (TypeError, ValueError) as exc:
        raise BadInput("unreadable JSON in the image", f"{what}: {exc}", hint) from exc


def from_tar(handle: BinaryIO, what: str, reference: str = "") -> ImageLayout:
    """A docker save archive (manifest.json) or an OCI layout in a tar (index.json only)."""
    tar = _TarIndex(handle, what)
    if "manifest.json" not in tar.members:
        if "index.json" in tar.members:
            return _from_oci(tar.read, tar.blob, what, reference)
        raise BadInput("not a docker save archive: no manifest.json", what, _ARCHIVE_HINT)
    manifest = _json(tar.read("manifest.json"), f"{what}: manifest.json", _ARCHIVE_HINT)
    if not isinstance(manifest, list) or len(manifest) != 1 or not isinstance(manifest[0], dict):
        count = len(manifest) if isinstance(manifest, list) else "not a list"
        raise BadInput("the archive must hold exactly one image", f"{what}: manifest.json entries: {count}",
                       "docker save one image: docker save IMAGE -o FILE.tar")
    image = manifest[0]
    config_name = image.get("Config") or ""
    raw = tar.read(config_name)
    if raw is None:
        raise BadInput("the image archive lacks the image config", f"{what}: {config_name or '(no Config)'}",
                       _ARCHIVE_HINT)
    config = _json(raw, f"{what}: {config_name}", _ARCHIVE_HINT)
    declared = _declared_media_types(tar)
    layers = []
    for index, name in enumerate(image.get("Layers") or []):
        blob = tar.blob(name)
        if blob is None:
            raise BadInput("the image archive lacks a layer named in manifest.json", f"{what}: {name}",
                           "re-run docker save; the archive may be truncated")
        media_type = declared.get(posixpath.normpath(name))
        codec = _codec(media_type, lambda: _Positioned(blob).read(4), f"layer {index} ({name})")
        layers.append(Blob(blob.file, blob.offset, blob.size, codec, name))
    return ImageLayout(config=config, config_name=config_name, image_id="sha256:" + hashlib.sha256(raw).hexdigest(),
                       repo_tags=tuple(image.get("RepoTags") or ()), layers=tuple(layers))


def _declared_media_types(tar: _TarIndex) -> dict[str, str]:
    """blobs/<alg>/<hex> -> media type, from the OCI manifests an archive holds (Docker 25+)."""
    declared: dict[str, str] = {}
    if "index.json" not in tar.members:
        return declared
    pending = [_json(tar.read("index.json"), "index.json", _ARCHIVE_HINT)]
    seen = set()
    while pending:
        document = pending.pop()
        if not isinstance(document, dict):
            continue
        for descriptor in document.get("layers") or []:
            if isinstance(descriptor, dict) and isinstance(descriptor.get("digest"), str):
                declared[_blob_name(descriptor["digest"])] = descriptor.get("mediaType") or ""
        for descriptor in document.get("manifests") or []:
            digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
            if isinstance(digest, str) and digest not in seen:
                seen.add(digest)
                raw = tar.read(_blob_name(digest))
                if raw is not None:
                    pending.append(_json(raw, digest, _ARCHIVE_HINT))
    return {name: media for name, media in declared.items() if media}


# --- the OCI image layout ------------------------------------------------------------------------

def _blob_name(digest: str) -> str:
    algorithm, _, encoded = digest.partition(":")
    if not algorithm or not encoded or "/" in encoded or encoded.startswith("."):
        raise BadInput("a descriptor has a malformed digest", digest, "digests look like sha256:<64 hex>")
    return f"blobs/{algorithm}/{encoded}"


def _from_oci(read: Callable[[str], bytes | None], blob: Callable[[str], Blob | None], what: str,
              reference: str) -> ImageLayout:
    """index.json -> one image manifest -> config and layers (the module docstring, rule 2)."""
    def document(name: str, label: str):
        raw = read(name)
        if raw is None:
            raise BadInput("the OCI layout lacks a blob", f"{what}: {label} ({name})", _OCI_HINT)
        return raw, _json(raw, f"{what}: {label}", _OCI_HINT)

    _, index = document("index.json", "index.json")
    manifest, ref = _pick_manifest(index, document, reference, what)
    config_descriptor = manifest.get("config") or {}
    config_digest = config_descriptor.get("digest") or ""
    raw_config, config = document(_blob_name(config_digest), "the image config")
    layers = []
    for position, descriptor in enumerate(manifest.get("layers") or []):
        name = _blob_name(descriptor.get("digest") or "")
        found = blob(name)
        if found is None:
            raise BadInput("the OCI layout lacks a layer blob", f"{what}: layer {position} ({name})", _OCI_HINT)
        codec = _codec(descriptor.get("mediaType"), lambda: _Positioned(found).read(4), f"layer {position} ({name})")
        layers.append(Blob(found.file, found.offset, found.size, codec, name))
    return ImageLayout(config=config, config_name=_blob_name(config_digest),
                       image_id="sha256:" + hashlib.sha256(raw_config).hexdigest(), repo_tags=(ref,) if ref else (),
                       layers=tuple(layers))


def _pick_manifest(index, document, reference: str, what: str) -> tuple[dict, str]:
    """One image manifest from INDEX: by REF, else the only one, else linux/amd64; nested indexes followed."""
    candidates = []           # (descriptor, ref)

    def walk(node, ref: str, depth: int) -> None:
        if depth > 8 or not isinstance(node, dict):
            return
        for descriptor in node.get("manifests") or []:
            if not isinstance(descriptor, dict):
                continue
            annotations = descriptor.get("annotations") or {}
            name = next((annotations[key] for key in _REF_ANNOTATIONS if annotations.get(key)), ref)
            if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
                continue
            if descriptor.get("mediaType") in _INDEX_TYPES:
                _, nested = document(_blob_name(descriptor.get("digest") or ""), "a nested index")
                walk(nested, name, depth + 1)
            else:
                candidates.append((descriptor, name))
    walk(index, "", 0)
    if reference:
        chosen = [c for c in candidates if c[1] == reference or c[1].endswith(":" + reference)]
        if not chosen:
            known = sorted({c[1] for c in candidates if c[1]}) or ["(none)"]
            raise BadInput("no image with this reference in the OCI layout", f"{what}: {reference}",
                           f"references there: {', '.join(known)}")
        candidates = chosen
    if len(candidates) > 1:
        platform = [c for c in candidates if (c[0].get("platform") or {}).get("os") == "linux"
                    and (c[0].get("platform") or {}).get("architecture") == "amd64"]
        candidates = platform or candidates
    if len(candidates) != 1:
        known = sorted({c[1] or c[0].get("digest", "") for c in candidates})
        raise BadInput("the OCI layout holds several images", f"{what}: {', '.join(known) or 'none'}",
                       "name one: slim xray oci:DIR:REF")
    descriptor, name = candidates[0]
    _, manifest = document(_blob_name(descriptor.get("digest") or ""), "the image manifest")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("layers"), list):
        raise BadInput("the OCI manifest has no layers list", f"{what}: {descriptor.get('digest')}", _OCI_HINT)
    return manifest, name


def from_oci_dir(directory: str, reference: str, stack: contextlib.ExitStack) -> ImageLayout:
    """An OCI image layout directory; blob files opened into STACK."""
    what = directory
    if not is_oci_dir(directory):
        raise BadInput("not an OCI image layout (no oci-layout file)", directory, _OCI_HINT)

    def path_of(name: str) -> str:
        return os.path.join(directory, *name.split("/"))

    def read(name: str) -> bytes | None:
        try:
            with open(path_of(name), "rb") as handle:
                return handle.read(_JSON_MAX + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BadInput("cannot read the OCI layout", f"{path_of(name)}: {exc.strerror}", _OCI_HINT) from exc

    def blob(name: str) -> Blob | None:
        try:
            handle = stack.enter_context(open(path_of(name), "rb", buffering=0))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BadInput("cannot read the OCI layout", f"{path_of(name)}: {exc.strerror}", _OCI_HINT) from exc
        return Blob(handle, 0, os.fstat(handle.fileno()).st_size, name=name)

    return _from_oci(read, blob, what, reference)


def split_oci_reference(text: str) -> tuple[str, str]:
    """'DIR' or 'DIR:REF' (skopeo's oci: syntax); the first ':' after which the left part is an
    existing directory splits (REF may hold ':' itself: oci:./app:repo/app:1.0)."""
    if os.path.isdir(text) or ":" not in text:
        return text, ""
    at = text.find(":")
    while at >= 0:
        if os.path.isdir(text[:at]):
            return text[:at], text[at + 1:]
        at = text.find(":", at + 1)
    return text, ""


# --- files and streams ------------------------------------------------------------------------------

def spool(stream: BinaryIO, stack: contextlib.ExitStack) -> BinaryIO:
    """STREAM copied to an unnamed temporary file (gone when STACK closes)."""
    handle = stack.enter_context(tempfile.TemporaryFile(prefix="slimmer-xray-"))
    shutil.copyfileobj(stream, handle, CHUNK)
    handle.flush()
    return handle


def open_archive(path: str, stack: contextlib.ExitStack, what: str) -> BinaryIO:
    """A docker save (or OCI) archive file, positioned reads ready; a gzip one is decompressed to a spool."""
    try:
        handle = stack.enter_context(open(path, "rb", buffering=0))
    except OSError as exc:
        raise BadInput("cannot read the image archive", f"{path}: {exc.strerror}", _ARCHIVE_HINT) from exc
    if os.pread(handle.fileno(), 2, 0) == b"\x1f\x8b":
        try:
            with gzip.GzipFile(fileobj=open(path, "rb")) as unzipped:
                return spool(unzipped, stack)
        except (OSError, EOFError) as exc:
            raise BadInput("the image archive does not decompress", f"{path}: {exc}", _ARCHIVE_HINT) from exc
    if os.fstat(handle.fileno()).st_size < BLOCK:
        raise BadInput("not a docker save archive (not a tar)", f"{what}: {os.fstat(handle.fileno()).st_size} bytes",
                       _ARCHIVE_HINT)
    return handle
