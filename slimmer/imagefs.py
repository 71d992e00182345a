"""The image filesystem stage: an index of an image's merged filesystem.

Input is the `docker save` stream of one image: an outer tar holding
manifest.json, the image config and one tar per layer (Docker 20.10 writes
`<hex>/layer.tar`; Docker 25+ writes OCI `blobs/sha256/<hex>`). Everything is
read in ONE streaming pass, outer and inner tars both in tarfile's "r|" mode;
no file of the image ever touches the disk.

How the layers merge (overlayfs semantics, as Docker's layer tars encode them):
  1. layers apply bottom (index 0) to top, in manifest.json's "Layers" order,
     whatever order the layer tars came in the stream;
  2. within a layer, deletions apply first, to the lower layers only:
     `DIR/.wh.NAME` deletes DIR/NAME and everything under it, and
     `DIR/.wh..wh..opq` hides every lower-layer child of DIR;
  3. then the layer's entries apply in tar order; an entry replaces the one
     at the same path, and a non-directory replacing a directory hides the
     whole lower subtree;
  4. a path whose parent directory has no entry in any layer gets an
     implicit parent (directory, 0755, root:root);
  5. paths are normalised inside the image root: "../x", "/x" and "./x" all
     become "/x", so a crafted layer can never name a path outside "/".

How a layer blob is decoded (tar, tar+gzip or tar+zstd):
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

An image's size (docs/BUILD.md, "Image size") is its content size: the bytes
of regular-file content in its layer tars, uncompressed, each layer counted
(hidden versions too), hardlinks once: `content_size`. It is the same figure
on every image store, unlike the API's `Size` (compressed on the containerd
store, disk usage elsewhere).

Memory grows with the number of files, never with their bytes: a regular
file's content is read only when it starts with the ELF magic (then the whole
file, up to ELF_READ_CAP, for slimmer.elf) or "#!" (the first line), or when
content hashes are asked for (then in chunks, hashed and dropped).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import posixpath
import tarfile
import zlib
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Callable, Iterable

from .elf import ELF_MAGIC, read_elf_info
from .errors import BadInput
from .model import EntryType, FsEntry, ImageIndex

ELF_READ_CAP = 512 << 20        # larger ELF files are indexed without ElfInfo
SHEBANG_MAX = 256
STREAM_BUFFER = 1 << 20
_JSON_MAX = 64 << 20            # config blobs are small; anything bigger is not one
_CHUNK = 1 << 20

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"

_SAVE_HINT = "pass the output of `docker save IMAGE` (one image), e.g. docker save app:1.0 -o app.tar"

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
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_LAYER_HINT = "slimmer reads tar, tar+gzip and tar+zstd layers; re-run docker save, or rebuild the image " \
              "with one of those (buildx: --output type=image,compression=gzip)"


# --- per-layer data (xray reads this level) -----------------------------------

@dataclass(frozen=True)
class LayerFiles:
    """What one layer tar holds, before merging.

    entries are in tar order (a path may repeat; the later one wins).
    whiteouts are the absolute paths this layer deletes from lower layers;
    opaque_dirs the directories whose lower-layer children it hides.
    hashes maps a regular file's path to the sha256 hex of its content
    (hardlinks map to their target's), only when asked for.
    """

    member: str                       # name of the layer tar in the save archive
    index: int                        # 0 = bottom layer
    digest: str                       # diff_id "sha256:..." from the config ("" when unknown)
    entries: tuple[FsEntry, ...]
    whiteouts: tuple[str, ...]
    opaque_dirs: tuple[str, ...]
    hashes: dict[str, str] | None = None
    contents: dict[str, bytes] = field(default_factory=dict)   # see CAPTURED_CONTENT

    @property
    def size_bytes(self) -> int:
        """Bytes of file content this layer stores (hardlinks store none)."""
        return sum(stored_bytes(entry) for entry in self.entries)


@dataclass(frozen=True)
class SavedImage:
    """A `docker save` archive of one image, read in one pass."""

    config: dict                      # the image config JSON (history, rootfs, config)
    config_name: str                  # its member name in the archive
    repo_tags: tuple[str, ...]
    layers: tuple[LayerFiles, ...]

    def history(self) -> list[dict]:
        return list(self.config.get("history") or [])


def stored_bytes(entry: FsEntry) -> int:
    """Bytes an entry costs in its layer tar: content for regular files, 0 otherwise."""
    return entry.size if entry.type is EntryType.FILE else 0


def normalise(name: str) -> str:
    """A tar member name as an absolute path that cannot leave the image root."""
    path = posixpath.normpath("/" + name.lstrip("/"))
    return "/" if path in ("/", "//", ".") else path


# --- reading a docker save stream -----------------------------------------------

def read_saved_image(stream: BinaryIO, *, hashes: bool = False, elf: bool = True) -> SavedImage:
    """Read a `docker save` stream of one image in one pass.

    hashes: also compute each regular file's sha256 (xray's duplicates).
    elf: parse ELF headers and shebangs (xray does without: it is most of the time).

    Layer tars are parsed as they stream by and kept keyed by member name,
    because manifest.json (which gives their order) may come last; how each
    is decoded: the module docstring.
    """
    _SourceBudget.left = SOURCE_BUDGET
    parsed: dict[str, _ParsedLayer] = {}
    aliases: dict[str, str] = {}           # duplicate layer stored as a symlink -> its target
    small_json: dict[str, dict] = {}
    declared: dict[str, str] = {}          # blob member -> media type, from the manifests read so far
    unreadable: dict[str, str] = {}        # member -> why it could not be decoded as a layer
    manifest: list | None = None
    try:
        outer = tarfile.open(fileobj=stream, mode="r|", bufsize=STREAM_BUFFER)
    except tarfile.ReadError as exc:
        raise BadInput("not a docker save archive (not a tar)", str(exc), _SAVE_HINT) from exc
    try:
        for member in outer:
            name = member.name[2:] if member.name.startswith("./") else member.name
            if member.issym() or member.islnk():
                target = member.linkname
                if member.issym():
                    target = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
                aliases[name] = target
                continue
            if not member.isreg():
                continue
            if name == "manifest.json":
                manifest = _load_json(outer, member, name)
                continue
            is_layer_name = name.endswith("/layer.tar") or name.endswith(".tar")
            is_blob = name.startswith("blobs/")
            if not (is_layer_name or is_blob or name.endswith(".json")):
                continue   # repositories, <hex>/json, <hex>/VERSION, oci-layout
            content = outer.extractfile(member)
            media_type = declared.get(name)
            if media_type is not None and media_type in LAYER_CODECS:
                codec = LAYER_CODECS[media_type]                 # rule 1: declared before it came
            elif media_type is not None and not _is_json_type(media_type):
                unreadable[name] = "no codec for this media type"
                continue
            else:
                head = content.peek(512)[:512] if member.size else b""
                codec = _codec_by_magic(head, member.size)                       # rule 2
                if codec is None and is_layer_name:
                    codec = "tar"                                                # rule 3
            if codec is not None:
                try:
                    parsed[name] = _parse_layer(_decoded(content, codec), name, hashes, elf, codec)
                except _LayerUnreadable as exc:
                    unreadable[name] = str(exc)
            elif member.size <= _JSON_MAX:
                try:
                    document = json.loads(content.read())
                except ValueError:
                    unreadable[name] = f"neither a tar, gzip nor zstd stream (starts with {head[:8].hex()})"
                    continue
                small_json[name] = document
                declared.update(_declared_layers(document))
    except tarfile.ReadError as exc:
        raise BadInput("not a docker save archive (broken tar)", str(exc), _SAVE_HINT) from exc
    except EOFError as exc:
        raise BadInput("docker save archive ends early", str(exc), _SAVE_HINT) from exc

    if manifest is None:
        raise BadInput("docker save archive has no manifest.json", None, _SAVE_HINT)
    if not isinstance(manifest, list) or len(manifest) != 1 or not isinstance(manifest[0], dict):
        count = len(manifest) if isinstance(manifest, list) else "not a list"
        raise BadInput("docker save archive must hold exactly one image", f"manifest.json entries: {count}",
                       _SAVE_HINT)
    image = manifest[0]
    config_name = image.get("Config") or ""
    config = small_json.get(config_name) or small_json.get(aliases.get(config_name, ""))
    if config is None:
        raise BadInput("docker save archive lacks the image config", config_name or "(no Config)", _SAVE_HINT)
    diff_ids = list((config.get("rootfs") or {}).get("diff_ids") or [])
    layers = []
    for index, member_name in enumerate(image.get("Layers") or []):
        target = member_name
        seen = {member_name}
        while target not in parsed and target not in unreadable and target in aliases \
                and aliases[target] not in seen:
            target = aliases[target]
            seen.add(target)
        digest = diff_ids[index] if index < len(diff_ids) else ""
        media_type = declared.get(target) or declared.get(member_name)
        what = f"layer {index} ({digest or member_name}), media type {media_type or 'not declared'}"
        if target not in unreadable and media_type is not None and media_type not in LAYER_CODECS:
            unreadable[target] = "no codec for this media type"
        if target in unreadable:
            raise BadInput("a layer of the image cannot be read", f"{what}: {unreadable[target]}", _LAYER_HINT)
        found = parsed.get(target)
        if found is None:
            raise BadInput("docker save archive lacks a layer named in manifest.json", member_name,
                           "re-run docker save; the archive may be truncated")
        if media_type is not None and LAYER_CODECS[media_type] != found.codec:
            raise BadInput("a layer's data does not match its declared media type",
                           f"{what}: the blob is {found.codec} data", _LAYER_HINT)
        layers.append(found.finish(member_name, index, digest))
    for layer in layers:
        if layer.digest:
            _LAYER_CONTENT_BYTES[layer.digest] = layer.size_bytes
    return SavedImage(config=config, config_name=config_name,
                      repo_tags=tuple(image.get("RepoTags") or ()), layers=tuple(layers))


def iter_layers(stream: BinaryIO, *, hashes: bool = False, elf: bool = True) -> list[LayerFiles]:
    """The layers of a `docker save` stream, bottom first (see read_saved_image)."""
    return list(read_saved_image(stream, hashes=hashes, elf=elf).layers)


def index_image(stream: BinaryIO) -> ImageIndex:
    """The merged filesystem of the image in a `docker save` stream."""
    return merge_layers(read_saved_image(stream).layers)


# --- an image's size ----------------------------------------------------------------

_LAYER_CONTENT_BYTES: dict[str, int] = {}   # diff_id -> content size, for every layer read in this process


def content_size(layers: Iterable[LayerFiles]) -> int:
    """An image's size (the module docstring; docs/BUILD.md): the regular-file content of
    its layer tars, uncompressed, every layer counted. What xray, compare, the report and
    the --max-size/--min-ratio gates all call an image's size."""
    return sum(layer.size_bytes for layer in layers)


def known_content_size(diff_ids: Iterable[str]) -> int | None:
    """The content size of an image with these layers when this process has read every one
    of them already (the index of the original, xray), else None. A diff_id names the
    uncompressed layer tar, so the figure cannot be stale."""
    sizes = [_LAYER_CONTENT_BYTES.get(diff_id) for diff_id in diff_ids]
    return None if None in sizes else sum(sizes)


def saved_content_size(stream: BinaryIO) -> int:
    """The content size of the image in a `docker save` stream (tar headers only: no
    file content is read beyond the stream itself)."""
    return content_size(read_saved_image(stream, elf=False).layers)


def _load_json(outer: tarfile.TarFile, member: tarfile.TarInfo, name: str):
    if member.size > _JSON_MAX:
        raise BadInput("docker save archive has an oversized JSON member", name, _SAVE_HINT)
    try:
        return json.loads(outer.extractfile(member).read())
    except ValueError as exc:
        raise BadInput("docker save archive has unreadable JSON", f"{name}: {exc}", _SAVE_HINT) from exc


def _codec_by_magic(head: bytes, size: int) -> str | None:
    """The provisional codec of a blob whose media type is not known yet (rule 2), or
    None when it is not a layer (then it is JSON: a config, manifest or index)."""
    if head[:2] == _GZIP_MAGIC:
        return "gzip"
    if head[:4] == _ZSTD_MAGIC:
        return "zstd"
    if len(head) >= 262 and head[257:262] == b"ustar":
        return "tar"
    if size >= 512 and head[:512] == b"\0" * 512:   # an empty layer: end-of-archive blocks only
        return "tar"
    return None


def _is_json_type(media_type: str) -> bool:
    return media_type.endswith("+json") or media_type.endswith(".json")


def _declared_layers(document) -> dict[str, str]:
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


class _LayerUnreadable(Exception):
    """A layer blob that does not decode; reported with the layer's index and media type."""


def _decoded(content: BinaryIO, codec: str) -> BinaryIO:
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
        raise _LayerUnreadable("zstd-compressed, and no zstd codec is installed "
                               "(pip install zstandard, or Python 3.14+)") from exc
    return zstandard.ZstdDecompressor().stream_reader(content, read_across_frames=True, closefd=False)


# --- one layer tar ---------------------------------------------------------------

@dataclass
class _ParsedLayer:
    entries: list[FsEntry] = field(default_factory=list)
    whiteouts: list[str] = field(default_factory=list)
    opaque_dirs: list[str] = field(default_factory=list)
    hashes: dict[str, str] | None = None
    contents: dict[str, bytes] = field(default_factory=dict)
    used: bool = False
    codec: str = "tar"

    def finish(self, member: str, index: int, digest: str) -> LayerFiles:
        entries = self.entries
        if self.used:   # the same layer tar listed twice: give the second its own entries
            entries = [_with_layer(e, index, copy=True) for e in entries]
        else:
            for entry in entries:
                _with_layer(entry, index)
        self.used = True
        return LayerFiles(member=member, index=index, digest=digest, entries=tuple(entries),
                          whiteouts=tuple(self.whiteouts), opaque_dirs=tuple(self.opaque_dirs),
                          hashes=self.hashes, contents=self.contents)


def _with_layer(entry: FsEntry, index: int, copy: bool = False) -> FsEntry:
    if copy:
        return replace(entry, layer=index)
    # The entry is not shared with anyone yet: set its layer in place rather than
    # copying every entry of the image once the manifest order is known.
    object.__setattr__(entry, "layer", index)
    return entry


def _parse_layer(content: BinaryIO, name: str, hashes: bool, elf: bool, codec: str = "tar") -> _ParsedLayer:
    """The entries of one (decoded) layer tar; _LayerUnreadable when it does not decode."""
    layer = _ParsedLayer(hashes={} if hashes else None, codec=codec)
    by_path: dict[str, FsEntry] = {}
    try:
        if codec == "tar" and not content.peek(1):   # a zero-byte layer: no files
            return layer
        inner = tarfile.open(fileobj=content, mode="r|", bufsize=STREAM_BUFFER)
        for member in inner:
            path = normalise(member.name)
            base = posixpath.basename(path)
            if base.startswith(WHITEOUT_PREFIX):
                parent = posixpath.dirname(path)
                if base == OPAQUE_MARKER:
                    layer.opaque_dirs.append(parent)
                elif not base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):   # .wh..wh.plnk etc: aufs internals
                    layer.whiteouts.append(posixpath.join(parent, base[len(WHITEOUT_PREFIX):]))
                continue
            entry = _entry(inner, member, path, layer.hashes, by_path, elf, layer.contents)
            if entry is not None:
                by_path[path] = entry
                layer.entries.append(entry)
    except tarfile.ReadError as exc:
        raise _LayerUnreadable(f"{codec} data that is not a valid tar ({exc})") from exc
    except (OSError, EOFError, zlib.error) as exc:   # gzip.BadGzipFile, zstd errors, truncation
        raise _LayerUnreadable(f"{codec} data that does not decode ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:
        if type(exc).__module__.startswith(("zstandard", "compression", "_zstd")):
            raise _LayerUnreadable(f"{codec} data that does not decode ({exc})") from exc
        raise
    return layer


_TYPES = (
    (tarfile.TarInfo.isreg, EntryType.FILE),
    (tarfile.TarInfo.isdir, EntryType.DIR),
    (tarfile.TarInfo.issym, EntryType.SYMLINK),
    (tarfile.TarInfo.islnk, EntryType.HARDLINK),
    (tarfile.TarInfo.isfifo, EntryType.FIFO),
    (tarfile.TarInfo.ischr, EntryType.CHAR),
    (tarfile.TarInfo.isblk, EntryType.BLOCK),
)


def _entry(inner: tarfile.TarFile, member: tarfile.TarInfo, path: str,
           hashes: dict[str, str] | None, by_path: dict[str, FsEntry], want_elf: bool,
           contents: dict[str, bytes] | None = None) -> FsEntry | None:
    kind = next((k for test, k in _TYPES if test(member)), None)
    if kind is None:
        return None
    size = member.size if kind is EntryType.FILE else 0
    link_target = None
    elf = shebang = None
    if kind is EntryType.SYMLINK:
        link_target = member.linkname
    elif kind is EntryType.HARDLINK:
        link_target = normalise(member.linkname)
        target = by_path.get(link_target)
        if target is not None:
            size, elf, shebang = target.size, target.elf, target.shebang
            if hashes is not None and link_target in hashes:
                hashes[path] = hashes[link_target]
    elif kind is EntryType.FILE and size and (want_elf or hashes is not None):
        capture = contents is not None and want_elf and size <= CAPTURE_MAX
        elf, shebang, digest, data = _read_content(inner.extractfile(member), size, hashes is not None,
                                                   want_elf, capture_path=path if capture else None)
        if digest is not None:
            hashes[path] = digest
        if data is not None:
            contents[path] = data
    elif kind is EntryType.FILE and hashes is not None:
        hashes[path] = hashlib.sha256(b"").hexdigest()
    return FsEntry(path=path, type=kind, mode=member.mode & 0o7777, uid=member.uid, gid=member.gid,
                   size=size, link_target=link_target, layer=-1, mtime=int(member.mtime),
                   elf=elf, shebang=shebang)


CAPTURE_MAX = 4 << 20     # dpkg's status file: 300 kB on node-express, a few MB on big images
# Small files whose bytes the keep rules read, besides every script ("#!").
CAPTURED_CONTENT = (
    lambda p: p == "/etc/ld.so.conf" or p.startswith("/etc/ld.so.conf.d/"),
    lambda p: p == "/etc/nsswitch.conf" or (p.startswith("/etc/ld-musl-") and p.endswith(".path")),
    lambda p: p.endswith(("/RECORD", "/top_level.txt", "/installed-files.txt"))
    and (".dist-info/" in p or ".egg-info/" in p),
    # OS package databases (keep rules os-packages and package-metadata)
    lambda p: p in ("/var/lib/dpkg/status", "/lib/apk/db/installed", "/usr/lib/apk/db/installed")
    or (p.startswith("/var/lib/dpkg/info/") and p.endswith(".list")),
)
# Interpreted sources, which the keep rule `imports` scans: read here, once, instead of one
# Docker API read each later (0.1-0.35 s apiece: minutes for a Python app). Bounded: a source
# over SOURCE_MAX (a generated table) and the sources past SOURCE_BUDGET bytes of one image
# are read on demand instead.
SOURCE_SUFFIXES = (".py", ".js", ".mjs", ".cjs", ".rb", ".pm", ".pl")
SOURCE_MAX = 512 << 10
SOURCE_BUDGET = 192 << 20


class _SourceBudget:
    """Bytes of sources captured so far by the current read_saved_image."""
    left = SOURCE_BUDGET

    @classmethod
    def take(cls, size: int) -> bool:
        if size > SOURCE_MAX or size > cls.left:
            return False
        cls.left -= size
        return True


def _wanted(path: str) -> bool:
    return any(rule(path) for rule in CAPTURED_CONTENT)


def _read_content(content: BinaryIO, size: int, want_hash: bool, want_elf: bool = True,
                  capture_path: str | None = None):
    """(ElfInfo|None, shebang|None, sha256|None, bytes|None), reading only what is needed.

    The bytes are returned for scripts and CAPTURED_CONTENT files when
    capture_path is given (files up to CAPTURE_MAX).
    """
    head = content.read(4)
    elf = shebang = None
    hasher = hashlib.sha256(head) if want_hash else None
    if want_elf and head == ELF_MAGIC and size <= ELF_READ_CAP:
        body = head + content.read(size - 4)
        elf = read_elf_info(body)
        if hasher is not None:
            hasher.update(body[4:])
        return elf, None, hasher.hexdigest() if hasher else None, None
    if capture_path is not None and (head[:2] == b"#!" or _wanted(capture_path) or (
            capture_path.endswith(SOURCE_SUFFIXES) and _SourceBudget.take(size))):
        data = head + content.read(size - len(head))
        if data[:2] == b"#!":
            shebang = data[2:].split(b"\n", 1)[0][:SHEBANG_MAX].decode("utf-8", "replace").strip()
        if hasher is not None:
            hasher.update(data[len(head):])
        return None, shebang, hasher.hexdigest() if hasher else None, data
    if want_elf and head[:2] == b"#!":
        more = content.read(SHEBANG_MAX + 1 - (len(head) - 2))
        if hasher is not None:
            hasher.update(more)
        line = (head[2:] + more).split(b"\n", 1)[0][:SHEBANG_MAX]
        shebang = line.decode("utf-8", "replace").strip()
    if hasher is not None:
        while True:
            block = content.read(_CHUNK)
            if not block:
                break
            hasher.update(block)
        return elf, shebang, hasher.hexdigest(), None
    return elf, shebang, None, None


# --- merging layers ----------------------------------------------------------------

# on_hidden(hidden_entry, by_layer, how): how is "overwritten", "whiteout", "opaque"
# or "replaced" (a lower subtree hidden by a non-directory at its root).
HiddenCallback = Callable[[FsEntry, int, str], None]


class MergedTree:
    """The merged filesystem while layers are applied; see the module docstring."""

    def __init__(self, on_hidden: HiddenCallback | None = None):
        self.entries: dict[str, FsEntry] = {}
        self._kids: dict[str, set[str]] = {}
        self._on_hidden = on_hidden

    def apply(self, layer: LayerFiles) -> None:
        for path in layer.whiteouts:
            self._remove(path, layer.index, "whiteout")
        for directory in layer.opaque_dirs:
            for child in list(self._kids.get(directory, ())):
                self._remove(child, layer.index, "opaque")
        for entry in layer.entries:
            self._put(entry)

    def _put(self, entry: FsEntry) -> None:
        path = entry.path
        old = self.entries.get(path)
        if old is not None:
            if old.type is EntryType.DIR and entry.type is not EntryType.DIR:
                for child in list(self._kids.get(path, ())):
                    self._remove(child, entry.layer, "replaced")
            if self._on_hidden:
                self._on_hidden(old, entry.layer, "overwritten")
            if old.layer != entry.layer:
                # remember who wrote it before: a COPY'd file a later RUN chmod'ed is still the app's
                entry = replace(entry, earlier_layers=old.earlier_layers + (old.layer,))
        elif path != "/":
            self._ensure_parent(path, entry.layer)
        self.entries[path] = entry

    def _ensure_parent(self, path: str, layer: int) -> None:
        while path != "/":
            parent = posixpath.dirname(path)
            kids = self._kids.get(parent)
            if kids is None:
                kids = self._kids[parent] = set()
            kids.add(path)
            if parent in self.entries:
                return
            self.entries[parent] = FsEntry(path=parent, type=EntryType.DIR, mode=0o755, uid=0, gid=0,
                                           size=0, link_target=None, layer=layer)
            path = parent

    def _remove(self, path: str, by_layer: int, how: str) -> None:
        if path not in self.entries:
            return
        stack = [path]
        while stack:
            current = stack.pop()
            entry = self.entries.pop(current, None)
            if entry is not None and self._on_hidden:
                self._on_hidden(entry, by_layer, how)
            stack.extend(self._kids.pop(current, ()))
        parent_kids = self._kids.get(posixpath.dirname(path))
        if parent_kids is not None:
            parent_kids.discard(path)

    def index(self) -> ImageIndex:
        if "/" not in self.entries:
            self.entries["/"] = FsEntry(path="/", type=EntryType.DIR, mode=0o755, uid=0, gid=0,
                                        size=0, link_target=None, layer=0)
        return ImageIndex(entries=self.entries, contents={})


def merge_layers(layers: Iterable[LayerFiles], on_hidden: HiddenCallback | None = None) -> ImageIndex:
    """Apply LAYERS bottom first; ON_HIDDEN hears of every entry version a layer hides."""
    tree = MergedTree(on_hidden)
    ordered = sorted(layers, key=lambda item: item.index)
    for layer in ordered:
        tree.apply(layer)
    index = tree.index()
    for layer in ordered:   # captured bytes of the versions that survived the merge
        for path, data in layer.contents.items():
            entry = index.entries.get(path)
            if entry is not None and entry.layer == layer.index and entry.type is EntryType.FILE:
                index.contents[path] = data
    return index


# --- reading the index -----------------------------------------------------------------

def children(index: ImageIndex, directory: str) -> list[FsEntry]:
    """The entries directly inside DIRECTORY, sorted by path (ImageIndex.children)."""
    return [index.entries[path] for path in index.children(normalise(directory))]


def walk(index: ImageIndex, top: str = "/") -> Iterable[FsEntry]:
    """Every entry under TOP (TOP included), parents before children."""
    stack = [normalise(top)]
    while stack:
        path = stack.pop()
        entry = index.get(path)
        if entry is None:
            continue
        yield entry
        if entry.type is EntryType.DIR:
            stack.extend(reversed([kid.path for kid in children(index, path)]))


def bytes_by_top_dir(index: ImageIndex, only: Iterable[str] | None = None) -> dict[str, int]:
    """Content bytes per top-level directory ("/usr": ...); files at the root count as "/".
    ONLY: count just these paths (the slim image's keep set).

    Hardlinks are not counted again: their content belongs to the first name.
    """
    totals: dict[str, int] = {}
    entries = index.entries.values() if only is None else (index.get(path) for path in only)
    for entry in entries:
        if entry is None or entry.type is not EntryType.FILE:
            continue
        parts = entry.path.split("/", 2)
        top = "/" + parts[1] if len(parts) > 2 else "/"
        totals[top] = totals.get(top, 0) + entry.size
    return totals
