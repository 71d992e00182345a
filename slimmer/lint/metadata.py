"""Rules on the image's metadata instructions: USER, CMD/ENTRYPOINT, MAINTAINER, EXPOSE, WORKDIR.

  no-user           DL3002: the final stage has no USER, or its last USER is root (DL3002 is
                    hadolint's code for the explicit root USER only)
  shell-form-cmd    DL3025: CMD/ENTRYPOINT in shell form (the app is not PID 1)
  maintainer        DL4000: MAINTAINER is deprecated
  invalid-expose    DL3011: EXPOSE of something that is not a port or port range in 0-65535
  relative-workdir  DL3000: WORKDIR with a relative path
"""
from __future__ import annotations

import json
import re
from dataclasses import replace

from .rule import Rule, finding
from .shelltext import split_words

NO_USER = Rule(
    "no-user", ("DL3002",), "warning",
    "the container runs as root",
    "RUN useradd -r app (or use a numeric uid) and USER app in the final stage")
SHELL_FORM_CMD = Rule(
    "shell-form-cmd", ("DL3025",), "warning",
    "shell form runs the command under /bin/sh -c: the app is not PID 1 and never gets SIGTERM",
    'CMD ["executable", "arg"] (exec form, a JSON array)')
MAINTAINER = Rule(
    "maintainer", ("DL4000",), "error",
    "MAINTAINER is deprecated",
    'LABEL org.opencontainers.image.authors="name <mail>"')
INVALID_EXPOSE = Rule(
    "invalid-expose", ("DL3011",), "error",
    "a port outside 0-65535 (or not a number) cannot be exposed",
    "EXPOSE 8080 or EXPOSE 8080/tcp")
RELATIVE_WORKDIR = Rule(
    "relative-workdir", ("DL3000",), "error",
    "a relative WORKDIR depends on every WORKDIR before it, including the base image's",
    "WORKDIR /app (an absolute path)")
RULES = (NO_USER, SHELL_FORM_CMD, MAINTAINER, INVALID_EXPOSE, RELATIVE_WORKDIR)


def no_user(instructions):
    froms = [i for i in instructions if i.keyword == "FROM"]
    if not froms:
        return
    final_stage = froms[-1].stage
    users = [i for i in instructions if i.keyword == "USER" and i.stage == final_stage]
    if not users:
        missing = finding(NO_USER, froms[-1],
                          "the final stage has no USER; add e.g. RUN useradd -r app and USER app")
        yield replace(missing, code=None)    # hadolint's DL3002 only fires on an explicit root USER
    elif users[-1].args.split(":")[0].strip() in ("root", "0"):
        yield finding(NO_USER, users[-1], f"the final stage runs as {users[-1].args}; switch to a non-root USER")


def shell_form_cmd(instructions):
    for instruction in instructions:
        if instruction.keyword in ("CMD", "ENTRYPOINT") and not instruction.exec_form:
            yield finding(SHELL_FORM_CMD, instruction,
                          f"{instruction.keyword} in shell form runs under /bin/sh -c, so the app is not PID 1 "
                          f"and gets no SIGTERM; write {instruction.keyword} {_exec_form(instruction.args)}")


def _exec_form(args: str) -> str:
    return json.dumps(split_words(args))


def maintainer(instructions):
    for instruction in instructions:
        if instruction.keyword == "MAINTAINER":
            yield finding(MAINTAINER, instruction,
                          "MAINTAINER is deprecated; use LABEL org.opencontainers.image.authors=\"...\"")


def invalid_expose(instructions):
    for instruction in instructions:
        if instruction.keyword != "EXPOSE":
            continue
        for spec in instruction.args.split():
            if "$" in spec:
                continue
            match = re.fullmatch(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?", spec, re.I)
            ports = [int(p) for p in match.groups()[:2] if p] if match else []
            if not match or any(port > 65535 for port in ports) or (len(ports) == 2 and ports[0] > ports[1]):
                yield finding(INVALID_EXPOSE, instruction,
                              f"EXPOSE {spec}: not a port or port range in 0-65535 with /tcp, /udp or /sctp",
                              at=spec)


def relative_workdir(instructions):
    for instruction in instructions:
        if instruction.keyword != "WORKDIR":
            continue
        path = instruction.args.strip().strip("\"'")
        if path.startswith(("/", "$")) or re.match(r"[A-Za-z]:[\\/]", path):
            continue
        yield finding(RELATIVE_WORKDIR, instruction,
                      f"WORKDIR {path} is relative; use an absolute path", at=instruction.args.strip())


CHECKS = (no_user, shell_form_cmd, maintainer, invalid_expose, relative_workdir)
