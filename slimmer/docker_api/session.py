"""The adapter's session: the lazily connected client, this run's label, and the ledger
of what the session created (removed by cleanup(), also after a failure or Ctrl-C)."""
from __future__ import annotations

import os
import threading
import time
import uuid
from typing import Iterable

import docker
import docker.errors
import requests

from .choke import unavailable

SESSION_LABEL = "slimmer.session"


class Session:
    """A Docker client with a ledger of what this session created."""

    def __init__(self, client: docker.DockerClient | None = None):
        self.session = uuid.uuid4().hex[:12]
        self._lock = threading.Lock()
        self._containers: list[str] = []
        self._images: list[str] = []
        self._volumes: list[str] = []
        self._client = client

    @property
    def client(self) -> docker.DockerClient:
        """The SDK client, connected (and the daemon pinged) on first use."""
        if self._client is None:
            try:
                client = docker.from_env(timeout=300)
                client.ping()
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise unavailable(exc) from exc
            self._client = client
        return self._client

    @property
    def api(self) -> docker.APIClient:
        return self.client.api

    @property
    def labels(self) -> dict[str, str]:
        """This session's label, plus SLIMMER_LABELS="k=v,k2=v2" from the environment (a CI
        job or a test suite marks everything its runs create, to find it and only it)."""
        extra = dict(item.split("=", 1) for item in os.environ.get("SLIMMER_LABELS", "").split(",") if "=" in item)
        return dict(extra, **{SESSION_LABEL: self.session})

    def is_local(self) -> bool:
        """True when the daemon runs on this host (unix socket), so /proc is shared."""
        return self.api.base_url.startswith("http+docker://localhost") or \
            self.api.base_url.startswith("http+unix://")

    def storage(self) -> tuple[str, str]:
        """The daemon's root dir and storage driver (`docker info`'s DockerRootDir and Driver:
        "overlay2", or e.g. "overlayfs" with the containerd image store)."""
        info = self.api.info()
        return info.get("DockerRootDir") or "", info.get("Driver") or ""

    # --- cleanup -------------------------------------------------------------------

    def cleanup(self, settle_s: float = 0.0) -> dict:
        """Remove what this session created: the ledger, and every container carrying
        this session's label (a signal can land between the daemon creating a
        container and the ledger hearing of it). SETTLE_S (after an interrupt): look
        for the label again once that long has passed, for a create request that was
        still in flight; a removal the daemon refused (busy) is tried again then too.
        Returns what was removed: {"containers": N, "images": N}."""
        with self._lock:
            containers, self._containers = list(self._containers), []
            images, self._images = list(self._images), []
        removed = {"containers": 0, "images": 0}
        if self._client is None and not containers and not images:
            return removed             # never connected: nothing can exist
        refused = self._remove_containers(containers + self._labelled(), removed)
        if settle_s > 0:
            time.sleep(settle_s)
            self._remove_containers(refused + [c for c in self._labelled() if c not in refused], removed)
        for image_id in images:
            try:
                self.api.remove_image(image_id, force=True)
                removed["images"] += 1
            except docker.errors.APIError:
                pass
        return removed

    def _labelled(self) -> list[str]:
        try:
            return [c["Id"] for c in self.api.containers(all=True, filters={"label": f"{SESSION_LABEL}={self.session}"})]
        except docker.errors.APIError:
            return []

    def _remove_containers(self, containers: Iterable[str], removed: dict) -> list[str]:
        refused = []
        for container_id in dict.fromkeys(containers):
            try:
                self.api.remove_container(container_id, force=True, v=True)
                removed["containers"] += 1
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                refused.append(container_id)
        return refused
