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

from dataclasses import dataclass, field
from enum import Enum
from typing import Mapping


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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class ImageIndex:
    """The merged filesystem of an image, after whiteouts and opaque dirs.

    contents holds the bytes of the few small files the keep rules read
    (scripts, ld.so.conf, nsswitch.conf, Python RECORD files), captured while
    the layers streamed by so no second pass over the image is needed.
    """

    entries: Mapping[str, FsEntry]
    contents: Mapping[str, bytes] = field(default_factory=dict)

    def get(self, path: str) -> FsEntry | None:
        return self.entries.get(path)

    def __contains__(self, path: str) -> bool:
        return path in self.entries

    def __len__(self) -> int:
        return len(self.entries)


# --- trace -------------------------------------------------------------------

@dataclass(frozen=True)
class TracedPath:
    path: str
    syscalls: frozenset[str]
    write: bool                # opened for write/create, or mkdir/unlink/rename/... on it


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


# --- keep --------------------------------------------------------------------

class KeepReason(str, Enum):
    TRACED = "traced"
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


@dataclass(frozen=True)
class ProbeCheck:
    name: str
    passed: bool
    original: ProbeResult
    slim: ProbeResult | None
    reason: str = ""


@dataclass(frozen=True)
class Verification:
    checks: tuple[ProbeCheck, ...]
    slim_logs: str = ""

    @property
    def passed(self) -> bool:
        return all(check.passed for check in self.checks)
