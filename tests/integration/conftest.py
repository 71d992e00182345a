"""Shared fixtures for the integration tests (real Docker, real sample apps).

Puts the repository root on sys.path so `from tests.apps import check_app, run_app`
works (tests/apps.py holds the sample apps' independent functional checks).
Integration tests never skip: without a Docker engine they fail.
"""
import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)

from tests.apps import SAMPLE_APPS, docker_client, labelled_containers  # noqa: E402


@pytest.fixture(scope="session")
def docker_engine():
    """The Docker client; a test using it fails (not skips) when Docker is missing."""
    try:
        return docker_client()
    except RuntimeError as exc:
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture(scope="session")
def sample_images(docker_engine) -> dict[str, str]:
    """Builds the missing sample app images once per session (scripts/sample-apps.sh
    skips existing ones); returns app name -> image."""
    script = os.path.join(REPO_ROOT, "scripts", "sample-apps.sh")
    proc = subprocess.run(["bash", script], cwd=REPO_ROOT, capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"scripts/sample-apps.sh failed (exit {proc.returncode}):\n"
                    f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}", pytrace=False)
    return {name: spec.image for name, spec in SAMPLE_APPS.items()}


@pytest.fixture
def no_leftover_containers(docker_engine):
    """Asserts that the test removed every container labelled slimmer.test=1.
    Leftovers are removed anyway, so one failure does not cascade."""
    before = {c.id for c in labelled_containers()}
    yield
    leftovers = [c for c in labelled_containers() if c.id not in before]
    for container in leftovers:
        container.remove(force=True, v=True)
    assert not leftovers, f"containers left behind: {[c.name for c in leftovers]}"
