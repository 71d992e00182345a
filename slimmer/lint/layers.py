"""Layer and build-cache rules: what slimmer is about.

  copy-before-install    COPY of the whole context (., ./, *) before a dependency install in the
                         same stage: every code change busts the install's cache
  remove-in-later-layer  `rm` of a path an earlier RUN/COPY/ADD of the same stage added (a cache
                         mount adds nothing; a RUN that removes what it made adds nothing)
  consecutive-runs       DL3059: adjacent RUNs of one package manager, or a RUN that only cleans up
  outside-state          what the build cache cannot see change: curl | sh, package upgrades,
                         git clone without a tag or commit
"""
from __future__ import annotations

import re

from .apt import APT_INSTALL, APT_UPDATE
from .parse import LAYER_MAKING, Instruction, sources
from .rule import Rule, finding
from .shelltext import split_segments, split_words

COPY_BEFORE_INSTALL = Rule(
    "copy-before-install", (), "warning",
    "every code change busts the cache of the dependency install that follows",
    "copy the dependency manifests first (COPY requirements.txt .), install, then COPY . .")
REMOVE_IN_LATER_LAYER = Rule(
    "remove-in-later-layer", (), "warning",
    "layers are diffs: deleting in a later layer does not take the bytes back",
    "delete the files in the RUN that created them")
CONSECUTIVE_RUNS = Rule(
    "consecutive-runs", ("DL3059",), "info",
    "steps that belong together should share one layer, so cleanup takes bytes back",
    "join the RUNs with &&")
OUTSIDE_STATE = Rule(
    "outside-state", (), "warning",
    "the build cache does not notice when the outside world changes",
    "download a pinned version and verify its checksum; clone a tag or commit; rebuild the base image "
    "instead of upgrading packages")
RULES = (COPY_BEFORE_INSTALL, REMOVE_IN_LATER_LAYER, CONSECUTIVE_RUNS, OUTSIDE_STATE)

INSTALLERS = re.compile(
    r"\b(pip3?\s+install|python3?\s+-m\s+pip\s+install|npm\s+(?:install|ci|i)\b|yarn(?:\s+install)?\b|"
    r"pnpm\s+install|bundle\s+install|composer\s+install|go\s+mod\s+download|mvn\b|gradle\b|cargo\s+build|"
    r"poetry\s+install|pipenv\s+install)")
MANAGERS = {"apt": re.compile(r"\bapt(?:-get)?\b"), "apk": re.compile(r"\bapk\b"),
            "yum/dnf": re.compile(r"\b(?:yum|dnf|microdnf)\b"), "pip": re.compile(r"\bpip3?\b"),
            "npm": re.compile(r"\bnpm\b")}
CLEANUP = re.compile(r"^\s*(?:rm\b|apt-get\s+(?:clean|autoremove|purge)|apk\s+del|yum\s+clean|dnf\s+clean|"
                     r"npm\s+cache\s+clean|pip3?\s+cache\s+purge)")
# what a command leaves behind, for remove-in-later-layer
CREATES = ((APT_UPDATE, "/var/lib/apt/lists"), (APT_INSTALL, "/var/cache/apt"),
           (re.compile(r"\bpip3?\s+install"), "/root/.cache/pip"), (re.compile(r"\bnpm\s+(?:install|ci)"), "/root/.npm"))


def copy_before_install(instructions):
    copied: dict[int, Instruction] = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            continue
        if _copies_whole_context(instruction):
            copied.setdefault(instruction.stage, instruction)
        elif instruction.keyword == "RUN" and instruction.stage in copied:
            match = INSTALLERS.search(instruction.command)
            if match:
                copy = copied.pop(instruction.stage)
                yield finding(COPY_BEFORE_INSTALL, copy,
                              f"line {copy.line} copies the whole build context before the dependency install "
                              f"at line {instruction.line} ({match.group(0).strip()}); copy the dependency "
                              f"manifests first, install, then copy the rest")


def _copies_whole_context(instruction: Instruction) -> bool:
    if instruction.keyword not in ("COPY", "ADD") or instruction.flag("from") is not None:
        return False
    return any(source in (".", "./", "*", "./*") for source in sources(instruction))


def remove_in_later_layer(instructions):
    for position, instruction in enumerate(instructions):
        if instruction.keyword != "RUN":
            continue
        for removed in _removed_paths(instruction.command):
            stem = _stem(removed)
            if stem in ("/", "") or not stem.startswith("/"):
                continue
            for earlier in reversed(instructions[:position]):
                if earlier.stage != instruction.stage:
                    break
                if earlier.keyword not in LAYER_MAKING or earlier is instruction:
                    continue
                if _adds(earlier, stem):
                    yield finding(REMOVE_IN_LATER_LAYER, instruction,
                                  f"{removed} is removed here, but line {earlier.line} ({earlier.keyword}) added it "
                                  f"in an earlier layer; remove it in that same step", at=removed)
                    break


def _removed_paths(command: str) -> list[str]:
    paths = []
    for segment in split_segments(command):
        words = split_words(segment)
        if words and words[0] == "rm":
            paths.extend(w for w in words[1:] if not w.startswith("-"))
    return paths


def _stem(path: str) -> str:
    """'/var/lib/apt/lists/*' -> '/var/lib/apt/lists'; '/tmp/x.tgz' stays."""
    return re.sub(r"/?\*.*$", "", path).rstrip("/") or "/"


def _adds(instruction: Instruction, stem: str) -> bool:
    if instruction.keyword == "RUN":
        if "type=cache" in instruction.args and any(
                f"target={stem}" in flag or stem.startswith(_mount_target(flag) + "/")
                for flag in instruction.flags if "type=cache" in flag):
            return False          # a cache mount: nothing lands in the layer
        command = instruction.command
        if any(p.search(command) and (path == stem or path.startswith(stem + "/") or stem.startswith(path + "/"))
               for p, path in CREATES):
            return True
        if stem in _removed_paths(command) or any(_stem(r) == stem for r in _removed_paths(command)):
            return False          # the same RUN removes it: not an add
        return re.search(re.escape(stem) + r"(?![\w.-])", command) is not None
    words = split_words(instruction.body)
    destination = words[-1].rstrip("/") if words else ""
    return bool(destination) and (stem == destination or stem.startswith(destination + "/"))


def _mount_target(flag: str) -> str:
    match = re.search(r"(?:target|dst|destination)=([^,]+)", flag)
    return match.group(1).rstrip("/") if match else "\0"


def consecutive_runs(instructions):
    for previous, current in zip(instructions, instructions[1:]):
        if previous.keyword != "RUN" or current.keyword != "RUN" or previous.stage != current.stage:
            continue
        shared = _managers(previous.command) & _managers(current.command)
        cleanup = all(CLEANUP.match(seg) for seg in split_segments(current.command))
        if shared:
            yield finding(CONSECUTIVE_RUNS, current,
                          f"RUN at line {previous.line} and RUN at line {current.line} both use "
                          f"{', '.join(sorted(shared))}; join them with && into one RUN")
        elif cleanup:
            yield finding(CONSECUTIVE_RUNS, current,
                          f"the cleanup RUN at line {current.line} belongs in the RUN at line {previous.line}; "
                          f"join them with && so the bytes never reach a layer")


def _managers(command: str) -> set[str]:
    return {name for name, pattern in MANAGERS.items() if pattern.search(command)}


def outside_state(instructions):
    for instruction in instructions:
        if instruction.keyword != "RUN":
            continue
        command = instruction.command
        pipe_to_shell = re.search(r"\b(?:curl|wget)\b[^|;&]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b", command)
        if pipe_to_shell:
            yield finding(OUTSIDE_STATE, instruction,
                          "pipes a download into a shell (curl | sh): the script can change without the cache "
                          "noticing; download a pinned version and verify its checksum",
                          at=re.compile(r"\b(?:curl|wget)\b"))
        upgrade = re.search(r"\bapt(?:-get)?\s+(?:-\S+\s+)*(?:dist-)?upgrade\b|\bapk\s+upgrade\b|"
                            r"\b(?:yum|dnf)\s+(?:-\S+\s+)*(?:update|upgrade)\s*(?:-y\s*)?(?:$|&&|;)", command)
        if upgrade:
            yield finding(OUTSIDE_STATE, instruction,
                          "upgrades packages in a cached layer: the result depends on when the cache was made; "
                          "rebuild the base image instead, or pin package versions",
                          at=re.compile(r"\b(?:dist-)?upgrade\b|\bupdate\b"))
        for segment in split_segments(command):
            words = split_words(segment)
            if len(words) >= 2 and words[0] == "git" and words[1] == "clone":
                pinned = any(w in ("-b", "--branch") or w.startswith("--branch=") for w in words) or \
                    re.search(r"git\s+(?:-C\s+\S+\s+)?(?:checkout|reset\s+--hard)\s+\S+", command)
                if not pinned:
                    yield finding(OUTSIDE_STATE, instruction,
                                  "git clone without a pinned ref: the cache keeps whatever the branch was; "
                                  "clone a tag (--branch v1.2) or check out a commit", at="clone")


CHECKS = (copy_before_install, remove_in_later_layer, consecutive_runs, outside_state)
