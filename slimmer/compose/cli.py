"""The Compose CLI: found (plugin or docker-compose), run with a timeout."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

from ..errors import BadInput, SlimError

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
