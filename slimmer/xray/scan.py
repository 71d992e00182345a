"""A layer's files from its tar headers alone, and content hashes only where asked.

  1. a layer stored as a plain tar in a file (a docker-archive, an OCI layout's
     blob, the spool of a `docker save` stream) is walked header to header with
     positioned reads: the files' bytes are never read;
  2. a compressed layer (gzip, zstd) is decoded as a stream; its files' bytes
     pass through and are dropped; a layer in Docker's layer store is its
     tar-split's segments, each file's bytes in the diff directory (store.py):
     the same walk, each blob kind giving members() its own source();
  3. hash_files reads exactly the files duplicates asks for, afterwards: it walks
     the layers that hold them once more (plain ones by their headers again,
     compressed ones decoded again up to the last file wanted), so nothing but the
     entries is kept from the first walk;
  4. the tar formats read: ustar, GNU (long names and links: 'L', 'K'; base-256
     numbers) and POSIX pax ('x' per member, 'g' global: path, linkpath, size,
     uid, gid, mtime); types and whiteouts are read as slimmer.imagefs reads them
     (its module docstring), tests compare the two on the same tars.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO, ClassVar, Iterable, Mapping, Sequence

from ..errors import BadInput
from ..imagefs import LayerFiles, normalise, record_marker
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
    """Where a blob's bytes are: SIZE bytes at OFFSET of an open file; CODEC: tar, gzip or zstd.

    A layer's bytes may be elsewhere: anything with a NAME, a CODEC (for messages), a HINT
    and a source() giving the layer tar's reader does (store.StoredLayer: Docker's layer store)."""

    file: BinaryIO
    offset: int
    size: int
    codec: str = "tar"
    name: str = ""
    hint: ClassVar[str] = _LAYER_HINT

    def source(self):
        """The layer tar's reader for members(): positioned reads of a plain (or empty)
        blob, a decoder's stream of a compressed one."""
        return _Positioned(self) if self.codec == "tar" or self.size == 0 else _Streamed(_decoded(self))


@dataclass(frozen=True)
class ScannedLayer:
    files: LayerFiles | None                # None once merged (hash_files needs only the blob)
    blob: Blob                              # or a store.StoredLayer
    repeated: frozenset = frozenset()      # paths the layer's tar holds more than once (the last one counts)


class _Positioned:
    """A plain blob read by positioned reads: skipping costs nothing. Small reads (headers,
    small files) come from a WINDOW-byte read-ahead, so a layer of small files costs one
    system call per few members, and a layer of big files one per member."""

    WINDOW = 16 << 10

    def __init__(self, blob: Blob):
        self._fd = blob.file.fileno()
        self._base = blob.offset
        self._end = blob.size
        self._window = b""
        self._window_at = 0
        self.pos = 0

    def read(self, count: int) -> bytes:
        count = min(count, self._end - self.pos)
        if count <= 0:
            return b""
        offset = self.pos - self._window_at
        if 0 <= offset and offset + count <= len(self._window):
            data = self._window[offset:offset + count]
        elif count <= self.WINDOW:
            self._window_at = self.pos
            self._window = os.pread(self._fd, min(self.WINDOW, self._end - self.pos), self._base + self.pos)
            data = self._window[:count]
        else:
            data = os.pread(self._fd, count, self._base + self.pos)
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


_NUMBERS: dict[bytes, int] = {}      # raw header field -> value: modes, owners and mtimes repeat a lot


def _number(field: bytes) -> int:
    value = _NUMBERS.get(field)
    if value is not None:
        return value
    if field and field[0] in (0o200, 0o377):          # GNU base-256
        value = int.from_bytes(field[1:], "big")
        value = value - 256 ** (len(field) - 1) if field[0] == 0o377 else value
    else:
        text = field.split(b"\0", 1)[0].strip()
        value = int(text, 8) if text else 0
    if len(_NUMBERS) > 65536:
        _NUMBERS.clear()
    _NUMBERS[field] = value
    return value


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
    """Every member of the tar SOURCE, data skipped. A source has `pos` (bytes of the tar
    passed), read(count) (fewer bytes only at the end) and skip(count): _Positioned,
    _Streamed, store._TarSplit."""
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
        if kind not in _NO_DATA:      # to the data's end, whatever the caller read of it
            source.skip(member.data_at + size + (-size % BLOCK) - source.pos)


def scan_layer(blob: Blob, index: int, digest: str) -> ScannedLayer:
    """Layer INDEX's entries, whiteouts and opaque directories from BLOB's tar headers."""
    entries: list[FsEntry] = []
    whiteouts: list[str] = []
    opaque: list[str] = []
    by_path: dict[str, FsEntry] = {}
    repeated: set[str] = set()
    numbers: dict[int, int] = {}     # one int object per distinct mode, owner and mtime (most files share them)
    what = f"layer {index} ({digest or blob.name})"
    try:
        for member in members(blob.source()):
            path = normalise(member.name)
            if record_marker(path, whiteouts, opaque):
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
            if path in by_path:
                repeated.add(path)
            entry = FsEntry(path=path, type=member.kind, mode=numbers.setdefault(member.mode, member.mode),
                            uid=numbers.setdefault(member.uid, member.uid),
                            gid=numbers.setdefault(member.gid, member.gid), size=size, link_target=link_target,
                            layer=index, mtime=numbers.setdefault(member.mtime, member.mtime))
            by_path[path] = entry
            entries.append(entry)
    except (EOFError, OSError, ValueError, struct.error) as exc:
        raise BadInput("a layer of the image cannot be read", f"{what}, {blob.codec}: {exc}", blob.hint) from exc
    files = LayerFiles(member=blob.name, index=index, digest=digest, entries=tuple(entries),
                       whiteouts=tuple(whiteouts), opaque_dirs=tuple(opaque))
    return ScannedLayer(files, blob, frozenset(repeated))


@dataclass
class HashStats:
    files: int = 0      # files whose content was read and hashed
    bytes: int = 0


def hash_files(layers: Mapping[int, ScannedLayer], wanted: Sequence[FsEntry],
               stats: HashStats | None = None) -> list[bytes]:
    """The sha256 digest of each WANTED entry's content, in WANTED's order.

    Each layer holding wanted files is walked again, header to header (a compressed one
    decoded again, up to its last wanted file); a path a layer writes twice is hashed at
    its last version, the one the entry describes. Nothing is kept from the first walk
    but the entries themselves."""
    stats = stats if stats is not None else HashStats()
    by_layer: dict[int, dict[str, int]] = {}
    for position, entry in enumerate(wanted):
        by_layer.setdefault(entry.layer, {})[entry.path] = position
    digests: list[bytes] = [b""] * len(wanted)
    for index in sorted(by_layer):
        layer = layers[index]
        positions = by_layer.pop(index)
        left_to_find = len(positions)
        source = layer.blob.source()
        for member in members(source):
            if member.kind is not EntryType.FILE:
                continue
            position = positions.get(normalise(member.name))
            if position is None:
                continue
            entry = wanted[position]
            if not digests[position]:
                left_to_find -= 1
                stats.files += 1
                stats.bytes += entry.size
            digests[position] = _hash(source, member.size, f"layer {index}: {entry.path}", layer.blob.hint)
            if left_to_find == 0 and not (layer.repeated & positions.keys()):
                break          # every wanted file found at its only version: the rest need not be read
    return digests


def _hash(source, size: int, what: str, hint: str) -> bytes:
    """The sha256 of the SIZE bytes at SOURCE's position (members() then skips past them)."""
    hasher = hashlib.sha256()
    left = size
    while left > 0:
        data = source.read(min(left, CHUNK))
        if not data:
            raise BadInput("a layer of the image ends inside a file", what, hint)
        hasher.update(data)
        left -= len(data)
    return hasher.digest()
