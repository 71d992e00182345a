"""Probe files: the TOML format (see docs/PROBES.md) and the flags that add to it.

Parsing only: every error names the file, the line and the field. The probes
themselves run in probe.py.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from .errors import BadInput
from .model import ExecProbe, HttpProbe, RunSpec, WaitProbe
from .runcontext import RUN_CONTEXT_KEYS, RunKeyError, parse_run_table

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore


# --- probe files -------------------------------------------------------------------

@dataclass(frozen=True)
class CrawlLimits:
    depth: int = 3          # link levels followed from /
    pages: int = 50         # pages found, at most
    seconds: float = 30.0   # wall time of the crawl itself


@dataclass(frozen=True)
class ProbePlan:
    probes: tuple = ()
    run: RunSpec = field(default_factory=RunSpec)
    crawl: bool = True
    crawl_limits: CrawlLimits = field(default_factory=CrawlLimits)


def parse_http_flag(text: str) -> HttpProbe:
    """'/api' or 'POST /login' -> HttpProbe."""
    parts = text.split(None, 1)
    if len(parts) == 2 and parts[0].isalpha():
        method, path = parts[0].upper(), parts[1].strip()
    else:
        method, path = "GET", text.strip()
    if not path.startswith("/"):
        raise BadInput("--http-probe needs a path starting with /", text, "e.g. --http-probe /health or 'POST /login'")
    return HttpProbe(path=path, method=method)


def load_probe_file(path: str) -> ProbePlan:
    """Read a TOML probe file; errors name the file, the line and the field."""
    file = Path(path)
    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise BadInput("cannot read the probe file", f"{path}: {reason}", "check the path given to --probe-file") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"probe file {path} is not valid TOML", str(exc), "fix the syntax at that line") from exc
    return parse_probe_data(data, text, path)


_PROBE_KEYS = {
    "http": {"type", "method", "path", "port", "headers", "body", "body_file", "expect_status",
             "expect_body", "expect_json", "repeat", "scheme", "compare"},
    "exec": {"type", "argv", "user", "expect_exit", "expect_output", "compare"},
    "wait": {"type", "seconds", "port", "log", "timeout"},
}
_RUN_KEYS = {"continue_after", *RUN_CONTEXT_KEYS}
_CRAWL_KEYS = {"depth", "pages", "seconds"}
_TOP_KEYS = {"probe", "run", "crawl"}


class _Lines:
    """Where things are in the probe file's text, so an error can name the line.

    1. each [[probe]] / [run] header opens a block that lasts until the next header;
    2. a field's line is the first `name =` line inside its block (the header's
       own line when the field is missing or written inline);
    3. top-level keys live before the first header.
    """

    _HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.\"-]+)\s*\]\]?")

    def __init__(self, text: str):
        self.lines = text.splitlines()
        self.headers = [(number + 1, match.group(1)) for number, line in enumerate(self.lines)
                        if (match := self._HEADER.match(line))]

    def blocks(self, name: str) -> list[int]:
        return [number for number, header in self.headers if header == name]

    def field(self, start: int, name: str) -> int:
        """Line of NAME in the block opened at START (0: the top level)."""
        end = next((number for number, _ in self.headers if number > start), len(self.lines) + 1)
        pattern = re.compile(r"^\s*\"?" + re.escape(name) + r"\"?\s*=")
        for number in range(start + 1, end):
            if pattern.match(self.lines[number - 1]):
                return number
        return max(start, 1)


def parse_probe_data(data: dict, text: str, path: str) -> ProbePlan:
    lines = _Lines(text)
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        line = lines.blocks(unknown[0])[:1] or [lines.field(0, unknown[0])]
        raise _field_error(path, line[0], unknown[0], "unknown table or key",
                           "allowed: [[probe]], [run], crawl = true|false|{depth, pages, seconds}")
    raw_probes = data.get("probe", [])
    if not isinstance(raw_probes, list) or not all(isinstance(item, dict) for item in raw_probes):
        raise _field_error(path, lines.field(0, "probe"), "probe", "not an array of tables",
                           "write each probe as a [[probe]] table")
    probe_lines = lines.blocks("probe")
    probes = []
    for number, raw in enumerate(raw_probes):
        start = probe_lines[number] if number < len(probe_lines) else lines.field(0, "probe")
        probes.append(_parse_probe(raw, path, lambda name, start=start: lines.field(start, name),
                                   Path(path).parent))
    run_start = (lines.blocks("run") or [0])[0]
    run = _parse_run(data.get("run", {}), path, lambda name: lines.field(run_start, name) if run_start
                     else lines.field(0, "run"), Path(path).parent)
    crawl, limits = _parse_crawl(data.get("crawl", True), path, lines)
    return ProbePlan(probes=tuple(probes), run=run, crawl=crawl, crawl_limits=limits)


def _field_error(path: str, line: int, name: str, problem: str, hint: str) -> BadInput:
    return BadInput(f"bad probe file {path}, line {line}, field '{name}'", problem, hint)


def _type_names(types) -> str:
    """(int, float) -> "an integer or a number"."""
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "a table"}
    return " or ".join(names.get(t, "a " + t.__name__) for t in (types if isinstance(types, tuple) else (types,)))


def _is(value, types) -> bool:
    """isinstance, except that a TOML boolean is not a number."""
    types = types if isinstance(types, tuple) else (types,)
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def _parse_probe(raw: dict, path: str, line_of: Callable[[str], int], base: Path):
    def fail(name: str, problem: str, hint: str) -> BadInput:
        return _field_error(path, line_of(name), name, problem, hint)

    kind = raw.get("type")
    if kind not in _PROBE_KEYS:
        problem = "missing" if kind is None else f"{kind!r} is not a probe type"
        raise fail("type", problem, 'type must be "http", "exec" or "wait"')
    extra = sorted(set(raw) - _PROBE_KEYS[kind])
    if extra:
        raise fail(extra[0], f"unknown field for a {kind} probe", "allowed: " + ", ".join(sorted(_PROBE_KEYS[kind])))
    compare = raw.get("compare", "auto")
    if compare not in ("auto", "exact", "status"):
        raise fail("compare", repr(compare),
                   'compare = "exact" (a different body or output fails verification) or "status" (the default)')
    compare = "exact" if compare == "exact" else "auto"

    def typed(name, types, default=None):
        value = raw.get(name, default)
        if value is not None and not _is(value, types):
            raise fail(name, f"{value!r} is not {_type_names(types)}", f"give {name} as {_type_names(types)}")
        return value

    def port_field(name, allow_auto=False):
        value = typed(name, (int, str) if allow_auto else int)
        if isinstance(value, str) and value != "auto":
            raise fail(name, repr(value), 'a port number or "auto"')
        if isinstance(value, int) and not 1 <= value <= 65535:
            raise fail(name, str(value), "a TCP port between 1 and 65535")
        return value

    if kind == "http":
        probe_path = typed("path", str, "/")
        if not probe_path.startswith("/"):
            raise fail("path", repr(probe_path), "a path starts with /, e.g. path = \"/health\"")
        method = typed("method", str, "GET")
        if not re.fullmatch(r"[A-Za-z]+", method):
            raise fail("method", repr(method), "an HTTP method such as GET, POST, PUT, DELETE")
        port = port_field("port", allow_auto=True)
        status = typed("expect_status", int)
        if status is not None and not 100 <= status <= 599:
            raise fail("expect_status", str(status), "an HTTP status between 100 and 599")
        body = typed("body", str)
        body_file = typed("body_file", str)
        if body is not None and body_file is not None:
            raise fail("body_file", "both body and body_file are given", "keep one of them")
        if body_file is not None:
            try:
                body_bytes = (base / body_file).read_bytes()
            except OSError as exc:
                raise fail("body_file", f"{body_file}: {exc.strerror}",
                           "the path is relative to the probe file's directory") from exc
        else:
            body_bytes = body.encode() if body is not None else None
        headers = typed("headers", dict, {})
        for key, value in headers.items():
            if not isinstance(value, str):
                raise fail("headers", f"{key} = {value!r} is not a string", 'headers = {Accept = "application/json"}')
        repeat = typed("repeat", int, 1)
        if repeat < 1:
            raise fail("repeat", str(repeat), "repeat at least 1")
        scheme = typed("scheme", str, "http")
        if scheme not in ("http", "https"):
            raise fail("scheme", repr(scheme), "http or https")
        return HttpProbe(
            path=probe_path, method=method.upper(),
            port=None if port in (None, "auto") else port,
            headers=tuple((str(k), v) for k, v in headers.items()),
            body=body_bytes, expect_status=status, expect_body=typed("expect_body", str),
            expect_json=raw.get("expect_json"), repeat=repeat, scheme=scheme, compare=compare)
    if kind == "exec":
        argv = typed("argv", list)
        if not argv or not all(isinstance(a, str) for a in argv):
            raise fail("argv", "missing" if argv is None else repr(argv),
                       'a non-empty list of strings, e.g. argv = ["psql", "-c", "select 1"]')
        return ExecProbe(argv=tuple(argv), user=typed("user", str),
                         expect_exit=typed("expect_exit", int, 0), expect_output=typed("expect_output", str),
                         compare=compare)
    seconds = typed("seconds", (int, float))
    port = port_field("port")
    log = typed("log", str)
    given = [name for name, value in (("seconds", seconds), ("port", port), ("log", log)) if value is not None]
    if len(given) != 1:
        raise fail(given[1] if len(given) > 1 else "type",
                   "a wait probe needs exactly one of seconds, port, log" +
                   (f" (got {', '.join(given)})" if given else " (got none)"),
                   'e.g. port = 5432, or seconds = 2, or log = "ready"')
    if seconds is not None and seconds <= 0:
        raise fail("seconds", str(seconds), "a positive number of seconds")
    if log is not None:
        try:
            re.compile(log)
        except re.error as exc:
            raise fail("log", f"{log!r}: {exc}", "a Python regular expression") from exc
    timeout = typed("timeout", (int, float), 60)
    if timeout <= 0:
        raise fail("timeout", str(timeout), "a positive number of seconds")
    return WaitProbe(seconds=seconds, port=port, log_regex=log, timeout_s=float(timeout))


def _parse_run(raw: dict, path: str, line_of: Callable[[str], int], base: Path = Path(".")) -> RunSpec:
    """[run]: continue_after, and the run context (runcontext.py: env, env_file, network,
    network_aliases, hosts, volumes, tmpfs, user, entrypoint, command, workdir). Relative
    paths (env_file, volume sources) start from the probe file's directory. No error
    message carries an env value."""
    def fail(name: str, problem: str, hint: str) -> BadInput:
        return _field_error(path, line_of(name), name, problem, hint)

    if not isinstance(raw, dict):
        raise fail("run", repr(raw), "[run] is a table")
    extra = sorted(set(raw) - _RUN_KEYS)
    if extra:
        raise fail(extra[0], "unknown field in [run]", "allowed: " + ", ".join(sorted(_RUN_KEYS)))
    try:
        run = parse_run_table(raw, base_dir=str(base))
    except RunKeyError as exc:
        raise fail(exc.key, str(exc.value), exc.hint or "") from None
    continue_after = raw.get("continue_after", "auto")
    try:
        parse_continue_after(continue_after)
    except BadInput as exc:
        raise fail("continue_after", repr(continue_after), exc.hint or "") from exc
    return replace(run, continue_after=continue_after)


def _parse_crawl(raw, path: str, lines: _Lines) -> tuple[bool, CrawlLimits]:
    """crawl = true | false | {depth = N, pages = N, seconds = S}"""
    start = (lines.blocks("crawl") or [0])[0]

    def fail(name: str, problem: str, hint: str) -> BadInput:
        return _field_error(path, lines.field(start, name) if start else lines.field(0, "crawl"), name, problem, hint)

    if isinstance(raw, bool):
        return raw, CrawlLimits()
    if not isinstance(raw, dict):
        raise fail("crawl", repr(raw), "crawl = true, crawl = false or crawl = {depth = 3, pages = 50, seconds = 30}")
    extra = sorted(set(raw) - _CRAWL_KEYS)
    if extra:
        raise fail(extra[0], "unknown crawl limit", "allowed: depth, pages, seconds")
    defaults = CrawlLimits()
    values = {}
    for name, types in (("depth", int), ("pages", int), ("seconds", (int, float))):
        value = raw.get(name, getattr(defaults, name))
        if not _is(value, types) or value <= 0:
            raise fail(name, repr(value), f"a positive {_type_names(types)}")
        values[name] = value
    return True, CrawlLimits(depth=values["depth"], pages=values["pages"], seconds=float(values["seconds"]))


def crawl_limits_from_flags(limits: CrawlLimits, depth: int | None, pages: int | None,
                            seconds: float | None) -> CrawlLimits:
    """--crawl-depth/--crawl-pages/--crawl-seconds over the probe file's limits."""
    for name, value in (("--crawl-depth", depth), ("--crawl-pages", pages), ("--crawl-seconds", seconds)):
        if value is not None and value <= 0:
            raise BadInput(f"{name} must be positive", value, f"e.g. {name} 3")
    return CrawlLimits(depth=depth if depth is not None else limits.depth,
                       pages=pages if pages is not None else limits.pages,
                       seconds=float(seconds) if seconds is not None else limits.seconds)


def parse_continue_after(text: str) -> tuple[str, float | None]:
    """'probes' | 'exit' | 'signal' | 'auto' | 'timeout=SECONDS' -> (mode, seconds)."""
    if text in ("probes", "exit", "signal", "auto"):
        return text, None
    if isinstance(text, str) and text.startswith("timeout="):
        try:
            seconds = float(text.split("=", 1)[1])
            if seconds > 0:
                return "timeout", seconds
        except ValueError:
            pass
    raise BadInput("bad --continue-after value", repr(text),
                   "use probes, exit, signal or timeout=SECONDS (e.g. timeout=30)")
