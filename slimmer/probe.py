"""Stage: probe. Drive a running container and record what it answered.

Probes come from flags (--http-probe, --exec-probe), from a TOML probe file,
or by default: for every TCP port the app exposes or listens on, wait until it
accepts, then GET / and a bounded crawl of same-origin links.

The same probes are replayed against the slim image by verify.py; each result
keeps a digest of the body (or stdout) so the two runs can be compared.
"""
from __future__ import annotations

import hashlib
import json
import re
import socket
import ssl
import time
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Callable
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from .errors import AppFailed, BadInput
from .model import ExecProbe, HttpProbe, ProbeResult, RunSpec, WaitProbe

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

Event = Callable[[str], None]


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
             "expect_body", "expect_json", "repeat", "scheme"},
    "exec": {"type", "argv", "user", "expect_exit", "expect_output"},
    "wait": {"type", "seconds", "port", "log", "timeout"},
}
_RUN_KEYS = {"env", "command", "user", "continue_after"}
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
                     else lines.field(0, "run"))
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
            expect_json=raw.get("expect_json"), repeat=repeat, scheme=scheme)
    if kind == "exec":
        argv = typed("argv", list)
        if not argv or not all(isinstance(a, str) for a in argv):
            raise fail("argv", "missing" if argv is None else repr(argv),
                       'a non-empty list of strings, e.g. argv = ["psql", "-c", "select 1"]')
        return ExecProbe(argv=tuple(argv), user=typed("user", str),
                         expect_exit=typed("expect_exit", int, 0), expect_output=typed("expect_output", str))
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


def _parse_run(raw: dict, path: str, line_of: Callable[[str], int]) -> RunSpec:
    def fail(name: str, problem: str, hint: str) -> BadInput:
        return _field_error(path, line_of(name), name, problem, hint)

    if not isinstance(raw, dict):
        raise fail("run", repr(raw), "[run] is a table")
    extra = sorted(set(raw) - _RUN_KEYS)
    if extra:
        raise fail(extra[0], "unknown field in [run]", "allowed: " + ", ".join(sorted(_RUN_KEYS)))
    env = raw.get("env", {})
    if not isinstance(env, dict) or not all(_is(v, (str, int, float)) for v in env.values()):
        raise fail("env", repr(env), 'a table of strings: env = {KEY = "value"}')
    command = raw.get("command")
    if command is not None and (not isinstance(command, list) or not command
                                or not all(isinstance(a, str) for a in command)):
        raise fail("command", repr(command), 'a non-empty list of strings, e.g. command = ["serve", "--port", "80"]')
    user = raw.get("user")
    if user is not None and not isinstance(user, str):
        raise fail("user", repr(user), 'a user name or "UID[:GID]" string, e.g. user = "1000:1000"')
    continue_after = raw.get("continue_after", "auto")
    try:
        parse_continue_after(continue_after)
    except BadInput as exc:
        raise fail("continue_after", repr(continue_after), exc.hint or "") from exc
    return RunSpec(command=tuple(command) if command else None,
                   env=tuple((str(k), str(v)) for k, v in env.items()),
                   user=user, continue_after=continue_after)


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


# --- reaching the container --------------------------------------------------------

@dataclass
class Endpoint:
    """Where the host reaches one container port."""
    container_port: int
    host: str
    port: int


def wait_for_port(endpoint: Endpoint, alive: Callable[[], bool], timeout_s: float) -> float:
    """Block until ENDPOINT accepts a TCP connection; return seconds waited.

    Docker's userland proxy accepts on the published port even when nothing
    listens inside, so a connection only counts once it is not reset at once.
    """
    start = time.monotonic()
    while True:
        if _accepts(endpoint):
            return time.monotonic() - start
        if not alive():
            raise AppFailed("the app exited before its port opened", f"port {endpoint.container_port}",
                            "look at the app's log lines below; run the image by hand with docker run")
        if time.monotonic() - start > timeout_s:
            raise AppFailed("the app never opened its port", f"port {endpoint.container_port} after {timeout_s:.0f}s",
                            "check the app listens on 0.0.0.0, or use --continue-after / a probe file [run] section")
        time.sleep(0.2)


def _accepts(endpoint: Endpoint) -> bool:
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=1) as sock:
            sock.settimeout(0.3)
            try:
                data = sock.recv(1, socket.MSG_PEEK)
                return data != b""   # b"": closed at once (the proxy found no listener)
            except socket.timeout:
                return True          # open and quiet: a listener that waits for us to talk
            except OSError:
                return False
    except OSError:
        return False


def speaks_tls(endpoint: Endpoint) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=3) as sock:
            with context.wrap_socket(sock) as tls:
                return tls.version() is not None
    except (OSError, ssl.SSLError):
        return False


def speaks_http(endpoint: Endpoint, scheme: str) -> bool:
    try:
        requests.get(f"{scheme}://{endpoint.host}:{endpoint.port}/", timeout=5, verify=False,
                     allow_redirects=False)
        return True
    except requests.RequestException:
        return False


# --- running probes -------------------------------------------------------------------

def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def http_probe(probe: HttpProbe, endpoint: Endpoint, timeout_s: float = 30) -> tuple[ProbeResult, bytes]:
    url = f"{probe.scheme}://{endpoint.host}:{endpoint.port}{probe.path}"
    name = replace(probe, port=endpoint.container_port).name
    start = time.monotonic()
    try:
        response = requests.request(probe.method, url, headers=dict(probe.headers), data=probe.body,
                                    timeout=timeout_s, verify=False, allow_redirects=False)
    except requests.RequestException as exc:
        return ProbeResult(name=name, kind="http", ok=False, error=f"{type(exc).__name__}: {exc}",
                           elapsed_s=time.monotonic() - start, port=endpoint.container_port), b""
    body = response.content
    error = check_http_expectations(probe, response.status_code, body)
    return ProbeResult(name=name, kind="http", ok=error is None, status=response.status_code,
                       digest=digest(body), elapsed_s=time.monotonic() - start, error=error,
                       port=endpoint.container_port), body


def check_http_expectations(probe: HttpProbe, status: int, body: bytes) -> str | None:
    if probe.expect_status is not None:
        if status != probe.expect_status:
            return f"status {status}, expected {probe.expect_status}"
    elif status >= 500:
        return f"status {status} (a server error)"
    if probe.expect_body is not None and probe.expect_body not in body.decode("utf-8", "replace"):
        return f"body does not contain {probe.expect_body!r}: {body[:200]!r}"
    if probe.expect_json is not None:
        try:
            document = json.loads(body)
        except ValueError:
            return f"body is not JSON: {body[:200]!r}"
        if not json_contains(document, probe.expect_json):
            return f"JSON body does not contain {json.dumps(probe.expect_json)}: {body[:200]!r}"
    return None


def json_contains(document, subset) -> bool:
    """True when SUBSET is contained in DOCUMENT:
    1. an object: every key of SUBSET is in DOCUMENT, its value contained recursively;
    2. an array: every element of SUBSET is contained in some element of DOCUMENT;
    3. anything else: equal, with booleans distinct from numbers.
    """
    if isinstance(subset, dict):
        return isinstance(document, dict) and all(
            key in document and json_contains(document[key], value) for key, value in subset.items())
    if isinstance(subset, list):
        return isinstance(document, list) and all(any(json_contains(d, s) for d in document) for s in subset)
    if isinstance(subset, bool) or isinstance(document, bool):
        return type(subset) is type(document) and document == subset   # JSON false is not 0
    return document == subset


def check_exec_expectations(probe: ExecProbe, exit_code: int, output: bytes) -> str | None:
    if probe.expect_exit is not None and exit_code != probe.expect_exit:
        return f"exit code {exit_code}, expected {probe.expect_exit}: {output[-300:].decode('utf-8', 'replace')}"
    if probe.expect_output is not None and probe.expect_output not in output.decode("utf-8", "replace"):
        return f"output does not contain {probe.expect_output!r}: {output[-300:].decode('utf-8', 'replace')}"
    return None


class _LinkParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value and ((tag == "a" and name == "href") or (tag in ("link", "script", "img") and name in ("href", "src"))):
                self.links.append(value)


def same_origin_links(base_url: str, body: bytes, content_type: str) -> list[str]:
    """Paths of same-origin links in an HTML page, in document order, without fragments."""
    if "html" not in content_type:
        return []
    parser = _LinkParser()
    try:
        parser.feed(body.decode("utf-8", "replace"))
    except Exception:  # malformed HTML: keep what was found
        pass
    origin = urlsplit(base_url)
    paths = []
    for link in parser.links:
        absolute = urlsplit(urljoin(base_url, link))
        if (absolute.scheme, absolute.netloc) != (origin.scheme, origin.netloc):
            continue
        path = absolute.path or "/"
        if absolute.query:
            path += "?" + absolute.query
        if path not in paths:
            paths.append(path)
    return paths


def crawl(endpoint: Endpoint, scheme: str, limits: CrawlLimits, seen: set[str],
          on_page: Callable[[str], None] = lambda _: None) -> list[HttpProbe]:
    """Breadth-first same-origin crawl from /; returns the pages found (not yet probed).

    1. depth N finds pages up to N links away from / (page2 is 1, page3 is 2);
    2. at most `pages` pages are returned, and the crawl stops after `seconds`;
    3. paths in SEEN (probed already) are fetched for their links but not returned;
    4. ON_PAGE hears each page fetched, for progress.
    """
    start = time.monotonic()
    base = f"{scheme}://{endpoint.host}:{endpoint.port}"
    frontier = ["/"]
    visited = {"/"}
    found: list[HttpProbe] = []
    for _depth in range(limits.depth):
        next_frontier = []
        for path in frontier:
            if time.monotonic() - start > limits.seconds or len(found) >= limits.pages:
                return found[:limits.pages]
            on_page(path)
            try:
                response = requests.get(base + path, timeout=10, verify=False, allow_redirects=False)
            except requests.RequestException:
                continue
            for link in same_origin_links(base + path, response.content, response.headers.get("content-type", "")):
                if link not in seen:
                    seen.add(link)
                    found.append(HttpProbe(path=link, port=endpoint.container_port, scheme=scheme))
                if link not in visited:
                    visited.add(link)
                    next_frontier.append(link)
        frontier = next_frontier
        if not frontier:
            break
    return found[:limits.pages]
