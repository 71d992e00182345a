"""apt rules: how `apt-get update` and `apt-get install` are written in a RUN.

  apt-update-alone       update in a RUN without the install (a cached update layer goes stale)
  no-install-recommends  DL3015: install without --no-install-recommends (unless an apt.conf
                         snippet in the stage turned recommends off)
  apt-no-yes             DL3014: install without -y (or Assume-Yes)
  apt-unpinned           DL3008: packages without =VERSION (a path, a .deb or a $VAR is pinned enough)
The apt cache left in the layer is cache-not-removed (caches.py).
"""
from __future__ import annotations

import re

from .rule import Rule, finding
from .shelltext import operands, program_of, shell_commands, without_sudo

APT_UPDATE_ALONE = Rule(
    "apt-update-alone", (), "warning",
    "a cached update layer gives a later install stale package lists",
    "RUN apt-get update && apt-get install -y ... in one RUN")
NO_INSTALL_RECOMMENDS = Rule(
    "no-install-recommends", ("DL3015",), "info",
    "recommended packages are installed too: often tens of MB nobody asked for",
    "apt-get install -y --no-install-recommends ...")
APT_UNPINNED = Rule(
    "apt-unpinned", ("DL3008",), "warning",
    "an unpinned package installs whatever version the mirror has on the day of the build",
    "apt-get install -y curl=7.88.1-10+deb12u5")
APT_NO_YES = Rule(
    "apt-no-yes", ("DL3014",), "warning",
    "without -y apt-get asks for confirmation, gets none in a build and fails",
    "apt-get install -y ...")
RULES = (APT_UPDATE_ALONE, NO_INSTALL_RECOMMENDS, APT_UNPINNED, APT_NO_YES)

APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:[-\w=:]+\s+)*install\b")
APT_UPDATE = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*update\b")


def apt_update_alone(instructions):
    for instruction in instructions:
        if instruction.keyword == "RUN" and APT_UPDATE.search(instruction.command) \
                and not APT_INSTALL.search(instruction.command):
            yield finding(APT_UPDATE_ALONE, instruction,
                          "apt-get update without apt-get install in the same RUN; "
                          "use RUN apt-get update && apt-get install -y ...", at="update")


def apt_install_rules(instructions):
    """no-install-recommends (DL3015), apt-unpinned (DL3008), apt-no-yes (DL3014)."""
    recommends_off = set()     # stages where an apt.conf snippet turned recommends off
    for instruction in instructions:
        if instruction.keyword != "RUN":
            continue
        command = instruction.command
        if re.search(r"Install-Recommends\s*\"?\s*(?:false|0)", command, re.I) and "apt.conf" in command:
            recommends_off.add(instruction.stage)
        for words in apt_installs(command):
            text = " ".join(words)
            if "--no-install-recommends" not in words and instruction.stage not in recommends_off \
                    and not re.search(r"Install-Recommends=(?:false|0|no)", text, re.I):
                yield finding(NO_INSTALL_RECOMMENDS, instruction,
                              f"{program_of(words)} install without --no-install-recommends pulls in recommended "
                              f"packages; add --no-install-recommends", at="install")
            if not any(_answers_yes(word) for word in words) and "Assume-Yes=true" not in text:
                yield finding(APT_NO_YES, instruction,
                              f"{program_of(words)} install without -y waits for a confirmation the build cannot "
                              f"give; add -y", at="install")
            unpinned = [p for p in _apt_packages(words)
                        if "=" not in p and "/" not in p and not p.endswith(".deb") and "$" not in p]
            if unpinned:
                yield finding(APT_UNPINNED, instruction,
                              f"apt packages without a version: {', '.join(unpinned)}; pin them "
                              f"(e.g. {unpinned[0]}=VERSION, see apt-cache policy {unpinned[0]})", at=unpinned[0])


CHECKS = (apt_update_alone, apt_install_rules)


def apt_installs(command: str) -> list[list[str]]:
    """Each `apt-get install ...` / `apt install ...` in COMMAND, as its words."""
    found = []
    for words in shell_commands(command):
        words = without_sudo(words)
        if program_of(words) in ("apt-get", "apt") and "install" in words[1:]:
            found.append(words)
    return found


_APT_OPTIONS_WITH_VALUE = {"-o", "--option", "-t", "--target-release", "--default-release", "-c", "--config-file"}


def _apt_packages(words: list[str]) -> list[str]:
    """The packages of an install: the operands after `install`."""
    words = operands(words[1:], _APT_OPTIONS_WITH_VALUE)
    return words[words.index("install") + 1:] if "install" in words else []


def _answers_yes(word: str) -> bool:
    return word in ("--yes", "--assume-yes") or bool(re.fullmatch(r"-[a-zA-Z]*y[a-zA-Z]*", word))
