"""The sensor: where its binary lives, how it goes into a container, and the
one parser of its log.

The sensor itself is the static C program in slimmer/sensor/ (see main.c for
its modes). It writes one log file per sensor process into LOG_DIR:
trace.<pid>.log for the app (PID 1), run.<pid>.log for each `docker exec`.

Log format, version 1 (fields separated by TAB, paths and argv escaped with
escape_path):
    #slimmer-sensor-log<TAB>1
    P<TAB>syscall<TAB>r|w<TAB>path            once per (path, syscall, r|w)
    X<TAB>pid<TAB>exe<TAB>argv0<TAB>argv1...   each successful exec
    E<TAB>status                              the app's exit status (128+N: signal N)
"""
from __future__ import annotations

import io
import os
import re
import tarfile

from . import errors
from .model import TraceLog, TracedPath, TracedProcess

SENSOR_DIR = "/.slimmer"
LOG_DIR = "/.slimmer/log"
SENSOR_IN_CONTAINER = "/.slimmer/sensor"

LOG_VERSION = 1
LOG_MAGIC = b"#slimmer-sensor-log"

_BINARY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sensor", "bin", "slim-sensor")


def sensor_path() -> str:
    """Absolute path of the built sensor binary."""
    if not os.path.isfile(_BINARY) or not os.access(_BINARY, os.X_OK):
        raise errors.SensorError("sensor binary missing", _BINARY,
                                 "run make install (or make -C slimmer/sensor)")
    return _BINARY


def sensor_tar() -> bytes:
    """A tar to put_archive at "/": /.slimmer, the sensor, and a world-writable log dir.

    The log dir is 01777 so that an image's non-root USER can write its log there.
    """
    binary = sensor_path()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, mode in ((SENSOR_DIR, 0o755), (LOG_DIR, 0o1777)):
            entry = tarfile.TarInfo(name.lstrip("/"))
            entry.type = tarfile.DIRTYPE
            entry.mode = mode
            tar.addfile(entry)
        entry = tarfile.TarInfo(SENSOR_IN_CONTAINER.lstrip("/"))
        entry.mode = 0o755
        with open(binary, "rb") as stream:
            content = stream.read()
        entry.size = len(content)
        tar.addfile(entry, io.BytesIO(content))
    return buffer.getvalue()


# --- escaping ----------------------------------------------------------------------

def _escape_byte(match: re.Match) -> bytes:
    byte = match.group(0)
    named = {b"\\": b"\\\\", b"\t": b"\\t", b"\n": b"\\n"}
    return named.get(byte) or b"\\x%02x" % byte[0]


_NEEDS_ESCAPE = re.compile(rb"[\x00-\x1f\x7f\\]")
_ESCAPE = re.compile(rb"\\(x[0-9a-fA-F]{2}|.)", re.DOTALL)


def _unescape_match(match: re.Match) -> bytes:
    code = match.group(1)
    if code == b"t":
        return b"\t"
    if code == b"n":
        return b"\n"
    if code[:1] == b"x" and len(code) == 3:
        return bytes([int(code[1:], 16)])
    return code          # "\\\\" and unknown escapes: the byte itself (as the sensor does)


def escape_bytes(raw: bytes) -> bytes:
    return _NEEDS_ESCAPE.sub(_escape_byte, raw)


def unescape_bytes(escaped: bytes) -> bytes:
    return _ESCAPE.sub(_unescape_match, escaped)


def escape_path(path: str) -> str:
    """Escape a path for the log / keep list; non-UTF-8 bytes travel as surrogates."""
    raw = path.encode("utf-8", "surrogateescape")
    return escape_bytes(raw).decode("utf-8", "surrogateescape")


def unescape_path(escaped: str) -> str:
    raw = escaped.encode("utf-8", "surrogateescape")
    return unescape_bytes(raw).decode("utf-8", "surrogateescape")


def _field(raw: bytes) -> str:
    return unescape_bytes(raw).decode("utf-8", "surrogateescape")


# --- the log -----------------------------------------------------------------------

def parse_log(files: dict[str, bytes]) -> TraceLog:
    """Merge the sensor's log files (name -> content) into one TraceLog.

    1. Every file must start with the version-1 header; another version is an
       error (a sensor newer than this slimmer).
    2. A last line without its newline was cut short by a killed container: it
       is dropped, everything before it counts.
    3. A path seen by several syscalls or processes becomes one TracedPath; it is
       `write` when any record asked to write.
    4. exit_status comes from the app's trace log, not from exec probes' run logs.
    """
    syscalls: dict[str, set[str]] = {}
    writes: dict[str, bool] = {}
    sources: dict[str, set[str]] = {}
    processes: list[TracedProcess] = []
    exit_status: int | None = None
    for name in sorted(files, key=lambda n: (not n.startswith("trace."), n)):
        content = files[name]
        if not content:
            continue                      # created, then killed before the header got out
        lines = content.split(b"\n")
        complete, last = lines[:-1], lines[-1]
        if not complete and last.startswith(LOG_MAGIC[: len(last)]):
            continue                      # only a cut-short header
        header = complete[0].split(b"\t") if complete else last.split(b"\t")
        if header[0] != LOG_MAGIC or len(header) != 2:
            raise errors.SensorError("not a sensor log", name,
                                     "the log directory holds a file the sensor did not write")
        if header[1] != str(LOG_VERSION).encode():
            raise errors.SensorError(
                "unsupported sensor log version", f"{name}: {header[1].decode(errors='replace')}",
                "rebuild the sensor from this slimmer (make -C slimmer/sensor)")
        for number, line in enumerate(complete[1:], start=2):
            fields = line.split(b"\t")
            kind = fields[0]
            try:
                if kind == b"P":
                    syscall, access, path = fields[1].decode(), fields[2], _field(fields[3])
                    if access not in (b"r", b"w") or len(fields) != 4:
                        raise ValueError(access)
                    syscalls.setdefault(path, set()).add(syscall)
                    sources.setdefault(path, set()).add(name)
                    writes[path] = writes.get(path, False) or access == b"w"
                elif kind == b"X":
                    processes.append(TracedProcess(
                        pid=int(fields[1]), exe=_field(fields[2]),
                        argv=tuple(_field(arg) for arg in fields[3:])))
                elif kind == b"E":
                    if name.startswith("trace."):
                        exit_status = int(fields[1])
                elif kind and not kind.startswith(b"#"):
                    raise ValueError(kind)
            except (IndexError, ValueError, UnicodeDecodeError):
                raise errors.SensorError(
                    "malformed sensor log line", f"{name}:{number}: {line[:120]!r}",
                    "the sensor and slimmer versions may differ: rebuild the sensor") from None
    paths = {path: TracedPath(path=path, syscalls=frozenset(names), write=writes[path],
                                   logs=frozenset(sources[path]))
             for path, names in syscalls.items()}
    return TraceLog(version=LOG_VERSION, paths=paths, processes=tuple(processes),
                    exit_status=exit_status)
