"""One layer tar: what indexing it yields (LayerRecord), and that record placed in an
image (LayerFiles, which xray and the merge read).

A LayerRecord depends on the layer's bytes alone, never on where the layer sits in an
image, so the same record serves every image that shares the layer (the layer cache
stores it by the layer's diff_id). Its entries are plain rows; LayerRecord.files builds
each FsEntry once, with the layer index it belongs to.

Memory grows with the number of files, never with their bytes: a regular file's
content is read only when it starts with the ELF magic (then the whole file, up to
ELF_READ_CAP, for slimmer.elf) or "#!" (the first line), when sources.py wants it
captured, or when content hashes are asked for (then in chunks, hashed and dropped).
"""
from __future__ import annotations

import hashlib
import posixpath
import tarfile
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from ..elf import ELF_MAGIC, read_elf_info
from ..model import ElfInfo, EntryType, FsEntry
from .codecs import LayerUnreadable
from .sources import CAPTURE_MAX, SourceBudget, is_source, wanted

ELF_READ_CAP = 512 << 20        # larger ELF files are indexed without ElfInfo
SHEBANG_MAX = 256
STREAM_BUFFER = 64 << 10      # tarfile's "r|" mode copies the rest of its buffer on every read: keep it small
_CHUNK = 1 << 20

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"


def whiteout(path: str) -> tuple[str, str] | None:
    """What a layer entry at PATH (normalised) says about the layers below, when its name
    is a whiteout marker: ("opaque", DIR) hides everything below DIR, ("whiteout", PATH')
    deletes PATH'; ("internal", PATH) is an aufs internal (.wh..wh.plnk etc.), to skip.
    None for an ordinary entry."""
    base = posixpath.basename(path)
    if not base.startswith(WHITEOUT_PREFIX):
        return None
    parent = posixpath.dirname(path)
    if base == OPAQUE_MARKER:
        return "opaque", parent
    if base.startswith(WHITEOUT_PREFIX + WHITEOUT_PREFIX):
        return "internal", path
    return "whiteout", posixpath.join(parent, base[len(WHITEOUT_PREFIX):])

def record_marker(path: str, whiteouts: list[str], opaque_dirs: list[str]) -> bool:
    """True when the layer entry at PATH is a whiteout marker (whiteout()): what it deletes
    or hides goes to WHITEOUTS or OPAQUE_DIRS; an aufs internal is passed over."""
    marker = whiteout(path)
    if marker is None:
        return False
    kind, target = marker
    if kind == "opaque":
        opaque_dirs.append(target)
    elif kind == "whiteout":
        whiteouts.append(target)
    return True


# One entry of a layer before it has a layer index: FsEntry's fields in order, less `layer`:
# (path, type, mode, uid, gid, size, link_target, mtime, elf, shebang)
EntryRow = tuple[str, EntryType, int, int, int, int, "str | None", int, "ElfInfo | None", "str | None"]


def normalise(name: str) -> str:
    """A tar member name as an absolute path that cannot leave the image root."""
    path = posixpath.normpath("/" + name.lstrip("/"))
    return "/" if path in ("/", "//", ".") else path


def stored_bytes(entry: FsEntry) -> int:
    """Bytes an entry costs in its layer tar: content for regular files, 0 otherwise."""
    return entry.size if entry.type is EntryType.FILE else 0


@dataclass(frozen=True)
class LayerFiles:
    """What one layer tar holds, before merging, at its place in one image.

    entries are in tar order (a path may repeat; the later one wins).
    whiteouts are the absolute paths this layer deletes from lower layers;
    opaque_dirs the directories whose lower-layer children it hides.
    hashes maps a regular file's path to the sha256 hex of its content
    (hardlinks map to their target's), only when asked for.
    """

    member: str                       # name of the layer tar in the save archive ("" from the cache)
    index: int                        # 0 = bottom layer
    digest: str                       # diff_id "sha256:..." from the config ("" when unknown)
    entries: tuple[FsEntry, ...]
    whiteouts: tuple[str, ...]
    opaque_dirs: tuple[str, ...]
    hashes: dict[str, str] | None = None
    contents: dict[str, bytes] = field(default_factory=dict)   # see sources.py

    @property
    def size_bytes(self) -> int:
        """Bytes of file content this layer stores (hardlinks store none)."""
        return sum(stored_bytes(entry) for entry in self.entries)


@dataclass(frozen=True)
class LayerRecord:
    """What indexing one layer tar yields, wherever the layer sits (module docstring)."""

    rows: tuple[EntryRow, ...]
    whiteouts: tuple[str, ...] = ()
    opaque_dirs: tuple[str, ...] = ()
    hashes: dict[str, str] | None = None
    contents: dict[str, bytes] = field(default_factory=dict)

    @property
    def content_size(self) -> int:
        """Bytes of regular-file content in the layer tar (hardlinks store none)."""
        return sum(row[5] for row in self.rows if row[1] is EntryType.FILE)

    def files(self, member: str, index: int, digest: str) -> LayerFiles:
        """This layer as layer INDEX of an image: every FsEntry made here, once."""
        entries = tuple(FsEntry(path, kind, mode, uid, gid, size, link_target, index, mtime, elf, shebang)
                        for path, kind, mode, uid, gid, size, link_target, mtime, elf, shebang in self.rows)
        return LayerFiles(member=member, index=index, digest=digest, entries=entries,
                          whiteouts=self.whiteouts, opaque_dirs=self.opaque_dirs,
                          hashes=self.hashes, contents=self.contents)


def parse_layer(content: BinaryIO, *, hashes: bool, elf: bool, codec: str = "tar",
                budget: SourceBudget | None = None) -> LayerRecord:
    """The record of one (decoded) layer tar; LayerUnreadable when it does not decode."""
    rows: list[EntryRow] = []
    whiteouts: list[str] = []
    opaque_dirs: list[str] = []
    digests: dict[str, str] | None = {} if hashes else None
    contents: dict[str, bytes] = {}
    by_path: dict[str, EntryRow] = {}     # for hardlinks: their target's size, ELF info, shebang
    reader = _ContentReader(digests, elf, contents, budget if budget is not None else SourceBudget())
    try:
        if codec == "tar" and not content.peek(1):   # a zero-byte layer: no files
            return LayerRecord((), hashes=digests)
        inner = tarfile.open(fileobj=content, mode="r|", bufsize=STREAM_BUFFER)
        for member in inner:
            path = normalise(member.name)
            if record_marker(path, whiteouts, opaque_dirs):
                continue
            row = reader.row(inner, member, path, by_path)
            if row is not None:
                by_path[path] = row
                rows.append(row)
    except tarfile.ReadError as exc:
        raise LayerUnreadable(f"{codec} data that is not a valid tar ({exc})") from exc
    except (OSError, EOFError, zlib.error) as exc:   # gzip.BadGzipFile, zstd errors, truncation
        raise LayerUnreadable(f"{codec} data that does not decode ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:
        if type(exc).__module__.startswith(("zstandard", "compression", "_zstd")):
            raise LayerUnreadable(f"{codec} data that does not decode ({exc})") from exc
        raise
    return LayerRecord(tuple(rows), tuple(whiteouts), tuple(opaque_dirs), digests, contents)


_TYPES = (
    (tarfile.TarInfo.isreg, EntryType.FILE),
    (tarfile.TarInfo.isdir, EntryType.DIR),
    (tarfile.TarInfo.issym, EntryType.SYMLINK),
    (tarfile.TarInfo.islnk, EntryType.HARDLINK),
    (tarfile.TarInfo.isfifo, EntryType.FIFO),
    (tarfile.TarInfo.ischr, EntryType.CHAR),
    (tarfile.TarInfo.isblk, EntryType.BLOCK),
)


class _ContentReader:
    """Turns tar members into rows, reading a file's content only as far as needed."""

    def __init__(self, hashes: dict[str, str] | None, want_elf: bool, contents: dict[str, bytes],
                 budget: SourceBudget):
        self.hashes = hashes
        self.want_elf = want_elf
        self.contents = contents
        self.budget = budget

    def row(self, inner: tarfile.TarFile, member: tarfile.TarInfo, path: str,
            by_path: dict[str, EntryRow]) -> EntryRow | None:
        kind = next((k for test, k in _TYPES if test(member)), None)
        if kind is None:
            return None
        hashes = self.hashes
        size = member.size if kind is EntryType.FILE else 0
        link_target = None
        elf = shebang = None
        if kind is EntryType.SYMLINK:
            link_target = member.linkname
        elif kind is EntryType.HARDLINK:
            link_target = normalise(member.linkname)
            target = by_path.get(link_target)
            if target is not None:
                size, elf, shebang = target[5], target[8], target[9]
                if hashes is not None and link_target in hashes:
                    hashes[path] = hashes[link_target]
        elif kind is EntryType.FILE and size and (self.want_elf or hashes is not None):
            capture = self.want_elf and size <= CAPTURE_MAX
            elf, shebang, digest, data = self.read(inner.extractfile(member), size,
                                                   capture_path=path if capture else None)
            if digest is not None:
                hashes[path] = digest
            if data is not None:
                self.contents[path] = data
        elif kind is EntryType.FILE and hashes is not None:
            hashes[path] = hashlib.sha256(b"").hexdigest()
        return (path, kind, member.mode & 0o7777, member.uid, member.gid, size, link_target,
                int(member.mtime), elf, shebang)

    def read(self, content: BinaryIO, size: int, capture_path: str | None = None):
        """(ElfInfo|None, shebang|None, sha256|None, bytes|None), reading only what is needed.

        The bytes are returned for scripts and sources.py's files when capture_path is
        given (files up to CAPTURE_MAX).
        """
        want_elf = self.want_elf
        head = content.read(4)
        elf = shebang = None
        hasher = hashlib.sha256(head) if self.hashes is not None else None
        if want_elf and head == ELF_MAGIC and size <= ELF_READ_CAP:
            body = head + content.read(size - 4)
            elf = read_elf_info(body)
            if hasher is not None:
                hasher.update(body[4:])
            kept = body if capture_path is not None and wanted(capture_path) else None
            return elf, None, hasher.hexdigest() if hasher else None, kept
        if capture_path is not None and (head[:2] == b"#!" or wanted(capture_path) or (
                is_source(capture_path) and self.budget.take(size))):
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
