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
import os
import socket
import ssl
import time
from dataclasses import dataclass, replace
from html.parser import HTMLParser
from typing import Callable
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from .errors import AppFailed
from .events import CrawlPage, ProbeDone
from .model import ExecProbe, HttpProbe, ProbeResult, WaitProbe

urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

Event = Callable[[str], None]


# --- probe files live in probefile.py; re-exported for callers of this stage -----------

from .probefile import (CrawlLimits, ProbePlan, crawl_limits_from_flags, load_probe_file,  # noqa: E402,F401
                        parse_continue_after, parse_http_flag, parse_probe_data)


# --- reaching the container --------------------------------------------------------

@dataclass
class Endpoint:
    """Where the host reaches one container port; DIRECT: the container's own address, when
    the port is reached through Docker's proxy (set to None once it proves unreachable)."""
    container_port: int
    host: str
    port: int
    direct: str | None = None


POLL_S = 0.05      # between looks at a port that is not open yet: a connect and a docker inspect each
QUIET_S = 0.3      # through the proxy: how long an accepted connection must stay open to count
DIRECT_TIMEOUT_S = 0.5


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
        time.sleep(POLL_S)


def _accepts(endpoint: Endpoint) -> bool:
    if endpoint.direct:
        verdict = _accepts_directly(endpoint.direct, endpoint.container_port)
        if verdict is not None:
            return verdict
        endpoint.direct = None            # not reachable from here: the proxy's way from now on
    return _accepts_through_proxy(endpoint)


def _accepts_directly(address: str, port: int) -> bool | None:
    """A connect to the container's own address has no proxy in between: the handshake
    itself says whether a listener is there (refused: no). None: the address cannot be
    reached from here (a remote daemon, a VM between)."""
    try:
        with socket.create_connection((address, port), timeout=DIRECT_TIMEOUT_S):
            return True
    except ConnectionRefusedError:
        return False
    except OSError:
        return None


def _accepts_through_proxy(endpoint: Endpoint) -> bool:
    """Docker's proxy accepts at once and closes when nothing listens behind it: a
    connection counts once it is not closed within QUIET_S (a listener that waits for
    the client to talk first stays silent that long)."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=1) as sock:
            sock.settimeout(QUIET_S)
            try:
                data = sock.recv(1, socket.MSG_PEEK)
                return data != b""   # b"": closed at once (the proxy found no listener)
            except socket.timeout:
                return True          # open and quiet: a listener that waits for us to talk
            except OSError:
                return False
    except OSError:
        return False


def plain_reply(endpoint: Endpoint, timeout_s: float = 5) -> bytes:
    """The first bytes a port answers a plain `GET / HTTP/1.0` with (b"": it closed, or stayed
    silent for TIMEOUT_S). No Host header (HTTP/1.0 needs none): redis drops a connection
    that sends one, unanswered, as a cross-protocol attack."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s) as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return sock.recv(64)
    except OSError:
        return b""


def port_scheme(endpoint: Endpoint) -> str | None:
    """"http", "https", or None (another protocol) for a port that accepts connections.

    1. a plain HTTP request answered with "HTTP/" and a status other than 400: http (400
       is how nginx and Go answer plain HTTP on a TLS port: on to 3);
    2. answered with other bytes that are no TLS record (a TLS server answers plaintext with
       an alert, 0x15, or closes): another protocol (redis's -ERR, postgres's error),
       with no TLS handshake to wait 3 s on for a server that never answers one;
    3. otherwise (closed, silent, a TLS record): https when a TLS handshake succeeds and
       the server then speaks HTTP, else http when it speaks HTTP, else None."""
    reply = plain_reply(endpoint)
    if reply.startswith(b"HTTP/") and reply.split(b" ", 2)[1:2] != [b"400"]:
        return "http"
    if reply and not reply.startswith(b"HTTP/") and reply[0] not in (0x15, 0x16):
        return None
    scheme = "https" if speaks_tls(endpoint) else "http"
    return scheme if speaks_http(endpoint, scheme) else None


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


# --- the probe plan on a running app -------------------------------------------------------

APP_START_TIMEOUT_S = float(os.environ.get("SLIMMER_PORT_TIMEOUT", "90"))
HTTP_RUNS = 2   # each HTTP probe runs twice on the original: a body that changes between runs is noted


@dataclass
class ProbeSession:
    """Runs a probe plan against a running app (apprun.AppRun) and collects concrete,
    replayable results. Each finished probe goes out as a ProbeDone event, each
    page the crawler finds as a CrawlPage (the total grows with the crawl)."""

    app: object                                    # apprun.AppRun
    plan: ProbePlan
    crawl_limits: CrawlLimits | None = None        # None: the plan's
    http_runs: int = HTTP_RUNS
    discover_s: float = APP_START_TIMEOUT_S        # how long to look for a listening port without EXPOSE

    def run(self) -> list[ProbeResult]:
        results: list[ProbeResult] = []
        self._done, self._total = 0, 0
        ports = self._ports()
        http_ports: dict[int, str] = {}
        for port in ports:
            endpoint = self.app.wait_for_port(port)
            scheme = port_scheme(endpoint)
            if scheme is not None:
                http_ports[port] = scheme
            else:
                self._total += 1
                results.append(self._report(ProbeResult(
                    name=f"connect to port {port}", kind="connect", ok=True, port=port,
                    probe=WaitProbe(port=port, timeout_s=APP_START_TIMEOUT_S))))
        explicit = list(self.plan.probes)
        self._total += sum(1 if not isinstance(item, HttpProbe) or item.port is not None
                           else max(len(http_ports), 1) for item in explicit)
        seen_paths: dict[int, set[str]] = {port: set() for port in http_ports}
        for item in explicit:
            if isinstance(item, HttpProbe) and item.port is None and not http_ports:
                results.append(self._report(ProbeResult(
                    name=item.name, kind="http", ok=False, probe=item,
                    error="no port of the app speaks HTTP" + (f" (ports: {', '.join(map(str, ports))})" if ports else ""))))
            elif isinstance(item, HttpProbe):
                targets = [item.port] if item.port is not None else list(http_ports)
                for port in targets:
                    concrete = replace(item, port=port,
                                       scheme=item.scheme if item.scheme != "http" else http_ports.get(port, "http"))
                    results.append(self._report(self._http(concrete)))
                    seen_paths.setdefault(port, set()).add(item.path)
            elif isinstance(item, ExecProbe):
                result, _ = self.app.exec_probe(item)
                results.append(self._report(result))
            else:
                results.append(self._report(self.app.wait_probe(item)))
        if self.plan.crawl:
            limits = self.crawl_limits or self.plan.crawl_limits
            for port, scheme in http_ports.items():
                if "/" not in seen_paths[port]:
                    seen_paths[port].add("/")
                    self._total += 1
                    results.append(self._report(self._http(HttpProbe(path="/", port=port, scheme=scheme))))
                pages = crawl(self.app.http_endpoint(port), scheme, limits, seen_paths[port],
                              on_page=lambda path, port=port: self.app.emit(CrawlPage(self.app.stage, port, path)))
                self._total += len(pages)
                for page in pages:
                    results.append(self._report(self._http(page)))
        health = self.app.healthcheck() if self.app.traced else None
        if health is not None:
            self._total += 1
            results.append(self._report(health))
        return results

    def _ports(self) -> list[int]:
        """EXPOSEd ports, plus the ports the app listens on (read once the exposed ones accept).

        Without EXPOSE and without explicit probes, listening sockets are the only
        way to find the app: look for them until one appears, the app exits, or
        discover_s passes.
        """
        if self.app.ports or self.plan.probes or not self.app.docker.is_local():
            return sorted(set(self.app.ports) | set(self.app.listening_ports()))
        self.app.note("no EXPOSEd port: looking for the ports the app listens on")
        start = time.monotonic()
        while True:
            found = self.app.listening_ports()
            if found:
                return sorted(found)
            if not self.app.alive() or time.monotonic() - start > self.discover_s:
                return []
            time.sleep(POLL_S)

    def _report(self, result: ProbeResult) -> ProbeResult:
        self._done += 1
        self._total = max(self._total, self._done)
        self.app.emit(ProbeDone(self.app.stage, self._done, self._total, result.name, result.ok, result.error))
        return result

    def _http(self, probe: HttpProbe) -> ProbeResult:
        return run_http(probe, self.app.http_endpoint(probe.port), max(probe.repeat, self.http_runs))


def run_http(probe: HttpProbe, endpoint: Endpoint, runs: int) -> ProbeResult:
    """Run PROBE RUNS times in a row (verification replays the same number, so a probe
    that changes state leaves the same state behind). The first answer is the result;
    `stable` says whether all runs answered the same; a failed run fails the result."""
    result, _ = http_probe(probe, endpoint)
    stable = True
    for _ in range(runs - 1):
        again, _ = http_probe(probe, endpoint)
        if again.status != result.status or again.digest != result.digest:
            stable = False
        if not again.ok and result.ok:
            result = again
    return replace(result, stable=stable, probe=probe, runs=runs)
