"""Plain frozen dataclasses that cross between pipeline stages.

Stages (see DESIGN.md):
  inspect  -> ImageInfo
  imagefs  -> ImageIndex (FsEntry per path, ElfInfo for ELF files)
  trace    -> TraceLog (TracedPath, TracedProcess) + ProbeResult list
  keep     -> KeepSet (KeptPath per path)
  dockerfile -> Artifacts
  build    -> BuiltImage
  verify   -> Verification (ProbeCheck per probe)
  report   -> Report (its JSON schema lives in report.py, apart from these)

All paths are absolute, normalised POSIX paths ("/usr/bin/python3"); the root
directory is "/".
"""
from __future__ import annotations

import posixpath
from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from functools import cached_property
from types import MappingProxyType
from typing import Iterable, Mapping


# --- inspect -----------------------------------------------------------------

@dataclass(frozen=True)
class Healthcheck:
    test: tuple[str, ...]          # Docker's form: ("CMD", "curl", ...) or ("CMD-SHELL", "...")
    interval_ns: int = 0
    timeout_ns: int = 0
    start_period_ns: int = 0
    retries: int = 0


@dataclass(frozen=True)
class ImageConfig:
    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    env: tuple[str, ...] = ()              # "KEY=value", in image order
    workdir: str = ""
    user: str = ""
    exposed_ports: tuple[str, ...] = ()    # "80/tcp", "53/udp"
    volumes: tuple[str, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    healthcheck: Healthcheck | None = None
    stop_signal: str = ""
    shell: tuple[str, ...] = ()

    def env_dict(self) -> dict[str, str]:
        pairs = (item.split("=", 1) for item in self.env)
        return {kv[0]: (kv[1] if len(kv) > 1 else "") for kv in pairs}

    def tcp_ports(self) -> tuple[int, ...]:
        ports = []
        for spec in self.exposed_ports:
            number, _, proto = spec.partition("/")
            if (proto or "tcp") == "tcp" and number.isdigit():
                ports.append(int(number))
        return tuple(sorted(ports))


@dataclass(frozen=True)
class LayerInfo:
    index: int                 # 0 = bottom layer
    digest: str                # diff_id, "sha256:..."
    size_bytes: int            # uncompressed size of the layer tar's files
    created_by: str            # history entry that made it ("" when unknown)


@dataclass(frozen=True)
class HistoryEntry:
    created_by: str
    empty_layer: bool          # ENV, LABEL, ... make no layer


@dataclass(frozen=True)
class ImageInfo:
    reference: str             # what the user typed: "app:1.0"
    id: str                    # "sha256:..."
    repo_tags: tuple[str, ...]
    size_bytes: int
    os: str
    architecture: str
    config: ImageConfig
    layers: tuple[LayerInfo, ...]
    history: tuple[HistoryEntry, ...] = ()


# --- imagefs -----------------------------------------------------------------

class EntryType(str, Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"      # link_target is the absolute path of the other name
    FIFO = "fifo"
    CHAR = "char"
    BLOCK = "block"


@dataclass(frozen=True)
class ElfInfo:
    elf_class: int                       # 32 or 64
    machine: str                         # pyelftools e_machine, e.g. "EM_X86_64"
    interpreter: str | None = None       # PT_INTERP
    needed: tuple[str, ...] = ()         # DT_NEEDED, in order
    rpath: tuple[str, ...] = ()          # DT_RPATH entries, unexpanded ($ORIGIN kept)
    runpath: tuple[str, ...] = ()        # DT_RUNPATH entries, unexpanded
    soname: str | None = None


@dataclass(frozen=True, slots=True)   # an image holds tens of thousands: no __dict__ each
class FsEntry:
    path: str
    type: EntryType
    mode: int                  # permission bits incl. setuid/setgid/sticky, no type bits
    uid: int
    gid: int
    size: int                  # bytes of content (0 for non-files)
    link_target: str | None    # symlink target as stored, or hardlink's absolute path
    layer: int                 # index of the layer that last wrote this entry
    mtime: int = 0
    elf: ElfInfo | None = None
    shebang: str | None = None  # the first line after "#!" for scripts, stripped
    # layers below `layer` that wrote this path too, bottom first: their versions are
    # hidden by this one (a COPY, then a RUN chmod); a whiteout's deletion starts afresh
    earlier_layers: tuple[int, ...] = ()

    @property
    def written_by(self) -> tuple[int, ...]:
        """Every layer that wrote this path, bottom first; the last one is `layer`."""
        return self.earlier_layers + (self.layer,)


MAX_SYMLINKS = 40                      # the kernel's ELOOP bound


@dataclass(frozen=True)
class Resolution:
    """Where a path leads in the image: its real path (None when it does not
    exist) and every symlink met on the way, in order."""

    path: str | None
    symlinks: tuple[str, ...]


@dataclass(frozen=True)
class PathTree:
    """The paths of an index in sorted order and each directory's children (sorted),
    built once from the entries by `PathTree.of`."""

    sorted_paths: tuple[str, ...]
    children: Mapping[str, tuple[str, ...]]

    @classmethod
    def of(cls, paths: Iterable[str]) -> "PathTree":
        ordered = tuple(sorted(paths))
        kids: dict[str, list[str]] = {}
        for path in ordered:           # sorted, so each directory's children come sorted
            if path != "/":
                kids.setdefault(posixpath.dirname(path), []).append(path)
        return cls(ordered, MappingProxyType({d: tuple(k) for d, k in kids.items()}))


@dataclass(frozen=True)
class ImageIndex:
    """The merged filesystem of an image, after whiteouts and opaque dirs.

    contents holds the bytes of the few small files the keep rules read
    (scripts, ld.so.conf, nsswitch.conf, Python RECORD files), captured while
    the layers streamed by so no second pass over the image is needed.

    entries never change once the index is made: the sorted paths and children
    (`under`, `children`) are derived from them once, on first use.
    """

    entries: Mapping[str, FsEntry]
    contents: Mapping[str, bytes] = field(default_factory=dict)

    def get(self, path: str) -> FsEntry | None:
        return self.entries.get(path)

    def __contains__(self, path: str) -> bool:
        return path in self.entries

    def __len__(self) -> int:
        return len(self.entries)

    @cached_property
    def tree(self) -> PathTree:
        """Sorted paths and children, computed once (no field of the index changes)."""
        return PathTree.of(self.entries)

    @property
    def sorted_paths(self) -> tuple[str, ...]:
        return self.tree.sorted_paths

    def under(self, directory: str) -> tuple[str, ...]:
        """Every path strictly under `directory`, sorted (not the directory itself)."""
        directory = _absolute(directory)
        prefix = directory.rstrip("/") + "/"
        paths = self.tree.sorted_paths
        # "0" sorts right after "/": the first path past the directory's subtree
        return paths[bisect_right(paths, prefix):bisect_left(paths, prefix[:-1] + "0")]

    def children(self, directory: str) -> tuple[str, ...]:
        """The paths directly inside `directory`, sorted."""
        return self.tree.children.get(_absolute(directory), ())

    def resolve(self, path: str, follow_last: bool = True) -> Resolution:
        """Resolve `path` component by component, like the kernel's path walk:
        symlinks anywhere (the last component's only with `follow_last`), ".."
        after a symlink applies to the link's target, at most MAX_SYMLINKS links."""
        symlinks: list[str] = []
        pending = deque(part for part in path.split("/") if part)
        current = "/"
        hops = 0
        while pending:
            name = pending.popleft()
            if name == ".":
                continue
            if name == "..":
                current = posixpath.dirname(current) if current != "/" else "/"
                continue
            candidate = posixpath.join(current, name)
            entry = self.entries.get(candidate)
            if entry is None:
                return Resolution(None, tuple(symlinks))
            if entry.type is EntryType.SYMLINK and (pending or follow_last):
                hops += 1
                if hops > MAX_SYMLINKS:
                    return Resolution(None, tuple(symlinks))
                if candidate not in symlinks:
                    symlinks.append(candidate)
                target = entry.link_target or ""
                if target.startswith("/"):
                    current = "/"
                pending.extendleft(reversed([part for part in target.split("/") if part]))
                continue
            if pending and entry.type is not EntryType.DIR:
                return Resolution(None, tuple(symlinks))
            current = candidate
        if current != "/" and current not in self.entries:
            return Resolution(None, tuple(symlinks))
        return Resolution(current, tuple(symlinks))


def _absolute(directory: str) -> str:
    return posixpath.normpath("/" + directory.lstrip("/"))


# --- trace -------------------------------------------------------------------

@dataclass(frozen=True)
class TracedPath:
    path: str
    syscalls: frozenset[str]
    write: bool                # opened for write/create, or mkdir/unlink/rename/... on it
    logs: frozenset[str] = frozenset()   # the sensor logs that recorded it (trace.N.log, run.N.log, exec-K/run.N.log)


@dataclass(frozen=True)
class TracedProcess:
    pid: int
    exe: str
    argv: tuple[str, ...]


@dataclass(frozen=True)
class TraceLog:
    version: int
    paths: Mapping[str, TracedPath]
    processes: tuple[TracedProcess, ...] = ()
    exit_status: int | None = None     # app's exit code, 128+N when killed by signal N


# --- probe -------------------------------------------------------------------

@dataclass(frozen=True)
class HttpProbe:
    path: str = "/"
    method: str = "GET"
    port: int | None = None            # None: every HTTP port found ("auto")
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    expect_status: int | None = None   # None: any status below 500
    expect_body: str | None = None     # substring the body must contain
    expect_json: object = None         # JSON subset the body must contain
    repeat: int = 1
    scheme: str = "http"
    compare: str = "auto"              # "exact": a different body fails verification, not only warns

    @property
    def name(self) -> str:
        where = f" on port {self.port}" if self.port else ""
        scheme = " (https)" if self.scheme == "https" else ""
        return f"{self.method} {self.path}{where}{scheme}"


@dataclass(frozen=True)
class ExecProbe:
    argv: tuple[str, ...]
    user: str | None = None            # None: the image's USER
    expect_exit: int | None = 0
    expect_output: str | None = None
    compare: str = "auto"              # "exact": a different output fails verification, not only warns

    @property
    def name(self) -> str:
        return "exec " + " ".join(self.argv)


@dataclass(frozen=True)
class WaitProbe:
    seconds: float | None = None
    port: int | None = None
    log_regex: str | None = None
    timeout_s: float = 60.0

    @property
    def name(self) -> str:
        if self.port is not None:
            return f"wait for port {self.port}"
        if self.log_regex is not None:
            return f"wait for log /{self.log_regex}/"
        return f"wait {self.seconds}s"


Probe = HttpProbe | ExecProbe | WaitProbe


@dataclass(frozen=True)
class Mount:
    """One --volume / --tmpfs of the run context (docker run's meaning)."""

    target: str                    # absolute path in the container
    source: str = ""               # host path (bind), volume name (volume), "" (tmpfs, anonymous volume)
    kind: str = "bind"             # "bind" | "volume" | "tmpfs"
    read_only: bool = False
    options: str = ""              # tmpfs only: "size=64m,mode=1777" (docker run --tmpfs DST:OPTIONS)


@dataclass(frozen=True)
class RunSpec:
    """How the app is run: the image's own config unless overridden (the run context).

    The run context applies to the traced run, exec probes and verification alike,
    and is never baked into the slim image. Env values are secrets: print
    `masked_env()`, never `env`.
    """

    command: tuple[str, ...] | None = None   # replaces CMD (the --run ARGS, --cmd)
    env: tuple[tuple[str, str], ...] = ()     # added to the image's ENV, in order
    user: str | None = None
    continue_after: str = "auto"              # probes | exit | timeout=S | signal | auto
    entrypoint: tuple[str, ...] | None = None  # replaces ENTRYPOINT; () clears it
    workdir: str | None = None
    networks: tuple[str, ...] = ()            # user networks to attach, first one at create time
    network_aliases: tuple[str, ...] = ()     # the app's names on those networks
    hosts: tuple[tuple[str, str], ...] = ()   # --add-host NAME:IP
    mounts: tuple[Mount, ...] = ()            # --volume, --tmpfs

    def masked_env(self) -> tuple[str, ...]:
        return tuple(f"{key}=***" for key, _ in self.env)

    def mount_targets(self) -> tuple[str, ...]:
        return tuple(mount.target for mount in self.mounts)


@dataclass(frozen=True)
class ProbeResult:
    name: str                  # "GET :8080 /api", "exec psql -c ..."
    kind: str                  # "http" | "exec" | "wait" | "connect" | "run"
    ok: bool
    status: int | None = None  # HTTP status or exit code
    digest: str | None = None  # sha256 of body / stdout
    elapsed_s: float = 0.0
    error: str | None = None
    stable: bool = True        # False when two runs of the original differed: compare status only
    port: int | None = None
    probe: object = None       # the concrete probe (HttpProbe/ExecProbe/...) to replay in verify
    runs: int = 1              # how many times in a row it ran; verify replays the same number


# --- keep --------------------------------------------------------------------

class KeepReason(str, Enum):
    TRACED = "traced"
    REPAIRED = "repaired"      # a removed path the verifier found a probe needs
    SYMLINK = "symlink"
    PARENT = "parent"
    ELF = "elf"
    INTERPRETER = "interpreter"
    PACKAGE = "package"
    INCLUDE = "include"
    ESSENTIAL = "essential"
    STATE = "state"
    APP = "app"
    DATA = "data"
    SCRIPT = "script"
    HEALTHCHECK = "healthcheck"
    PLUGIN = "plugin"
    PROGRAM_DATA = "program-data"
    OS_PACKAGE = "os-package"
    IMPORTS = "imports"        # a module a kept Python/Node/Ruby/Perl source imports by a literal name


@dataclass(frozen=True)
class KeptPath:
    path: str
    reason: KeepReason
    because_of: str | None = None   # the path (or rule) that pulled this one in


@dataclass(frozen=True)
class KeepOptions:
    include: tuple[str, ...] = ()          # globs
    exclude: tuple[str, ...] = ()          # globs
    rules: Mapping[str, bool] = field(default_factory=dict)   # --keep-rule NAME=on|off
    # (path, probe name): paths the verifier found missing, kept with their closures
    repaired: tuple[tuple[str, str], ...] = ()
    app_layer_max_bytes: int = 50 * 1000 * 1000     # a larger COPY/ADD layer is not app files
    plugin_max_bytes: int = 1000 * 1000             # new bytes a plugin may bring with its closure
    program_data_max_bytes: int = 32 * 1000 * 1000  # a larger program data tree is not kept whole


@dataclass(frozen=True)
class KeepSet:
    kept: Mapping[str, KeptPath]
    # files written fresh into the slim image (path -> bytes), not copied from the
    # original: the package database trimmed to what the slim image still holds
    generated: Mapping[str, bytes] = field(default_factory=dict)

    def __contains__(self, path: str) -> bool:
        return path in self.kept

    def __len__(self) -> int:
        return len(self.kept)

    def paths(self) -> list[str]:
        return sorted(self.kept)


# --- dockerfile / build / verify ----------------------------------------------

@dataclass(frozen=True)
class Artifacts:
    directory: str
    dockerfile: str
    keep_list: str
    sensor: str


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    id: str
    size_bytes: int
    # an image an earlier run built from the same inputs (build.py, reuse): it may carry
    # other tags, the user's own, so it is never removed by ID
    reused: bool = False


@dataclass(frozen=True)
class ProbeCheck:
    name: str
    passed: bool
    original: ProbeResult
    slim: ProbeResult | None
    reason: str = ""
    warning: str = ""          # passed, but the answer differs from the original's


@dataclass(frozen=True)
class Verification:
    checks: tuple[ProbeCheck, ...]
    slim_logs: str = ""
    repairs: tuple[tuple[int, str, str], ...] = ()   # (round, path, probe) kept after the slim app reached them
    reached_removed: tuple[tuple[str, str], ...] = ()  # (path, probe) still missing when verification ended

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)
