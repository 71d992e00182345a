"""Reading a `docker save` stream of one image in one pass.

The stream is an outer tar holding manifest.json, the image config and one tar per
layer (Docker 20.10 writes `<hex>/layer.tar`; Docker 25+ writes OCI
`blobs/sha256/<hex>`). Outer and inner tars are both read in tarfile's "r|" mode;
no file of the image ever touches the disk. Layer tars are parsed as they stream by
(layer.py) and kept keyed by member name, because manifest.json (which gives their
order) may come last; how each is decoded: codecs.py.

With a layer cache (cache.py): each parsed layer's sha256 is computed on the way and
its record stored under it; a member the cache names as a layer whose record the
caller already holds (KNOWN) is passed over unparsed.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
import tarfile
from dataclasses import dataclass
from typing import BinaryIO, Mapping

from ..errors import BadInput, SlimError
from .cache import LayerCache, default_cache
from .codecs import (LAYER_CODECS, LAYER_HINT, LayerUnreadable, codec_by_magic, declared_layers, decoded,
                     is_json_type)
from .layer import STREAM_BUFFER, LayerFiles, LayerRecord, parse_layer
from .size import content_size, remember_size
from .sources import SourceBudget

_JSON_MAX = 64 << 20            # config blobs are small; anything bigger is not one
SAVE_HINT = "pass the output of `docker save IMAGE` (one image), e.g. docker save app:1.0 -o app.tar"


@dataclass(frozen=True)
class SavedImage:
    """A `docker save` archive of one image, read in one pass."""

    config: dict                      # the image config JSON (history, rootfs, config)
    config_name: str                  # its member name in the archive
    repo_tags: tuple[str, ...]
    layers: tuple[LayerFiles, ...]
    from_cache: int = 0               # layers passed over in the stream: their records were known

    def history(self) -> list[dict]:
        return list(self.config.get("history") or [])


class CacheMismatch(SlimError):
    """A member passed over as a cached layer is another layer per the image config."""


def variant(*, hashes: bool, elf: bool) -> str:
    """How a layer was read, as part of its cache key (layer.py's options)."""
    return ("elf" if elf else "plain") + ("-sha256" if hashes else "")


def read_saved_image(stream: BinaryIO, *, hashes: bool = False, elf: bool = True,
                     cache: LayerCache | None = None,
                     known: Mapping[str, LayerRecord] | None = None) -> SavedImage:
    """Read a `docker save` stream of one image in one pass.

    hashes: also compute each regular file's sha256 (xray's duplicates).
    elf: parse ELF headers and shebangs (xray does without: it is most of the time).
    cache, known: the module docstring.
    """
    reader = _SaveReader(hashes, elf, cache, known or {})
    try:
        outer = tarfile.open(fileobj=stream, mode="r|", bufsize=STREAM_BUFFER)
    except tarfile.ReadError as exc:
        raise BadInput("not a docker save archive (not a tar)", str(exc), SAVE_HINT) from exc
    try:
        for member in outer:
            reader.take(outer, member)
    except tarfile.ReadError as exc:
        raise BadInput("not a docker save archive (broken tar)", str(exc), SAVE_HINT) from exc
    except EOFError as exc:
        raise BadInput("docker save archive ends early", str(exc), SAVE_HINT) from exc
    return reader.finish()


def iter_layers(stream: BinaryIO, *, hashes: bool = False, elf: bool = True) -> list[LayerFiles]:
    """The layers of a `docker save` stream, bottom first (see read_saved_image)."""
    return list(read_saved_image(stream, hashes=hashes, elf=elf).layers)


def saved_content_size(stream: BinaryIO) -> int:
    """The content size (size.py) of the image in a `docker save` stream (tar headers only:
    no file content is read beyond the stream itself); remembered in the layer cache."""
    return content_size(read_saved_image(stream, elf=False, cache=default_cache()).layers)


@dataclass(frozen=True)
class _Parsed:
    record: LayerRecord
    codec: str
    sha256: str | None                # "sha256:..." of the decoded tar, when a cache wants it


class _SaveReader:
    """The state of one pass over a `docker save` stream."""

    def __init__(self, hashes: bool, elf: bool, cache: LayerCache | None, known: Mapping[str, LayerRecord]):
        self.hashes, self.elf, self.cache, self.known = hashes, elf, cache, known
        self.budget = SourceBudget()
        self.parsed: dict[str, _Parsed] = {}
        self.passed_over: dict[str, tuple[str, str]] = {}   # member -> (its digest per the cache, codec)
        self.aliases: dict[str, str] = {}          # duplicate layer stored as a symlink -> its target
        self.small_json: dict[str, dict] = {}
        self.json_sha256: dict[str, str] = {}     # member -> "sha256:..." of its bytes (the config's: the image ID)
        self.declared: dict[str, str] = {}         # blob member -> media type, from the manifests read so far
        self.unreadable: dict[str, str] = {}       # member -> why it could not be decoded as a layer
        self.manifest: list | None = None

    def take(self, outer: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        name = member.name[2:] if member.name.startswith("./") else member.name
        if member.issym() or member.islnk():
            target = member.linkname
            if member.issym():
                target = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
            self.aliases[name] = target
            return
        if not member.isreg():
            return
        if name == "manifest.json":
            self.manifest = _load_json(outer, member, name)
            return
        is_layer_name = name.endswith("/layer.tar") or name.endswith(".tar")
        if not (is_layer_name or name.startswith("blobs/") or name.endswith(".json")):
            return   # repositories, <hex>/json, <hex>/VERSION, oci-layout
        content = outer.extractfile(member)
        media_type = self.declared.get(name)
        head = b""
        if media_type is not None and media_type in LAYER_CODECS:
            codec = LAYER_CODECS[media_type]                     # codecs.py rule 1: declared before it came
        elif media_type is not None and not is_json_type(media_type):
            self.unreadable[name] = "no codec for this media type"
            return
        else:
            head = content.peek(512)[:512] if member.size else b""
            codec = codec_by_magic(head, member.size)                        # rule 2
            if codec is None and is_layer_name:
                codec = "tar"                                                # rule 3
        if codec is not None:
            self._layer(name, content, codec)
        elif member.size <= _JSON_MAX:
            try:
                raw = content.read()
                document = json.loads(raw)
            except ValueError:
                self.unreadable[name] = f"neither a tar, gzip nor zstd stream (starts with {head[:8].hex()})"
                return
            self.small_json[name] = document
            self.json_sha256[name] = "sha256:" + hashlib.sha256(raw).hexdigest()
            if self.cache is not None and isinstance(document, dict) and "rootfs" in document:
                self.cache.put_config(self.json_sha256[name], raw)     # an image config
            self.declared.update(declared_layers(document))

    def _layer(self, name: str, content: BinaryIO, codec: str) -> None:
        if self.cache is not None and self.known:
            digest = self.cache.layer_of(name)
            if digest in self.known:
                self.passed_over[name] = (digest, codec)
                return
        try:
            tar = decoded(content, codec)
            hashing = _Hashing(tar) if self.cache is not None else None
            record = parse_layer(hashing or tar, hashes=self.hashes, elf=self.elf, codec=codec,
                                 budget=self.budget)
            self.parsed[name] = _Parsed(record, codec, hashing.finish() if hashing else None)
        except LayerUnreadable as exc:
            self.unreadable[name] = str(exc)
        except (OSError, EOFError) as exc:    # the rest of a layer that did not decode
            self.unreadable[name] = f"{codec} data that does not decode ({type(exc).__name__}: {exc})"

    def finish(self) -> SavedImage:
        manifest = self.manifest
        if manifest is None:
            raise BadInput("docker save archive has no manifest.json", None, SAVE_HINT)
        if not isinstance(manifest, list) or len(manifest) != 1 or not isinstance(manifest[0], dict):
            count = len(manifest) if isinstance(manifest, list) else "not a list"
            raise BadInput("docker save archive must hold exactly one image", f"manifest.json entries: {count}",
                           SAVE_HINT)
        image = manifest[0]
        config_name = image.get("Config") or ""
        config = self.small_json.get(config_name) or self.small_json.get(self.aliases.get(config_name, ""))
        if config is None:
            raise BadInput("docker save archive lacks the image config", config_name or "(no Config)", SAVE_HINT)
        diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
        layers = []
        for index, member_name in enumerate(image.get("Layers") or []):
            digest = diff_ids[index] if index < len(diff_ids) else ""
            layers.append(self._placed(index, member_name, digest))
        for layer in layers:
            remember_size(layer.digest, layer.size_bytes)
        self._store()
        used = {self.passed_over[name][0] for name in self.passed_over}
        return SavedImage(config=config, config_name=config_name, repo_tags=tuple(image.get("RepoTags") or ()),
                          layers=tuple(layers), from_cache=sum(1 for layer in layers if layer.digest in used))

    def _placed(self, index: int, member_name: str, digest: str) -> LayerFiles:
        """Layer INDEX of the manifest, checked against what streamed by."""
        target = member_name
        seen = {member_name}
        while target not in self.parsed and target not in self.passed_over and target not in self.unreadable \
                and target in self.aliases and self.aliases[target] not in seen:
            target = self.aliases[target]
            seen.add(target)
        media_type = self.declared.get(target) or self.declared.get(member_name)
        what = f"layer {index} ({digest or member_name}), media type {media_type or 'not declared'}"
        if target not in self.unreadable and media_type is not None and media_type not in LAYER_CODECS:
            self.unreadable[target] = "no codec for this media type"
        if target in self.unreadable:
            raise BadInput("a layer of the image cannot be read", f"{what}: {self.unreadable[target]}", LAYER_HINT)
        if target in self.passed_over:
            cached_digest, codec = self.passed_over[target]
            if cached_digest != digest:
                raise CacheMismatch("a cached layer is not the one the image config names", what,
                                    "read again without passing over cached layers")
            record = self.known[cached_digest]
        elif target in self.parsed:
            record, codec = self.parsed[target].record, self.parsed[target].codec
        else:
            raise BadInput("docker save archive lacks a layer named in manifest.json", member_name,
                           "re-run docker save; the archive may be truncated")
        if media_type is not None and LAYER_CODECS[media_type] != codec:
            raise BadInput("a layer's data does not match its declared media type",
                           f"{what}: the blob is {codec} data", LAYER_HINT)
        return record.files(member_name, index, digest)

    def _store(self) -> None:
        """Every layer parsed in this pass into the cache, under the sha256 of its tar."""
        if self.cache is None:
            return
        kind = variant(hashes=self.hashes, elf=self.elf)
        for name, parsed in self.parsed.items():
            if parsed.sha256 is not None:
                self.cache.put(parsed.sha256, kind, parsed.record, member=name)


class _Hashing:
    """A decoded layer tar read through sha256: the layer's diff_id once read to its end."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.hasher = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.hasher.update(data)
        return data

    def peek(self, size: int = 1) -> bytes:
        return self.raw.peek(size)

    def finish(self) -> str:
        """The sha256 of the whole tar: the end the tar reader left unread is read here."""
        while self.read(1 << 20):
            pass
        return "sha256:" + self.hasher.hexdigest()


def _load_json(outer: tarfile.TarFile, member: tarfile.TarInfo, name: str):
    if member.size > _JSON_MAX:
        raise BadInput("docker save archive has an oversized JSON member", name, SAVE_HINT)
    try:
        return json.loads(outer.extractfile(member).read())
    except ValueError as exc:
        raise BadInput("docker save archive has unreadable JSON", f"{name}: {exc}", SAVE_HINT) from exc
