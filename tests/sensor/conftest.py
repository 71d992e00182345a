"""Fixtures for the sensor tests: the real sensor binary, a static workload
whose file accesses are known, and two test images (debian:bookworm-slim with
a non-root user, and FROM scratch). Everything a test creates in Docker
carries a unique label and is removed afterwards.
"""
from __future__ import annotations

import io
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from typing import Callable

import pytest

from slimmer import sensor

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RUN_ID = uuid.uuid4().hex[:10]
LABEL = {"slimmer-test": f"sensor-{RUN_ID}"}
LABEL_FILTER = f"slimmer-test=sensor-{RUN_ID}"
WORKDIR = "/data"        # the directory the workload touches inside containers


def sleep_until(predicate: Callable[[], object], timeout: float, what: str = "condition"):
    """Poll predicate until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


@pytest.fixture(scope="session")
def sensor_binary() -> str:
    subprocess.run(["make", "-s", "-C", os.path.join(REPO, "slimmer", "sensor")], check=True)
    return sensor.sensor_path()


@pytest.fixture(scope="session")
def workload(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("workload") / "workload"
    subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Werror", "-pthread", "-o", str(out),
                    os.path.join(HERE, "workload.c")], check=True)
    return str(out)


def make_case_dir(root: str, interpreter: str) -> str:
    """The files touch-all reads, and its shebang script."""
    os.makedirs(os.path.join(root, "sub"), exist_ok=True)
    for name in ("absolute.txt", "relative.txt", "sub/at.txt", "stat-only.txt", "thread.txt",
                 "grandchild.txt", "from-script.txt", "untouched.txt"):
        with open(os.path.join(root, name), "w") as stream:
            stream.write(name)
    script = os.path.join(root, "script")
    with open(script, "w") as stream:
        stream.write(f"#!{interpreter} script-mode\n")
    os.chmod(script, 0o755)
    return root


def expected_touches(root: str, workload_path: str) -> dict[str, bool]:
    """Every path touch-all must log (path -> written), relative to root."""
    touched = {name: False for name in (
        "absolute.txt", "relative.txt", "sub", "sub/at.txt", "stat-only.txt", "missing.txt",
        "thread.txt", "grandchild.txt", "script", "from-script.txt")}
    touched["written.txt"] = True
    paths = {os.path.join(root, name): write for name, write in touched.items()}
    paths[root] = False                       # the chdir
    paths[workload_path] = False              # the execve
    paths["/proc/self/exe"] = False           # static glibc's startup looks itself up
    return paths


def read_log_dir(log_dir: str):
    files = {}
    for name in os.listdir(log_dir):
        with open(os.path.join(log_dir, name), "rb") as stream:
            files[name] = stream.read()
    return sensor.parse_log(files)


# --- Docker ----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def docker_ledger(docker_client):
    """Removes every container and image with this run's label at the end."""
    yield docker_client
    for container in docker_client.containers.list(all=True, filters={"label": LABEL_FILTER}):
        container.remove(force=True, v=True)
    for image in docker_client.images.list(filters={"label": LABEL_FILTER}):
        docker_client.images.remove(image.id, force=True)


def _build(client, context: str, tag: str) -> str:
    image, _ = client.images.build(path=context, tag=tag, labels=LABEL, rm=True, forcerm=True)
    return image.id


@pytest.fixture(scope="session")
def debian_image(docker_ledger, workload, tmp_path_factory) -> str:
    """debian:bookworm-slim + the workload + the case files + a non-root user."""
    context = tmp_path_factory.mktemp("debian-context")
    shutil.copy(workload, context / "workload")
    make_case_dir(str(context / "data"), "/workload")
    (context / "Dockerfile").write_text(
        "FROM debian:bookworm-slim\n"
        "COPY workload /workload\n"
        f"COPY data {WORKDIR}\n"
        "RUN useradd -u 1000 -m app && mkdir /data-app && cp -a /data/. /data-app/ "
        "&& chown -R app:app /data-app\n"
        "COPY data /collect-src/tree\n")
    return _build(docker_ledger, str(context), f"slimmer-test-sensor-debian:{RUN_ID}")


@pytest.fixture(scope="session")
def scratch_image(docker_ledger, workload, tmp_path_factory) -> str:
    """FROM scratch: only the static workload and the case files."""
    context = tmp_path_factory.mktemp("scratch-context")
    shutil.copy(workload, context / "workload")
    make_case_dir(str(context / "data"), "/workload")
    (context / "Dockerfile").write_text(
        "FROM scratch\nCOPY workload /workload\n"
        f"COPY data {WORKDIR}\n")
    return _build(docker_ledger, str(context), f"slimmer-test-sensor-scratch:{RUN_ID}")


class Traced:
    """A container whose PID 1 is the sensor, put in place the way trace.py does it."""

    def __init__(self, client, image: str, argv: list[str], user: str | None = None,
                 environment: dict[str, str] | None = None):
        self.client = client
        self.container = client.containers.create(
            image, entrypoint=[sensor.SENSOR_IN_CONTAINER, "trace", "--log", sensor.LOG_DIR, "--"],
            command=argv, user=user or "", environment=environment or {}, labels=LABEL,
            name=f"slimmer-test-sensor-{uuid.uuid4().hex[:12]}")
        assert self.container.put_archive("/", sensor.sensor_tar())

    def start(self) -> "Traced":
        self.container.start()
        return self

    def wait(self, timeout: float = 60) -> int:
        return self.container.wait(timeout=timeout)["StatusCode"]

    def logs(self) -> str:
        return self.container.logs().decode(errors="replace")

    def trace(self):
        chunks, _ = self.container.get_archive(sensor.LOG_DIR)
        archive = tarfile.open(fileobj=io.BytesIO(b"".join(chunks)))
        files = {os.path.basename(m.name): archive.extractfile(m).read()
                 for m in archive if m.isfile()}
        return sensor.parse_log(files)

    def remove(self) -> None:
        self.container.remove(force=True, v=True)


@pytest.fixture
def traced(docker_ledger, sensor_binary):
    """Factory: traced(image, argv, user=None, environment=None) -> Traced (started);
    removed after the test."""
    made: list[Traced] = []

    def start(image: str, argv: list[str], user: str | None = None,
              environment: dict[str, str] | None = None) -> Traced:
        run = Traced(docker_ledger, image, argv, user, environment)
        made.append(run)
        return run.start()

    yield start
    for run in made:
        run.remove()
