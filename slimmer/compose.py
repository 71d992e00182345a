"""Compose support: a service's run context from a Compose file, and its
dependencies started and removed with the Compose CLI.

`slim build IMAGE --compose-file FILE --service NAME` traces IMAGE (normally the
service's own image) the way Compose would run NAME, against NAME's
dependencies started by Compose.

Rules:
  1. the Compose CLI resolves the project (`config`): slimmer never reads a
     compose file itself, only the CLI's normalised output (JSON from Compose
     v2, YAML from docker-compose 1.x, loaded with PyYAML);
  2. every call names the project `slimmer-<session>` (-p): up and down touch
     nothing that is not of this project;
  3. only the dependencies run under Compose: depends_on, transitively.
     `up -d --scale NAME=0 NAME` starts them in Compose's order with its
     conditions, and creates the networks and volumes NAME itself needs, so
     slimmer's traced container can attach to them; NAME gets no container;
  4. then every dependency must be running, healthy when it has a healthcheck
     (the image's or the compose file's), exited 0 when NAME waits for it with
     condition service_completed_successfully; one that is not, in time, fails
     the run with its last log lines;
  5. `down -v --remove-orphans` with the same project name removes the
     containers, networks and volumes that up made; the caller runs it in a
     finally, so a failure or Ctrl-C removes them too; it runs once the traced
     and verify containers are gone (a network with a container still
     attached cannot be removed);
  6. the service's environment values are secrets like --env values: they go
     into the RunSpec and nowhere else (no event, no error message).
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Protocol, Sequence

from .errors import BadInput, SlimError
from .model import Mount, RunSpec
from . import runcontext

Event = Callable[[str], None]
Runner = Callable[[Sequence[str], float], "CliResult"]

DEPENDENCY_TIMEOUT_S = float(os.environ.get("SLIMMER_DEPENDENCY_TIMEOUT", "120"))
CLI_TIMEOUT_S = float(os.environ.get("SLIMMER_COMPOSE_TIMEOUT", "600"))
INSTALL_HINT = ("install Docker's compose plugin (docker compose) or docker-compose "
                "(Debian/Ubuntu: apt-get install docker-compose)")


class ContainerLookup(Protocol):
    """What compose.py asks of the Docker adapter (docker_api.Docker)."""

    def inspect_container(self, container_id: str) -> dict: ...

    def logs(self, container_id: str, tail: int | str = "all") -> str: ...


@dataclass(frozen=True)
class CliResult:
    returncode: int
    stdout: str
    stderr: str


def run_cli(argv: Sequence[str], timeout: float) -> CliResult:
    """Run one Compose CLI command; slim's own environment goes along (for ${VAR}s)."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, env=dict(os.environ, COMPOSE_INTERACTIVE_NO_CLI="1"))
    except FileNotFoundError as exc:
        raise BadInput("the Compose CLI is gone", argv[0], INSTALL_HINT) from exc
    except subprocess.TimeoutExpired as exc:
        raise SlimError("the Compose CLI did not finish", f"{' '.join(argv)} after {timeout:.0f}s",
                        "check the daemon and the compose file; SLIMMER_COMPOSE_TIMEOUT sets the limit") from exc
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


# --- finding the CLI ----------------------------------------------------------------------

@dataclass(frozen=True)
class ComposeCli:
    argv: tuple[str, ...]      # ("docker", "compose") or ("docker-compose",)
    version: str               # "2.24.6", "1.29.2"

    @property
    def major(self) -> int:
        match = re.match(r"v?(\d+)", self.version)
        return int(match.group(1)) if match else 2

    @property
    def name(self) -> str:
        return " ".join(self.argv)

    def command(self, project: str, compose_file: str, *args: str) -> list[str]:
        ansi = ["--ansi", "never"] if self.major >= 2 or _at_least(self.version, (1, 28)) else ["--no-ansi"]
        return [*self.argv, *ansi, "-p", project, "-f", compose_file, *args]


def find_compose_cli(runner: Runner = run_cli, which: Callable[[str], str | None] = shutil.which) -> ComposeCli:
    """`docker compose` (the plugin) when it works, else `docker-compose`; BadInput when neither."""
    candidates = []
    if which("docker"):
        candidates.append(("docker", "compose"))
    if which("docker-compose"):
        candidates.append(("docker-compose",))
    for argv in candidates:
        try:
            result = runner([*argv, "version", "--short"], 60)
        except BadInput:
            continue
        if result.returncode == 0 and result.stdout.strip():
            return ComposeCli(argv, result.stdout.strip().splitlines()[0].strip())
    raise BadInput("no Compose CLI found", "neither `docker compose` nor `docker-compose` works", INSTALL_HINT)


def _at_least(version: str, wanted: tuple[int, ...]) -> bool:
    numbers = tuple(int(part) for part in re.findall(r"\d+", version)[:len(wanted)])
    return numbers >= wanted


# --- the resolved service -----------------------------------------------------------------

@dataclass(frozen=True)
class ComposeService:
    """One service of a resolved Compose project, as slimmer runs it."""

    project: str
    compose_file: str                        # absolute path
    name: str
    image: str | None                        # the service's image: key (None: build only)
    run: RunSpec                             # its run context (env, networks, mounts, ...)
    dependencies: tuple[str, ...] = ()       # depends_on, transitively, dependencies first
    conditions: Mapping[str, str] = field(default_factory=dict)   # dependency -> strongest condition
    builds: bool = False                     # has a build: section


def load_service(cli: ComposeCli, compose_file: str, service: str, project: str,
                 runner: Runner = run_cli) -> ComposeService:
    """Ask the Compose CLI for the resolved project and take SERVICE out of it."""
    path = os.path.abspath(compose_file)
    if not os.path.isfile(path):
        raise BadInput("compose file not found", compose_file, "check the path given to --compose-file")
    args = ["config", "--format", "json"] if cli.major >= 2 else ["config"]
    result = runner(cli.command(project, path, *args), CLI_TIMEOUT_S)
    if result.returncode != 0:
        raise BadInput(f"{cli.name} cannot read the compose file", f"{compose_file}:\n{_indent(result.stderr)}",
                       f"check it with: {cli.name} -f {compose_file} config")
    return service_from_config(parse_config_output(result.stdout, compose_file), service, project, path)


def parse_config_output(text: str, compose_file: str = "") -> dict:
    """`config` output: JSON (Compose v2), or YAML (docker-compose 1.x, and a few v2
    releases that ignore --format json)."""
    try:
        document = json.loads(text)
    except ValueError:
        try:
            import yaml
        except ModuleNotFoundError as exc:   # a dependency of slimmer: only a broken install lacks it
            raise SlimError("PyYAML is missing", "needed to read docker-compose 1.x output",
                            "pip install pyyaml (slimmer depends on it)") from exc
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise SlimError("cannot read the Compose CLI's config output", f"{compose_file}: {exc}",
                            "report this with your Compose version") from None
    if not isinstance(document, dict) or not isinstance(document.get("services"), dict):
        raise BadInput("the compose file defines no services", compose_file, "add a services: section")
    return document


def service_from_config(config: Mapping, service: str, project: str, compose_file: str = "") -> ComposeService:
    """SERVICE of a resolved project (`config` output) as a ComposeService. Pure: no CLI, no Docker."""
    services = config.get("services") or {}
    if service not in services:
        raise BadInput("the compose file has no such service", f"{service!r} in {compose_file or 'the file'}",
                       "services in the file: " + (", ".join(sorted(services)) or "none"))
    spec = services[service] or {}
    where = f"service {service!r} of {compose_file or 'the compose file'}"
    run = RunSpec(
        env=_environment(spec.get("environment")),
        networks=(), network_aliases=(),
        hosts=_extra_hosts(spec.get("extra_hosts"), where),
        mounts=_mounts(spec, config, project, where),
        user=_string(spec.get("user")),
        entrypoint=_argv(spec.get("entrypoint"), clear_when_empty=True),
        command=_argv(spec.get("command")),
        workdir=_string(spec.get("working_dir")))
    networks, aliases = _networks(service, spec, config, project, where)
    dependencies, conditions = _dependencies(service, services)
    return ComposeService(
        project=project, compose_file=compose_file, name=service, image=_string(spec.get("image")),
        run=runcontext.check_run(_replace_networks(run, networks, aliases)),
        dependencies=dependencies, conditions=conditions, builds=spec.get("build") is not None)


def _replace_networks(run: RunSpec, networks: tuple[str, ...], aliases: tuple[str, ...]) -> RunSpec:
    from dataclasses import replace
    return replace(run, networks=networks, network_aliases=aliases if networks else ())


def _string(value) -> str | None:
    return None if value is None else str(value)


def _environment(raw) -> tuple[tuple[str, str], ...]:
    """A mapping (normalised output) or a list of KEY=VALUE; a key without a value
    (null) is unset in Compose's environment: not passed, like docker run."""
    pairs: list[tuple[str, str]] = []
    items = raw.items() if isinstance(raw, Mapping) else (
        (item.partition("=")[0], item.partition("=")[2] if "=" in item else None) for item in raw or ())
    for key, value in items:
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        pairs.append((str(key), str(value)))
    return runcontext.merge_env((), pairs)


def _extra_hosts(raw, where: str) -> tuple[tuple[str, str], ...]:
    """["name:ip"], ["name=ip"] or {name: ip | [ip, ...]}."""
    entries: list[str] = []
    if isinstance(raw, Mapping):
        for name, addresses in raw.items():
            for address in addresses if isinstance(addresses, list) else [addresses]:
                entries.append(f"{name}={address}")
    else:
        entries = [str(item) for item in raw or ()]
    try:
        return tuple(runcontext.parse_add_host(entry, f"extra_hosts of {where}") for entry in entries)
    except BadInput as exc:
        raise BadInput(exc.what, exc.value, "fix extra_hosts in the compose file") from None


def _argv(raw, clear_when_empty: bool = False) -> tuple[str, ...] | None:
    """A string is split like Compose splits it (shell words); a list is the exec form."""
    if raw is None:
        return None
    argv = tuple(shlex.split(raw)) if isinstance(raw, str) else tuple(str(item) for item in raw)
    if not argv and not clear_when_empty:
        return None
    return argv


def _networks(service: str, spec: Mapping, config: Mapping, project: str,
              where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The full network names (project-prefixed unless named or external) and the
    service's aliases: its own name, as Compose gives every service, plus its aliases."""
    mode = spec.get("network_mode")
    if mode is not None and mode not in ("bridge", "default"):
        raise BadInput(f"network_mode {mode!r} is not supported", where,
                       "slimmer publishes the app's ports itself: use a user-defined network (networks:)")
    if mode == "bridge":
        return (), ()
    raw = spec.get("networks")
    if raw is None:
        raw = {"default": None}
    entries = raw.items() if isinstance(raw, Mapping) else ((name, None) for name in raw)
    top = config.get("networks") or {}
    names: list[str] = []
    aliases: list[str] = [service]
    for key, options in entries:
        names.append(_resource_name(key, top.get(key), project))
        for alias in (options or {}).get("aliases") or ():
            aliases.append(str(alias))
    return tuple(dict.fromkeys(names)), tuple(dict.fromkeys(aliases))


def _resource_name(key: str, definition, project: str) -> str:
    """A network's or volume's real name: `name:` when given (external ones too),
    else the key under an external: true, else `<project>_<key>`."""
    definition = definition or {}
    if definition.get("name"):
        return str(definition["name"])
    if definition.get("external") and not isinstance(definition.get("external"), Mapping):
        return key
    if isinstance(definition.get("external"), Mapping) and definition["external"].get("name"):
        return str(definition["external"]["name"])   # the old `external: {name: ...}` form
    return f"{project}_{key}"


def _mounts(spec: Mapping, config: Mapping, project: str, where: str) -> tuple[Mount, ...]:
    top = config.get("volumes") or {}
    mounts: list[Mount] = []
    for item in spec.get("volumes") or ():
        if isinstance(item, Mapping):
            mounts.append(_long_volume(item, top, project, where))
        else:
            mounts.append(_short_volume(str(item), top, project, where))
    tmpfs = spec.get("tmpfs") or ()
    for item in [tmpfs] if isinstance(tmpfs, str) else tmpfs:
        mounts.append(runcontext.parse_tmpfs(str(item), f"tmpfs of {where}"))
    return tuple(mounts)


def _long_volume(item: Mapping, top: Mapping, project: str, where: str) -> Mount:
    kind = item.get("type", "volume")
    target = str(item.get("target") or "")
    if not target.startswith("/"):
        raise BadInput(f"a volume of {where} has no absolute target", repr(target), "fix volumes: in the compose file")
    read_only = bool(item.get("read_only"))
    source = str(item.get("source") or "")
    if kind == "bind":
        return Mount(target=target, source=source, kind="bind", read_only=read_only)
    if kind == "volume":
        name = _resource_name(source, top.get(source), project) if source else ""
        return Mount(target=target, source=name, kind="volume", read_only=read_only)
    if kind == "tmpfs":
        size = (item.get("tmpfs") or {}).get("size")
        return Mount(target=target, kind="tmpfs", options=f"size={size}" if size else "")
    raise BadInput(f"volume type {kind!r} is not supported", where, "use bind, volume or tmpfs mounts")


def _short_volume(text: str, top: Mapping, project: str, where: str) -> Mount:
    """docker-compose 1.x prints SRC:DST[:MODE] with SRC already absolute for binds."""
    parts = text.split(":")
    mode = parts.pop() if len(parts) == 3 else ""
    read_only = "ro" in mode.split(",")
    if len(parts) == 1:
        return Mount(target=parts[0], kind="volume")
    source, target = parts
    if source.startswith("/"):
        return Mount(target=target, source=source, kind="bind", read_only=read_only)
    return Mount(target=target, source=_resource_name(source, top.get(source), project), kind="volume",
                 read_only=read_only)


_CONDITION_ORDER = ("service_started", "service_healthy", "service_completed_successfully")


def _dependencies(service: str, services: Mapping) -> tuple[tuple[str, ...], dict[str, str]]:
    """depends_on, transitively: dependencies before their dependents, each once."""
    order: list[str] = []
    conditions: dict[str, str] = {}
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in order or name in visiting:
            return
        visiting.add(name)
        for dependency, condition in _depends_on((services.get(name) or {}).get("depends_on")):
            if dependency not in services:
                raise BadInput("depends_on names a service the compose file does not have",
                               f"{name} -> {dependency}", "fix depends_on in the compose file")
            if dependency == service:
                continue    # a cycle back to the target: Compose itself refuses it; nothing to start
            known = conditions.get(dependency, "service_started")
            conditions[dependency] = max(known, condition, key=lambda c: _CONDITION_ORDER.index(c)
                                         if c in _CONDITION_ORDER else 0)
            visit(dependency)
        visiting.discard(name)
        if name != service:
            order.append(name)

    visit(service)
    return tuple(order), conditions


def _depends_on(raw) -> list[tuple[str, str]]:
    if isinstance(raw, Mapping):
        return [(str(name), str((options or {}).get("condition") or "service_started"))
                for name, options in raw.items()]
    return [(str(name), "service_started") for name in raw or ()]


# --- running the dependencies -------------------------------------------------------------

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
                f"exit {result.returncode}:\n{_indent(result.stderr or result.stdout)}",
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
                            _indent(result.stderr), "check the daemon and retry")
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
                         f"last log lines:\n{_indent(logs) or '    (none)'}",
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
                            _indent(result.stderr),
                            f"remove it by hand: {self.cli.name} -p {self.service.project} "
                            f"-f {self.service.compose_file} down -v")
        self.started = False


def _indent(text: str, lines: int = 30) -> str:
    return "\n".join("    " + line for line in (text or "").rstrip().splitlines()[-lines:])


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
