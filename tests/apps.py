"""Independent functional checks for the sample apps (sample-apps/, probes/).

The checks are kept apart from the probe files on purpose: a slim image built
from probes must also pass requests the probes never made (another plugin,
other time zones, the orphan page, a CGI script, another digest algorithm, a
database extension). They judge any image: the original or a slim one.

API used by the integration tests:

    SAMPLE_APPS["python-flask"]           -> AppSpec (name, image, ports, kind, ready, ...)
    with run_app(image, name) as app:     # server: started, ready, removed at exit
        app.url("/tls"); app.get("/tls").json(); app.host_port(8080); app.logs()
    with run_app(image, "batch-job") as result:   # batch: run to completion
        result.exit_code, result.stdout, result.result_file
    run_batch(image, "batch-job", command=["count"]) -> BatchResult
    check_app(name, image)                # raises AssertionError with the app's last log lines

Every container started here carries the label slimmer.test=1 and is removed
(forcefully) when the context exits, also on failure. Client containers for
postgres run from the ORIGINAL image (slimmer-sample/postgres:latest) inside the
target's network namespace (--network container:ID).
"""
from __future__ import annotations

import base64
import contextlib
import datetime
import gzip
import hashlib
import io
import json
import re
import socket
import ssl
import tarfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import docker
import docker.errors

TEST_LABEL = "slimmer.test"
TEST_LABELS = {TEST_LABEL: "1"}
IMAGE_PREFIX = "slimmer-sample/"
POSTGRES_CLIENT_IMAGE = "slimmer-sample/postgres:latest"
LOG_TAIL = 40

SHA256_ABC = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


class AppNotReady(AssertionError):
    """The app exited or did not answer within its ready timeout."""


# --- docker ------------------------------------------------------------------

_client: docker.DockerClient | None = None


def docker_client() -> docker.DockerClient:
    """A shared client; raises (never skips) when the engine is not reachable."""
    global _client
    if _client is None:
        try:
            client = docker.from_env(timeout=120)
            client.ping()
        except Exception as exc:  # docker raises several unrelated types here
            raise RuntimeError(
                f"Docker engine not reachable ({exc}): start dockerd or set DOCKER_HOST"
            ) from exc
        _client = client
    return _client


def _remove(container) -> None:
    with contextlib.suppress(docker.errors.NotFound):
        container.remove(force=True, v=True)


def _tail(container, lines: int = LOG_TAIL) -> str:
    try:
        return container.logs(tail=lines).decode("utf-8", "replace")
    except docker.errors.APIError as exc:
        return f"(no logs: {exc})"


def labelled_containers() -> list:
    """Every container (running or not) labelled slimmer.test=1."""
    return docker_client().containers.list(all=True, filters={"label": f"{TEST_LABEL}=1"})


# --- HTTP --------------------------------------------------------------------

@dataclass(frozen=True)
class HttpResponse:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as exc:
            raise AssertionError(f"GET {self.url}: body is not JSON: {self.text[:300]!r}") from exc


def http_get(url: str, timeout: float = 10.0) -> HttpResponse:
    """GET without raising on 4xx/5xx; network errors propagate (OSError).
    https URLs are not verified: the sample apps use self-signed certificates."""
    request = urllib.request.Request(url, headers={"User-Agent": "slimmer-check"})
    context = ssl._create_unverified_context() if url.startswith("https:") else None
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as reply:
            return HttpResponse(url, reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read())
    except urllib.error.HTTPError as err:
        return HttpResponse(url, err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


# --- results -----------------------------------------------------------------

@dataclass(frozen=True)
class ClientResult:
    argv: tuple[str, ...]
    exit_code: int
    output: str                    # stdout and stderr, interleaved


@dataclass(frozen=True)
class BatchResult:
    image: str
    command: tuple[str, ...] | None
    exit_code: int
    stdout: str
    stderr: str
    result_file: str | None       # content of /out/result.txt, None when absent


# --- specs -------------------------------------------------------------------

@dataclass(frozen=True)
class AppSpec:
    name: str
    ports: tuple[int, ...]                 # container ports, the first is the default
    kind: str                              # "server" | "batch"
    ready: Callable[["RunningApp"], bool] | None  # one readiness attempt; None for batch
    check: Callable                        # server: check(RunningApp); batch: check(image)
    ready_timeout: float = 60.0
    run_timeout: float = 60.0              # batch: bound on one run
    probe_file: str = ""
    https_ports: tuple[int, ...] = ()      # ports among `ports` that speak TLS

    @property
    def image(self) -> str:
        return f"{IMAGE_PREFIX}{self.name}:latest"


class RunningApp:
    """A started, ready server container of one sample app."""

    def __init__(self, spec: AppSpec, image: str, container) -> None:
        self.spec = spec
        self.image = image
        self.container = container

    @property
    def name(self) -> str:
        return self.spec.name

    def host_port(self, container_port: int | None = None) -> int:
        port = container_port if container_port is not None else self.spec.ports[0]
        self.container.reload()
        bindings = (self.container.attrs["NetworkSettings"]["Ports"] or {}).get(f"{port}/tcp")
        if not bindings:
            raise AssertionError(f"{self.name}: container port {port} is not published")
        return int(bindings[0]["HostPort"])

    def url(self, path: str = "/", port: int | None = None) -> str:
        port = port if port is not None else self.spec.ports[0]
        scheme = "https" if port in self.spec.https_ports else "http"
        return f"{scheme}://127.0.0.1:{self.host_port(port)}{path}"

    def get(self, path: str = "/", port: int | None = None, timeout: float = 15.0) -> HttpResponse:
        url = self.url(path, port)
        try:
            return http_get(url, timeout)
        except OSError as exc:
            raise AssertionError(f"GET {path}: no answer ({exc})") from exc

    def logs(self, tail: int = LOG_TAIL) -> str:
        return _tail(self.container, tail)

    def client(self, argv: Sequence[str], timeout: float = 120.0) -> ClientResult:
        """Run argv in a client container (the ORIGINAL postgres image) in this
        container's network namespace, so 127.0.0.1 is the target."""
        return run_client(self.container, argv, timeout)

    def psql(self, *sql: str, timeout: float = 60.0) -> ClientResult:
        argv = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "app",
                "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"]
        for statement in sql:
            argv += ["-c", statement]
        return self.client(argv, timeout)


def run_client(target, argv: Sequence[str], timeout: float = 120.0,
               image: str = POSTGRES_CLIENT_IMAGE) -> ClientResult:
    container = docker_client().containers.create(
        image, list(argv), network_mode=f"container:{target.id}",
        labels=TEST_LABELS, environment={"PGCONNECT_TIMEOUT": "5"})
    try:
        container.start()   # fails when the target has stopped; the finally still removes
        try:
            status = container.wait(timeout=timeout)
        except Exception as exc:  # requests' ReadTimeout / ConnectionError
            raise AssertionError(f"client {list(argv)} did not finish in {timeout}s: "
                                 f"{_tail(container)}") from exc
        output = container.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return ClientResult(tuple(argv), int(status["StatusCode"]), output)
    finally:
        _remove(container)


# --- readiness ---------------------------------------------------------------

def _port_accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def http_ready(path: str = "/") -> Callable[[RunningApp], bool]:
    """Ready when on every port GET path answers with any HTTP status (https on
    the spec's TLS ports). docker-proxy accepts on the host port before the app
    listens, so an accepted connection alone proves nothing."""

    def ready(app: RunningApp) -> bool:
        for port in app.spec.ports:
            if not _port_accepts(app.host_port(port)):
                return False
            try:
                http_get(app.url(path, port), timeout=3.0)
            except OSError:
                return False
        return True

    return ready


def postgres_ready(app: RunningApp) -> bool:
    if not _port_accepts(app.host_port(5432)):
        return False
    return app.client(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-t", "3"], timeout=30).exit_code == 0


def _attempt(app: RunningApp) -> bool:
    """One readiness attempt; a container that stops meanwhile loses its port
    bindings, which is "not ready yet": the next round sees it exited."""
    try:
        return app.spec.ready(app)
    except (AssertionError, OSError, docker.errors.APIError):
        return False


def _wait_ready(app: RunningApp) -> None:
    deadline = time.monotonic() + app.spec.ready_timeout
    while True:
        app.container.reload()
        if app.container.status in ("exited", "dead"):
            code = app.container.attrs["State"].get("ExitCode")
            raise AppNotReady(
                f"{app.name} ({app.image}) exited with code {code} before it was ready\n"
                f"--- last log lines ---\n{app.logs()}")
        if app.container.status == "running" and _attempt(app):
            return
        if time.monotonic() > deadline:
            raise AppNotReady(
                f"{app.name} ({app.image}) not ready after {app.spec.ready_timeout:.0f}s "
                f"(ports {list(app.spec.ports)})\n--- last log lines ---\n{app.logs()}")
        time.sleep(0.25)


# --- running -----------------------------------------------------------------

def _spec(name: str) -> AppSpec:
    try:
        return SAMPLE_APPS[name]
    except KeyError:
        raise KeyError(f"unknown sample app {name!r}; known: {', '.join(SAMPLE_APPS)}") from None


@contextlib.contextmanager
def run_app(image: str, name: str, command: Sequence[str] | None = None) -> Iterator:
    """Run IMAGE as sample app NAME.

    server: detached, each spec port published on 127.0.0.1 (random host port),
    waited for until ready; yields a RunningApp; the container is removed at exit.
    batch: runs to completion (bounded); yields a BatchResult.
    """
    spec = _spec(name)
    if spec.kind == "batch":
        yield run_batch(image, name, command)
        return
    # create, then start inside try: a container whose start fails is removed too
    container = docker_client().containers.create(
        image, list(command) if command is not None else None,
        ports={f"{port}/tcp": ("127.0.0.1", None) for port in spec.ports},
        labels=TEST_LABELS)
    try:
        container.start()
        app = RunningApp(spec, image, container)
        _wait_ready(app)
        yield app
    finally:
        _remove(container)


def run_batch(image: str, name: str = "batch-job", command: Sequence[str] | None = None,
              timeout: float | None = None) -> BatchResult:
    spec = _spec(name)
    timeout = timeout if timeout is not None else spec.run_timeout
    container = docker_client().containers.create(
        image, list(command) if command is not None else None, labels=TEST_LABELS)
    try:
        container.start()
        try:
            status = container.wait(timeout=timeout)
        except Exception as exc:  # requests' ReadTimeout / ConnectionError
            raise AssertionError(f"{name} ({image}) did not exit within {timeout}s\n"
                                 f"--- last log lines ---\n{_tail(container)}") from exc
        stdout = container.logs(stdout=True, stderr=False).decode("utf-8", "replace")
        stderr = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
        return BatchResult(image, tuple(command) if command is not None else None,
                           int(status["StatusCode"]), stdout, stderr,
                           _read_file(container, "/out/result.txt"))
    finally:
        _remove(container)


def _read_file(container, path: str) -> str | None:
    try:
        stream, _ = container.get_archive(path)
    except docker.errors.NotFound:
        return None
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.extractfile(tar.getmembers()[0])
        return member.read().decode("utf-8", "replace") if member else None


# --- checking ----------------------------------------------------------------

def check_app(name: str, image: str) -> None:
    """Run NAME's full functional check against IMAGE; AssertionError on failure."""
    spec = _spec(name)
    if spec.kind == "batch":
        try:
            spec.check(image)
        except AssertionError as exc:
            raise AssertionError(f"{name} check failed against {image}: {exc}") from None
        return
    with run_app(image, name) as app:
        try:
            spec.check(app)
        except AssertionError as exc:
            raise AssertionError(
                f"{name} check failed against {image}: {exc}\n"
                f"--- last log lines ---\n{app.logs()}") from None


def expect_status(response: HttpResponse, status: int) -> HttpResponse:
    assert response.status == status, (
        f"GET {response.url}: status {response.status}, expected {status}; body: {response.text[:300]!r}")
    return response


def expect_ok(app: RunningApp, path: str, port: int | None = None) -> HttpResponse:
    return expect_status(app.get(path, port), 200)


def expect_in(needle: str, response: HttpResponse) -> None:
    assert needle in response.text, f"GET {response.url}: {needle!r} not in body {response.text[:400]!r}"


def expect_json(app: RunningApp, path: str, **fields) -> dict:
    data = expect_ok(app, path).json()
    for key, value in fields.items():
        assert data.get(key) == value, f"GET {path}: {key}={data.get(key)!r}, expected {value!r}; got {data}"
    return data


def expect_client(result: ClientResult, *needles: str) -> None:
    assert result.exit_code == 0, (
        f"{' '.join(result.argv)} exited {result.exit_code}: {result.output[-800:]}")
    for needle in needles:
        assert needle in result.output, (
            f"{' '.join(result.argv)}: {needle!r} not in output {result.output[-800:]!r}")


# --- the checks ----------------------------------------------------------------
# Each uses parameters the probe file (probes/NAME.toml) does not.

def check_python_flask(app: RunningApp) -> None:
    index = expect_ok(app, "/")
    for link in ('href="/lazy', 'href="/tls"', 'href="/time'):
        expect_in(link, index)
    # the probe asks for plugin=report&n=5; here n=12, and the unlinked plugin
    report = expect_ok(app, "/lazy?plugin=report&n=12").json()["result"]
    assert report == {"sum": 650, "mean": "325/6", "median": 42.5}, f"/lazy report: {report}"
    inventory = expect_ok(app, "/lazy?plugin=inventory&n=4").json()["result"]
    assert inventory == {"items": 4, "total": "79.96",
                         "sku": hashlib.sha1(b"4").hexdigest()[:12]}, f"/lazy inventory: {inventory}"
    expect_status(app.get("/lazy?plugin=missing"), 404)
    tls = expect_ok(app, "/tls").json()
    assert tls.get("x509_ca", 0) > 100, f"/tls: only {tls.get('x509_ca')} CA certificates loaded: {tls}"
    # the probe uses Europe/Paris
    expect_json(app, "/time?tz=Asia/Tokyo", utcoffset="+09:00", abbreviation="JST",
                local="2024-01-15T21:00:00+09:00")
    expect_json(app, "/time?tz=America/New_York", utcoffset="-05:00", abbreviation="EST")
    expect_json(app, "/time?tz=America/New_York&at=2024-07-15T12:00", utcoffset="-04:00", abbreviation="EDT")
    expect_json(app, "/time?tz=Asia/Kolkata", utcoffset="+05:30")
    expect_status(app.get("/time?tz=No/Such_Zone"), 400)


def check_node_express(app: RunningApp) -> None:
    expect_in('href="/hash?text=', expect_ok(app, "/"))
    expect_json(app, "/hash?text=abc", algorithm="sha256", hex=SHA256_ABC)
    expect_json(app, "/hash?text=slimmer&alg=sha512", hex=hashlib.sha512(b"slimmer").hexdigest())
    expect_json(app, "/hash?text=abc&alg=md5", hex="900150983cd24fb0d6963f7d28e17f72")
    expect_status(app.get("/hash?text=abc&alg=no-such-hash"), 400)
    # the probe asks for n=4; 20! has 19 digits
    expect_json(app, "/report?n=20", n=20, sum=210, factorialDigits=19, text="20 numbers")


def check_nginx_static(app: RunningApp) -> None:
    expect_in('href="/page2.html"', expect_ok(app, "/"))
    expect_in('href="page3.html"', expect_ok(app, "/page2.html"))
    expect_in("Two links deep", expect_ok(app, "/page3.html"))
    orphan = expect_ok(app, "/orphan.html")   # linked from nowhere, absent from the probe file
    expect_in("Orphan page", orphan)
    assert orphan.headers.get("content-type", "").startswith("text/html"), orphan.headers
    css = expect_ok(app, "/style.css")
    assert css.headers.get("content-type", "").startswith("text/css"), (
        f"/style.css Content-Type {css.headers.get('content-type')!r} (mime.types missing?)")
    expect_status(app.get("/no-such-page.html"), 404)
    # HTTPS with the snakeoil certificate (the probes only fetch / over TLS)
    expect_in("Orphan page", expect_ok(app, "/orphan.html", port=443))
    expect_in("Two links deep", expect_ok(app, "/page3.html", port=443))
    assert "GET /orphan.html" in app.logs(200), "nginx did not log the request to stdout"


def check_entrypoint_script(app: RunningApp) -> None:
    index = expect_ok(app, "/")
    expect_in("<h1>hello from the entrypoint</h1>", index)
    expect_in("generated by entrypoint.sh for user app (uid=1000) with 4 settings", index)
    conf = expect_ok(app, "/site.conf")
    for line in ("greeting=hello from the entrypoint", "user=app", "uid=1000", "port=8000"):
        expect_in(line, conf)
    # the CGI script runs id, grep, cut, tr at request time; the probe sends no query
    status = expect_ok(app, "/cgi-bin/status?from=check")
    for line in ("user=app", "groups=app", "settings=4",
                 "greeting_upper=HELLO FROM THE ENTRYPOINT", "query=from=check"):
        expect_in(line, status)
    assert "entrypoint: prepared /home/app/www as app" in app.logs(200), "entrypoint log line missing"
    health = wait_healthy(app)
    assert health == "healthy", f"HEALTHCHECK (busybox wget) status {health!r}"


def wait_healthy(app: RunningApp, timeout: float = 30.0) -> str:
    """Wait until Docker's HEALTHCHECK status leaves "starting"; return it."""
    deadline = time.monotonic() + timeout
    while True:
        app.container.reload()
        status = app.container.attrs["State"].get("Health", {}).get("Status", "none")
        if status != "starting" or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def check_java_digest(app: RunningApp) -> None:
    expect_in('href="/digest?text=', expect_ok(app, "/"))
    expect_json(app, "/digest?text=abc", algorithm="SHA-256", hex=SHA256_ABC)
    expect_json(app, "/digest?text=slimmer&alg=SHA-512", hex=hashlib.sha512(b"slimmer").hexdigest())
    expect_json(app, "/digest?text=abc&alg=SHA3-256", hex=hashlib.sha3_256(b"abc").hexdigest())
    expect_json(app, "/digest?text=abc&alg=MD5", hex="900150983cd24fb0d6963f7d28e17f72")
    expect_status(app.get("/digest?text=abc&alg=NO-SUCH"), 400)
    expect_json(app, "/time?tz=Asia/Tokyo", utcoffset="+09:00", local="2024-01-15T21:00:00+09:00")
    expect_json(app, "/time?tz=America/New_York", utcoffset="-05:00")
    tls = expect_ok(app, "/tls").json()
    assert tls.get("trust_anchors", 0) > 100, f"/tls: only {tls.get('trust_anchors')} trust anchors: {tls}"


def check_static_scratch(app: RunningApp) -> None:
    root = expect_ok(app, "/?from=check")
    assert root.text == "hello from static-scratch\nthe message file shipped in /etc/app\n", (
        f"GET /: {root.text!r}")
    assert expect_ok(app, "/health").text == "ok\n"
    expect_status(app.get("/missing"), 404)
    # client mode of the same binary: what HEALTHCHECK and exec probes run (no shell here)
    code, output = app.container.exec_run(["/server", "health", "8080"])
    assert code == 0 and output == b"ok\n", f"/server health: exit {code}, output {output!r}"
    health = wait_healthy(app)
    assert health == "healthy", f"HEALTHCHECK (/server health) status {health!r}"


def check_postgres(app: RunningApp) -> None:
    expect_client(app.psql("SELECT count(*), sum(qty) FROM items"), "3|115")
    # an extension the probes never create
    expect_client(app.psql("CREATE EXTENSION IF NOT EXISTS pgcrypto",
                           "SELECT encode(digest('abc', 'sha256'), 'hex')"), SHA256_ABC)
    # time zones the probes never set (they use Europe/Paris)
    expect_client(app.psql("SET TIME ZONE 'America/New_York'",
                           "SELECT added FROM items WHERE id = 1",
                           "SELECT added FROM items WHERE id = 3"),
                  "2024-01-15 07:00:00-05", "2024-07-04 12:00:00-04")
    expect_client(app.psql("SET TIME ZONE 'Asia/Tokyo'",
                           "SELECT to_char(added, 'YYYY-MM-DD HH24:MI TZ') FROM items WHERE id = 2"),
                  "2024-03-31 10:30 JST")
    bench = ["pgbench", "-h", "127.0.0.1", "-U", "postgres"]
    expect_client(app.client(bench + ["-i", "-s", "1", "app"]), "done in")
    expect_client(app.client(bench + ["-c", "2", "-t", "50", "app"]),
                  "number of transactions actually processed: 100/100")
    expect_client(app.psql("SELECT count(*) FROM pgbench_accounts"), "100000")


def _expect_batch(image: str, command: list[str] | None, expected: str) -> None:
    result = run_batch(image, "batch-job", command)
    variant = " ".join(command) if command else "(default CMD)"
    assert result.exit_code == 0, (
        f"run {variant}: exit code {result.exit_code}; stderr: {result.stderr[-500:]!r}")
    assert result.stdout == expected + "\n", f"run {variant}: stdout {result.stdout!r}, expected {expected!r}"
    assert result.result_file == expected + "\n", (
        f"run {variant}: /out/result.txt {result.result_file!r}, expected {expected!r}")


def check_batch_job(image: str) -> None:
    _expect_batch(image, None, "sum=41.60")                 # the probe run (default CMD)
    _expect_batch(image, ["count"], "count=7")
    _expect_batch(image, ["max"], "max=cherry 10.00")
    _expect_batch(image, ["top"], "top=cherry,grape,banana")
    bad = run_batch(image, "batch-job", ["no-such-mode"])
    assert bad.exit_code == 2 and "unknown mode" in bad.stderr, (
        f"bad mode: exit {bad.exit_code}, stderr {bad.stderr!r}")


# --- issue 12 apps: code paths no default probe visits ---------------------------

SAMPLE_APPS_DIR = Path(__file__).resolve().parents[1] / "sample-apps"


def _sample_file(app: str, name: str) -> bytes:
    return (SAMPLE_APPS_DIR / app / name).read_bytes()


def check_python_venv(app: RunningApp) -> None:
    index = expect_ok(app, "/")
    expect_in("python-venv sample", index)
    expect_in("from /opt/venv", index)
    # /yaml imports PyYAML (only in the venv) and uses its C extension (libyaml)
    data = expect_ok(app, "/yaml").json()
    assert data.get("libyaml") is True, f"/yaml: PyYAML without its C extension: {data}"
    assert data.get("module", "").startswith("/opt/venv/lib/python3"), f"/yaml: yaml from {data.get('module')}"
    assert data.get("parsed") == {"name": "slimmer", "items": [1, 2, 3],
                                  "nested": {"ok": True, "ratio": 0.5}}, f"/yaml: {data}"
    assert data.get("dumped") == "{items: [1, 2, 3], name: slimmer, nested: {ok: true, ratio: 0.5}}", data
    custom = expect_ok(app, "/yaml?doc=" + urllib.parse.quote("a: [x, y]\nb: 2.5\n")).json()
    assert custom.get("parsed") == {"a": ["x", "y"], "b": 2.5}, f"/yaml custom document: {custom}"
    # /db imports sqlite3 -> _sqlite3 -> libsqlite3
    db = expect_ok(app, "/db?n=12").json()
    assert (db.get("sum"), db.get("count")) == (78, 12), f"/db?n=12: {db}"
    assert str(db.get("sqlite", "")).startswith("3."), f"/db: sqlite version {db.get('sqlite')!r}"
    # /resource reads the app package's data with importlib.resources (-> importlib.readers)
    expect_json(app, "/resource", name="greeting.txt", lines=2,
                text=_sample_file("python-venv", "app/venvapp/data/greeting.txt").decode())
    expect_json(app, "/resource?name=words.txt", text="alpha\nbeta\ngamma\n", lines=3)
    expect_status(app.get("/resource?name=missing.txt"), 404)
    expect_status(app.get("/no-such-page"), 404)


def _run_cli(image: str, name: str, command: list[str] | None, expect_exit: int = 0) -> BatchResult:
    result = run_batch(image, name, command)
    variant = " ".join(command) if command else "(default CMD)"
    assert result.exit_code == expect_exit, (
        f"run {variant}: exit code {result.exit_code}, expected {expect_exit}; "
        f"stdout {result.stdout[-300:]!r}; stderr {result.stderr[-800:]!r}")
    return result


def _gunzip_b64(line: str) -> bytes:
    try:
        return gzip.decompress(base64.b64decode(line.strip(), validate=True))
    except Exception as exc:
        raise AssertionError(f"not base64 of a gzip stream ({exc}): {line[:120]!r}") from None


def check_python_cli(image: str) -> None:
    text = _sample_file("python-cli", "data.txt")
    default = _run_cli(image, "python-cli", None)        # the probe run: builtins only
    expected = f"lines={len(text.splitlines())} words={len(text.split())} bytes={len(text)}\n"
    assert default.stdout == expected, f"default run: {default.stdout!r}, expected {expected!r}"
    # each subcommand imports its modules only when selected
    encoded = _run_cli(image, "python-cli", ["encode", "/app/data.txt"])
    assert encoded.stdout == base64.b64encode(text).decode() + "\n", f"encode: {encoded.stdout!r}"
    zipped = _run_cli(image, "python-cli", ["gzip", "/app/data.txt"]).stdout.splitlines()
    assert len(zipped) == 2 and zipped[0].startswith(f"gzip {len(text)} -> "), f"gzip: {zipped}"
    assert _gunzip_b64(zipped[1]) == text, "gzip: the stream does not decompress to data.txt"
    xml_out = json.loads(_run_cli(image, "python-cli", ["xml", "/app/data.xml"]).stdout)
    assert xml_out == {"root": "inventory", "total_qty": 59, "items": [
        {"name": "apple", "qty": 12, "price": "0.50"}, {"name": "cherry", "qty": 40, "price": "0.25"},
        {"name": "grape", "qty": 7, "price": "2.10"}]}, f"xml: {xml_out}"
    csv_out = json.loads(_run_cli(image, "python-cli", ["csv", "/app/data.csv"]).stdout)
    assert csv_out == {"rows": 3, "columns": ["name", "qty", "price"], "top": "cherry",
                       "total_qty": 59}, f"csv: {csv_out}"
    bad = _run_cli(image, "python-cli", ["no-such-command", "/app/data.txt"], expect_exit=2)
    assert "usage: cli.py" in bad.stderr, f"bad usage: stderr {bad.stderr!r}"
    missing = _run_cli(image, "python-cli", ["count", "/app/missing.txt"], expect_exit=1)
    assert "No such file or directory" in missing.stderr, f"missing file: stderr {missing.stderr!r}"


def check_perl_job(image: str) -> None:
    data = _sample_file("perl-job", "input.txt")
    hello = _run_cli(image, "perl-job", None)            # the probe run
    assert hello.stdout.startswith("perl-job: hello from perl 5."), f"default run: {hello.stdout!r}"
    # Digest::SHA (XS) only in this branch
    sha = _run_cli(image, "perl-job", ["sha", "/data/input.txt"])
    assert sha.stdout == (f"sha1={hashlib.sha1(data).hexdigest()}\n"
                          f"sha256={hashlib.sha256(data).hexdigest()}\n"), f"sha: {sha.stdout!r}"
    # IO::Compress::Gzip (Compress::Raw::Zlib -> libz, File::GlobMapper, ...) and MIME::Base64
    zipped = _run_cli(image, "perl-job", ["gzip", "/data/input.txt"]).stdout.splitlines()
    assert len(zipped) == 2 and zipped[0].startswith(f"gzip {len(data)} -> "), f"gzip: {zipped}"
    assert _gunzip_b64(zipped[1]) == data, "gzip: the stream does not decompress to input.txt"
    back = _run_cli(image, "perl-job", ["gunzip", "/data/input.txt"])
    assert back.stdout == f"roundtrip {len(data)} bytes equal\n", f"gunzip: {back.stdout!r}"
    bad = _run_cli(image, "perl-job", ["no-such-mode", "/data/input.txt"], expect_exit=2)
    assert "unknown mode" in bad.stderr, f"bad mode: stderr {bad.stderr!r}"
    assert "Can't locate" not in sha.stderr + back.stderr, sha.stderr + back.stderr


def check_ruby_yaml(image: str) -> None:
    data = _sample_file("ruby-yaml", "config.yml")
    hello = _run_cli(image, "ruby-yaml", None)           # the probe run
    assert hello.stdout.startswith("ruby-yaml: hello from ruby 3."), f"default run: {hello.stdout!r}"
    # require 'yaml' (psych) and 'json' only in this branch
    result = _run_cli(image, "ruby-yaml", ["yaml", "/data/config.yml"])
    lines = result.stdout.splitlines()
    assert len(lines) == 2, f"yaml: stdout {lines}; stderr {result.stderr[-500:]!r}"
    expected = {"service": "ruby-yaml", "replicas": 3, "ports": [8080, 8443],
                "limits": {"memory": "128Mi", "cpu": 0.5}, "enabled": True}
    assert json.loads(lines[0]) == expected, (
        f"yaml: printed {lines[0][:200]!r}, expected the JSON of {expected}; stderr {result.stderr[-500:]!r}")
    assert lines[1].startswith("psych ") and "libyaml 0." in lines[1], f"yaml: {lines[1]!r}"
    digest = _run_cli(image, "ruby-yaml", ["digest", "/data/config.yml"])
    assert digest.stdout == f"sha256={hashlib.sha256(data).hexdigest()}\n", f"digest: {digest.stdout!r}"
    bad = _run_cli(image, "ruby-yaml", ["no-such-mode", "/data/config.yml"], expect_exit=2)
    assert "unknown mode" in bad.stderr, f"bad mode: stderr {bad.stderr!r}"


def check_cgi_chmod(app: RunningApp) -> None:
    expect_in("cgi-chmod sample", expect_ok(app, "/"))
    # copied by COPY, edited by a later RUN (sed -i), linked from nowhere
    about = expect_ok(app, "/about.html")
    expect_in("by a RUN layer", about)
    assert "@EDITION@" not in about.text, f"/about.html: the COPY'd version, not the RUN's: {about.text!r}"
    # copied by COPY, made executable by a later RUN; runs sed, tr, wc, sort, head, date
    report = expect_ok(app, "/cgi-bin/report?text=the+quick+brown+fox")
    assert report.text == ("text=the quick brown fox\nupper=THE QUICK BROWN FOX\nwords=4\n"
                           "chars=19\nsorted=brown fox quick\nweekday=Monday\n"), f"/cgi-bin/report: {report.text!r}"
    report = expect_ok(app, "/cgi-bin/report?text=zeta+alpha+mu+beta+kappa")
    expect_in("words=5", report)
    expect_in("sorted=alpha beta kappa", report)
    env = expect_ok(app, "/cgi-bin/env?from=check")
    assert env.text == "method=GET\nquery=from=check\nscript=env\n", f"/cgi-bin/env: {env.text!r}"
    expect_status(app.get("/no-such-page.html"), 404)


def check_flaky_answers(app: RunningApp) -> None:
    index = expect_ok(app, "/")
    for link in ('href="/status"', 'href="/stats"'):
        expect_in(link, index)
    first = expect_ok(app, "/status").json()
    assert first.get("ok") is True, f"/status: {first}"
    stamp = datetime.datetime.fromisoformat(first["time"])
    skew = abs((datetime.datetime.now(datetime.timezone.utc) - stamp).total_seconds())
    assert skew < 30, f"/status: time {first['time']} is {skew:.0f}s away from now"
    time.sleep(2.2)   # the file is rewritten every second
    second = expect_ok(app, "/status").json()
    assert second["time"] > first["time"] and second["uptime_s"] > first["uptime_s"], (
        f"/status not rewritten: {first} then {second}")
    # a fresh container: only GET / (readiness) ran before
    expect_json(app, "/stats", count=0, adds=0)
    add = lambda body=None: http_request("POST", app.url("/add"), body=body)  # noqa: E731
    assert expect_status(add(), 200).json() == {"count": 1, "adds": 1}
    assert expect_status(add(b"5"), 200).json() == {"count": 6, "adds": 2}
    expect_status(add(b"not-a-number"), 400)
    expect_json(app, "/stats", count=6, adds=2)
    expect_status(app.get("/no-such-page"), 404)
    # the exec probe's command: timings vary, the digest does not
    code, output = app.container.exec_run(["/app/bench", "3000"])
    text = output.decode("utf-8", "replace")
    assert code == 0, f"/app/bench: exit {code}: {text[-500:]}"
    expected = hashlib.sha256(b"slimmer" * 128 * 3000).hexdigest()
    assert f"digest {expected}" in text, f"/app/bench: {text!r}"
    assert re.search(r"^done in \d+\.\d\d s$", text, re.M) and re.search(r"^rate: [\d.]+ blocks/s$", text, re.M), (
        f"/app/bench: {text!r}")


def _resp(command: list[str]) -> bytes:
    """One RESP array of bulk strings (what redis-cli sends)."""
    parts = [f"*{len(command)}\r\n".encode()]
    for word in command:
        data = word.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


def _read_reply(stream) -> object:
    """One RESP reply: str for +simple, int for :integer, bytes/None for $bulk, list for *array;
    an -error raises AssertionError."""
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise AssertionError(f"redis: truncated reply {line!r}")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise AssertionError(f"redis error: {rest.decode(errors='replace')}")
    if kind == b":":
        return int(rest)
    if kind == b"$":
        size = int(rest)
        if size < 0:
            return None
        data = stream.read(size + 2)
        return data[:-2]
    if kind == b"*":
        return [_read_reply(stream) for _ in range(int(rest))]
    raise AssertionError(f"redis: unknown reply {line!r}")


def redis_call(app: RunningApp, *command: str) -> object:
    with socket.create_connection(("127.0.0.1", app.host_port(6379)), timeout=10.0) as conn:
        conn.sendall(_resp(list(command)))
        with conn.makefile("rb") as stream:
            return _read_reply(stream)


def redis_ready(app: RunningApp) -> bool:
    if not _port_accepts(app.host_port(6379)):
        return False
    try:
        return redis_call(app, "PING") == "PONG"
    except (OSError, AssertionError):
        return False


def check_redis(app: RunningApp) -> None:
    assert redis_call(app, "PING") == "PONG"
    assert redis_call(app, "SET", "check:key", "value-1") == "OK"
    assert redis_call(app, "GET", "check:key") == b"value-1"
    assert redis_call(app, "INCRBY", "check:counter", "41") == 41
    assert redis_call(app, "INCR", "check:counter") == 42
    assert redis_call(app, "RPUSH", "check:list", "a", "b", "c") == 3
    assert redis_call(app, "LRANGE", "check:list", "0", "-1") == [b"a", b"b", b"c"]
    assert redis_call(app, "SET", "check:expiring", "x", "PX", "200") == "OK"
    time.sleep(0.5)
    assert redis_call(app, "GET", "check:expiring") is None, "a key set with PX 200 outlived 500 ms"
    # Lua scripting (EVAL): code no probe runs
    script = "return redis.call('GET', KEYS[1]) .. ':' .. ARGV[1] .. ':' .. tostring(#ARGV)"
    assert redis_call(app, "EVAL", script, "1", "check:key", "lua") == b"value-1:lua:1"
    info = redis_call(app, "INFO", "server")
    assert isinstance(info, bytes) and b"redis_version:7." in info, f"INFO server: {info[:200]!r}"
    # the image's HEALTHCHECK command (Compose's service_healthy waits for it)
    code, output = app.container.exec_run(["redis-cli", "ping"], user="redis")
    assert code == 0 and output.strip() == b"PONG", f"redis-cli ping: exit {code}: {output[-300:]!r}"


def _spec_for(name: str, ports: tuple[int, ...], check, kind: str = "server", ready=None,
              ready_timeout: float = 60.0, https_ports: tuple[int, ...] = ()) -> AppSpec:
    return AppSpec(name=name, ports=ports, kind=kind,
                   ready=ready if ready is not None or kind == "batch" else http_ready("/"),
                   check=check, ready_timeout=ready_timeout, probe_file=f"probes/{name}.toml",
                   https_ports=https_ports)


SAMPLE_APPS: dict[str, AppSpec] = {
    spec.name: spec
    for spec in (
        _spec_for("python-flask", (8080,), check_python_flask),
        _spec_for("node-express", (3000,), check_node_express),
        _spec_for("nginx-static", (80, 443), check_nginx_static, https_ports=(443,)),
        _spec_for("entrypoint-script", (8000,), check_entrypoint_script),
        _spec_for("java-digest", (8080,), check_java_digest, ready_timeout=90.0),
        _spec_for("batch-job", (), check_batch_job, kind="batch"),
        _spec_for("static-scratch", (8080,), check_static_scratch, ready=http_ready("/health")),
        _spec_for("postgres", (5432,), check_postgres, ready=postgres_ready, ready_timeout=90.0),
        _spec_for("python-venv", (8080,), check_python_venv),
        _spec_for("python-cli", (), check_python_cli, kind="batch"),
        _spec_for("perl-job", (), check_perl_job, kind="batch"),
        _spec_for("ruby-yaml", (), check_ruby_yaml, kind="batch"),
        _spec_for("cgi-chmod", (8080,), check_cgi_chmod),
        _spec_for("flaky-answers", (8080,), check_flaky_answers),
        _spec_for("redis", (6379,), check_redis, ready=redis_ready),
    )
}


# --- service-counter: an app that needs a run context -------------------------------------
# Not in SAMPLE_APPS: it cannot run bare (APP_TOKEN, a Redis reached as `cache` on a user
# network), so the generic checks above do not apply. check_service_counter brings its
# own network and Redis (the ORIGINAL slimmer-sample/redis image) unless given a network.

SERVICE_COUNTER_IMAGE = "slimmer-sample/service-counter:latest"
SERVICE_COUNTER_TOKEN = "probe-token"        # what probes/service-counter.toml sends
REDIS_IMAGE = "slimmer-sample/redis:latest"
SERVICE_COUNTER_SPEC = AppSpec(name="service-counter", ports=(8080,), kind="server", ready=None,
                               check=lambda app: None, probe_file="probes/service-counter.toml")


def http_request(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None,
                 timeout: float = 10.0) -> HttpResponse:
    """Like http_get, with a method, headers and a body."""
    request = urllib.request.Request(url, data=body, method=method,
                                     headers=dict({"User-Agent": "slimmer-check"}, **(headers or {})))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as reply:
            return HttpResponse(url, reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read())
    except urllib.error.HTTPError as err:
        return HttpResponse(url, err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())


@contextlib.contextmanager
def user_network(prefix: str = "slimmer-test") -> Iterator[str]:
    """A user-defined bridge network labelled slimmer.test=1, removed at exit."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    network = docker_client().networks.create(name, driver="bridge", labels=TEST_LABELS)
    try:
        yield name
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            network.reload()
            for container in network.containers:   # a leftover attached container blocks the removal
                _remove(container)
            network.remove()


def labelled_networks() -> list:
    return docker_client().networks.list(filters={"label": f"{TEST_LABEL}=1"})


@contextlib.contextmanager
def redis_on_network(network: str, alias: str = "cache", image: str = REDIS_IMAGE,
                     timeout: float = 60.0) -> Iterator:
    """The Redis sample image on NETWORK as ALIAS, waited for until its HEALTHCHECK passes."""
    client = docker_client()
    container = client.containers.create(
        image, labels=TEST_LABELS,
        networking_config={network: client.api.create_endpoint_config(aliases=[alias])})
    try:
        # docker-py's create attaches to the first network of networking_config only
        # on some API versions: make sure, then start
        container.reload()
        if network not in (container.attrs["NetworkSettings"]["Networks"] or {}):
            client.networks.get(network).connect(container, aliases=[alias])
        container.start()
        deadline = time.monotonic() + timeout
        while True:
            container.reload()
            health = container.attrs["State"].get("Health", {}).get("Status")
            if health == "healthy":
                break
            if container.status in ("exited", "dead") or time.monotonic() > deadline:
                raise AssertionError(f"redis ({image}) not healthy: status {container.status}, "
                                     f"health {health}\n--- last log lines ---\n{_tail(container)}")
            time.sleep(0.25)
        yield container
    finally:
        _remove(container)


@contextlib.contextmanager
def run_service_counter(image: str, network: str, token: str | None = SERVICE_COUNTER_TOKEN,
                        redis_host: str = "cache", timeout: float = 60.0) -> Iterator[RunningApp]:
    """IMAGE on NETWORK with APP_TOKEN=TOKEN (unset when None), port 8080 published,
    waited for until it answers HTTP."""
    client = docker_client()
    environment = {"REDIS_HOST": redis_host}
    if token is not None:
        environment["APP_TOKEN"] = token
    container = client.containers.create(image, environment=environment, labels=TEST_LABELS,
                                         ports={"8080/tcp": ("127.0.0.1", None)}, network=network)
    try:
        container.start()
        app = RunningApp(SERVICE_COUNTER_SPEC, image, container)
        deadline = time.monotonic() + timeout
        while True:
            container.reload()
            if container.status in ("exited", "dead"):
                raise AppNotReady(f"service-counter ({image}) exited with code "
                                  f"{container.attrs['State'].get('ExitCode')}\n--- last log lines ---\n{app.logs()}")
            try:
                http_get(app.url("/"), timeout=3.0)
                break
            except (OSError, AssertionError):
                if time.monotonic() > deadline:
                    raise AppNotReady(f"service-counter ({image}) not answering on 8080 after {timeout:.0f}s\n"
                                      f"--- last log lines ---\n{app.logs()}") from None
                time.sleep(0.25)
        yield app
    finally:
        _remove(container)


def _counter(app: RunningApp, method: str, path: str, token: str | None, status: int = 200) -> dict:
    headers = {"X-Token": token} if token is not None else {}
    response = http_request(method, app.url(path), headers, body=b"" if method == "POST" else None)
    assert response.status == status, (
        f"{method} {path}: status {response.status}, expected {status}; body {response.text[:300]!r}")
    return response.json()


def check_service_counter(image: str, token: str = SERVICE_COUNTER_TOKEN, network: str | None = None) -> None:
    """service-counter's independent functional check; AssertionError with the app's logs.

    The probes hit the counter `probe` once; here: a fresh counter hit twice, another one,
    a wrong token, a bad counter name, an unknown path, Redis gone (503: the client's error
    path), and the refusal to start without APP_TOKEN."""
    with contextlib.ExitStack() as stack:
        if network is None:
            network = stack.enter_context(user_network())
            redis = stack.enter_context(redis_on_network(network))
        else:
            redis = None
        app = stack.enter_context(run_service_counter(image, network, token))
        try:
            _check_counter_api(app, token)
            if redis is not None:
                redis.stop(timeout=5)
                down = _counter(app, "GET", "/count?name=any", token, status=503)
                assert "redis at cache:6379" in down.get("error", ""), f"503 body: {down}"
        except AssertionError as exc:
            raise AssertionError(f"service-counter check failed against {image}: {exc}\n"
                                 f"--- last log lines ---\n{app.logs()}") from None
    _check_refuses_to_start_without_token(image)


def _check_counter_api(app: RunningApp, token: str) -> None:
    assert _counter(app, "GET", "/", token) == {"service": "service-counter", "redis": "PONG"}
    assert "X-Token" in _counter(app, "GET", "/", None, status=401)["error"]
    _counter(app, "GET", "/", token + "-wrong", status=401)
    _counter(app, "POST", "/hit?name=check", None, status=401)
    name = f"check-{uuid.uuid4().hex[:8]}"
    assert _counter(app, "GET", f"/count?name={name}", token) == {"name": name, "count": 0}
    assert _counter(app, "POST", f"/hit?name={name}", token) == {"name": name, "count": 1}
    assert _counter(app, "POST", f"/hit?name={name}", token) == {"name": name, "count": 2}
    assert _counter(app, "GET", f"/count?name={name}", token) == {"name": name, "count": 2}
    other = name + "-other"
    assert _counter(app, "POST", f"/hit?name={other}", token)["count"] == 1
    assert _counter(app, "GET", f"/count?name={name}", token)["count"] == 2
    _counter(app, "GET", "/count?name=bad!name", token, status=400)
    _counter(app, "GET", "/no-such-path", token, status=404)


def _check_refuses_to_start_without_token(image: str) -> None:
    container = docker_client().containers.create(image, labels=TEST_LABELS)
    try:
        container.start()
        code = int(container.wait(timeout=60)["StatusCode"])
        stderr = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")
        assert code == 1 and "APP_TOKEN is not set" in stderr, (
            f"without APP_TOKEN: exit {code}, stderr {stderr[-300:]!r}")
    finally:
        _remove(container)
