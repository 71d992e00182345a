"""cache-not-removed: a package manager's cache left in the layer of the RUN that made it.

One finding per package manager, each with its own hadolint code:
  apt   DL3009  install without rm -rf /var/lib/apt/lists/* in the same RUN
  pip   DL3042  install without --no-cache-dir, PIP_NO_CACHE_DIR, pip cache purge or rm of ~/.cache/pip
  npm   -       install/ci without npm cache clean or rm of ~/.npm
  yarn  DL3060  install without yarn cache clean
  apk   DL3019  add without --no-cache or /var/cache/apk
  yum   DL3032, dnf DL3040 (microdnf too): install without `clean all` or rm of /var/cache/yum|dnf
A RUN with a cache mount (--mount=type=cache) leaves no cache in its layer.
"""
from __future__ import annotations

import re

from .apt import APT_INSTALL
from .rule import Rule, finding

CACHE_NOT_REMOVED = Rule(
    "cache-not-removed", ("DL3009", "DL3042", "DL3019", "DL3032", "DL3040", "DL3060"), "warning",
    "cache files removed in a later RUN still ship in this layer",
    "remove the cache in the same RUN (rm -rf /var/lib/apt/lists/*, pip --no-cache-dir, apk --no-cache, "
    "yum clean all) or use RUN --mount=type=cache")
RULES = (CACHE_NOT_REMOVED,)


def cache_not_removed(instructions):
    """One finding per package manager whose cache stays in the layer (each has its own hadolint code)."""
    for instruction in instructions:
        if instruction.keyword != "RUN" or "type=cache" in instruction.args:
            continue
        command = instruction.command
        missing = []
        if APT_INSTALL.search(command) and not re.search(r"rm\s+(?:-\w+\s+)*/var/lib/apt/lists", command):
            missing.append(("DL3009", "install", "apt lists (add && rm -rf /var/lib/apt/lists/*)"))
        if re.search(r"\bpip3?\s+install|-m\s+pip\s+install", command) and "--no-cache-dir" not in command \
                and not re.search(r"rm\s+(?:-\w+\s+)*\S*\.cache/pip|pip3?\s+cache\s+purge", command) \
                and "PIP_NO_CACHE_DIR" not in command:
            missing.append(("DL3042", "install", "pip cache (use pip install --no-cache-dir)"))
        if re.search(r"\bnpm\s+(?:install|ci|i)\b", command) and not re.search(
                r"npm\s+cache\s+clean|rm\s+(?:-\w+\s+)*\S*\.npm", command):
            missing.append((None, "npm", "npm cache (add && npm cache clean --force)"))
        if re.search(r"\byarn(?:\s+install)?\s*(?:$|&&|;|--)", command) and "yarn cache clean" not in command:
            missing.append(("DL3060", "yarn", "yarn cache (add && yarn cache clean)"))
        if re.search(r"\bapk\s+(?:-\S+\s+)*add\b", command) and "--no-cache" not in command \
                and "/var/cache/apk" not in command:
            missing.append(("DL3019", "add", "apk cache (use apk add --no-cache)"))
        yum = re.search(r"\b(yum|dnf|microdnf)\s+(?:-\S+\s+)*install\b", command)
        if yum and not re.search(r"(?:yum|dnf|microdnf)\s+clean\s+all|rm\s+(?:-\w+\s+)*/var/cache/(?:yum|dnf)",
                                 command):
            missing.append(("DL3032" if yum.group(1) == "yum" else "DL3040", yum.group(1),
                            f"{yum.group(1)} cache (add && {yum.group(1)} clean all)"))
        for code, word, what in missing:
            yield finding(CACHE_NOT_REMOVED, instruction,
                          f"package cache not removed in the RUN that created it: {what}", at=word, code=code)


CHECKS = (cache_not_removed,)
