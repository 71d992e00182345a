"""pip-unpinned (DL3013): pip packages installed without a version.

Reads `pip install`, `python -m pip install` and `uv pip install` (behind sudo or env too).
Pinned enough: ==, ~=, <, >, @ or a $VAR in the requirement, a path, an archive or a wheel,
a URL; `-r file` installs are the file's business, and `-c constraints` pins everything.
The pip cache left in the layer is cache-not-removed (caches.py).
"""
from __future__ import annotations

import re

from .rule import Rule, finding
from .shelltext import operands, program_of, shell_commands, without_sudo

PIP_UNPINNED = Rule(
    "pip-unpinned", ("DL3013",), "warning",
    "an unpinned package installs whatever version PyPI has on the day of the build",
    "pip install flask==3.0.2, or pip install -r requirements.txt with pinned versions")
RULES = (PIP_UNPINNED,)

_PIP_OPTIONS_WITH_VALUE = {
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url", "--extra-index-url",
    "-f", "--find-links", "-t", "--target", "--prefix", "--root", "--trusted-host", "--platform",
    "--python-version", "--implementation", "--abi", "--src", "--progress-bar", "--cache-dir", "--log",
    "--proxy", "--timeout", "--retries", "--exists-action", "--cert", "--client-cert", "--global-option",
    "--install-option", "-C", "--config-settings", "--only-binary", "--no-binary", "--upgrade-strategy",
    "--python"}


def pip_unpinned(instructions):
    for instruction in instructions:
        if instruction.keyword != "RUN":
            continue
        for words in shell_commands(instruction.command):
            words = without_sudo(words)
            program = program_of(words)
            if program.startswith("python") and words[1:3] == ["-m", "pip"]:
                words = words[2:]
            elif program == "uv" and words[1:2] == ["pip"]:
                words = words[1:]
            elif not re.fullmatch(r"pip[\d.]*", program):
                continue
            if "install" not in words[1:2] or any(w in ("-c", "--constraint") or w.startswith("--constraint=")
                                                  for w in words):
                continue
            unpinned = [p for p in operands(words[2:], _PIP_OPTIONS_WITH_VALUE) if not _pip_pinned(p)]
            if unpinned:
                yield finding(PIP_UNPINNED, instruction,
                              f"pip packages without a version: {', '.join(unpinned)}; pin them "
                              f"(e.g. {unpinned[0].split('[')[0]}==VERSION) or install from a pinned "
                              f"requirements file", at=unpinned[0])


def _pip_pinned(requirement: str) -> bool:
    if "$" in requirement or re.search(r"==|~=|<|>|@|===", requirement):
        return True
    # a path, an archive, a wheel or a VCS/URL requirement names its own version
    return requirement.startswith((".", "/", "~")) or "://" in requirement or \
        requirement.endswith((".whl", ".tar.gz", ".zip", ".tgz"))


CHECKS = (pip_unpinned,)
