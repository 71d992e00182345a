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

from .cli import (CLI_TIMEOUT_S, DEPENDENCY_TIMEOUT_S, INSTALL_HINT, CliResult, ComposeCli,  # noqa: F401
                  ContainerLookup, find_compose_cli, run_cli)
from .config import ComposeService, load_service, parse_config_output, service_from_config  # noqa: F401
from .dependencies import ComposeDependencies, ComposeTarget, prepare, project_name  # noqa: F401
