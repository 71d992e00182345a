"""The layer cache: what indexing one layer yields (a LayerRecord), kept across runs.

  1. content-addressed: a record is stored under the sha256 of the layer tar it was
     read from, computed while the layer streamed by (for Docker, that is the layer's
     diff_id), so a record can never describe other bytes than its name says; the
     format version and the way the layer was read (layer.py's ELF and hash options)
     are part of the key;
  2. where: $SLIMMER_CACHE_DIR, else $XDG_CACHE_HOME/slimmer, else ~/.cache/slimmer;
     SLIMMER_CACHE_DIR=off turns the cache off;
  3. bounded: at most SLIMMER_CACHE_MAX_MB megabytes (default 500); after each write
     the least recently used files go first (a hit refreshes a file's mtime);
  4. safe under concurrent runs: a file is written under a temporary name and moved
     into place with os.replace, so a reader sees a whole file or none; a file that
     does not decode (cut short, corrupt, another format) is ignored, removed, and
     written again by the run that reads the layer;
  5. besides the records: each layer's content size (what `slim build` reports as the
     image's size), each image config by image ID (the sha256 of its bytes) and, per member name of a `docker save` stream, the digest of the
     layer it holds (both content-addressed: Docker 20.10 names a layer tar after its
     chain of layers, OCI layouts after the blob digest), so a stream's layers that are
     cached already can be passed over without being parsed;
  6. and which slim image a build made from which inputs (slimmer/build.py's build_key:
     the original's ID, keep.list, generated/, the image config, the sensor), so a
     second build from the same inputs reuses it when it is still there;
  7. and what each Python source imports (langimports.python.scan_key: the scanner's
     version and the source's bytes), one file for all, at most PYTHON_SCANS_MAX entries
     (the oldest go first): the keep stage of a build whose stdlib and packages an
     earlier build scanned parses none of them again.
A cache that cannot be written (a read-only home) is a cache that misses: never an error.
"""
from __future__ import annotations

import hashlib
import json
import marshal
import os
import re
import tempfile
import time
import zlib
from dataclasses import astuple, dataclass

from ..errors import BadInput
from ..model import ElfInfo, EntryType
from .layer import LayerRecord

CACHE_DIR_ENV = "SLIMMER_CACHE_DIR"
CACHE_MAX_ENV = "SLIMMER_CACHE_MAX_MB"
DEFAULT_MAX_MB = 500
FORMAT = 3                      # 2: entry_points.txt captured too; 3: package.json, pyvenv.cfg, .pth
_MAGIC = b"slimmer layer record\n"
_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
_STALE_TEMP_S = 3600          # a temporary file this old belongs to a run that died
_KINDS = {kind.value: kind for kind in EntryType}


def default_cache() -> "LayerCache | None":
    """The cache the environment asks for (module docstring, rule 2), or None when off."""
    setting = os.environ.get(CACHE_DIR_ENV, "").strip()
    if setting.lower() == "off":
        return None
    if not setting:
        xdg = os.environ.get("XDG_CACHE_HOME", "")
        base = xdg if os.path.isabs(xdg) else os.path.join(os.path.expanduser("~"), ".cache")
        setting = os.path.join(base, "slimmer")
    return LayerCache(setting, max_bytes=_max_bytes())


def _max_bytes() -> int:
    value = os.environ.get(CACHE_MAX_ENV, "").strip()
    if not value:
        return DEFAULT_MAX_MB << 20
    try:
        megabytes = int(value)
        if megabytes < 0:
            raise ValueError(value)
    except ValueError:
        raise BadInput(f"{CACHE_MAX_ENV} must be a whole number of megabytes", value,
                       f"set {CACHE_MAX_ENV}=500 (the default), or {CACHE_DIR_ENV}=off to turn the cache off") from None
    return megabytes << 20


@dataclass
class CacheStats:
    """What one LayerCache did in this process (tests and the bench read it)."""
    hits: int = 0
    misses: int = 0
    writes: int = 0
    corrupt: int = 0
    evicted: int = 0


class LayerCache:
    """Layer records, sizes and member names on disk (module docstring)."""

    def __init__(self, root: str, max_bytes: int = DEFAULT_MAX_MB << 20):
        self.root = root
        self.directory = os.path.join(root, f"layers-v{FORMAT}")
        self.max_bytes = max_bytes
        self.stats = CacheStats()

    # --- records ---------------------------------------------------------------------

    def get(self, digest: str, variant: str) -> LayerRecord | None:
        """The record of the layer with this sha256 read this way, or None."""
        path = self._path(digest, variant)
        data = self._read(path)
        record = _decode(data) if data is not None else None
        if record is None:
            self.stats.misses += 1
            if data is not None:
                self.stats.corrupt += 1
                self._unlink(path)
            return None
        self.stats.hits += 1
        try:
            os.utime(path)               # least recently used goes first
        except OSError:
            pass
        return record

    def put(self, digest: str, variant: str, record: LayerRecord, member: str | None = None) -> bool:
        """Keep RECORD (read this way from the layer tar with sha256 DIGEST, the `docker save`
        member MEMBER); False when not kept."""
        path = self._path(digest, variant)
        if path is None:
            return False
        data = _encode(record)
        if len(data) > self.max_bytes or not self._write(path, data):
            return False
        self.stats.writes += 1
        self.put_size(digest, record.content_size)
        if member is not None:
            self.put_member(member, digest)
        self.evict()
        return True

    # --- content sizes and member names ---------------------------------------------------

    def size(self, digest: str) -> int | None:
        data = self._read(self._path(digest, "size"))
        try:
            return int(data) if data is not None else None
        except ValueError:
            return None

    def put_size(self, digest: str, size: int) -> None:
        path = self._path(digest, "size")
        if path is not None and self._read(path) != str(size).encode():
            self._write(path, str(size).encode())

    def layer_of(self, member: str) -> str | None:
        """The digest of the layer a `docker save` member of this name holds, when known."""
        data = self._read(self._member_path(member))
        text = data.decode("ascii", "replace") if data is not None else ""
        return text if _DIGEST.fullmatch(text) else None

    def put_member(self, member: str, digest: str) -> None:
        if _DIGEST.fullmatch(digest) and self.layer_of(member) != digest:
            self._write(self._member_path(member), digest.encode("ascii"))

    def config(self, image_id: str) -> dict | None:
        """The image config of this image ID (the sha256 of the config's bytes), when kept."""
        data = self._read(self._path(image_id, "config"))
        if data is None or "sha256:" + hashlib.sha256(data).hexdigest() != image_id:
            return None
        try:
            document = json.loads(data)
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    def put_config(self, image_id: str, data: bytes) -> None:
        path = self._path(image_id, "config")
        if path is not None and "sha256:" + hashlib.sha256(data).hexdigest() == image_id \
                and len(data) <= self.max_bytes and self.config(image_id) is None and self._write(path, data):
            self.evict()

    # --- slim images built -------------------------------------------------------------

    def built_image(self, key: str) -> dict | None:
        """What put_built_image recorded under KEY ("sha256:..."), or None."""
        data = self._read(self._path(key, "build"))
        try:
            document = json.loads(data) if data is not None else None
        except ValueError:
            return None
        return document if isinstance(document, dict) else None

    def put_built_image(self, key: str, record: dict) -> None:
        path = self._path(key, "build")
        if path is not None and self._write(path, json.dumps(record, sort_keys=True).encode("utf-8")):
            self.evict()

    # --- the bound ------------------------------------------------------------------------

    def evict(self) -> None:
        """Remove the least recently used files until the cache holds at most max_bytes."""
        try:
            scanned = list(os.scandir(self.directory))
        except OSError:
            return
        now = time.time()
        files = []
        for item in scanned:
            try:
                stat = item.stat(follow_symlinks=False)
            except OSError:
                continue
            if item.name.startswith(".tmp-"):
                if now - stat.st_mtime >= _STALE_TEMP_S:
                    self._unlink(item.path)      # left by a run that died
                continue                         # else another run is writing it
            files.append((stat.st_mtime, stat.st_size, item.path))
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            if self._unlink(path):
                self.stats.evicted += 1
            total -= size

    def total_bytes(self) -> int:
        try:
            return sum(item.stat().st_size for item in os.scandir(self.directory))
        except OSError:
            return 0

    # --- files ----------------------------------------------------------------------------

    def _path(self, digest: str, kind: str) -> str | None:
        match = _DIGEST.fullmatch(digest or "")
        return os.path.join(self.directory, f"{match.group(1)}.{kind}") if match else None

    def _member_path(self, member: str) -> str:
        return os.path.join(self.directory, "member-" + hashlib.sha256(member.encode()).hexdigest()[:40])

    @staticmethod
    def _read(path: str | None) -> bytes | None:
        if path is None:
            return None
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def _write(self, path: str, data: bytes) -> bool:
        temporary = None
        try:
            os.makedirs(self.directory, exist_ok=True)
            handle, temporary = tempfile.mkstemp(prefix=".tmp-", dir=self.directory)
            with os.fdopen(handle, "wb") as out:
                out.write(data)
            os.replace(temporary, path)
            return True
        except OSError:
            if temporary is not None:
                self._unlink(temporary)
            return False

    @staticmethod
    def _unlink(path: str) -> bool:
        try:
            os.unlink(path)
            return True
        except OSError:
            return False


# --- Python scans ---------------------------------------------------------------------------

PYTHON_SCANS_MAX = 60000
_SCANS_MAGIC = b"slimmer python scans\n"


def load_python_scans(cache: "LayerCache | None") -> dict | None:
    """The Python scans kept in CACHE (rule 7): a dict to read and add to; None without a cache."""
    if cache is None:
        return None
    return _read_scans(os.path.join(cache.directory, "python-scans"))


def save_python_scans(cache: "LayerCache | None", scans: dict | None, known: int) -> None:
    """Keep SCANS (from load_python_scans, KNOWN entries when loaded) when it grew, merged
    with what another run wrote meanwhile."""
    if cache is None or scans is None or len(scans) <= known:
        return
    path = os.path.join(cache.directory, "python-scans")
    merged = {**_read_scans(path), **scans}
    if len(merged) > PYTHON_SCANS_MAX:
        merged = dict(list(merged.items())[-PYTHON_SCANS_MAX:])
    data = _SCANS_MAGIC + zlib.compress(marshal.dumps(merged), 1)
    if len(data) <= cache.max_bytes and cache._write(path, data):
        cache.evict()


def _read_scans(path: str) -> dict:
    data = LayerCache._read(path)
    if data is None or not data.startswith(_SCANS_MAGIC):
        return {}
    try:
        scans = marshal.loads(zlib.decompress(data[len(_SCANS_MAGIC):]))
    except (ValueError, TypeError, EOFError, zlib.error):
        return {}
    return scans if isinstance(scans, dict) else {}


# --- the record format: magic, then zlib(marshal(plain tuples)) ---------------------------------

def _encode(record: LayerRecord) -> bytes:
    rows = tuple((path, kind.value, mode, uid, gid, size, link_target, mtime,
                  astuple(elf) if elf is not None else None, shebang)
                 for path, kind, mode, uid, gid, size, link_target, mtime, elf, shebang in record.rows)
    payload = (rows, record.whiteouts, record.opaque_dirs, record.hashes, record.contents)
    return _MAGIC + zlib.compress(marshal.dumps(payload), 1)


def _decode(data: bytes) -> LayerRecord | None:
    """The record in DATA, or None when DATA is not a whole record of this format."""
    if not data.startswith(_MAGIC):
        return None
    try:
        # zlib checks the data (adler32) and its end: a cut or damaged file fails here
        rows, whiteouts, opaque_dirs, hashes, contents = marshal.loads(zlib.decompress(data[len(_MAGIC):]))
        decoded = tuple((path, _KINDS[kind], mode, uid, gid, size, link_target, mtime,
                         ElfInfo(*elf) if elf is not None else None, shebang)
                        for path, kind, mode, uid, gid, size, link_target, mtime, elf, shebang in rows)
        if not (isinstance(whiteouts, tuple) and isinstance(opaque_dirs, tuple) and isinstance(contents, dict)
                and (hashes is None or isinstance(hashes, dict))):
            return None
    except (ValueError, TypeError, EOFError, KeyError, zlib.error):
        return None
    return LayerRecord(decoded, whiteouts, opaque_dirs, hashes, contents)
