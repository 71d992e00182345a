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
from typing import Callable, Iterable
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
class ProbePlan:
    probes: tuple = ()
    run: RunSpec = field(default_factory=RunSpec)
    crawl: bool = True


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
    except OSError as exc:
        raise BadInput("cannot read the probe file", f"{path}: {exc.strerror}", "check the path given to --probe-file") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput("probe file is not valid TOML", f"{path}: {exc}", "fix the syntax at that line") from exc
    return parse_probe_data(data, text, path)


_PROBE_KEYS = {
    "http": {"type", "method", "path", "port", "headers", "body", "body_file", "expect_status",
             "expect_body", "expect_json", "repeat", "scheme"},
    "exec": {"type", "argv", "user", "expect_exit", "expect_output"},
    "wait": {"type", "seconds", "port", "log", "timeout"},
}


def parse_probe_data(data: dict, text: str, path: str) -> ProbePlan:
    probe_lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip().startswith("[[probe]]")]
    run_line = next((i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "[run]"), 1)
    unknown = set(data) - {"probe", "run", "crawl"}
    if unknown:
        raise BadInput("unknown table in probe file", f"{path}: {', '.join(sorted(unknown))}",
                       "allowed: [[probe]], [run], crawl = true|false")
    probes = []
    raw_probes = data.get("probe", [])
    if not isinstance(raw_probes, list):
        raise BadInput("'probe' must be an array of tables", f"{path}", "write each probe as [[probe]]")
    for number, raw in enumerate(raw_probes):
        line = probe_lines[number] if number < len(probe_lines) else 1
        probes.append(_parse_probe(raw, path, line, Path(path).parent))
    run = _parse_run(data.get("run", {}), path, run_line)
    crawl = data.get("crawl", True)
    if not isinstance(crawl, bool):
        raise BadInput("field 'crawl' must be true or false", f"{path}", "crawl = false")
    return ProbePlan(probes=tuple(probes), run=run, crawl=crawl)


def _field_error(path: str, line: int, name: str, problem: str, hint: str) -> BadInput:
    return BadInput(f"bad probe file {path}, line {line}, field '{name}'", problem, hint)


def _parse_probe(raw: dict, path: str, line: int, base: Path):
    kind = raw.get("type")
    if kind not in _PROBE_KEYS:
        raise _field_error(path, line, "type", repr(kind), "type must be \"http\", \"exec\" or \"wait\"")
    extra = set(raw) - _PROBE_KEYS[kind]
    if extra:
        raise _field_error(path, line, sorted(extra)[0], "unknown field for a " + kind + " probe",
                           "allowed: " + ", ".join(sorted(_PROBE_KEYS[kind])))

    def typed(name, types, default=None):
        value = raw.get(name, default)
        if value is not None and not isinstance(value, types):
            names = " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
            raise _field_error(path, line, name, f"{value!r} is not a {names}", f"give {name} as a {names}")
        return value

    if kind == "http":
        probe_path = typed("path", str, "/")
        if not probe_path.startswith("/"):
            raise _field_error(path, line, "path", repr(probe_path), "a path starts with /")
        port = typed("port", (int, str))
        if isinstance(port, str) and port != "auto":
            raise _field_error(path, line, "port", repr(port), "a port number or \"auto\"")
        status = typed("expect_status", int)
        if status is not None and not 100 <= status <= 599:
            raise _field_error(path, line, "expect_status", str(status), "an HTTP status between 100 and 599")
        body = typed("body", str)
        body_file = typed("body_file", str)
        if body_file is not None:
            try:
                body_bytes = (base / body_file).read_bytes()
            except OSError as exc:
                raise _field_error(path, line, "body_file", f"{body_file}: {exc.strerror}",
                                   "the path is relative to the probe file") from exc
        else:
            body_bytes = body.encode() if body is not None else None
        headers = typed("headers", dict, {})
        repeat = typed("repeat", int, 1)
        if repeat < 1:
            raise _field_error(path, line, "repeat", str(repeat), "repeat at least 1")
        scheme = typed("scheme", str, "http")
        if scheme not in ("http", "https"):
            raise _field_error(path, line, "scheme", repr(scheme), "http or https")
        return HttpProbe(
            path=probe_path, method=typed("method", str, "GET").upper(),
            port=None if port in (None, "auto") else port,
            headers=tuple((str(k), str(v)) for k, v in headers.items()),
            body=body_bytes, expect_status=status, expect_body=typed("expect_body", str),
            expect_json=raw.get("expect_json"), repeat=repeat, scheme=scheme)
    if kind == "exec":
        argv = typed("argv", list)
        if not argv or not all(isinstance(a, str) for a in argv):
            raise _field_error(path, line, "argv", repr(argv), 'a non-empty list of strings, e.g. ["psql", "-c", "select 1"]')
        return ExecProbe(argv=tuple(argv), user=typed("user", str),
                         expect_exit=typed("expect_exit", int, 0), expect_output=typed("expect_output", str))
    seconds = typed("seconds", (int, float))
    port = typed("port", int)
    log = typed("log", str)
    if sum(x is not None for x in (seconds, port, log)) != 1:
        raise _field_error(path, line, "seconds/port/log", "a wait probe needs exactly one of them",
                           'e.g. port = 5432, or seconds = 2, or log = "ready"')
    if log is not None:
        try:
            re.compile(log)
        except re.error as exc:
            raise _field_error(path, line, "log", f"{log!r}: {exc}", "a Python regular expression") from exc
    return WaitProbe(seconds=seconds, port=port, log_regex=log, timeout_s=float(typed("timeout", (int, float), 60)))


def _parse_run(raw: dict, path: str, line: int) -> RunSpec:
    if not isinstance(raw, dict):
        raise _field_error(path, line, "run", repr(raw), "[run] is a table")
    extra = set(raw) - {"env", "command", "user", "continue_after"}
    if extra:
        raise _field_error(path, line, sorted(extra)[0], "unknown field in [run]",
                           "allowed: env, command, user, continue_after")
    env = raw.get("env", {})
    if not isinstance(env, dict):
        raise _field_error(path, line, "env", repr(env), 'a table: env = {KEY = "value"}')
    command = raw.get("command")
    if command is not None and (not isinstance(command, list) or not all(isinstance(a, str) for a in command)):
        raise _field_error(path, line, "command", repr(command), "a list of strings")
    continue_after = raw.get("continue_after", "auto")
    try:
        parse_continue_after(continue_after)
    except BadInput as exc:
        raise _field_error(path, line, "continue_after", repr(continue_after), exc.hint or "") from exc
    return RunSpec(command=tuple(command) if command else None,
                   env=tuple((str(k), str(v)) for k, v in env.items()),
                   user=raw.get("user"), continue_after=continue_after)


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
    """True when every key/value of SUBSET appears in DOCUMENT (recursively for dicts)."""
    if isinstance(subset, dict):
        return isinstance(document, dict) and all(
            key in document and json_contains(document[key], value) for key, value in subset.items())
    if isinstance(subset, list):
        return isinstance(document, list) and all(any(json_contains(d, s) for d in document) for s in subset)
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


@dataclass(frozen=True)
class CrawlLimits:
    depth: int = 3
    pages: int = 50
    seconds: float = 30.0


def crawl(endpoint: Endpoint, scheme: str, limits: CrawlLimits, seen: set[str]) -> list[HttpProbe]:
    """Breadth-first same-origin crawl from /; returns the pages found (not yet probed)."""
    start = time.monotonic()
    base = f"{scheme}://{endpoint.host}:{endpoint.port}"
    frontier = ["/"]
    found: list[HttpProbe] = []
    for _depth in range(limits.depth):
        next_frontier = []
        for path in frontier:
            if time.monotonic() - start > limits.seconds or len(found) >= limits.pages:
                return found
            try:
                response = requests.get(base + path, timeout=10, verify=False, allow_redirects=False)
            except requests.RequestException:
                continue
            for link in same_origin_links(base + path, response.content, response.headers.get("content-type", "")):
                if link not in seen:
                    seen.add(link)
                    found.append(HttpProbe(path=link, port=endpoint.container_port, scheme=scheme))
                    next_frontier.append(link)
        frontier = next_frontier
        if not frontier:
            break
    return found[:limits.pages]
