"""The Docker adapter without a daemon: its one error choke point covers every part of the
package, it connects lazily, and an attached container's output is read frame by frame."""
from __future__ import annotations

import docker.errors
import pytest
import requests

from slimmer import docker_api
from slimmer.docker_api import AttachedOutput, Docker
from slimmer.errors import BadInput, DaemonFailed, SlimError


class _Client:
    """Only what the adapter touches: .api, whose calls each test sets."""

    def __init__(self, **calls):
        self.api = type("Api", (), {})()
        self.api.base_url = "http+docker://localhost"
        for name, call in calls.items():
            setattr(self.api, name, call)


def _raises(exc):
    def call(*args, **kwargs):
        raise exc
    return call


@pytest.mark.parametrize("method, args, api_call", [
    ("is_running", ("c1",), "inspect_container"),                 # containers
    ("image_history", ("sha256:" + "a" * 64,), "history"),        # images
    ("network_exists", ("net",), "inspect_network"),              # networks and volumes
    ("wait", ("c1",), "wait"),
])
def test_transport_errors_become_daemon_failed_in_every_part(method, args, api_call):
    adapter = Docker(client=_Client(**{api_call: _raises(requests.exceptions.ConnectionError("reset by peer"))}))
    with pytest.raises(DaemonFailed) as failed:
        getattr(adapter, method)(*args)
    assert "reset by peer" in str(failed.value)


def test_expected_api_errors_carry_what_failed():
    adapter = Docker(client=_Client(inspect_image=_raises(docker.errors.ImageNotFound("no such image"))))
    with pytest.raises(BadInput, match="image not found"):
        adapter.inspect_image("app:1.0")
    adapter = Docker(client=_Client(start=_raises(docker.errors.APIError("boom", explanation="no space left"))))
    with pytest.raises(SlimError) as failed:
        adapter.start("c" * 64)
    assert "starting the container" in str(failed.value) and "no space left" in str(failed.value)


def test_the_adapter_connects_on_first_use_only(monkeypatch):
    def unreachable(**kwargs):
        raise docker.errors.DockerException("Error while fetching server API version: connection refused")
    monkeypatch.setattr(docker_api.session.docker, "from_env", unreachable)
    adapter = Docker()                                   # no connection yet
    assert adapter.cleanup() == {"containers": 0, "images": 0}
    with pytest.raises(SlimError, match="cannot reach the Docker daemon"):
        adapter.inspect_image("app:1.0")


def test_malformed_references_are_refused_before_the_daemon_is_asked():
    with pytest.raises(BadInput, match="malformed image reference"):
        Docker(client=_Client()).inspect_image("App:1.0")


class _Socket:
    def __init__(self, data: bytes, step: int = 3):
        self.data, self.step, self.closed = data, step, False

    def readinto(self, view) -> int:
        n = min(len(view), self.step, len(self.data))
        view[:n] = self.data[:n]
        self.data = self.data[n:]
        return n

    def close(self):
        self.closed = True


def _frame(stream: int, payload: bytes) -> bytes:
    return bytes([stream, 0, 0, 0]) + len(payload).to_bytes(4, "big") + payload


def test_attached_output_is_stdout_with_stderr_kept_aside():
    socket = _Socket(_frame(1, b"tar ") + _frame(2, b"warning: x\n") + _frame(1, b"") + _frame(1, b"bytes"))
    output = AttachedOutput(socket)
    assert output.read() == b"tar bytes"
    assert output.stderr == b"warning: x\n"
    output.close()
    assert socket.closed
