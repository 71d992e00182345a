"""Errors and exit codes.

Library code raises SlimError subclasses; only cli.py prints them and picks the
exit code. Every error carries what failed, the value involved and a next step.
"""
from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1          # app crashed, probe or verification failed, threshold missed
    BAD_INPUT = 2       # bad usage or bad input (image, probe file, flags)
    INTERRUPTED = 130   # Ctrl-C / SIGTERM


class SlimError(Exception):
    """A failure a user can act on."""

    exit_code = ExitCode.FAILED

    def __init__(self, what: str, value: object = None, hint: str | None = None):
        self.what = what
        self.value = value
        self.hint = hint
        super().__init__(self.message)

    @property
    def message(self) -> str:
        text = self.what
        if self.value is not None:
            text += f": {self.value}"
        if self.hint:
            text += f"\n  next step: {self.hint}"
        return text


class BadInput(SlimError):
    """The user's input is wrong: an image reference, a probe file, a flag."""

    exit_code = ExitCode.BAD_INPUT


class DockerUnavailable(SlimError):
    """The Docker daemon cannot be reached or refuses us."""


class DaemonFailed(SlimError):
    """The Docker daemon failed under us mid-run (a restart, a container removed by hand)."""


class SensorError(SlimError):
    """The sensor binary is missing, cannot run, or wrote a log we cannot read."""


class AppFailed(SlimError):
    """The application under trace crashed or never became ready."""


class ProbeFailed(SlimError):
    """A probe did not get what it expected from the original image."""


class BuildFailed(SlimError):
    """docker build of the generated Dockerfile failed."""


class VerificationFailed(SlimError):
    """The slim image does not behave like the original."""


class ThresholdMissed(SlimError):
    """A CI gate (--max-size, --min-ratio, xray thresholds) failed."""


class Interrupted(SlimError):
    """SIGINT, SIGTERM or SIGHUP arrived; cleanup has run. Carries the stage it landed
    in, the timings so far and what the cleanup removed, for the report."""

    exit_code = ExitCode.INTERRUPTED

    def __init__(self, what: str, value: object = None, hint: str | None = None, *, stage: str = "",
                 timings: dict | None = None, removed: dict | None = None):
        super().__init__(what, value, hint)
        self.stage = stage
        self.timings = timings or {}
        self.removed = removed or {}
