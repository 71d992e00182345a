"""Helpers shared by the Docker tests: the real `slim` command, a ledger of what a test created."""
from __future__ import annotations

import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


def slim_cli(*args: str, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real `slim` command (python -m slimmer.cli) and capture its output."""
    return subprocess.run([sys.executable, "-m", "slimmer.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=dict(os.environ, **(env or {})))
