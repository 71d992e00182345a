"""Networks and volumes of the run context."""
from __future__ import annotations

import docker.errors

from .choke import api_error


class Networks:
    """The network and volume calls of docker_api.Docker (a Session)."""

    def network_exists(self, name: str) -> bool:
        return _exists(self.api.inspect_network, "a network", name)

    def volume_exists(self, name: str) -> bool:
        return _exists(self.api.inspect_volume, "a volume", name)

    def create_volume(self, name: str) -> None:
        """A named volume for this run (labelled, in the ledger): removed by remove_volumes()."""
        try:
            self.api.create_volume(name, labels=self.labels)
        except docker.errors.APIError as exc:
            raise api_error("creating a volume", name, exc) from exc
        with self._lock:
            self._volumes.append(name)

    def remove_volumes(self) -> int:
        """Remove the volumes create_volume() made (their containers must be gone)."""
        with self._lock:
            volumes, self._volumes = list(self._volumes), []
        removed = 0
        for name in volumes:
            try:
                self.api.remove_volume(name, force=True)
                removed += 1
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError:
                with self._lock:
                    self._volumes.append(name)    # still in use: the next call retries
        return removed


def _exists(inspect, what: str, name: str) -> bool:
    try:
        inspect(name)
        return True
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        raise api_error(f"looking up {what}", name, exc) from exc
