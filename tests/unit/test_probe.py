"""Probe files, HTTP expectations, link extraction and the crawl (no Docker).

Every class of malformed probe file gets one case: the error must name the
file, the line and the field, and the CLI must exit 2 for it.
"""
from __future__ import annotations

import http.server
import socket
import textwrap
import threading
import time

import pytest

from slimmer import probe as probing
from slimmer.errors import BadInput, ExitCode
from slimmer.model import ExecProbe, HttpProbe, ProbeResult, WaitProbe
from slimmer.verify import compare


def write(tmp_path, text: str, name: str = "probes.toml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return str(path)


# --- malformed probe files: one case per error class ---------------------------------

MALFORMED = [
    # (error class, file text, line named, field named, words in the message)
    ("bad TOML syntax", """
        [[probe]]
        type = "http"
        path = "/" oops
        """, 3, None, "not valid TOML"),
    ("unknown table", """
        [[probe]]
        type = "http"

        [sever]
        port = 1
        """, 4, "sever", "unknown table"),
    ("unknown field", """
        [[probe]]
        type = "http"
        path = "/"

        [[probe]]
        type = "exec"
        argv = ["true"]
        expect_stauts = 0
        """, 8, "expect_stauts", "unknown field for a exec probe"),
    ("wrong type", """
        [[probe]]
        type = "http"
        repeat = "twice"
        """, 3, "repeat", "is not an integer"),
    ("boolean is not a number", """
        [[probe]]
        type = "wait"
        seconds = true
        """, 3, "seconds", "is not an integer or a number"),
    ("bad type value", """
        [run]
        continue_after = "probes"

        [[probe]]
        type = "ftp"
        """, 5, "type", "'ftp' is not a probe type"),
    ("missing type", """
        [[probe]]
        path = "/"
        """, 1, "type", "missing"),
    ("bad port string", """
        [[probe]]
        type = "http"
        port = "eighty"
        """, 3, "port", "'eighty'"),
    ("port out of range", """
        [[probe]]
        type = "wait"
        port = 70000
        """, 3, "port", "70000"),
    ("bad status", """
        [[probe]]
        type = "http"
        path = "/"
        expect_status = 99
        """, 4, "expect_status", "99"),
    ("missing argv", """
        [[probe]]
        type = "exec"
        expect_exit = 0
        """, 1, "argv", "missing"),
    ("empty argv", """
        [[probe]]
        type = "exec"
        argv = []
        """, 3, "argv", "[]"),
    ("argv not strings", """
        [[probe]]
        type = "exec"
        argv = ["sleep", 1]
        """, 3, "argv", "['sleep', 1]"),
    ("wait with none of seconds/port/log", """
        [[probe]]
        type = "wait"
        timeout = 5
        """, 2, "type", "exactly one of seconds, port, log (got none)"),
    ("wait with two of seconds/port/log", """
        [[probe]]
        type = "wait"
        port = 80
        log = "ready"
        """, 4, "log", "(got port, log)"),
    ("bad regex", """
        [[probe]]
        type = "wait"
        log = "ready ("
        """, 3, "log", "missing )"),
    ("bad continue_after", """
        # comment
        [run]
        env = {A = "1"}
        continue_after = "forever"
        """, 4, "continue_after", "'forever'"),
    ("bad continue_after timeout", """
        [run]
        continue_after = "timeout=-3"
        """, 2, "continue_after", "timeout=-3"),
    ("unknown field in run", """
        [run]
        cmd = ["serve"]
        """, 2, "cmd", "unknown field in [run]"),
    ("run command not a list", """
        [run]
        command = "serve --port 80"
        """, 2, "command", "serve --port 80"),
    ("body_file missing", """
        [[probe]]
        type = "http"
        method = "POST"
        body_file = "no-such-body.json"
        """, 4, "body_file", "no-such-body.json"),
    ("bad path", """
        [[probe]]
        type = "http"
        path = "health"
        """, 3, "path", "'health'"),
    ("bad crawl", """
        crawl = "yes"
        """, 1, "crawl", "'yes'"),
    ("bad crawl limit", """
        crawl = {depth = 2, pages = 0}
        """, 1, "pages", "0"),
    ("unknown crawl limit", """
        [[probe]]
        type = "http"

        [crawl]
        depth = 2
        time = 3
        """, 6, "time", "unknown crawl limit"),
]


@pytest.mark.parametrize("case", MALFORMED, ids=[case[0] for case in MALFORMED])
def test_malformed_probe_file_names_file_line_and_field(tmp_path, case):
    _, text, line, field, words = case
    path = write(tmp_path, text)
    with pytest.raises(BadInput) as info:
        probing.load_probe_file(path)
    message = info.value.message
    assert path in message
    assert f"line {line}" in message
    if field is not None:
        assert f"field '{field}'" in message
    assert words in message
    assert info.value.exit_code == ExitCode.BAD_INPUT
    assert "next step:" in message


def test_unreadable_probe_file_is_bad_input(tmp_path):
    with pytest.raises(BadInput) as info:
        probing.load_probe_file(str(tmp_path / "missing.toml"))
    assert "missing.toml" in info.value.message and "No such file" in info.value.message


def test_cli_exits_2_on_a_malformed_probe_file(tmp_path, capsys):
    from slimmer.cli import main
    path = write(tmp_path, '[[probe]]\ntype = "http"\nexpect_status = "ok"\n')
    assert main(["build", "any-image:1", "--probe-file", path]) == ExitCode.BAD_INPUT
    err = capsys.readouterr().err
    assert f"bad probe file {path}, line 3, field 'expect_status'" in err


# --- well-formed probe files ----------------------------------------------------------------

def test_full_probe_file_parses(tmp_path):
    (tmp_path / "login.json").write_text('{"user": "a"}')
    path = write(tmp_path, """
        crawl = {depth = 2, pages = 7, seconds = 4.5}

        [run]
        env = {MODE = "test", WORKERS = 2}
        command = ["serve", "--port", "9000"]
        user = "1000:1000"
        continue_after = "timeout=12"

        [[probe]]
        type = "wait"
        log = "listening on \\\\d+"

        [[probe]]
        type = "http"
        method = "post"
        path = "/login"
        port = 9000
        headers = {Content-Type = "application/json"}
        body_file = "login.json"
        expect_status = 201
        expect_json = {ok = true, user = {name = "a"}}
        repeat = 3

        [[probe]]
        type = "http"
        path = "/"
        port = "auto"
        scheme = "https"
        expect_body = "hello"

        [[probe]]
        type = "exec"
        argv = ["psql", "-c", "select 1"]
        user = "postgres"
        expect_exit = 0
        expect_output = "1"

        [[probe]]
        type = "wait"
        seconds = 0.5
        """)
    plan = probing.load_probe_file(path)
    assert plan.crawl is True
    assert plan.crawl_limits == probing.CrawlLimits(depth=2, pages=7, seconds=4.5)
    assert plan.run.command == ("serve", "--port", "9000")
    assert plan.run.env == (("MODE", "test"), ("WORKERS", "2"))
    assert plan.run.user == "1000:1000" and plan.run.continue_after == "timeout=12"
    wait_log, post, https, exec_probe, wait_seconds = plan.probes
    assert wait_log == WaitProbe(log_regex=r"listening on \d+", timeout_s=60.0)
    assert post == HttpProbe(path="/login", method="POST", port=9000,
                             headers=(("Content-Type", "application/json"),), body=b'{"user": "a"}',
                             expect_status=201, expect_json={"ok": True, "user": {"name": "a"}}, repeat=3)
    assert https.port is None and https.scheme == "https" and https.expect_body == "hello"
    assert exec_probe == ExecProbe(argv=("psql", "-c", "select 1"), user="postgres", expect_exit=0,
                                   expect_output="1")
    assert wait_seconds.seconds == 0.5


def test_crawl_false_and_defaults(tmp_path):
    plan = probing.load_probe_file(write(tmp_path, "crawl = false\n"))
    assert plan.crawl is False and plan.probes == () and plan.run.continue_after == "auto"
    assert probing.load_probe_file(write(tmp_path, "", "empty.toml")).crawl_limits == probing.CrawlLimits()


def test_crawl_limit_flags_override_the_file():
    limits = probing.crawl_limits_from_flags(probing.CrawlLimits(depth=2, pages=7, seconds=4), None, 3, None)
    assert limits == probing.CrawlLimits(depth=2, pages=3, seconds=4.0)
    with pytest.raises(BadInput, match="--crawl-depth must be positive"):
        probing.crawl_limits_from_flags(probing.CrawlLimits(), 0, None, None)


def test_every_shipped_probe_file_parses():
    import glob
    import os
    files = glob.glob(os.path.join(os.path.dirname(__file__), "..", "..", "probes", "*.toml"))
    assert len(files) >= 8
    for path in files:
        probing.load_probe_file(path)


@pytest.mark.parametrize("text, expected", [
    ("probes", ("probes", None)), ("exit", ("exit", None)), ("signal", ("signal", None)),
    ("auto", ("auto", None)), ("timeout=30", ("timeout", 30.0)), ("timeout=0.5", ("timeout", 0.5)),
])
def test_parse_continue_after(text, expected):
    assert probing.parse_continue_after(text) == expected


@pytest.mark.parametrize("text", ["", "timeout", "timeout=", "timeout=0", "timeout=x", "keypress", 5])
def test_parse_continue_after_rejects(text):
    with pytest.raises(BadInput, match="bad --continue-after value"):
        probing.parse_continue_after(text)


def test_parse_http_flag():
    assert probing.parse_http_flag("/health") == HttpProbe(path="/health")
    assert probing.parse_http_flag("post /login") == HttpProbe(path="/login", method="POST")
    with pytest.raises(BadInput, match="starting with /"):
        probing.parse_http_flag("health")


# --- expectations -------------------------------------------------------------------

@pytest.mark.parametrize("document, subset, expected", [
    ({"a": 1, "b": 2}, {"a": 1}, True),
    ({"a": 1}, {"a": 2}, False),
    ({"a": 1}, {"c": 1}, False),
    ({"a": {"b": {"c": [1, 2, 3]}, "d": 0}}, {"a": {"b": {"c": [3, 1]}}}, True),
    ({"a": {"b": 1}}, {"a": {"b": 1, "c": 2}}, False),
    ([{"id": 1, "n": "x"}, {"id": 2, "n": "y"}], [{"n": "y"}], True),
    ([{"id": 1}], [{"id": 3}], False),
    ({"items": []}, {"items": []}, True),
    ("text", "text", True),
    (True, True, True),
    (0, False, False),          # JSON false is not the number 0
    (1, True, False),
    (1.0, 1, True),             # 1.0 and 1 are the same JSON number
    ({"a": [1]}, {"a": 1}, False),
    ([1, 2], {"a": 1}, False),
    (None, None, True),
])
def test_json_contains(document, subset, expected):
    assert probing.json_contains(document, subset) is expected


@pytest.mark.parametrize("probe, status, body, error", [
    (HttpProbe(), 200, b"", None),
    (HttpProbe(), 404, b"", None),                       # default: anything below 500
    (HttpProbe(), 503, b"", "status 503 (a server error)"),
    (HttpProbe(expect_status=503), 503, b"", None),
    (HttpProbe(expect_status=200), 201, b"", "status 201, expected 200"),
    (HttpProbe(expect_body="ready"), 200, b"all ready", None),
    (HttpProbe(expect_body="ready"), 200, b"starting", "body does not contain 'ready'"),
    (HttpProbe(expect_json={"ok": True}), 200, b'{"ok": true, "n": 3}', None),
    (HttpProbe(expect_json={"ok": True}), 200, b'{"ok": false}', 'JSON body does not contain {"ok": true}'),
    (HttpProbe(expect_json={"ok": True}), 200, b"<html>", "body is not JSON"),
    (HttpProbe(expect_status=200, expect_body="x"), 500, b"x", "status 500, expected 200"),
])
def test_http_expectations(probe, status, body, error):
    found = probing.check_http_expectations(probe, status, body)
    if error is None:
        assert found is None
    else:
        assert found is not None and found.startswith(error)


@pytest.mark.parametrize("probe, code, output, error", [
    (ExecProbe(argv=("x",)), 0, b"", None),
    (ExecProbe(argv=("x",)), 1, b"boom", "exit code 1, expected 0: boom"),
    (ExecProbe(argv=("x",), expect_exit=None), 7, b"", None),
    (ExecProbe(argv=("x",), expect_exit=3), 3, b"", None),
    (ExecProbe(argv=("x",), expect_output="ok"), 0, b"health ok\n", None),
    (ExecProbe(argv=("x",), expect_output="ok"), 0, b"down", "output does not contain 'ok'"),
])
def test_exec_expectations(probe, code, output, error):
    found = probing.check_exec_expectations(probe, code, output)
    if error is None:
        assert found is None
    else:
        assert found is not None and found.startswith(error)


def test_verify_fails_a_slim_result_that_misses_its_own_expectation():
    """Equal to the original is not enough: the slim answer must meet the probe's expectation too."""
    probe = HttpProbe(path="/", port=80, expect_body="ready")
    original = ProbeResult(name=probe.name, kind="http", ok=True, status=200, digest="sha256:a", probe=probe)
    slim_ok = ProbeResult(name=probe.name, kind="http", ok=True, status=200, digest="sha256:a")
    slim_bad = ProbeResult(name=probe.name, kind="http", ok=False, status=200, digest="sha256:a",
                           error="body does not contain 'ready'")
    assert compare(original, slim_ok).passed
    check = compare(original, slim_bad)
    assert not check.passed and "does not contain 'ready'" in check.reason


def test_verify_fails_on_status_and_warns_on_a_different_output():
    """Issue 12: a different body or output with the same status is a warning, not a failure."""
    original = ProbeResult(name="run sum", kind="run", ok=True, status=0, digest="sha256:a")
    assert not compare(original, ProbeResult(name="run sum", kind="run", ok=True, status=1, digest="sha256:a")).passed
    check = compare(original, ProbeResult(name="run sum", kind="run", ok=True, status=0, digest="sha256:b"))
    assert check.passed and check.warning == "output differs from the original's (same status 0)"
    unstable = ProbeResult(name="GET /", kind="http", ok=True, status=200, digest="sha256:a", stable=False)
    check = compare(unstable, ProbeResult(name="GET /", kind="http", ok=True, status=200, digest="sha256:b"))
    assert check.passed and not check.warning       # the original itself answered differently twice


def test_verify_compare_exact_fails_on_a_different_body():
    exact = ProbeResult(name="GET /", kind="http", ok=True, status=200, digest="sha256:a",
                        probe=HttpProbe(path="/", compare="exact"))
    check = compare(exact, ProbeResult(name="GET /", kind="http", ok=True, status=200, digest="sha256:b"))
    assert not check.passed and "compare = \"exact\"" in check.reason


def test_probe_file_compare_field(tmp_path):
    plan = probing.parse_probe_data({"probe": [{"type": "http", "path": "/", "compare": "exact"},
                                               {"type": "exec", "argv": ["true"], "compare": "status"}]},
                                    '[[probe]]\ntype = "http"\n[[probe]]\ntype = "exec"\n', "p.toml")
    assert plan.probes[0].compare == "exact" and plan.probes[1].compare == "auto"
    with pytest.raises(BadInput) as raised:
        probing.parse_probe_data({"probe": [{"type": "http", "path": "/", "compare": "bytes"}]},
                                 '[[probe]]\ntype = "http"\ncompare = "bytes"\n', "p.toml")
    assert "p.toml, line 3, field 'compare'" in raised.value.message


# --- links and the crawl ---------------------------------------------------------------------

def test_same_origin_links():
    page = b"""<html><head><link rel="stylesheet" href="/style.css"><script src="app.js"></script></head>
    <body><a href="page2.html">2</a> <a href="/page2.html#top">again</a> <a href="../up.html">up</a>
    <a href="http://other.example/x">other</a> <a href="https://h:80/tls">scheme</a>
    <a href="mailto:a@b">mail</a> <a href="javascript:void(0)">js</a> <a href="?q=1">query</a>
    <a href="http://h:80/abs?x=2#f">absolute</a> <img src="/img/logo.png"> <a>no href</a>
    <a href="#only-fragment">frag</a></body></html>"""
    links = probing.same_origin_links("http://h:80/docs/index.html", page, "text/html; charset=utf-8")
    assert links == ["/style.css", "/docs/app.js", "/docs/page2.html", "/page2.html", "/up.html",
                     "/docs/index.html?q=1", "/abs?x=2", "/img/logo.png", "/docs/index.html"]


def test_links_only_from_html():
    assert probing.same_origin_links("http://h/", b'<a href="/x">x</a>', "application/json") == []
    assert probing.same_origin_links("http://h/", b'<a href="/x">x', "text/html") == ["/x"]   # unclosed tag


SITE = {
    "/": b'<a href="/a.html">a</a> <a href="/b.html">b</a> <a href="http://elsewhere/">x</a>',
    "/a.html": b'<a href="deep/c.html">c</a> <a href="/">home</a>',
    "/b.html": b'<link href="/style.css" rel="stylesheet">',
    "/deep/c.html": b'<a href="d.html">d</a>',
    "/deep/d.html": b"three links deep",
    "/style.css": b"body {}",
}


@pytest.fixture(scope="module")
def site():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = SITE.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/css" if self.path.endswith(".css") else "text/html")
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield probing.Endpoint(container_port=80, host="127.0.0.1", port=server.server_address[1])
    server.shutdown()


def crawled(site, **limits) -> list[str]:
    return [p.path for p in probing.crawl(site, "http", probing.CrawlLimits(**limits), {"/"})]


def test_crawl_finds_pages_by_depth(site):
    assert crawled(site, depth=1) == ["/a.html", "/b.html"]
    assert crawled(site, depth=2) == ["/a.html", "/b.html", "/deep/c.html", "/style.css"]
    assert crawled(site, depth=3) == ["/a.html", "/b.html", "/deep/c.html", "/style.css", "/deep/d.html"]


def test_crawl_pages_limit(site):
    assert crawled(site, depth=5, pages=3) == ["/a.html", "/b.html", "/deep/c.html"]


def test_crawl_time_limit(site):
    assert crawled(site, depth=5, seconds=1e-9) == []


def test_crawl_follows_but_does_not_return_pages_already_probed(site):
    pages, fetched = [], []
    found = probing.crawl(site, "http", probing.CrawlLimits(depth=2), {"/", "/a.html"}, on_page=fetched.append)
    pages = [p.path for p in found]
    assert pages == ["/b.html", "/deep/c.html", "/style.css"]        # c.html is linked only from a.html
    assert fetched == ["/", "/a.html", "/b.html"]
    assert all(p.port == 80 and p.scheme == "http" for p in found)


# --- progress -------------------------------------------------------------------------------

def test_build_progress_draws_probe_bars_from_typed_events(capsys):
    from slimmer.events import CrawlPage, Note, ProbeDone
    from slimmer.progress import BuildProgress
    progress = BuildProgress(quiet=False, tty=True)
    progress(Note("trace", "running probes"))
    progress(ProbeDone("trace", 1, 2, "GET / on port 80", True))
    progress(CrawlPage("trace", 80, "/page2.html"))
    progress(ProbeDone("trace", 2, 3, "GET /page2.html on port 80", True))
    assert progress.bar.total == 3 and progress.bar.n == 2     # the crawl grew the bar
    progress(ProbeDone("trace", 3, 3, "GET /page3.html on port 80", False, "status 404, expected 200"))
    progress(Note("trace", "stopping the app"))
    assert progress.bar is None
    progress(ProbeDone("verify", 1, 1, "exec /server health", True, warning="output differs"))
    progress.close()
    err = capsys.readouterr().err
    assert "[trace] running probes" in err and "[trace] stopping the app" in err
    assert "[trace] probe 3/3 GET /page3.html on port 80: FAILED (status 404, expected 200)" in err
    assert "[verify] probe 1/1 exec /server health: ok, warning: output differs" in err


def test_build_progress_in_a_ci_log_prints_lines_without_carriage_returns(capsys):
    from slimmer.events import BuildStep, ProbeDone, StageStarted
    from slimmer.progress import BuildProgress
    progress = BuildProgress(quiet=False, tty=False)
    progress(StageStarted("build", "building app:1-slim"))
    progress(BuildStep(1, 3, "FROM app:1 AS original"))
    progress(ProbeDone("verify", 1, 2, "GET /", True))
    progress.close()
    err = capsys.readouterr().err
    assert "\r" not in err
    assert err.splitlines() == ["[build] building app:1-slim", "[build] step 1/3: FROM app:1 AS original",
                                "[verify] probe 1/2 GET /: ok"]


# --- which protocol a port speaks ---------------------------------------------------------

def _server(answer):
    """A local TCP server answering every connection's first bytes with ANSWER (bytes, or a
    function of the bytes received) and closing (None: it reads and closes without a word)."""
    import socket as socketlib
    import threading
    listener = socketlib.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                try:
                    request = conn.recv(4096)
                    reply = answer(request) if callable(answer) else answer
                    if reply is not None:
                        conn.sendall(reply)
                except OSError:
                    pass
    threading.Thread(target=serve, daemon=True).start()
    return listener


@pytest.mark.parametrize("answer, scheme, tls_tried", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi", "http", False),
    (b"-ERR wrong number of arguments for 'get' command\r\n", None, False),       # redis
    # redis drops a request with a Host line unanswered (a cross-protocol attack to it)
    (lambda request: None if b"Host:" in request else b"-ERR wrong number of arguments\r\n", None, False),
    (b"E\x00\x00\x00\x56SFATAL\x00", None, False),                                 # postgres
    (b"HTTP/1.1 400 Bad Request\r\n\r\nThe plain HTTP request was sent to HTTPS port", "http", True),
])
def test_port_scheme_asks_tls_only_when_the_plain_answer_leaves_it_open(answer, scheme, tls_tried, monkeypatch):
    from slimmer import probe as probe_module
    tried = []
    real = probe_module.speaks_tls
    monkeypatch.setattr(probe_module, "speaks_tls", lambda endpoint: tried.append(endpoint) or real(endpoint))
    listener = _server(answer)
    try:
        endpoint = probe_module.Endpoint(80, "127.0.0.1", listener.getsockname()[1])
        assert probe_module.port_scheme(endpoint) == scheme
    finally:
        listener.close()
    assert bool(tried) is tls_tried


def _listening() -> socket.socket:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    return listener


def test_a_port_reached_through_the_proxy_counts_at_once_when_the_container_address_answers():
    """No fixed wait: the container's own address (no proxy between) says at the handshake
    that a listener is there; the proxy's way needs QUIET_S of silence."""
    from slimmer import probe as probe_module
    app = _listening()
    try:
        port = app.getsockname()[1]
        direct = probe_module.Endpoint(port, "127.0.0.1", port, direct="127.0.0.1")
        start = time.monotonic()
        assert probe_module.wait_for_port(direct, lambda: True, 5) < probe_module.QUIET_S
        assert time.monotonic() - start < probe_module.QUIET_S
        assert direct.direct == "127.0.0.1"
        start = time.monotonic()
        assert probe_module._accepts(probe_module.Endpoint(port, "127.0.0.1", port))      # the proxy's way
        assert time.monotonic() - start >= probe_module.QUIET_S
    finally:
        app.close()


def test_a_refused_container_address_means_no_listener_whatever_the_proxy_accepts():
    from slimmer import probe as probe_module
    proxy, closed = _listening(), _listening()
    closed_port = closed.getsockname()[1]
    closed.close()                               # nothing listens there any more
    try:
        endpoint = probe_module.Endpoint(closed_port, "127.0.0.1", proxy.getsockname()[1], direct="127.0.0.1")
        assert probe_module._accepts(endpoint) is False
    finally:
        proxy.close()


def test_an_unreachable_container_address_falls_back_to_the_proxy_for_good():
    from slimmer import probe as probe_module
    proxy = _listening()
    try:
        endpoint = probe_module.Endpoint(80, "127.0.0.1", proxy.getsockname()[1], direct="256.0.0.1")
        assert probe_module._accepts(endpoint) is True          # a quiet listener behind the proxy
        assert endpoint.direct is None
    finally:
        proxy.close()


def test_a_path_an_exec_probe_reached_is_named_after_the_probe_whose_log_directory_saw_it():
    from slimmer.model import TracedPath
    from slimmer.verify import _who
    exec_logs = {"exec-2": "exec psql -c SELECT 1", "exec-5": "exec cat /x"}
    assert _who(TracedPath("/x", frozenset({"openat"}), False, frozenset({"exec-5/run.9.log"})), exec_logs) \
        == "exec cat /x"
    both = TracedPath("/y", frozenset({"openat"}), False, frozenset({"exec-2/run.3.log", "exec-5/run.9.log"}))
    assert _who(both, exec_logs) == "exec cat /x, exec psql -c SELECT 1"
    assert _who(TracedPath("/z", frozenset({"openat"}), False, frozenset({"trace.1.log"})), exec_logs) \
        == "the app while the probes ran"
