"""The run context: how the user's world around the app is described, checked and merged.

`slim build` flags (--env, --env-file, --network, --network-alias, --add-host,
--volume, --tmpfs, --user, --entrypoint, --cmd, --workdir) and the probe file's
[run] keys (env, env_file, network, network_aliases, hosts, volumes, tmpfs,
user, entrypoint, command, workdir) mean what `docker run` users know. Both are
parsed here into RunSpec pieces; the trace, exec probes and verification then
run with the same RunSpec. Nothing here touches Docker.

Rules:
  1. env values are secrets: no error message, event or output carries one;
     only names, as `KEY=***` (RunSpec.masked_env());
  2. `--env KEY` and an env-file line `KEY` take the value from slim's own
     environment and are skipped when it is unset (docker run does the same);
  3. --env-file is read before --env; later definitions of a key win;
  4. flags override the probe file's [run]: env merges by key, hosts by name,
     volumes and tmpfs by target (the flag wins); network, network aliases,
     user, entrypoint, command and workdir are replaced when a flag gives them;
  5. --entrypoint is one executable, as in docker run ("" clears the image's);
     like docker run, a new entrypoint drops the image's CMD unless --cmd is given;
  6. a --volume source that is a path (absolute, or starting with . or ~, or
     holding a /) is a bind mount, made absolute; any other source names a
     volume; a target is always an absolute path.
"""
from __future__ import annotations

import ipaddress
import os
import posixpath
import re
import shlex
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Mapping, Sequence

from .errors import BadInput
from .model import Mount, RunSpec

# Docker's own name grammar for volumes and networks (restrictedNamePattern).
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_HOSTNAME = re.compile(r"[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_USER_PART = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.$-]*")
_VOLUME_MODES = {"ro": True, "rw": False}
_TMPFS_OPTIONS = {"ro", "rw", "exec", "noexec", "suid", "nosuid", "dev", "nodev",
                  "size", "mode", "uid", "gid", "nr_inodes", "nr_blocks"}
_UNUSABLE_NETWORKS = {
    "host": "the app would share slim's network: its ports could not be published or told apart",
    "none": "the app would have no network: probes could not reach it",
}

Environ = Mapping[str, str]


# --- one value at a time ------------------------------------------------------------

def parse_env(text: str, environ: Environ | None = None, source: str = "--env") -> tuple[str, str] | None:
    """'KEY=VALUE' -> (KEY, VALUE); 'KEY' -> (KEY, $KEY), or None when KEY is unset."""
    environ = os.environ if environ is None else environ
    key, has_value, value = text.partition("=")
    _check_env_key(key, source, shown=f"{key}=***" if has_value else key)
    if has_value:
        return key, value
    return (key, environ[key]) if key in environ else None


def _check_env_key(key: str, source: str, shown: str) -> None:
    if not key:
        raise BadInput(f"bad {source}: no variable name", shown,
                       f"write {source} KEY=VALUE, or {source} KEY to pass KEY from slim's environment")
    if any(char.isspace() for char in key) or "\0" in key:
        raise BadInput(f"bad {source}: the variable name contains whitespace", repr(key),
                       "variable names have no spaces, e.g. APP_TOKEN=...")


def read_env_file(path: str, environ: Environ | None = None, base_dir: str = "") -> tuple[tuple[str, str], ...]:
    """docker run's --env-file syntax.

    1. each line is KEY=VALUE, the value taken as written (no quotes removed,
       no variables expanded), or KEY alone (value from slim's environment,
       skipped when unset);
    2. leading whitespace is ignored; blank lines and lines starting with # are skipped;
    3. a name with whitespace in it, or a line starting with =, is an error naming the line.
    """
    environ = os.environ if environ is None else environ
    full = os.path.join(base_dir, os.path.expanduser(path)) if base_dir else os.path.expanduser(path)
    try:
        with open(full, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise BadInput("cannot read the env file", f"{path}: {exc.strerror}",
                       "check the path given to --env-file (relative paths start from the current "
                       "directory, or from the probe file's directory for [run] env_file)") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadInput("cannot read the env file", f"{path}: not UTF-8 text",
                       "save it as UTF-8") from exc
    text = text.removeprefix("\ufeff")
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, has_value, value = line.partition("=")
        where = f"env file {path}, line {number}"
        if not key:
            raise BadInput(f"bad {where}: no variable name", "=***", "write KEY=VALUE or KEY")
        if any(char.isspace() for char in key):
            raise BadInput(f"bad {where}: the variable name contains whitespace", repr(key.strip()),
                           "write KEY=VALUE with no space before the =")
        if has_value:
            pairs.append((key, value))
        elif key in environ:
            pairs.append((key, environ[key]))
    return tuple(pairs)


def parse_network(name: str, source: str = "--network") -> str:
    if name in _UNUSABLE_NETWORKS or name.startswith("container:"):
        why = _UNUSABLE_NETWORKS.get(name, "the app would share another container's network: "
                                     "its ports could not be published")
        raise BadInput(f"{source} {name} is not supported", why,
                       "attach the app to a user-defined network instead (docker network create NAME)")
    if not _NAME.fullmatch(name):
        raise BadInput(f"bad {source}: not a network name", repr(name),
                       "a network name or id: letters, digits, _ . - (e.g. --network appnet)")
    return name


def parse_network_alias(name: str, source: str = "--network-alias") -> str:
    if not _HOSTNAME.fullmatch(name) or len(name) > 253:
        raise BadInput(f"bad {source}: not a host name", repr(name),
                       "a DNS name: letters, digits, _ . - (e.g. --network-alias api)")
    return name


def parse_add_host(text: str, source: str = "--add-host") -> tuple[str, str]:
    """'NAME:IP', 'NAME=IP' or 'NAME:host-gateway'; IPv6 with or without brackets."""
    separator = "=" if "=" in text else ":"
    name, found, address = text.partition(separator)
    hint = "write NAME:IP, e.g. --add-host db.local:10.0.0.5, --add-host api:host-gateway or --add-host v6:::1"
    if not found or not name or not address:
        raise BadInput(f"bad {source}: expected NAME:IP", repr(text), hint)
    if not _HOSTNAME.fullmatch(name):
        raise BadInput(f"bad {source}: not a host name", repr(name), hint)
    if address.startswith("[") and address.endswith("]"):
        address = address[1:-1]
    if address != "host-gateway":
        try:
            address = str(ipaddress.ip_address(address))
        except ValueError:
            raise BadInput(f"bad {source}: not an IP address", repr(address), hint) from None
    return name, address


def parse_volume(text: str, base_dir: str = "", source: str = "--volume") -> Mount:
    """docker run -v: 'SRC:DST[:ro|rw]' (bind or named volume) or 'DST' (anonymous volume)."""
    hint = ("write SRC:DST[:ro], e.g. --volume ./config:/etc/app:ro (a host path) "
            "or --volume appdata:/var/lib/app (a named volume)")
    parts = text.split(":")
    if len(parts) > 3 or not all(parts):
        raise BadInput(f"bad {source}: expected SRC:DST[:ro|rw]", repr(text), hint)
    read_only = False
    if len(parts) == 3:
        mode = parts.pop()
        if mode not in _VOLUME_MODES:
            raise BadInput(f"bad {source}: unknown mode", repr(mode), "the mode is ro or rw; " + hint)
        read_only = _VOLUME_MODES[mode]
    if len(parts) == 1:
        return Mount(target=_container_path(parts[0], source, text, hint), source="", kind="volume")
    origin, target = parts
    if target in _VOLUME_MODES:
        raise BadInput(f"bad {source}: the target is missing", repr(text), hint)
    target = _container_path(target, source, text, hint)
    if _is_host_path(origin):
        host_path = os.path.abspath(os.path.join(base_dir or os.getcwd(), os.path.expanduser(origin)))
        if not os.path.exists(host_path):
            raise BadInput(f"bad {source}: the host path does not exist", host_path,
                           "create it first, or fix the path (relative paths start from the current "
                           "directory, or from the probe file's directory for [run] volumes)")
        return Mount(target=target, source=host_path, kind="bind", read_only=read_only)
    if not _NAME.fullmatch(origin):
        raise BadInput(f"bad {source}: not a volume name or a host path", repr(origin), hint)
    return Mount(target=target, source=origin, kind="volume", read_only=read_only)


def _is_host_path(origin: str) -> bool:
    return origin.startswith(("/", ".", "~")) or "/" in origin


def _container_path(path: str, source: str, text: str, hint: str) -> str:
    if not path.startswith("/"):
        raise BadInput(f"bad {source}: the path in the container must be absolute", repr(path), hint)
    normal = posixpath.normpath(path)
    if normal.startswith("//"):
        normal = "/" + normal.lstrip("/")
    if normal == "/":
        raise BadInput(f"bad {source}: cannot mount over /", repr(text), hint)
    return normal


def parse_tmpfs(text: str, source: str = "--tmpfs") -> Mount:
    """docker run --tmpfs: 'DST' or 'DST:OPTIONS' (size=64m,mode=1777,noexec,...)."""
    hint = "write DST[:OPTIONS], e.g. --tmpfs /run or --tmpfs /tmp:size=64m,mode=1777"
    target, _, options = text.partition(":")
    target = _container_path(target, source, text, hint)
    names = [option.partition("=")[0] for option in options.split(",")] if options else []
    unknown = [name for name in names if name not in _TMPFS_OPTIONS]
    if unknown:
        raise BadInput(f"bad {source}: unknown tmpfs option", repr(unknown[0]),
                       "options: " + ", ".join(sorted(_TMPFS_OPTIONS)) + "; " + hint)
    return Mount(target=target, kind="tmpfs", read_only="ro" in names, options=options)


def parse_user(text: str, source: str = "--user") -> str:
    """'USER', 'UID', 'USER:GROUP' or 'UID:GID'."""
    parts = text.split(":")
    if len(parts) > 2 or not all(_USER_PART.fullmatch(part) for part in parts):
        raise BadInput(f"bad {source}: expected USER[:GROUP]", repr(text),
                       "a user name or uid, optionally with a group, e.g. --user app or --user 1000:1000")
    return text


def parse_entrypoint(value: str | Sequence[str], source: str = "--entrypoint") -> tuple[str, ...]:
    """A string is one executable (docker run's meaning; "" clears the image's
    ENTRYPOINT); a list is the exec form (a probe file's or a compose file's)."""
    if isinstance(value, str):
        return (value,) if value else ()
    if not all(isinstance(item, str) for item in value) or (value and not value[0]):
        raise BadInput(f"bad {source}", repr(value), 'a list of strings, e.g. ["/usr/bin/tini", "--"]')
    return tuple(value)


def parse_cmd(value: str | Sequence[str], source: str = "--cmd") -> tuple[str, ...]:
    """A string is split the way a shell would ("serve --port 80"); a list is taken as is."""
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise BadInput(f"bad {source}: {exc}", repr(value),
                           "quote arguments the way a shell would, e.g. --cmd \"serve --name 'my app'\"") from None
    if not all(isinstance(item, str) for item in value):
        raise BadInput(f"bad {source}", repr(value), 'a list of strings, e.g. ["serve", "--port", "80"]')
    return tuple(value)


def parse_workdir(path: str, source: str = "--workdir") -> str:
    if not path.startswith("/"):
        raise BadInput(f"bad {source}: the working directory must be an absolute path", repr(path),
                       "e.g. --workdir /srv/app")
    return posixpath.normpath(path) if path != "/" else "/"


# --- the flags as a whole -------------------------------------------------------------

@dataclass(frozen=True)
class RunFlags:
    """The run-context flags exactly as given (argparse's lists and strings)."""

    env: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    networks: tuple[str, ...] = ()
    network_aliases: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    volumes: tuple[str, ...] = ()
    tmpfs: tuple[str, ...] = ()
    user: str | None = None
    entrypoint: str | None = None
    cmd: str | None = None
    workdir: str | None = None


def run_from_flags(flags: RunFlags, environ: Environ | None = None, base_dir: str = "") -> RunSpec:
    """The flags as a RunSpec: fields the flags do not set stay at their "not given" value."""
    env: list[tuple[str, str]] = []
    for path in flags.env_files:
        env.extend(read_env_file(path, environ, base_dir))
    for text in flags.env:
        pair = parse_env(text, environ)
        if pair is not None:
            env.append(pair)
    mounts = [parse_volume(text, base_dir) for text in flags.volumes]
    mounts += [parse_tmpfs(text) for text in flags.tmpfs]
    return RunSpec(
        env=merge_env((), env),
        networks=_unique(parse_network(name) for name in flags.networks),
        network_aliases=_unique(parse_network_alias(name) for name in flags.network_aliases),
        hosts=tuple(parse_add_host(text) for text in flags.hosts),
        mounts=_mounts_by_target((), mounts),
        user=parse_user(flags.user) if flags.user is not None else None,
        entrypoint=parse_entrypoint(flags.entrypoint) if flags.entrypoint is not None else None,
        command=parse_cmd(flags.cmd) if flags.cmd is not None else None,
        workdir=parse_workdir(flags.workdir) if flags.workdir is not None else None)


# --- the probe file's [run] table -----------------------------------------------------

RUN_CONTEXT_KEYS = ("env", "env_file", "network", "network_aliases", "hosts", "volumes", "tmpfs",
                    "user", "entrypoint", "command", "workdir")


class RunKeyError(BadInput):
    """A bad value under one [run] key; `key` lets the probe file name its line."""

    def __init__(self, key: str, problem: str, hint: str):
        self.key = key
        super().__init__(f"[run] {key}", problem, hint)


def parse_run_table(raw: Mapping[str, object], base_dir: str = "", environ: Environ | None = None) -> RunSpec:
    """The run-context keys of a probe file's [run] table (TOML values) as a RunSpec.

    Keys other than RUN_CONTEXT_KEYS are ignored here (the probe file checks them).
    Relative paths (env_file, volume sources) start from BASE_DIR, the probe file's directory.
    """
    def value(key: str, kinds: tuple[type, ...], example: str):
        item = raw.get(key)
        if item is None:
            return None
        if isinstance(item, list) and list in kinds:
            if not all(isinstance(element, str) for element in item):
                raise RunKeyError(key, f"{item!r} is not a list of strings", example)
            return item
        if not isinstance(item, kinds) or isinstance(item, bool):
            raise RunKeyError(key, f"{item!r} has the wrong type", example)
        return item

    def each(key: str, parse: Callable[[str], object], items) -> list:
        results = []
        for item in ([items] if isinstance(items, str) else items or []):
            try:
                results.append(parse(item))
            except BadInput as exc:
                raise RunKeyError(key, f"{exc.what}: {exc.value}", exc.hint or "") from None
        return results

    env_table = value("env", (dict,), 'a table of strings: env = {APP_TOKEN = "..."}') or {}
    for key, item in env_table.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise RunKeyError("env", f"{key} has a {type(item).__name__} value", 'env = {KEY = "value"}')
    env: list[tuple[str, str]] = []
    for pairs in each("env_file", lambda path: read_env_file(path, environ, base_dir),
                      value("env_file", (str, list), 'env_file = "app.env" or ["a.env", "b.env"]')):
        env.extend(pairs)
    for key, item in env_table.items():
        each("env", lambda name: _check_env_key(name, "env", name), [str(key)])
        env.append((str(key), str(item)))
    hosts_raw = value("hosts", (list, dict), 'hosts = ["db.local:10.0.0.5"] or hosts = {"db.local" = "10.0.0.5"}')
    if isinstance(hosts_raw, dict):
        hosts_raw = [f"{name}={address}" for name, address in hosts_raw.items()]
    mounts = each("volumes", lambda text: parse_volume(text, base_dir, "volume"),
                  value("volumes", (list, str), 'volumes = ["./config:/etc/app:ro", "appdata:/var/lib/app"]'))
    mounts += each("tmpfs", lambda text: parse_tmpfs(text, "tmpfs"),
                   value("tmpfs", (list, str), 'tmpfs = ["/run", "/tmp:size=64m"]'))
    user = value("user", (str,), 'user = "app" or user = "1000:1000"')
    entrypoint = value("entrypoint", (str, list), 'entrypoint = "/usr/local/bin/start" or ["tini", "--"]')
    command = value("command", (list,), 'a non-empty list of strings, e.g. command = ["serve", "--port", "80"]')
    if isinstance(command, list) and not command:
        raise RunKeyError("command", "an empty list", 'a non-empty list of strings, e.g. command = ["serve"]')
    workdir = value("workdir", (str,), 'workdir = "/srv/app"')
    return RunSpec(
        env=merge_env((), env),
        networks=_unique(each("network", lambda name: parse_network(name, "network"),
                              value("network", (str, list), 'network = "appnet" or ["front", "back"]'))),
        network_aliases=_unique(each("network_aliases", lambda name: parse_network_alias(name, "network alias"),
                                     value("network_aliases", (str, list), 'network_aliases = ["api"]'))),
        hosts=tuple(each("hosts", lambda text: parse_add_host(text, "host"), hosts_raw)),
        mounts=_mounts_by_target((), mounts),
        user=each("user", lambda text: parse_user(text, "user"), [user])[0] if user is not None else None,
        entrypoint=each("entrypoint", lambda item: parse_entrypoint(item, "entrypoint"), [entrypoint])[0]
        if entrypoint is not None else None,
        command=each("command", lambda item: parse_cmd(item, "command"), [command])[0]
        if command is not None else None,
        workdir=each("workdir", lambda path: parse_workdir(path, "workdir"), [workdir])[0]
        if workdir is not None else None)


# --- merging ----------------------------------------------------------------------

def merge_run(base: RunSpec, override: RunSpec) -> RunSpec:
    """OVERRIDE (the flags) over BASE (the probe file's [run], or a compose service's
    run context under it); see rule 4 at the top of this module."""
    return replace(
        base,
        env=merge_env(base.env, override.env),
        hosts=_hosts_by_name(base.hosts, override.hosts),
        mounts=_mounts_by_target(base.mounts, override.mounts),
        networks=override.networks or base.networks,
        network_aliases=override.network_aliases or base.network_aliases,
        user=_given(override.user, base.user),
        entrypoint=_given(override.entrypoint, base.entrypoint),
        command=_given(override.command, base.command),
        workdir=_given(override.workdir, base.workdir),
        continue_after=override.continue_after if override.continue_after != "auto" else base.continue_after)


def check_run(run: RunSpec) -> RunSpec:
    """Checks across fields, once everything is merged."""
    if run.network_aliases and not [name for name in run.networks if name not in ("bridge", "default")]:
        raise BadInput("--network-alias needs a user-defined network", ", ".join(run.network_aliases),
                       "add --network NAME (docker network create NAME); aliases do not work on the default bridge")
    targets = [mount.target for mount in run.mounts]
    twice = sorted({target for target in targets if targets.count(target) > 1})
    if twice:
        raise BadInput("two mounts share a target", twice[0], "keep one --volume/--tmpfs per path")
    return run


def merge_env(base: Iterable[tuple[str, str]], override: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """By key, in first-definition order; the later value wins."""
    merged: dict[str, str] = dict(base)
    for key, value in override:
        merged[key] = value
    return tuple(merged.items())


def _hosts_by_name(base, override) -> tuple[tuple[str, str], ...]:
    names = {name for name, _ in override}
    return tuple(item for item in base if item[0] not in names) + tuple(override)


def _mounts_by_target(base: Iterable[Mount], override: Iterable[Mount]) -> tuple[Mount, ...]:
    merged: dict[str, Mount] = {mount.target: mount for mount in base}
    for mount in override:
        merged[mount.target] = mount
    return tuple(merged.values())


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _given(value, fallback):
    return value if value is not None else fallback


def describe(run: RunSpec) -> list[str]:
    """The run context for logs and reports: names only, env values masked."""
    lines = []
    if run.env:
        lines.append("env " + " ".join(run.masked_env()))
    if run.networks:
        lines.append("networks " + ", ".join(run.networks)
                     + (f" (aliases {', '.join(run.network_aliases)})" if run.network_aliases else ""))
    if run.hosts:
        lines.append("hosts " + ", ".join(f"{name}:{address}" for name, address in run.hosts))
    for mount in run.mounts:
        origin = {"bind": mount.source, "volume": mount.source or "(anonymous volume)", "tmpfs": "tmpfs"}[mount.kind]
        lines.append(f"mount {origin} -> {mount.target}" + (" (read-only)" if mount.read_only else ""))
    for label, item in (("user", run.user), ("workdir", run.workdir)):
        if item is not None:
            lines.append(f"{label} {item}")
    if run.entrypoint is not None:
        lines.append("entrypoint " + (shlex.join(run.entrypoint) if run.entrypoint else "(cleared)"))
    return lines
