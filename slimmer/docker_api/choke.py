"""The one error choke point of the adapter: every SDK or transport error becomes a
SlimError here (docker-py's own choke point, in slimmer's terms)."""
from __future__ import annotations

import functools

import docker.errors
import requests

from ..errors import DaemonFailed, DockerUnavailable, SlimError


def translate_errors(cls):
    """Every public method of CLS (its own and its bases') raises slimmer's errors only.
    Method bodies translate what they expect (not found, API errors with a value);
    anything else from the SDK or the transport becomes DaemonFailed here, so no SDK
    exception ever leaves the adapter."""
    def wrap(method):
        @functools.wraps(method)
        def translated(*args, **kwargs):
            try:
                return method(*args, **kwargs)
            except SlimError:
                raise
            except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
                raise DaemonFailed("the Docker daemon failed during the run", str(exc).splitlines()[0][:300] if str(exc)
                                   else type(exc).__name__,
                                   "retry; if it happens again, check the daemon's log (journalctl -u docker)") from exc
        return translated

    for klass in reversed(cls.__mro__[:-1]):          # bases first, so an override wins
        for name, member in vars(klass).items():
            if callable(member) and not name.startswith("_") and not isinstance(member, type):
                setattr(cls, name, wrap(member))
    return cls


def unavailable(exc: Exception) -> DockerUnavailable:
    text = str(exc)
    if "Permission denied" in text or "PermissionError" in text:
        return DockerUnavailable(
            "permission denied on the Docker socket", text.splitlines()[0][:300],
            "run as root, add your user to the docker group, or set DOCKER_HOST")
    return DockerUnavailable(
        "cannot reach the Docker daemon", text.splitlines()[0][:300] if text else type(exc).__name__,
        "is the Docker daemon running? start dockerd or set DOCKER_HOST")


def api_error(doing: str, value: object, exc: docker.errors.APIError) -> SlimError:
    explanation = getattr(exc, "explanation", None) or str(exc)
    return SlimError(f"Docker failed while {doing}", f"{value}: {explanation}",
                     "check the daemon log (journalctl -u docker) and retry")
