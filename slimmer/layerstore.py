"""An image of the daemon read from Docker's own layer store, without `docker save`.

Docker (graphdriver overlay2) keeps, for every layer, what `docker save` reassembles
the layer tar from, byte for byte:

  1. `<root>/image/overlay2/layerdb/sha256/<chain id>/`: `diff` (the layer's diff_id),
     `cache-id` (the driver's directory: the layer's files are in
     `<root>/overlay2/<cache-id>/diff`) and `tar-split.json.gz`, one JSON object a line:
     type 2, a raw segment of the tar (base64 `payload`: headers, pax records,
     padding, end blocks); type 1, a file's data (`name`, `size`): the file NAME of the
     diff directory; a name that is not UTF-8 comes base64 in `name_raw`;
  2. the chain id: chain[0] = diff_ids[0], chain[i] = sha256(chain[i-1] + " " + diff_ids[i]);
     the image config is `<root>/image/overlay2/imagedb/content/sha256/<image id>`;
  3. _TarSplit gives scan.members() the layer tar as the segments say, a file's data
     skipped without reading anything; only hash_files reads data, from the diff
     directory, after checking the file's size is the one the tar-split says;
  4. everything is checked before use (the config's and each layer's digests, the files
     readable): what is missing or unreadable raises StoreUnusable, and the reader then
     reads the image through `docker save` instead (a remote daemon, another driver, the
     containerd image store, a user who is not root);
  5. two readers: xray walks the tar headers only (xray/store.py, scan.py); slim build's
     index reads the image as `docker save` would give it (saved_image_stream: every
     layer tar reassembled, its sha256 checked against its diff_id), without the
     daemon's save, which writes the whole image to a temporary directory first.
"""
from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import io
import json
import os
import re
import tarfile
import zlib
from dataclasses import dataclass
from typing import ClassVar, Iterator

from .errors import BadInput

DRIVER = "overlay2"
READ_SAVE_HINT = "read the image through docker save instead: slim xray --read save IMAGE"
_PERMISSION_HINT = f"run as root on the daemon's host to read the layer store, or {READ_SAVE_HINT}"


class StoreUnusable(BadInput):
    """Docker's layer store cannot be read for this image: read it through `docker save`."""

    def __init__(self, what: str, value: object = None, hint: str | None = None):
        super().__init__(what, value, hint or READ_SAVE_HINT)


def chain_ids(diff_ids: list[str]) -> list[str]:
    """Each layer's chain id (the layerdb's directory name), bottom first."""
    chain: list[str] = []
    for diff_id in diff_ids:
        chain.append(diff_id if not chain else
                     "sha256:" + hashlib.sha256(f"{chain[-1]} {diff_id}".encode()).hexdigest())
    return chain


@dataclass(frozen=True)
class StoredLayer:
    """A layer in the layer store: its tar-split and its diff directory (scan.Blob's counterpart)."""

    tar_split: str
    diff_dir: str
    name: str                  # the layerdb directory, for messages
    codec: ClassVar[str] = "tar-split"
    hint: ClassVar[str] = READ_SAVE_HINT

    def source(self) -> "_TarSplit":
        return _TarSplit(self)


@dataclass(frozen=True)
class StoredImage:
    """An image as the layer store holds it: its config (bytes and JSON) and its layers, bottom first."""

    image_id: str
    config_bytes: bytes
    config: dict
    diff_ids: tuple[str, ...]
    layers: tuple[StoredLayer, ...]


def store_root(docker, image_id: str) -> tuple[str, str]:
    """(root dir, driver) of the layer store holding IMAGE_ID; StoreUnusable when the daemon
    is not on this host or the image is not in its overlay2 store. SLIMMER_DOCKER_ROOT names
    another root dir than the daemon's (tests)."""
    if not docker.is_local():
        raise StoreUnusable("the Docker daemon is not on this host, so its layer store is out of reach",
                            f"DOCKER_HOST={os.environ.get('DOCKER_HOST', '')}")
    root, driver = docker.storage()
    image_driver = (docker.inspect_image(image_id).get("GraphDriver") or {}).get("Name") or ""
    if image_driver != driver:
        raise StoreUnusable("the image is not in the daemon's storage driver",
                            f"image: {image_driver or '(none)'}, daemon: {driver or '(none)'}")
    return os.environ.get("SLIMMER_DOCKER_ROOT") or root, driver


def locate_image(root: str, image_id: str, driver: str = DRIVER) -> StoredImage:
    """IMAGE_ID's config and layers in the layer store under ROOT (Docker's root dir), each
    checked (module docstring, rule 4)."""
    if driver != DRIVER:
        raise StoreUnusable(f"the daemon's storage driver is not {DRIVER}", driver or "(none)")
    algorithm, _, hex_id = image_id.partition(":")
    config_path = os.path.join(root, "image", driver, "imagedb", "content", algorithm, hex_id)
    raw = _read(config_path, "the image config")
    if "sha256:" + hashlib.sha256(raw).hexdigest() != image_id:
        raise StoreUnusable("the layer store holds another image config under this id", config_path)
    try:
        config = json.loads(raw)
        diff_ids = list(config["rootfs"]["diff_ids"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreUnusable("the image config in the layer store cannot be read", f"{config_path}: {exc}") from exc
    layers = []
    for diff_id, chain_id in zip(diff_ids, chain_ids(diff_ids)):
        layer_dir = os.path.join(root, "image", driver, "layerdb", *chain_id.split(":", 1))
        found = _read(os.path.join(layer_dir, "diff"), "a layer's diff id").decode(errors="replace").strip()
        if found != diff_id:
            raise StoreUnusable("the layer store holds another layer under this chain id",
                                f"{layer_dir}: diff {found}, expected {diff_id}")
        cache_id = _read(os.path.join(layer_dir, "cache-id"), "a layer's cache id").decode(errors="replace").strip()
        if not cache_id or "/" in cache_id or cache_id.startswith("."):
            raise StoreUnusable("a layer's cache id names no directory of the driver", f"{layer_dir}: {cache_id!r}")
        diff_dir = os.path.join(root, driver, cache_id, "diff")
        tar_split = os.path.join(layer_dir, "tar-split.json.gz")
        for path, what in ((tar_split, "a layer's tar-split"), (diff_dir, "a layer's files")):
            if not os.path.exists(path):
                raise StoreUnusable(f"{what} is missing from the layer store", path)
            if not os.access(path, os.R_OK | (os.X_OK if path == diff_dir else 0)):
                raise StoreUnusable(f"{what} is not readable (permission denied)", path, _PERMISSION_HINT)
        layers.append(StoredLayer(tar_split, diff_dir, layer_dir))
    return StoredImage(image_id, raw, config, tuple(diff_ids), tuple(layers))


def _read(path: str, what: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read(1 << 26)
    except FileNotFoundError as exc:
        raise StoreUnusable(f"{what} is missing from the layer store", path) from exc
    except PermissionError as exc:
        raise StoreUnusable(f"{what} is not readable (permission denied)", path, _PERMISSION_HINT) from exc
    except OSError as exc:
        raise StoreUnusable(f"{what} cannot be read from the layer store", f"{path}: {exc}") from exc


@dataclass(frozen=True)
class _Data:
    """A file's data in the layer tar: SIZE bytes, the file NAME (as the tar-split says it) of
    the diff directory."""

    name: bytes
    size: int


_SEGMENT = b'{"type":2,"payload":"'      # how Docker (Go's encoding/json) writes a segment's line
_FILE = re.compile(rb'\{"type":1,"name":"([^"\\]*)","size":(\d+),')   # a file's, its name unescaped


def tar_split_pieces(layer: StoredLayer) -> Iterator[bytes | _Data]:
    """The layer tar as tar-split.json.gz describes it: raw segments and file data, in order.

    Most lines are segments or entries without data (directories, links, whiteouts): a
    segment's payload is cut out of its line as Docker writes it, an entry without
    "size" is passed over; a file's name and size are cut out too, unless the name has
    JSON escapes (then the line is decoded as JSON)."""
    try:
        with gzip.open(layer.tar_split, "rb") as lines:
            for line in lines:
                if line.startswith(_SEGMENT):
                    end = line.find(b'"', len(_SEGMENT))
                    if end > len(_SEGMENT):
                        yield binascii.a2b_base64(line[len(_SEGMENT):end])
                    continue
                if b'"size":' not in line:
                    continue
                plain = _FILE.match(line)
                if plain:
                    yield _Data(plain[1], int(plain[2]))
                    continue
                entry = json.loads(line)
                if entry.get("type") == 2:
                    if entry.get("payload"):
                        yield base64.b64decode(entry["payload"])
                elif entry.get("type") == 1 and entry.get("size"):
                    name = base64.b64decode(entry["name_raw"]) if entry.get("name_raw") else \
                        entry["name"].encode("utf-8", "surrogateescape")
                    yield _Data(name, int(entry["size"]))
    except (OSError, EOFError, zlib.error, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise StoreUnusable("a layer's tar-split cannot be read", f"{layer.tar_split}: {exc}") from exc


def _inside(diff_dir: str, name: bytes, layer: StoredLayer) -> bytes:
    """The file NAME of the layer's DIFF_DIR (never outside it)."""
    parts = [part for part in name.split(b"/") if part not in (b"", b".")]
    if b".." in parts or not parts:
        raise StoreUnusable("a layer's tar-split names a file outside its layer", f"{layer.tar_split}: {name!r}")
    return os.path.join(os.fsencode(diff_dir), *parts)


class _TarSplit:
    """The layer tar, for scan.members(): segments are read from the tar-split, a file's data
    is skipped without a read, and read (for hashing) from the diff directory."""

    def __init__(self, layer: StoredLayer):
        self._layer = layer
        self._pieces = tar_split_pieces(layer)
        self._piece: bytes | _Data = b""
        self._at = 0                 # offset in the current piece
        self._fd: int | None = None  # the current _Data's file, once read
        self._path = ""
        self.pos = 0

    def read(self, count: int) -> bytes:
        parts = []
        while count > 0 and self._current():
            take = min(count, self._left())
            if isinstance(self._piece, bytes):
                parts.append(self._piece[self._at:self._at + take])
            else:
                parts.append(self._file_bytes(take))
            self._advance(take)
            count -= take
        return b"".join(parts)

    def skip(self, count: int) -> None:
        while count > 0 and self._current():
            take = min(count, self._left())
            self._advance(take)
            count -= take

    def _left(self) -> int:
        piece = self._piece
        return (len(piece) if isinstance(piece, bytes) else piece.size) - self._at

    def _current(self) -> bool:
        """True when there is a piece left to read (moving on to the next when this one is done)."""
        while self._left() == 0:
            self._close()
            piece = next(self._pieces, None)
            if piece is None:
                self._piece, self._at = b"", 0
                return False
            self._piece, self._at = piece, 0
        return True

    def _advance(self, count: int) -> None:
        self._at += count
        self.pos += count

    def _file_bytes(self, count: int) -> bytes:
        """COUNT bytes of the current file's data, from the diff directory."""
        data_file: _Data = self._piece      # type: ignore[assignment]
        if self._fd is None:
            self._path = os.fsdecode(_inside(self._layer.diff_dir, data_file.name, self._layer))
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDONLY | os.O_CLOEXEC)
                size = os.fstat(self._fd).st_size
                if size != data_file.size:
                    raise StoreUnusable("a file in the layer store does not have the size its tar-split says",
                                        f"{self._path}: {size} bytes, tar-split {data_file.size} ({self._layer.name})",
                                        "the layer store is damaged or changing under us; " + READ_SAVE_HINT)
            data = os.pread(self._fd, count, self._at)
        except OSError as exc:
            raise StoreUnusable("a file of the layer store cannot be read", f"{self._path}: {exc}") from exc
        if len(data) != count:
            raise StoreUnusable("a file in the layer store ends early", f"{self._path}: at byte {self._at + len(data)}")
        return data

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self):
        self._close()


# --- the image as `docker save` writes it ------------------------------------------------

_CHUNK = 1 << 20


def layer_tar_size(layer: StoredLayer) -> int:
    """Bytes of the layer tar the tar-split describes."""
    return sum(len(piece) if isinstance(piece, bytes) else piece.size for piece in tar_split_pieces(layer))


def saved_image_stream(image: StoredImage, repo_tags: tuple[str, ...] = ()) -> "io.BufferedReader":
    """IMAGE as Docker 20.10's `docker save` writes it (<hex>.json, <diff_id hex>/layer.tar,
    manifest.json), assembled from the layer store: each layer tar byte for byte as its
    tar-split says, its sha256 checked against its diff_id as it ends (StoreUnusable on a
    mismatch: the reader then reads the image through docker save). Nothing is written to
    disk; file data is read from the diff directories as the stream is read."""
    return io.BufferedReader(_ChunkReader(_saved_chunks(image, repo_tags)), buffer_size=_CHUNK)


def _saved_chunks(image: StoredImage, repo_tags: tuple[str, ...]) -> Iterator[bytes]:
    config_name = image.image_id.split(":", 1)[1] + ".json"
    yield from _tar_member(config_name, len(image.config_bytes), iter((image.config_bytes,)))
    names = []
    for layer, diff_id in zip(image.layers, image.diff_ids):
        name = diff_id.split(":", 1)[1] + "/layer.tar"     # named by its content: the layer cache's member names
        names.append(name)
        yield from _tar_member(name, layer_tar_size(layer), _checked_layer(layer, diff_id))
    manifest = json.dumps([{"Config": config_name, "RepoTags": list(repo_tags), "Layers": names}]).encode()
    yield from _tar_member("manifest.json", len(manifest), iter((manifest,)))
    yield b"\0" * (2 * tarfile.BLOCKSIZE)


def _checked_layer(layer: StoredLayer, diff_id: str) -> Iterator[bytes]:
    reader = _TarSplit(layer)
    digest = hashlib.sha256()
    while True:
        data = reader.read(_CHUNK)
        if not data:
            break
        digest.update(data)
        yield data
    if "sha256:" + digest.hexdigest() != diff_id:
        raise StoreUnusable("a layer assembled from the layer store is not the layer its diff id names",
                            f"{layer.name}: sha256:{digest.hexdigest()}, expected {diff_id}")


def _tar_member(name: str, size: int, data: Iterator[bytes]) -> Iterator[bytes]:
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o644
    yield info.tobuf(format=tarfile.PAX_FORMAT)
    sent = 0
    for block in data:
        sent += len(block)
        yield block
    if sent != size:
        raise StoreUnusable("a layer's tar-split and its files disagree on the layer's size",
                            f"{name}: {sent} bytes, tar-split {size}")
    if -size % tarfile.BLOCKSIZE:
        yield b"\0" * (-size % tarfile.BLOCKSIZE)


class _ChunkReader(io.RawIOBase):
    """A readable raw stream over an iterator of byte chunks."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._rest = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        while not self._rest:
            self._rest = next(self._chunks, b"")
            if not self._rest:
                return 0
        count = min(len(target), len(self._rest))
        target[:count] = self._rest[:count]
        self._rest = self._rest[count:]
        return count
