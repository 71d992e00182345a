"""The run context end to end (issue 11): service-counter, an app that exits 1 without
APP_TOKEN and keeps its counter in a Redis reached as `cache`, slimmed

  (a) with --env and --network against a Redis the test started on a user network,
  (b) with --compose-file and --service, its Redis started by the Compose CLI,

both slim images passing the app's independent check (tests/apps.py); (c) a secret
env value appears in no output and not in the slim image; (d) bad input exits 2
naming the culprit, an unhealthy dependency exits 1 with its log lines; (e) nothing
is left behind: no container, network or volume of the test's runs or of slimmer's
Compose projects; (f) mounts, extra hosts and tmpfs apply to exec probes and
verification, and what the app read under a bind mount is not kept.
"""
from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.apps import (REDIS_IMAGE, SERVICE_COUNTER_IMAGE, check_service_counter, docker_client,
                        redis_on_network, user_network)
from tests.slimtest import REPO, SlimProcess, SlimRun, slim_cli

pytestmark = pytest.mark.docker

PROBE_FILE = Path(REPO) / "probes" / "service-counter.toml"
COMPOSE_FILE = Path(REPO) / "sample-apps" / "service-counter" / "compose.yaml"
CASE_LABEL = "slimmer.test.case"
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"


@pytest.fixture(scope="module")
def counter_images(docker_engine):
    """The two images this file needs (scripts/sample-apps.sh skips existing ones)."""
    proc = subprocess.run(["bash", os.path.join(REPO, "scripts", "sample-apps.sh"), "redis", "service-counter"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"building redis and service-counter failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}",
                    pytrace=False)
    return SERVICE_COUNTER_IMAGE


def _compose_projects() -> set[str]:
    """slimmer's Compose projects that own a container, network or volume right now."""
    client = docker_client()
    found = [item.attrs.get("Labels") or item.attrs.get("Config", {}).get("Labels") or {}
             for item in (client.containers.list(all=True, filters={"label": COMPOSE_PROJECT_LABEL})
                          + client.networks.list(filters={"label": COMPOSE_PROJECT_LABEL})
                          + client.volumes.list(filters={"label": COMPOSE_PROJECT_LABEL}))]
    return {labels[COMPOSE_PROJECT_LABEL] for labels in found
            if labels.get(COMPOSE_PROJECT_LABEL, "").startswith("slimmer-")}


class Created:
    """What one test's slim runs created: everything slimmer makes carries the test's own
    label (SLIMMER_LABELS), and Compose's resources carry their project (slimmer-<session>,
    new since the test began)."""

    def __init__(self, monkeypatch):
        self.case = uuid.uuid4().hex[:12]
        labels = [os.environ.get("SLIMMER_LABELS", ""), f"{CASE_LABEL}={self.case}"]
        monkeypatch.setenv("SLIMMER_LABELS", ",".join(label for label in labels if label))
        monkeypatch.delenv("APP_TOKEN", raising=False)   # the compose file's default: probe-token
        self.projects_before = _compose_projects()

    def leftovers(self) -> dict[str, list[str]]:
        client = docker_client()
        label = {"label": f"{CASE_LABEL}={self.case}"}
        left = {"containers": [c.name for c in client.containers.list(all=True, filters=label)],
                "volumes": [v.name for v in client.volumes.list(filters=label)],
                "networks": [n.name for n in client.networks.list(filters=label)],
                "compose projects": sorted(_compose_projects() - self.projects_before)}
        return {kind: names for kind, names in left.items() if names}


@pytest.fixture
def created(counter_images, monkeypatch):
    """(e) Nothing left behind: asserted after each test (and removed, so one failure
    does not cascade)."""
    tracker = Created(monkeypatch)
    yield tracker
    left = tracker.leftovers()
    for project in left.get("compose projects", []):
        subprocess.run(["docker-compose", "-p", project, "-f", str(COMPOSE_FILE), "down", "-v"], capture_output=True)
    assert left == {}, f"left behind: {left}"


@pytest.fixture
def slim_tags(docker_engine):
    tags: list[str] = []
    yield tags
    for tag in tags:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


def probe_file_with_token(tmp_path: Path, token: str, extra: str = "") -> str:
    """probes/service-counter.toml sending TOKEN instead of probe-token."""
    path = tmp_path / "service-counter.toml"
    path.write_text(PROBE_FILE.read_text().replace('"probe-token"', json.dumps(token)) + extra)
    return str(path)


def image_config(reference: str) -> dict:
    return docker_client().api.inspect_image(reference)["Config"]


NEVER_BAKED = ("Env", "Cmd", "Entrypoint", "User", "WorkingDir", "ExposedPorts", "Volumes")


# --- (a) and (c): --env and --network; the secret is nowhere -------------------------------------

def test_env_and_network_against_a_dependency_the_test_started(created, slim_tags, tmp_path):
    secret = f"s3cr3t-{uuid.uuid4()}"
    tag = f"slimmer-test/service-counter:env-{created.case}"
    slim_tags.append(tag)
    html = tmp_path / "report.html"
    with user_network() as network, redis_on_network(network, alias="cache"):
        run = SlimRun(SERVICE_COUNTER_IMAGE, tag, str(tmp_path), "env-network",
                      "--probe-file", probe_file_with_token(tmp_path, secret),
                      "--env", f"APP_TOKEN={secret}", "--network", network, "--html", str(html))
        assert run.proc.returncode == 0, run.explain()
        assert docker_client().networks.get(network).containers == [
            docker_client().containers.list(filters={"label": "slimmer.test=1"})[0]], \
            "only the test's Redis is on the network after the run"

    check_service_counter(tag, token=secret)

    # (c) the secret appears in no output
    outputs = {"stdout": run.proc.stdout, "stderr": run.proc.stderr,
               "report": Path(run.report_path).read_text(), "html report": html.read_text()}
    for path in Path(run.artifacts).rglob("*"):
        if path.is_file():
            outputs[f"artifacts/{path.relative_to(run.artifacts)}"] = path.read_bytes().decode("latin-1")
    inspect = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, text=True, check=True).stdout
    outputs["docker image inspect"] = inspect
    outputs["docker history"] = subprocess.run(["docker", "history", "--no-trunc", tag],
                                               capture_output=True, text=True).stdout
    leaks = [where for where, text in outputs.items() if secret in text]
    assert leaks == [], f"the secret value appears in: {leaks}"
    assert "artifacts/Dockerfile" in outputs and "html report" in outputs
    assert run.report["run_context"]["env"] == ["APP_TOKEN=***"]
    assert run.report["run_context"]["networks"] == [network]

    # never baked: the slim image's config is the original's
    original, slim = image_config(SERVICE_COUNTER_IMAGE), image_config(tag)
    assert {key: slim.get(key) for key in NEVER_BAKED} == {key: original.get(key) for key in NEVER_BAKED}
    assert not any(item.startswith("APP_TOKEN=") for item in slim.get("Env") or [])


# --- (b): --compose-file and --service ----------------------------------------------------------------

def test_compose_service_with_its_dependency(created, slim_tags, tmp_path):
    tag = f"slimmer-test/service-counter:compose-{created.case}"
    slim_tags.append(tag)
    run = SlimRun(SERVICE_COUNTER_IMAGE, tag, str(tmp_path), "compose", "--probe-file", str(PROBE_FILE),
                  "--compose-file", str(COMPOSE_FILE), "--service", "app")
    assert run.proc.returncode == 0, run.explain()
    compose = run.report["run_context"]["compose"]
    assert compose["service"] == "app" and compose["dependencies"] == ["cache"]
    assert compose["project"].startswith("slimmer-")
    assert run.report["run_context"]["networks"] == [f"{compose['project']}_backend"]
    assert sorted(run.report["run_context"]["env"]) == ["APP_TOKEN=***", "REDIS_HOST=***"]
    assert "probe-token" not in run.proc.stderr + run.proc.stdout + Path(run.report_path).read_text()
    assert "[compose] removing the dependencies" in run.proc.stderr
    assert compose["project"] not in _compose_projects()

    check_service_counter(tag)
    original, slim = image_config(SERVICE_COUNTER_IMAGE), image_config(tag)
    assert {key: slim.get(key) for key in NEVER_BAKED} == {key: original.get(key) for key in NEVER_BAKED}


# --- (d): bad input exits 2 naming the culprit; an unhealthy dependency exits 1 -------------------------

def _bad_compose_file(tmp_path: Path) -> str:
    path = tmp_path / "unhealthy.yaml"
    path.write_text(COMPOSE_FILE.read_text().replace('test: ["CMD", "redis-cli", "ping"]', 'test: ["CMD", "false"]')
                    .replace("retries: 30", "retries: 2"))
    assert '"false"' in path.read_text()
    return str(path)


ERROR_CASES = [
    # (id, extra arguments (tmp_path -> list), exit code, phrases in stderr)
    ("unknown network", lambda tmp: ["--network", "slimmer-no-such-network-x1"], 2,
     ["unknown network", "slimmer-no-such-network-x1", "docker network create"]),
    ("missing env file", lambda tmp: ["--env-file", str(tmp / "missing.env")], 2,
     ["cannot read the env file", "missing.env", "No such file"]),
    ("bad volume syntax", lambda tmp: ["--volume", "appdata:relative/path"], 2,
     ["--volume", "must be absolute", "relative/path"]),
    ("bad volume mode", lambda tmp: ["--volume", "appdata:/data:rx"], 2, ["--volume", "unknown mode", "'rx'"]),
    ("unknown compose service", lambda tmp: ["--compose-file", str(COMPOSE_FILE), "--service", "ap"], 2,
     ["no such service", "'ap'", "app, cache"]),
    ("compose file without --service", lambda tmp: ["--compose-file", str(COMPOSE_FILE)], 2,
     ["--compose-file needs --service"]),
    ("unhealthy dependency", lambda tmp: ["--compose-file", _bad_compose_file(tmp), "--service", "app"], 1,
     ["the dependency cache is not ready", "unhealthy", "Ready to accept connections"]),
]


@pytest.mark.parametrize("extra, exit_code, phrases", [case[1:] for case in ERROR_CASES],
                         ids=[case[0] for case in ERROR_CASES])
def test_errors_name_the_culprit(created, tmp_path, extra, exit_code, phrases):
    proc = slim_cli("build", SERVICE_COUNTER_IMAGE, "--probe-file", str(PROBE_FILE), "--tag",
                    f"slimmer-test/service-counter:err-{created.case}", *extra(tmp_path), timeout=300)
    assert proc.returncode == exit_code, f"exit {proc.returncode}\n{proc.stderr[-3000:]}"
    assert "Traceback" not in proc.stderr and "next step" in proc.stderr, proc.stderr[-3000:]
    for phrase in phrases:
        assert phrase in proc.stderr, f"{phrase!r} not in:\n{proc.stderr[-3000:]}"


def test_no_compose_cli_exits_2_with_the_install_hint(created, tmp_path):
    empty = tmp_path / "empty-path"
    empty.mkdir()
    proc = slim_cli("build", SERVICE_COUNTER_IMAGE, "--compose-file", str(COMPOSE_FILE), "--service", "app",
                    env={"PATH": str(empty)}, timeout=120)
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "no Compose CLI found" in proc.stderr and "apt-get install docker-compose" in proc.stderr


@pytest.mark.parametrize("marker", ["[trace] running probes", "[compose] starting the dependencies"])
def test_ctrl_c_takes_the_dependencies_down(created, tmp_path, marker):
    """(e) also on Ctrl-C: while the dependencies start, and while the app is traced."""
    run = SlimProcess("build", SERVICE_COUNTER_IMAGE, "--probe-file", str(PROBE_FILE),
                      "--tag", f"slimmer-test/service-counter:int-{created.case}", "--artifacts", str(tmp_path / "a"),
                      "--compose-file", str(COMPOSE_FILE), "--service", "app")
    reached = run.wait_for(marker, timeout=300)
    run.send_signal(signal.SIGINT)
    result = run.finish()
    assert reached, result.stderr[-3000:]
    assert result.returncode == 130, f"exit {result.returncode}\n{result.stderr[-3000:]}"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


# --- (f): mounts, extra hosts, tmpfs, workdir -----------------------------------------------------------

MOUNT_PROBES = """
[[probe]]
type = "exec"
argv = ["cat", "/var/cache/debconf/templates.dat"]
expect_output = "from the bind mount"

[[probe]]
type = "exec"
argv = ["getent", "hosts", "db.local"]
expect_output = "10.1.2.3"

[[probe]]
type = "exec"
argv = ["sh", "-c", "pwd && echo scratch > /scratch/file && cat /scratch/file"]
expect_output = "/tmp\\nscratch"
"""


def _entry(image: str, path: str) -> tarfile.TarInfo:
    container = docker_client().containers.create(image, ["/nonexistent"], labels={"slimmer.test": "1"})
    try:
        stream, _ = container.get_archive(path)
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            return archive.getmembers()[0]
    finally:
        container.remove(force=True, v=True)


def test_mounts_hosts_and_tmpfs_reach_exec_probes_and_verification(created, slim_tags, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "templates.dat").write_text("from the bind mount\n")   # the image has its own, 750 kB
    os.chmod(tmp_path, 0o755)
    os.chmod(data, 0o755)
    os.chmod(data / "templates.dat", 0o644)
    tag = f"slimmer-test/service-counter:mounts-{created.case}"
    slim_tags.append(tag)
    with user_network() as network, redis_on_network(network):
        run = SlimRun(SERVICE_COUNTER_IMAGE, tag, str(tmp_path), "mounts",
                      "--probe-file", probe_file_with_token(tmp_path, "probe-token", MOUNT_PROBES),
                      "--env", "APP_TOKEN=probe-token", "--network", network,
                      "--volume", f"{data}:/var/cache/debconf:ro", "--add-host", "db.local:10.1.2.3",
                      "--tmpfs", "/scratch:mode=1777", "--workdir", "/tmp")
    assert run.proc.returncode == 0, run.explain()
    assert run.report["verify"]["failed"] == 0
    kept = set(Path(run.artifacts, "keep.list").read_text().split("\n"))
    # what the app read under the bind mount came from the mount: not kept ...
    assert "/var/cache/debconf/templates.dat" not in kept
    assert not [path for path in kept if path.startswith("/var/cache/debconf/")]
    # ... the mount point is, with the image's mode and owner
    assert "/var/cache/debconf" in kept
    original, slim = _entry(SERVICE_COUNTER_IMAGE, "/var/cache/debconf"), _entry(tag, "/var/cache/debconf")
    assert (slim.mode, slim.uid, slim.gid) == (original.mode, original.uid, original.gid)
    mounts = run.report["run_context"]["mounts"]
    assert {"target": "/var/cache/debconf", "kind": "bind", "read_only": True} in mounts
    assert run.report["run_context"]["hosts"] == ["db.local"]
    check_service_counter(tag)
