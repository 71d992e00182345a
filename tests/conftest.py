"""Shared fixtures: the Docker engine (required, never skipped), a ledger of
what tests create, and a check that slimmer itself left nothing behind.
"""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests"))   # tests/apps.py: the sample apps' checks


def _docker_client():
    import docker
    try:
        client = docker.from_env(timeout=300)
        client.ping()
        return client
    except Exception as exc:  # any failure to reach the engine fails the Docker tests
        pytest.fail(f"Docker engine not reachable ({exc}); start dockerd or set DOCKER_HOST. "
                    "Docker tests fail rather than skip.", pytrace=False)


@pytest.fixture(scope="session")
def docker_client():
    client = _docker_client()
    yield client
    client.close()


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind(request):
    """After the session, no container created by slimmer (label slimmer.session) remains."""
    yield
    if not any("integration" in str(item.fspath) or "sensor" in str(item.fspath)
               for item in request.session.items):
        return
    import docker
    try:
        client = docker.from_env()
        leftovers = client.containers.list(all=True, filters={"label": "slimmer.session"})
    except docker.errors.DockerException:
        return
    names = [c.name for c in leftovers]
    for container in leftovers:
        container.remove(force=True)
    assert not names, f"slimmer left containers behind: {names}"


class Ledger:
    """Images and containers a test created; removed at teardown."""

    def __init__(self, client):
        self.client = client
        self.images: list[str] = []
        self.containers: list[str] = []

    def image(self, ref: str) -> str:
        self.images.append(ref)
        return ref

    def container(self, container_id: str) -> str:
        self.containers.append(container_id)
        return container_id

    def cleanup(self):
        import docker
        for container_id in self.containers:
            try:
                self.client.api.remove_container(container_id, force=True, v=True)
            except docker.errors.APIError:
                pass
        for ref in reversed(self.images):
            try:
                self.client.api.remove_image(ref, force=True)
            except docker.errors.APIError:
                pass


@pytest.fixture
def ledger(docker_client):
    ledger = Ledger(docker_client)
    yield ledger
    ledger.cleanup()


@pytest.fixture(scope="session")
def session_ledger(docker_client):
    ledger = Ledger(docker_client)
    yield ledger
    ledger.cleanup()


def slim_cli(*args: str, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `slim` command (python -m slimmer.cli) and capture its output."""
    return subprocess.run([sys.executable, "-m", "slimmer.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=dict(os.environ, **(env or {})))


@pytest.fixture(scope="session")
def sample_images(docker_client):
    """Every sample app image, built by scripts/sample-apps.sh when missing."""
    subprocess.run(["bash", os.path.join(REPO, "scripts", "sample-apps.sh")], check=True, cwd=REPO)
    return {name: f"slimmer-sample/{name}:latest" for name in sorted(os.listdir(os.path.join(REPO, "sample-apps")))
            if os.path.isdir(os.path.join(REPO, "sample-apps", name))}
