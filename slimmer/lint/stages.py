"""FROM and build-stage rules.

  unpinned-from          DL3006/DL3007: a base image without a tag, or :latest (global ARG
                         defaults substituted; scratch, stage names and digests are fine)
  toolchain-final-stage  the final stage (following FROM <stage> chains) is a compiler/SDK image
  unknown-from-stage     DL3022: COPY --from=NAME names no stage defined above (an image reference
                         with : / or @ is fine)
  copy-from-own-stage    DL3023: COPY --from= the stage it is in
  duplicate-stage-name   DL3024: two stages named alike (names compare case-insensitively)
  untrusted-registry     DL3026: a base image from a registry the configuration does not trust
                         (only with trustedRegistries in the lint configuration, config.py)
"""
from __future__ import annotations

import difflib
import fnmatch
import re

from .parse import Instruction, assignments
from .rule import Rule, finding
from .shelltext import split_words

UNPINNED_FROM = Rule(
    "unpinned-from", ("DL3006", "DL3007"), "warning",
    "an unpinned base image changes under you; builds stop being reproducible",
    "FROM image:1.2 or FROM image@sha256:...")
TOOLCHAIN_FINAL_STAGE = Rule(
    "toolchain-final-stage", (), "warning",
    "the final image ships a compiler toolchain (hundreds of MB) the app does not need at run time",
    "build in a toolchain stage (FROM golang:1.22 AS build) and COPY --from=build the result into a "
    "runtime image (a -slim, -jre, distroless or scratch base)")
UNKNOWN_FROM_STAGE = Rule(
    "unknown-from-stage", ("DL3022",), "warning",
    "COPY --from names no earlier stage: it is pulled as an image of that name (a typo builds against "
    "whatever that image is) or the build fails",
    "name a stage defined above (FROM ... AS build), a smaller stage index, or a full image reference "
    "(image:tag)")
COPY_FROM_OWN_STAGE = Rule(
    "copy-from-own-stage", ("DL3023",), "error",
    "a stage cannot copy from itself",
    "copy from an earlier stage")
DUPLICATE_STAGE_NAME = Rule(
    "duplicate-stage-name", ("DL3024",), "error",
    "two stages with one name: --from and --target pick one of them silently",
    "give every stage its own name")
UNTRUSTED_REGISTRY = Rule(
    "untrusted-registry", ("DL3026",), "error",
    "a base image from a registry outside the trusted list (trustedRegistries in the lint configuration)",
    "pull the image through a trusted registry, or add its registry to trustedRegistries")
RULES = (UNPINNED_FROM, TOOLCHAIN_FINAL_STAGE, UNKNOWN_FROM_STAGE, COPY_FROM_OWN_STAGE, DUPLICATE_STAGE_NAME,
         UNTRUSTED_REGISTRY)


# --- reading the stages ------------------------------------------------------------------------------

def stage_name(instruction: Instruction) -> str | None:
    """'FROM python:3.12 AS build' -> 'build' (as written); None for a stage without a name."""
    match = re.search(r"\s+AS\s+(\S+)\s*$", instruction.body, re.I)
    return match.group(1) if match else None


def stage_names(instructions) -> dict[str, int]:
    """Stage name (lower case) -> the first stage of that name."""
    names = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            name = stage_name(instruction)
            if name:
                names.setdefault(name.lower(), instruction.stage)
    return names


def from_images(instructions) -> dict[int, str]:
    """Stage -> its base image reference, with global ARG defaults substituted ("" when unknown)."""
    defaults: dict[str, str] = {}
    images = {}
    for instruction in instructions:
        if instruction.keyword == "ARG" and instruction.stage < 0:
            for name, value in assignments(instruction.args, arg=True):
                if value is not None:
                    defaults[name] = value
        elif instruction.keyword == "FROM":
            words = split_words(instruction.body)
            image = words[0] if words else ""

            def substitute(match):
                name = match.group(1) or match.group(2)
                return defaults.get(name, match.group(0))
            images[instruction.stage] = re.sub(r"\$\{(\w+)\}|\$(\w+)", substitute, image)
    return images


# --- the rules ----------------------------------------------------------------------------------------

def unpinned_from(instructions):
    names = stage_names(instructions)
    images = from_images(instructions)
    for instruction in instructions:
        if instruction.keyword != "FROM":
            continue
        image = images.get(instruction.stage, "")
        if not image or image.lower() == "scratch" or image.lower() in names or "$" in image \
                or "@sha256:" in image:
            continue
        written = (split_words(instruction.body) or [image])[0]
        last = image.rsplit("/", 1)[-1]
        if ":" not in last:
            yield finding(UNPINNED_FROM, instruction,
                          f"FROM {image} has no tag (means :latest); pin a version, e.g. {image}:1.2 or a digest",
                          at=written, code="DL3006")
        elif last.endswith(":latest"):
            yield finding(UNPINNED_FROM, instruction,
                          f"FROM {image} uses :latest; pin a version or a digest", at=written, code="DL3007")


# image (last path component) -> tags that are NOT a toolchain (None: every tag is one)
_TOOLCHAIN_IMAGES: dict[str, re.Pattern | None] = {
    "gcc": None, "golang": None, "rust": None, "maven": None, "gradle": None, "buildpack-deps": None,
    "sbt": None, "haskell": None, "swift": None, "sdk": None,     # mcr.microsoft.com/dotnet/sdk
    "openjdk": re.compile(r"jre"), "eclipse-temurin": re.compile(r"jre"),
    "node": re.compile(r"slim|alpine"), "python": re.compile(r"slim|alpine"), "ruby": re.compile(r"slim|alpine"),
}


def toolchain_image(image: str) -> str | None:
    """'golang:1.22' -> 'golang'; 'node:20' -> 'node' (full variant, build tools); 'node:20-slim' -> None."""
    if not image or "$" in image:
        return None
    image = image.split("@", 1)[0]
    repository, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    name = repository.rsplit("/", 1)[-1].lower()
    if name == "sdk" and "dotnet" not in repository:
        return None
    if name not in _TOOLCHAIN_IMAGES:
        return None
    runtime_tags = _TOOLCHAIN_IMAGES[name]
    if runtime_tags is not None and runtime_tags.search(tag or ""):
        return None
    return repository.rsplit("/", 2)[-2] + "/" + name if name == "sdk" else name


def toolchain_final_stage(instructions):
    froms = {i.stage: i for i in instructions if i.keyword == "FROM"}
    if not froms:
        return
    images = from_images(instructions)
    names = stage_names(instructions)
    final = max(froms)
    stage = final
    seen = set()
    while images.get(stage, "").lower() in names and stage not in seen:   # FROM build: follow the chain
        seen.add(stage)
        stage = names[images[stage].lower()]
    toolchain = toolchain_image(images.get(stage, ""))
    if toolchain:
        single = len(froms) == 1
        yield finding(TOOLCHAIN_FINAL_STAGE, froms[final],
                      f"the final stage runs on {images[stage]}, a {toolchain} build toolchain image"
                      f"{' and the file has no build stage' if single else ''}; build in a stage and copy the "
                      f"result into a runtime base (-slim, -jre, distroless, scratch)",
                      at=(split_words(froms[final].body) or [None])[0])


def copy_from(instructions):
    """unknown-from-stage (DL3022), copy-from-own-stage (DL3023)."""
    names: dict[str, int] = {}     # the stages defined so far
    for instruction in instructions:
        if instruction.keyword == "FROM":
            name = stage_name(instruction)
            if name:
                names.setdefault(name.lower(), instruction.stage)
            continue
        if instruction.keyword not in ("COPY", "ADD"):
            continue
        source = instruction.flag("from")
        if not source or "$" in source:
            continue
        key = source.lower()
        if key.isdigit():
            if int(key) < instruction.stage:
                continue
            if int(key) == instruction.stage:
                yield finding(COPY_FROM_OWN_STAGE, instruction,
                              f"COPY --from={source} is this stage itself", at=f"--from={source}")
            else:
                yield finding(UNKNOWN_FROM_STAGE, instruction,
                              f"COPY --from={source}: stage {source} is not defined before this line",
                              at=f"--from={source}")
            continue
        if key in names:
            if names[key] == instruction.stage:
                yield finding(COPY_FROM_OWN_STAGE, instruction,
                              f"COPY --from={source} names the stage it is in", at=f"--from={source}")
            continue
        if re.search(r"[:/@]", source):
            continue                  # an image reference: alpine:3.19, ghcr.io/org/tool
        later = key in stage_names(instructions)
        close = difflib.get_close_matches(key, list(names), n=1)
        hint = " (it is defined later: move that stage up)" if later else \
            (f" (did you mean --from={close[0]}?)" if close else "")
        yield finding(UNKNOWN_FROM_STAGE, instruction,
                      f"COPY --from={source} names no stage defined above{hint}; without a tag it is pulled "
                      f"as the image {source}:latest", at=f"--from={source}")


def duplicate_stage_names(instructions):
    seen: dict[str, int] = {}
    for instruction in instructions:
        if instruction.keyword != "FROM":
            continue
        name = stage_name(instruction)
        if not name:
            continue
        if name.lower() in seen:
            yield finding(DUPLICATE_STAGE_NAME, instruction,
                          f"stage name {name} is already used at line {seen[name.lower()]}",
                          at=re.compile(r"(?<=\s)" + re.escape(name) + r"\s*$"))
        else:
            seen[name.lower()] = instruction.line


def untrusted_registry(instructions, trusted):
    """DL3026 (run by the runner only when the configuration lists trusted registries): TRUSTED
    are registry names or shell patterns (*.corp.example); an image with no registry is docker.io's."""
    from .config import registry_of
    names = stage_names(instructions)
    images = from_images(instructions)
    patterns = [pattern.lower() for pattern in trusted]
    for instruction in instructions:
        if instruction.keyword != "FROM":
            continue
        image = images.get(instruction.stage, "")
        if not image or image.lower() == "scratch" or image.lower() in names or "$" in image:
            continue
        registry = registry_of(image)
        if not any(fnmatch.fnmatchcase(registry, pattern) for pattern in patterns):
            yield finding(UNTRUSTED_REGISTRY, instruction,
                          f"FROM {image} comes from {registry}, which is not a trusted registry "
                          f"({', '.join(trusted)})", at=(split_words(instruction.body) or [None])[0])


CHECKS = (unpinned_from, toolchain_final_stage, copy_from, duplicate_stage_names)
