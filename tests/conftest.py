"""Shared fixtures: the Docker engine (required, never skipped), a ledger of
what tests create, and a check that slimmer itself left nothing behind.
"""
from __future__ import annotations

import os
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)   # `from tests.apps import ...`, `from tests.slimtest import ...`

from tests.slimtest import Ledger  # noqa: E402

# Everything the slim runs of this test session create carries this label (docker_api reads
# SLIMMER_LABELS), so the leftover check looks at this session's own things only: other
# runs on a shared engine (a developer's, another CI job's) are none of its business.
TEST_RUN_LABEL = "slimmer.test.run"
TEST_RUN = os.environ.setdefault("SLIMMER_TEST_RUN", os.urandom(6).hex())
os.environ["SLIMMER_LABELS"] = f"{TEST_RUN_LABEL}={TEST_RUN}"


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
    """After the session: no container created by this session's slim runs remains,
    and no anonymous volume appeared that nobody removed (an image's VOLUME)."""
    import docker
    uses_docker = any("integration" in str(item.fspath) or "sensor" in str(item.fspath)
                      for item in request.session.items)
    volumes_before = _dangling_volumes() if uses_docker else set()
    yield
    if not uses_docker:
        return
    try:
        client = docker.from_env()
        leftovers = client.containers.list(all=True, filters={"label": f"{TEST_RUN_LABEL}={TEST_RUN}"})
    except docker.errors.DockerException:
        return
    # Reported, not removed: on a shared machine they may belong to a run still going.
    names = [c.name for c in leftovers]
    assert not names, f"slimmer left containers behind: {names}"
    new_volumes = _dangling_volumes() - volumes_before
    assert not new_volumes, f"volumes left behind: {sorted(new_volumes)}"


def _dangling_volumes() -> set[str]:
    import docker
    try:
        return {v["Name"] for v in docker.from_env().api.volumes(filters={"dangling": True}).get("Volumes") or []}
    except docker.errors.DockerException:
        return set()


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


