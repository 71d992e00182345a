"""Each probe kind against the sample apps, through the real `slim build` command.

Every build runs at most once per session (a session fixture per scenario) and
its slim image is removed at teardown; what a user would notice is asserted:
the exit code, the report's probes[] and verify entries, what the slim image does.
"""
from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import textwrap
import time

import pytest

from tests.slimtest import REPO, SlimProcess, slim_cli

TAG_REPO = "slimmer-probetest"


class Build:
    """One `slim build` through the CLI, with its report."""

    def __init__(self, name: str, workdir, image: str, *args: str, proc=None):
        self.name = name
        self.tag = f"{TAG_REPO}/{name}:slim"
        self.report_path = str(workdir / f"{name}.report.json")
        self.args = ["build", image, "--tag", self.tag, "--artifacts", str(workdir / name),
                     "--report", self.report_path, *args]
        self.proc = proc if proc is not None else slim_cli(*self.args, timeout=300)
        self.report = json.load(open(self.report_path)) if os.path.exists(self.report_path) else None

    def explain(self) -> str:
        return (f"slim {' '.join(self.args)}\nexit {self.proc.returncode}\n"
                f"stdout:\n{self.proc.stdout[-3000:]}\nstderr:\n{self.proc.stderr[-4000:]}")

    def probes(self, kind: str | None = None) -> dict[str, dict]:
        return {p["name"]: p for p in self.report["probes"] if kind is None or p["kind"] == kind}

    def checks(self) -> dict[str, dict]:
        return {c["name"]: c for c in self.report["verify"]["checks"]}

    def assert_verified(self) -> None:
        assert self.proc.returncode == 0, self.explain()
        assert self.report["status"] == "ok"
        verify = self.report["verify"]
        assert verify["ran"] and verify["failed"] == 0 and verify["passed"] >= 1, self.explain()
        # every probe of the original run was replayed on the slim image
        replayed = {p["name"] for p in self.report["probes"]}
        assert replayed <= set(self.checks()), self.explain()


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("probe-builds")


@pytest.fixture(scope="session")
def builds(sample_images, workdir, session_ledger):
    """build(name, image, *args) runs once per name; the slim tag is removed at teardown."""
    done: dict[str, Build] = {}

    def build(name: str, app: str, *args: str) -> Build:
        if name not in done:
            session_ledger.image(f"{TAG_REPO}/{name}:slim")
            done[name] = Build(name, workdir, sample_images.get(app, app), *args)
        return done[name]

    return build


def probe_file(workdir, name: str, text: str) -> str:
    path = workdir / f"{name}.toml"
    path.write_text(textwrap.dedent(text).lstrip())
    return str(path)


def docker_run(client, image: str, *command: str) -> tuple[int, bytes]:
    container = client.containers.create(image, command=list(command) or None)
    try:
        container.start()
        code = container.wait(timeout=60)["StatusCode"]
        return code, container.logs(stdout=True, stderr=False)
    finally:
        container.remove(force=True, v=True)


# --- exec probes -----------------------------------------------------------------------

def test_exec_probe_in_an_image_without_a_shell(builds):
    """static-scratch has no shell: the exec probe runs the app's own binary under the sensor."""
    result = builds("scratch-exec", "static-scratch", "--exec-probe", "/server health 8080")
    result.assert_verified()
    execs = result.probes("exec")
    assert execs["exec /server health 8080"]["ok"] and execs["exec /server health 8080"]["status"] == 0
    check = result.checks()["exec /server health 8080"]
    assert check["passed"] and check["slim_status"] == 0
    # the image's HEALTHCHECK is traced once and replayed too
    assert "healthcheck /server health 8080" in result.checks()


def test_exec_probes_run_as_the_image_user_and_a_database_port_is_connect_only(builds, workdir):
    """postgres: 5432 does not speak HTTP, so it is probed by connecting, noted, and never
    fails the build; exec probes run as USER postgres (peer auth depends on it); wait
    probes by log line and by port."""
    path = probe_file(workdir, "postgres", """
        [[probe]]
        type = "wait"
        log = "database system is ready to accept (read only )?connections"
        timeout = 90

        [[probe]]
        type = "wait"
        port = 5432

        [[probe]]
        type = "exec"
        argv = ["id", "-un"]
        expect_output = "postgres"

        [[probe]]
        type = "exec"
        argv = ["psql", "-d", "app", "-X", "-A", "-t", "-c", "SELECT count(*) FROM items"]
        expect_output = "3"

        [[probe]]
        type = "exec"
        argv = ["id", "-un"]
        user = "nobody"
        expect_output = "nobody"
        """)
    result = builds("postgres", "postgres", "--probe-file", path)
    result.assert_verified()
    probes = result.probes()
    connect = probes["connect to port 5432"]
    assert connect["kind"] == "connect" and connect["ok"] and connect["error"] is None
    assert not [p for p in probes.values() if p["kind"] == "http"]
    assert probes["wait for log /database system is ready to accept (read only )?connections/"]["ok"]
    assert probes["wait for port 5432"]["ok"]
    assert probes["exec id -un"]["ok"]                   # expect_output "postgres": the image's USER
    assert probes["exec psql -d app -X -A -t -c SELECT count(*) FROM items"]["ok"]
    assert result.checks()["connect to port 5432"]["passed"]
    # the per-probe user override: two probes share a name, so count the passed checks by name
    assert sum(c["name"] == "exec id -un" and c["passed"] for c in result.report["verify"]["checks"]) == 2


# --- batch images ----------------------------------------------------------------------

def test_batch_image_with_two_run_variants(builds, docker_client):
    """Both variants traced, the keep set is their union, each replayed and compared by
    exit code and stdout digest."""
    result = builds("batch", "batch-job", "--probe-file", os.path.join(REPO, "probes", "batch-job.toml"),
                    "--run", "sum", "--run", "count")
    result.assert_verified()
    runs = result.probes("run")
    assert set(runs) == {"run /usr/local/bin/batch.sh sum", "run /usr/local/bin/batch.sh count"}
    original = "slimmer-sample/batch-job:latest"
    for mode in ("sum", "count"):
        code, stdout = docker_run(docker_client, original, mode)
        assert code == 0
        entry = runs[f"run /usr/local/bin/batch.sh {mode}"]
        assert entry["ok"] and entry["status"] == 0
        assert entry["digest"] == "sha256:" + hashlib.sha256(stdout).hexdigest()
        check = result.checks()[f"run /usr/local/bin/batch.sh {mode}"]
        assert check["passed"] and check["original_status"] == 0 and check["slim_status"] == 0
        # the union: the slim image runs both variants (count needs tail/wc/tr, sum needs awk)
        assert docker_run(docker_client, result.tag, mode) == (0, stdout)


# --- HTTPS and the crawl -------------------------------------------------------------------

def test_https_port_and_a_crawl_two_links_deep(builds):
    """nginx-static with no probe file: 443 is detected as TLS and probed over https;
    the crawl finds page3.html (index -> page2 -> page3); orphan.html is not linked."""
    result = builds("nginx", "nginx-static")
    result.assert_verified()
    probes = result.probes("http")
    for port, suffix in ((80, ""), (443, " (https)")):
        for path in ("/", "/page2.html", "/page3.html", "/style.css"):
            entry = probes[f"GET {path} on port {port}{suffix}"]
            assert entry["ok"] and entry["status"] == 200, entry
    assert not [name for name in probes if "orphan" in name]
    assert not [name for name in probes if "443" in name and "(https)" not in name]
    assert result.checks()["GET /page3.html on port 443 (https)"]["passed"]


def test_crawl_depth_from_the_probe_file(builds, workdir):
    """crawl = {depth = 1}: page2 is one link away from /, page3 two: only page2 is found."""
    path = probe_file(workdir, "nginx-depth1", 'crawl = {depth = 1, pages = 10, seconds = 20}\n')
    result = builds("nginx-depth1", "nginx-static", "--probe-file", path, "--no-verify")
    assert result.proc.returncode == 0, result.explain()
    names = set(result.probes())
    assert "GET /page2.html on port 80" in names
    assert "GET /page3.html on port 80" not in names


# --- port discovery ---------------------------------------------------------------------

@pytest.fixture(scope="session")
def unexposed_image(sample_images, docker_client, session_ledger, workdir):
    """busybox httpd on port 9090, with no EXPOSE: only its listening socket tells."""
    context = workdir / "unexposed"
    context.mkdir()
    (context / "Dockerfile").write_text(textwrap.dedent(f"""
        FROM debian:bookworm-slim
        COPY --from={sample_images['entrypoint-script']} /usr/bin/busybox /usr/bin/busybox
        RUN mkdir /www && echo '<a href="/two.html">two</a>' > /www/index.html && echo found > /www/two.html
        CMD ["/usr/bin/busybox", "httpd", "-f", "-p", "9090", "-h", "/www"]
        """))
    tag = session_ledger.image(f"{TAG_REPO}/unexposed:latest")
    proc = subprocess.run(["docker", "build", "--force-rm", "-q", "-t", tag, str(context)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not docker_client.images.get(tag).attrs["Config"].get("ExposedPorts")
    return tag


def test_port_the_app_listens_on_without_expose(builds, unexposed_image):
    result = builds("unexposed", unexposed_image, "--continue-after", "probes")
    result.assert_verified()
    probes = result.probes("http")
    assert probes["GET / on port 9090"]["ok"] and probes["GET / on port 9090"]["status"] == 200
    assert probes["GET /two.html on port 9090"]["ok"]
    assert result.checks()["GET /two.html on port 9090"]["passed"]


def test_a_server_without_expose_is_probed_without_flags(builds, unexposed_image):
    """No EXPOSE, no --continue-after: slimmer sees the listening socket and probes it
    instead of waiting for a server to exit."""
    result = builds("unexposed-auto", unexposed_image)
    result.assert_verified()
    assert result.probes("http")["GET /two.html on port 9090"]["ok"]
    assert not result.probes("run"), "treated as a batch job"


# --- continue-after and wait probes ------------------------------------------------------------

def test_continue_after_timeout_with_a_wait_seconds_probe(builds, workdir):
    path = probe_file(workdir, "scratch-timeout", """
        [[probe]]
        type = "wait"
        seconds = 1.5

        [[probe]]
        type = "http"
        path = "/health"
        port = 8080
        expect_body = "ok"
        """)
    started = time.monotonic()
    result = builds("scratch-timeout", "static-scratch", "--probe-file", path, "--continue-after", "timeout=6")
    result.assert_verified()
    wait = result.probes("wait")["wait 1.5s"]
    assert wait["ok"] and wait["elapsed_s"] >= 1.5
    assert result.report["timings"]["trace_s"] >= 6          # the run lasted at least the timeout
    assert time.monotonic() - started < 120


def test_continue_after_signal(sample_images, workdir, session_ledger):
    """The trace keeps the app running until slim receives SIGUSR1, then slims as usual."""
    session_ledger.image(f"{TAG_REPO}/scratch-signal:slim")
    args = ["build", sample_images["static-scratch"], "--tag", f"{TAG_REPO}/scratch-signal:slim",
            "--artifacts", str(workdir / "scratch-signal"), "--report", str(workdir / "scratch-signal.report.json"),
            "--continue-after", "signal"]
    run = SlimProcess(*args)
    waiting = run.wait_for("waiting for SIGUSR1", 120)
    if waiting:
        time.sleep(2)
        still_waiting = run.proc.poll() is None
        run.send_signal(signal.SIGUSR1)
    done = run.finish(120 if waiting else 1)
    assert waiting, "slim never said it waits for SIGUSR1:\n" + done.stderr[-4000:]
    assert done.returncode == 0, done.stderr[-4000:]
    assert still_waiting, "slim did not wait for the signal:\n" + done.stderr
    result = Build("scratch-signal", workdir, "", proc=done)
    result.assert_verified()
    assert result.probes("http")["GET / on port 8080"]["ok"]


# --- expectations failing on the original ------------------------------------------------------------

def test_expectation_failing_on_the_original_fails_the_build(builds, workdir, docker_client):
    path = probe_file(workdir, "scratch-bad", """
        [[probe]]
        type = "http"
        path = "/health"
        port = 8080
        expect_status = 200
        expect_body = "degraded"

        [[probe]]
        type = "exec"
        argv = ["/server", "health", "8080"]
        expect_output = "never printed"
        """)
    result = builds("scratch-bad", "static-scratch", "--probe-file", path)
    assert result.proc.returncode == 1, result.explain()
    assert "probes failed against the original image" in result.proc.stderr
    assert "GET /health on port 8080: body does not contain 'degraded'" in result.proc.stderr
    assert "exec /server health 8080: output does not contain 'never printed'" in result.proc.stderr
    import docker
    with pytest.raises(docker.errors.ImageNotFound):
        docker_client.images.get(result.tag)
