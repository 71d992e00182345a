"""The slim image's layer tar, made from the collect step's tar stream (`sensor collect
LIST -`) as it arrives: the build stage's filter (build.py), kept apart from the Docker
calls. See LayerTar for the rules."""
from __future__ import annotations

import hashlib
import os
import tarfile
from typing import BinaryIO, Iterable, Iterator

from .errors import SlimError

_CHUNK = 1 << 20
_BLOCK = tarfile.BLOCKSIZE
_DATA_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE)


class LayerTar:
    """The slim layer tar from the collected tar stream (`sensor collect LIST -`, names
    relative to /), as blocks; diff_id and content_bytes once they are all out.

    1. the collected members pass through byte for byte (headers, PAX records such as
       file capabilities, content): the stream is scanned block by block, never
       re-encoded;
    2. generated files replace collected ones at the same path, and the directories
       above them get generated/'s metadata (owner root), the way `COPY generated/ /`
       lays them over the collected root; generated entries not met come last, sorted;
    3. GENERATED_LAST (a layer started before generated/ exists: slimmer/early.py): the
       collected members pass as they come, except the directory entries HELD_NAMES
       names (the directories generated/ may hold: a layer tar must not name a path
       twice, Docker refuses it), which wait for the end of the collected stream; then
       come those of them generated/ does not have, then generated/'s entries, sorted.
       A directory entry after its children sets its metadata (Docker created it), so
       the image holds what 2. gives. A generated file must not have been collected
       (early.py sends no path keep.list lacks, and generated files are not in it).
    """

    def __init__(self, generated_dir: str, generated_last: bool = False, held_names: Iterable[str] = ()):
        self.generated_dir = generated_dir
        self.generated_last = generated_last      # generated/ read at the end (rule 3)
        self.held_names = {os.fsencode(name.strip("/")) for name in held_names}
        self.sha256 = hashlib.sha256()
        self.content_bytes = 0
        self.failed: SlimError | None = None      # what broke the collected stream

    @property
    def diff_id(self) -> str:
        return "sha256:" + self.sha256.hexdigest()

    def blocks(self, collected: BinaryIO) -> Iterator[bytes]:
        try:
            for block in self._blocks(collected):
                self.sha256.update(block)
                yield block
        except SlimError as exc:
            self.failed = exc
            raise

    def _blocks(self, collected: BinaryIO) -> Iterator[bytes]:
        if self.generated_last:
            yield from self._generated_last(collected)
            return
        generated = {os.fsencode(name): entry for name, entry in generated_entries(self.generated_dir).items()}
        for raw, name, kind, size in _members(collected):
            key = name.rstrip(b"/")
            if key in generated:
                info, _ = generated[key]
                if info.isdir() and kind == tarfile.DIRTYPE:
                    yield generated.pop(key)[0].tobuf(format=tarfile.PAX_FORMAT)   # in place
                for _ in _content(collected, size):                              # written below
                    pass
                continue
            yield raw
            yield from _content(collected, size)
            if kind in _DATA_TYPES:
                self.content_bytes += size
        yield from self._generated(generated)

    def _generated_last(self, collected: BinaryIO) -> Iterator[bytes]:
        held: dict[bytes, bytes] = {}         # directory entries generated/ may hold, in their order
        for raw, name, kind, size in _members(collected):
            key = name.rstrip(b"/")
            if kind == tarfile.DIRTYPE and key in self.held_names:
                held[key] = raw
                continue
            yield raw
            yield from _content(collected, size)
            if kind in _DATA_TYPES:
                self.content_bytes += size
        generated = {os.fsencode(name): entry for name, entry in generated_entries(self.generated_dir).items()}
        for key, raw in held.items():
            if key not in generated:
                yield raw                     # no generated one: the collected entry, after all
        yield from self._generated(generated)

    def _generated(self, generated: dict) -> Iterator[bytes]:
        """The generated entries left, sorted, then the end of the archive."""
        for name in sorted(generated):
            info, source = generated[name]
            yield info.tobuf(format=tarfile.PAX_FORMAT)
            if info.isreg():
                self.content_bytes += info.size
                with open(source, "rb") as handle:
                    data = handle.read()
                if len(data) != info.size:
                    raise SlimError("a generated file changed while the slim image was built", source,
                                    "run slim build again")
                yield data + b"\0" * (-info.size % _BLOCK)
        yield b"\0" * (2 * _BLOCK)


def write_layer(collected: BinaryIO, out: BinaryIO, generated_dir: str) -> tuple[str, int]:
    """The slim layer tar (see LayerTar) into OUT: (diff_id, content size)."""
    layer = LayerTar(generated_dir)
    for block in layer.blocks(collected):
        out.write(block)
    out.flush()
    return layer.diff_id, layer.content_bytes


def batched(blocks: Iterable[bytes], size: int = 256 << 10) -> Iterator[bytes]:
    """Blocks joined into chunks of about SIZE bytes (one HTTP chunk each)."""
    pending: list[bytes] = []
    held = 0
    for block in blocks:
        pending.append(block)
        held += len(block)
        if held >= size:
            yield b"".join(pending)
            pending, held = [], 0
    if pending:
        yield b"".join(pending)


def _members(stream: BinaryIO) -> Iterator[tuple[bytes, bytes, bytes, int]]:
    """(raw headers, name, type, content size) of each member of a ustar/PAX stream, up to
    its end; the caller reads (or skips) the content before asking for the next."""
    pax_raw, pax = b"", {}
    while True:
        header = _exactly(stream, _BLOCK)
        if header == _ZERO_BLOCK:
            while stream.read(_CHUNK):      # the end: the rest is padding
                pass
            return
        if _checksum(header) != _number(header[148:156]):
            raise SlimError("the collected tar stream is corrupt", "a header's checksum does not match",
                            "report it; SLIMMER_BUILD=builder builds with docker build instead")
        kind, size = header[156:157], _number(header[124:136])
        if kind in (tarfile.XHDTYPE, tarfile.XGLTYPE):
            data = _exactly(stream, size + (-size % _BLOCK))
            if kind == tarfile.XGLTYPE:
                yield header + data, b"", kind, 0
            else:
                pax_raw, pax = header + data, _pax_records(data[:size])
            continue
        name = header[0:100].split(b"\0", 1)[0]
        prefix = header[345:500].split(b"\0", 1)[0] if header[257:262] == b"ustar" else b""
        name = pax.get(b"path") or (prefix + b"/" + name if prefix else name)
        size = int(pax[b"size"]) if b"size" in pax else size
        yield pax_raw + header, name, kind, size
        pax_raw, pax = b"", {}


_ZERO_BLOCK = b"\0" * _BLOCK


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    """"LEN KEY=VALUE\n" records (values may hold any byte, a capability's NULs too)."""
    records, position = {}, 0
    while position < len(data) and data[position] != 0:
        space = data.index(b" ", position)
        length = int(data[position:space])
        key, _, value = data[space + 1:position + length - 1].partition(b"=")
        records[key] = value
        position += length
    return records


def _number(field: bytes) -> int:
    if field[0] & 0x80:                      # base-256 (GNU) for large values
        return int.from_bytes(field[1:], "big")
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _checksum(header: bytes) -> int:
    return sum(header) - sum(header[148:156]) + 8 * 0x20


def _exactly(stream: BinaryIO, size: int) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise SlimError("the collected tar stream ended early", f"{len(data)} of {size} bytes",
                        "see the collect step's message; SLIMMER_BUILD=builder builds with docker build instead")
    return data


def _content(stream: BinaryIO, size: int) -> Iterator[bytes]:
    """SIZE bytes of a member's content and the padding to the next block."""
    left = size + (-size % _BLOCK)
    while left:
        block = stream.read(min(_CHUNK, left))
        if not block:
            raise SlimError("the collected tar stream ended early", f"{left} bytes of content missing",
                            "see the collect step's message; SLIMMER_BUILD=builder builds with docker build instead")
        left -= len(block)
        yield block


def generated_entries(directory: str) -> dict[str, tuple[tarfile.TarInfo, str]]:
    """Layer entries for generated/ (name -> (TarInfo, source path)): owner root, modes and
    mtimes from the artifacts directory, as COPY gives them."""
    entries: dict[str, tuple[tarfile.TarInfo, str]] = {}
    if not os.path.isdir(directory):
        return entries
    for root, dirs, files in os.walk(directory):
        dirs.sort()
        for name in sorted(dirs) + sorted(files):
            source = os.path.join(root, name)
            relative = os.path.relpath(source, directory)
            info = tarfile.TarInfo(relative)
            stat = os.lstat(source)
            info.mode = stat.st_mode & 0o7777
            info.mtime = int(stat.st_mtime)
            info.uid = info.gid = 0
            if os.path.isdir(source):
                info.type = tarfile.DIRTYPE
            else:
                info.size = stat.st_size
            entries[relative] = (info, source)
    return entries
