"""The dependencies of a service: up under slimmer's own project, ready, and down (rules 2, 4, 5)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Mapping

from ..errors import SlimError
from ..textfmt import indent
from .cli import (CLI_TIMEOUT_S, DEPENDENCY_TIMEOUT_S, CliResult, ComposeCli, ContainerLookup, Event, Runner,
                  find_compose_cli, run_cli)
from .config import ComposeService, load_service

class ComposeDependencies:
    """The target service's dependencies, up for the traced run and verification.

        dependencies = ComposeDependencies(service, cli, docker, on_event)
        try:
            dependencies.up()
            ... trace, verify (containers removed) ...
        finally:
            dependencies.down()
    """

    def __init__(self, service: ComposeService, cli: ComposeCli, docker: ContainerLookup,
                 on_event: Event = lambda _: None, timeout_s: float = DEPENDENCY_TIMEOUT_S,
                 runner: Runner = run_cli, poll_s: float = 0.5):
        self.service = service
        self.cli = cli
        self.docker = docker
        self.on_event = on_event
        self.timeout_s = timeout_s
        self.runner = runner
        self.poll_s = poll_s
        self.started = False

    def __enter__(self) -> "ComposeDependencies":
        try:
            self.up()
        except BaseException as failure:
            # __exit__ does not run when __enter__ fails: remove what up() started here
            self.down_after(failure)
            raise
        return self

    def __exit__(self, kind, failure, _traceback) -> bool:
        if failure is None:
            self.down()
        else:
            self.down_after(failure)
        return False

    def down_after(self, failure: BaseException) -> None:
        """down() while FAILURE is on its way up: FAILURE stays the error, and says
        what could not be removed."""
        try:
            self.down()
        except SlimError as leftover:
            if isinstance(failure, SlimError):
                failure.value = f"{failure.value}\n  also: {leftover.message}"

    def _compose(self, *args: str, timeout: float = CLI_TIMEOUT_S) -> CliResult:
        return self.runner(self.cli.command(self.service.project, self.service.compose_file, *args), timeout)

    def up(self) -> None:
        """Start the dependencies and the target's networks and volumes; wait until usable."""
        service = self.service
        self.started = True    # from here on, down() has something to remove (even after a failure)
        deps = ", ".join(service.dependencies) or "none"
        self.on_event(f"starting the dependencies of {service.name} ({deps}) with {self.cli.name}, "
                      f"project {service.project}")
        if service.builds and service.image is None:
            # A build-only service's image is named after the project: it does not exist
            # under slimmer's project name. Start the dependencies by name instead.
            args = ["up", "-d", "--no-build", *service.dependencies]
            if not service.dependencies:
                return
        else:
            args = ["up", "-d", "--no-build", "--scale", f"{service.name}=0", service.name]
        try:
            result = self._compose(*args)
        except SlimError as timeout:   # Compose itself may wait for a healthcheck that never passes
            raise self._diagnose() or timeout
        if result.returncode != 0:
            # Compose fails `up` when a dependency turns unhealthy: name it, with its logs
            raise self._diagnose() or SlimError(
                f"{self.cli.name} could not start the dependencies of {service.name}",
                f"exit {result.returncode}:\n{indent(result.stderr or result.stdout)}",
                "the dependencies' images must exist locally (docker compose build / pull); "
                f"try: {self.cli.name} -f {service.compose_file} up {' '.join(service.dependencies)}")
        for dependency in service.dependencies:
            self._wait_ready(dependency)

    def _diagnose(self) -> SlimError | None:
        """After a failed `up`: the first dependency that is not usable, as a failure with its logs."""
        for dependency in self.service.dependencies:
            condition = self.service.conditions.get(dependency, "service_started")
            try:
                containers = self._containers(dependency)
            except SlimError:
                return None
            for container_id in containers:
                problem = self._problem(dependency, condition, self.docker.inspect_container(container_id))
                if problem is not None:
                    return self._failure(dependency, problem[1], container_id)
        return None

    def _containers(self, dependency: str) -> list[str]:
        result = self._compose("ps", "-a", "-q", dependency, timeout=60)
        if result.returncode != 0:
            raise SlimError(f"{self.cli.name} cannot list the containers of {dependency}",
                            indent(result.stderr), "check the daemon and retry")
        return [line.strip() for line in result.stdout.splitlines() if line.strip()]

    def _wait_ready(self, dependency: str) -> None:
        """Rule 4: running, healthy when it has a healthcheck, or exited 0 when a
        one-shot job is waited for."""
        condition = self.service.conditions.get(dependency, "service_started")
        deadline = time.monotonic() + self.timeout_s
        announced = False
        while True:
            states = [(container_id, self.docker.inspect_container(container_id))
                      for container_id in self._containers(dependency)]
            if not states:
                raise SlimError(f"the dependency {dependency} has no container", self.service.project,
                                f"check it starts by hand: {self.cli.name} up {dependency}")
            problems = [problem for problem in (self._problem(dependency, condition, info)
                                                for _, info in states) if problem]
            failed = [problem for problem in problems if problem[0] == "failed"]
            if failed:
                raise self._failure(dependency, failed[0][1], states[0][0])
            if not problems:
                return
            if time.monotonic() > deadline:
                raise self._failure(dependency, f"{problems[0][1]} after {self.timeout_s:.0f}s", states[0][0],
                                    "SLIMMER_DEPENDENCY_TIMEOUT sets how long slimmer waits")
            if not announced:
                self.on_event(f"waiting for {dependency}: {problems[0][1]}")
                announced = True
            time.sleep(self.poll_s)

    @staticmethod
    def _problem(dependency: str, condition: str, info: Mapping) -> tuple[str, str] | None:
        """None when the container is usable; ("failed" | "waiting", why) otherwise."""
        state = info.get("State") or {}
        if condition == "service_completed_successfully":
            if state.get("Running"):
                return "waiting", "still running (waited for to complete)"
            code = state.get("ExitCode", 0)
            return None if code == 0 else ("failed", f"exited with code {code}")
        if not state.get("Running"):
            code = state.get("ExitCode")
            # a one-shot job (an init or migration step) that succeeded satisfies service_started
            return None if code == 0 and condition == "service_started" else ("failed", f"exited with code {code}")
        health = (state.get("Health") or {}).get("Status")
        if health in (None, "healthy"):
            return None
        if health == "unhealthy":
            log = (state.get("Health") or {}).get("Log") or []
            output = (log[-1].get("Output") or "").strip() if log else ""
            return "failed", "unhealthy" + (f" (healthcheck said: {output[-300:]})" if output else "")
        return "waiting", f"health {health}"

    def _failure(self, dependency: str, why: str, container_id: str, hint: str = "") -> SlimError:
        logs = self.docker.logs(container_id, tail=30) if container_id else ""
        return SlimError(f"the dependency {dependency} is not ready",
                         f"{why} (Compose project {self.service.project}); "
                         f"last log lines:\n{indent(logs) or '    (none)'}",
                         hint or f"run it by hand to see why: {self.cli.name} -f {self.service.compose_file} "
                                 f"up {dependency}")

    def down(self) -> None:
        """Rule 5. Safe to call more than once, and when up() failed half-way."""
        if not self.started:
            return
        self.on_event(f"removing the dependencies (project {self.service.project})")
        result = self._compose("down", "-v", "--remove-orphans", "-t", "10")
        if result.returncode != 0:
            raise SlimError(f"{self.cli.name} down failed for project {self.service.project}",
                            indent(result.stderr),
                            f"remove it by hand: {self.cli.name} -p {self.service.project} "
                            f"-f {self.service.compose_file} down -v")
        self.started = False


@dataclass(frozen=True)
class ComposeTarget:
    """--compose-file FILE --service NAME, as given."""

    compose_file: str
    service: str


def prepare(target: ComposeTarget, session: str, docker: ContainerLookup,
            on_event: Event = lambda _: None) -> ComposeDependencies:
    """Find the CLI, resolve TARGET's service under the project `slimmer-<session>`:
    its dependencies, ready to go up (nothing runs yet)."""
    cli = find_compose_cli()
    service = load_service(cli, target.compose_file, target.service, project_name(session))
    return ComposeDependencies(service, cli, docker, on_event=on_event)


def project_name(session: str) -> str:
    return f"slimmer-{session}"
