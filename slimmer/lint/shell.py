"""Rules on the shell a RUN runs in, and the commands it runs.

  pipefail   DL4006: a pipe in a RUN whose shell (/bin/sh by default, SHELL [...] per stage,
             inherited by FROM <stage>) has no pipefail and the RUN does not set it
  cd-in-run  DL3003: cd in a RUN (WORKDIR lasts, cd does not)
  sudo       DL3004: sudo in a RUN (switch with USER)
"""
from __future__ import annotations

import json
import re

from .rule import Rule, finding
from .shelltext import shell_commands, shell_lines, shell_tokens
from .stages import from_images, stage_names

PIPEFAIL = Rule(
    "pipefail", ("DL4006",), "warning",
    "/bin/sh takes a pipe's exit code from its last command: a failing download piped into tar or sh "
    "leaves a broken layer and a green build",
    'SHELL ["/bin/bash", "-o", "pipefail", "-c"] before the RUN, or set -o pipefail in it')
CD_IN_RUN = Rule(
    "cd-in-run", ("DL3003",), "warning",
    "a cd does not last beyond its RUN; WORKDIR says where the build is and lasts",
    "WORKDIR /path")
SUDO = Rule(
    "sudo", ("DL3004",), "error",
    "sudo has unpredictable TTY and signal behaviour and is not needed: RUN already runs as the current USER",
    "switch with USER root ... USER app around the step, or use gosu/setpriv at run time")
RULES = (PIPEFAIL, CD_IN_RUN, SUDO)


def pipefail(instructions):
    shells: dict[int, list[str]] = {}
    names = stage_names(instructions)
    images = from_images(instructions)
    for instruction in instructions:
        if instruction.keyword == "FROM":
            parent = names.get(images.get(instruction.stage, "").lower())
            shells[instruction.stage] = list(shells.get(parent, ["/bin/sh", "-c"]))
            continue
        if instruction.keyword == "SHELL":
            try:
                shells[instruction.stage] = [str(w) for w in json.loads(instruction.args)]
            except ValueError:
                pass
            continue
        if instruction.keyword != "RUN" or instruction.exec_form:
            continue
        shell = shells.get(instruction.stage, ["/bin/sh", "-c"])
        if "pipefail" in " ".join(shell) or not re.search(r"(?:^|/)(?:ba|da|z|k|a)?sh$", shell[0] if shell else ""):
            continue
        command = instruction.command
        if re.search(r"\bset\b[^;&|\n]*\bpipefail\b", command):
            continue
        if any(token in ("|", "|&") for line in shell_lines(command) for token in shell_tokens(line)):
            yield finding(PIPEFAIL, instruction,
                          f"a pipe under {shell[0]} without pipefail: a failure before the last command is "
                          f"ignored; add SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"] before this RUN",
                          at=re.compile(r"(?<!\|)\|(?!\|)"))


def cd_and_sudo(instructions):
    """cd-in-run (DL3003) and sudo (DL3004): commands in a RUN."""
    for instruction in instructions:
        if instruction.keyword != "RUN":
            continue
        commands = shell_commands(instruction.command)
        if any(words[0] == "cd" for words in commands):
            yield finding(CD_IN_RUN, instruction,
                          "cd in a RUN; use WORKDIR to change directory", at="cd")
        if any(words[0] == "sudo" for words in commands):
            yield finding(SUDO, instruction,
                          "sudo in a RUN; RUN runs as the current USER already: switch with USER instead",
                          at="sudo")


CHECKS = (pipefail, cd_and_sudo)
