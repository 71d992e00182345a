"""A service of the resolved Compose project as slimmer's run context (rules 1, 3, 6)."""
from __future__ import annotations

import json
import os
import shlex
from dataclasses import dataclass, field
from typing import Mapping

from .. import runcontext
from ..errors import BadInput, SlimError
from ..model import Mount, RunSpec
from ..textfmt import indent
from .cli import CLI_TIMEOUT_S, ComposeCli, Runner, run_cli

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
        raise BadInput(f"{cli.name} cannot read the compose file", f"{compose_file}:\n{indent(result.stderr)}",
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
