"""A layer's files from its tar headers alone, and content hashes only where asked.

  1. a layer stored as a plain tar in a file (a docker-archive, an OCI layout's
     blob, the spool of a `docker save` stream) is walked header to header with
     positioned reads: the files' bytes are never read;
  2. a compressed layer (gzip, zstd) is decoded as a stream; its files' bytes
     pass through and are dropped;
  3. each regular file's data offset (in the decoded tar) is recorded, so
     hash_files can read exactly the files duplicates asks for, afterwards:
     plain layers by positioned reads, compressed ones decoded once more;
  4. the tar formats read: ustar, GNU (long names and links: 'L', 'K'; base-256
     numbers) and POSIX pax ('x' per member, 'g' global: path, linkpath, size,
     uid, gid, mtime); types and whiteouts are read as slimmer.imagefs reads them
     (its module docstring), tests compare the two on the same tars.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import posixpath
import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Iterable, Mapping

from ..errors import BadInput
from ..imagefs import OPAQUE_MARKER, WHITEOUT_PREFIX, LayerFiles, normalise
from ..model import EntryType, FsEntry

BLOCK = 512
CHUNK = 1 << 20
_HEADER = struct.Struct("100s8s8s8s12s12s8sc100s6s2s32s32s8s8s155s12x")
_TYPES = {b"0": EntryType.FILE, b"\0": EntryType.FILE, b"7": EntryType.FILE, b"S": EntryType.FILE,
          b"1": EntryType.HARDLINK, b"2": EntryType.SYMLINK, b"3": EntryType.CHAR, b"4": EntryType.BLOCK,
          b"5": EntryType.DIR, b"6": EntryType.FIFO}
_NO_DATA = {EntryType.HARDLINK, EntryType.SYMLINK, EntryType.CHAR, EntryType.BLOCK, EntryType.DIR,
            EntryType.FIFO}
_LAYER_HINT = "re-run docker save (the archive may be truncated), or rebuild the image"


@dataclass(frozen=True)
class Blob:
    """Where a blob's bytes are: SIZE bytes at OFFSET of an open file; CODEC: tar, gzip or zstd."""

    file: BinaryIO
    offset: int
    size: int
    codec: str = "tar"
    name: str = ""


@dataclass
class ScannedLayer:
    files: LayerFiles
    blob: Blob
    data_at: dict[str, int] = field(default_factory=dict)   # path -> offset of its data in the decoded tar


class _Positioned:
    """A plain blob read by positioned reads: skipping costs nothing."""

    def __init__(self, blob: Blob):
        self._fd = blob.file.fileno()
        self._base = blob.offset
        self._end = blob.size
        self.pos = 0

    def read(self, count: int) -> bytes:
        count = min(count, self._end - self.pos)
        data = os.pread(self._fd, count, self._base + self.pos) if count > 0 else b""
        self.pos += len(data)
        return data

    def skip(self, count: int) -> None:
        self.pos += count


class _Streamed:
    """A decoded (decompressed) blob read front to back: skipping reads and drops."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self.pos = 0

    def read(self, count: int) -> bytes:
        parts = []
        while count > 0:
            data = self._stream.read(count)
            if not data:
                break
            parts.append(data)
            count -= len(data)
            self.pos += len(data)
        return b"".join(parts)

    def skip(self, count: int) -> None:
        while count > 0:
            data = self._stream.read(min(count, CHUNK))
            if not data:
                return
            count -= len(data)
            self.pos += len(data)


class _Region:
    """The bytes of a blob as a file object (for the decompressors)."""

    def __init__(self, blob: Blob):
        self._reader = _Positioned(blob)

    def read(self, count: int = -1) -> bytes:
        return self._reader.read(CHUNK if count is None or count < 0 else count)

    def readable(self) -> bool:
        return True


def _decoded(blob: Blob) -> BinaryIO:
    region = _Region(blob)
    if blob.codec == "gzip":
        return gzip.GzipFile(fileobj=region, mode="rb")
    try:                                    # Python 3.14's standard library
        from compression import zstd
        return zstd.ZstdFile(region, mode="rb")
    except ImportError:
        pass
    try:
        import zstandard
    except ImportError as exc:
        raise BadInput("a layer is zstd-compressed and no zstd codec is installed", blob.name,
                       "pip install zstandard (or use Python 3.14+)") from exc
    return zstandard.ZstdDecompressor().stream_reader(region, read_across_frames=True)


def _reader(blob: Blob):
    return _Positioned(blob) if blob.codec == "tar" else _Streamed(_decoded(blob))


def _number(field: bytes) -> int:
    if field and field[0] in (0o200, 0o377):          # GNU base-256
        value = int.from_bytes(field[1:], "big")
        return value - 256 ** (len(field) - 1) if field[0] == 0o377 else value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    """The records of a pax header: `LENGTH KEY=VALUE\\n`."""
    records: dict[str, str] = {}
    at = 0
    while at < len(data):
        space = data.find(b" ", at)
        if space < 0:
            break
        length = int(data[at:space])
        if length <= 0:
            break
        key, _, value = data[space + 1:at + length - 1].partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        at += length
    return records


@dataclass
class Member:
    name: str
    kind: EntryType | None
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    linkname: str
    data_at: int       # offset of the member's data in the decoded tar


def members(source) -> Iterable[Member]:
    """Every member of the tar SOURCE (a _Positioned or _Streamed), data skipped."""
    global_pax: dict[str, str] = {}
    pax: dict[str, str] = {}
    long_name = long_link = None
    while True:
        header = source.read(BLOCK)
        if len(header) < BLOCK:
            if not header:
                return                                   # no end-of-archive blocks: tolerated like tarfile
            raise EOFError(f"a tar header ends early at byte {source.pos - len(header)}")
        if header == b"\0" * BLOCK:
            return
        (name, mode, uid, gid, size, mtime, _chksum, typeflag, linkname, magic, _version, _uname, _gname,
         _major, _minor, prefix) = _HEADER.unpack(header)
        size = _number(size)
        if typeflag in (b"x", b"g", b"L", b"K"):
            data = source.read(size)
            source.skip(-size % BLOCK)
            if typeflag == b"x":
                pax = _pax(data)
            elif typeflag == b"g":
                global_pax.update(_pax(data))
            elif typeflag == b"L":
                long_name = _text(data)
            else:
                long_link = _text(data)
            continue
        kind = _TYPES.get(typeflag)
        records = {**global_pax, **pax} if global_pax else pax
        text = long_name if long_name is not None else _text(name)
        if long_name is None and magic == b"ustar\x00" and prefix[:1] != b"\0":
            text = _text(prefix) + "/" + text
        text = records.get("path", text)
        link = records.get("linkpath", long_link if long_link is not None else _text(linkname))
        if "size" in records:
            size = int(records["size"])
        if kind is EntryType.FILE and typeflag == b"\0" and text.endswith("/"):
            kind = EntryType.DIR
        member = Member(name=text, kind=kind, mode=_number(mode) & 0o7777,
                        uid=int(records["uid"]) if "uid" in records else _number(uid),
                        gid=int(records["gid"]) if "gid" in records else _number(gid),
                        size=size if kind is EntryType.FILE else 0,
                        mtime=int(float(records["mtime"])) if "mtime" in records else _number(mtime),
                        linkname=link, data_at=source.pos)
        pax, long_name, long_link = {}, None, None
        yield member
        if kind not in _NO_DATA:
            source.skip(size + (-size % BLOCK))


def scan_layer(blob: Blob, index: int, digest: str) -> ScannedLayer:
    """Layer INDEX's entries, whiteouts and opaque directories from BLOB's tar headers."""
    entries: list[FsEntry] = []
    whiteouts: list[str] = []
    opaque: list[str] = []
    by_path: dict[str, FsEntry] = {}
    data_at: dict[str, int] = {}
    what = f"layer {index} ({digest or blob.name})"
    try:
        if blob.size == 0:
            source = None
        else:
            source = _reader(blob)
        for member in (members(source) if source is not None else ()):
            path = normalise(member.name)
            base = posixpath.basename(path)
            if base.startswith(WHITEOUT_PREFIX):
                parent = posixpath.dirname(path)
                if base == OPAQUE_MARKER:
                    opaque.append(parent)
                elif not base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):   # .wh..wh.plnk: aufs internals
                    whiteouts.append(posixpath.join(parent, base[len(WHITEOUT_PREFIX):]))
                continue
            if member.kind is None:
                continue
            size, link_target = member.size, None
            if member.kind is EntryType.SYMLINK:
                link_target = member.linkname
            elif member.kind is EntryType.HARDLINK:
                link_target = normalise(member.linkname)
                target = by_path.get(link_target)
                size = target.size if target is not None else 0
            elif member.kind is EntryType.FILE:
                data_at[path] = member.data_at
            entry = FsEntry(path=path, type=member.kind, mode=member.mode, uid=member.uid, gid=member.gid,
                            size=size, link_target=link_target, layer=index, mtime=member.mtime)
            by_path[path] = entry
            entries.append(entry)
    except (EOFError, OSError, ValueError, struct.error) as exc:
        raise BadInput("a layer of the image cannot be read", f"{what}, {blob.codec}: {exc}", _LAYER_HINT) from exc
    files = LayerFiles(member=blob.name, index=index, digest=digest, entries=tuple(entries),
                       whiteouts=tuple(whiteouts), opaque_dirs=tuple(opaque))
    return ScannedLayer(files, blob, data_at)


@dataclass
class HashStats:
    files: int = 0      # files whose content was read and hashed
    bytes: int = 0


def hash_files(layers: Mapping[int, ScannedLayer], wanted: Iterable[FsEntry],
               stats: HashStats | None = None) -> dict[tuple[int, str], str]:
    """The sha256 of each WANTED entry's content, keyed by (layer, path); read in layer order,
    each layer's files in data order (a compressed layer is decoded once more, up to its last)."""
    stats = stats if stats is not None else HashStats()
    by_layer: dict[int, list[tuple[int, FsEntry]]] = {}
    for entry in wanted:
        layer = layers[entry.layer]
        by_layer.setdefault(entry.layer, []).append((layer.data_at[entry.path], entry))
    digests: dict[tuple[int, str], str] = {}
    for index in sorted(by_layer):
        layer = layers[index]
        source = _reader(layer.blob)
        for offset, entry in sorted(by_layer[index], key=lambda item: item[0]):
            source.skip(offset - source.pos)
            hasher = hashlib.sha256()
            left = entry.size
            while left > 0:
                data = source.read(min(left, CHUNK))
                if not data:
                    raise BadInput("a layer of the image ends inside a file", f"layer {index}: {entry.path}",
                                   _LAYER_HINT)
                hasher.update(data)
                left -= len(data)
            digests[(index, entry.path)] = hasher.hexdigest()
            stats.files += 1
            stats.bytes += entry.size
    return digests
