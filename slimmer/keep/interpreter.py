"""Rule "interpreter" (always on, reason `interpreter`): the shebang of a kept executable script.

`#!/usr/bin/env python3` keeps /usr/bin/env and python3 as found on the image
PATH; `#!/bin/sh -e` keeps /bin/sh. Only executable files: the kernel reads a
shebang only on execve, and a module that merely carries one (site-packages)
is read by an interpreter that is already traced. Nor a module of a Python
standard library that no traced process executed: Debian's tarfile.py,
base64.py, pdb.py are executable with `#! /usr/bin/env python3`, and an app
runs them as `python -m NAME` (python-venv: /usr/bin/env, 48 kB).
"""
from __future__ import annotations

import posixpath
import re

from ..model import FsEntry, KeepReason
from .imports import search_resolver
from .rule import Rule, Stage

_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


class InterpreterRule(Rule):
    """Keep the interpreter a kept executable script names (see the module docstring)."""

    name = "interpreter"
    stage = Stage.EACH
    reasons = (KeepReason.INTERPRETER,)
    cost = "the interpreters of the app's scripts"

    def each(self, path: str, entry: FsEntry) -> None:
        interpreter, argv = parse_shebang(entry.shebang or "")
        if not interpreter or not entry.mode & 0o111 or self.stdlib_module_not_executed(path):
            return
        self.keeper.keep(interpreter, KeepReason.INTERPRETER, path)
        if posixpath.basename(interpreter) == "env":
            command = env_command(argv)
            found = self.keeper.which(command) if command else None
            if found:
                self.keeper.keep(found, KeepReason.INTERPRETER, path)


    def stdlib_module_not_executed(self, path: str) -> bool:
        traced = self.keeper.trace.paths.get(path)
        if not path.endswith(".py") or (traced is not None and any(s.startswith("exec") for s in traced.syscalls)):
            return False
        return search_resolver(self.keeper).python_stdlib_module(path)


def parse_shebang(shebang: str) -> tuple[str | None, list[str]]:
    """The interpreter and its arguments, as Linux splits them: the first word,
    then the rest as ONE argument (split further only for `env -S`)."""
    line = shebang.strip()
    if line.startswith("#!"):
        line = line[2:].strip()
    if not line:
        return None, []
    parts = line.split(None, 1)
    return parts[0], ([parts[1].strip()] if len(parts) > 1 else [])


def env_command(argv: list[str]) -> str | None:
    """The command `/usr/bin/env ARGS` runs: the first word that is not an option or assignment."""
    words = argv[0].split() if argv else []
    for word in words:
        if word.startswith("-") or _ASSIGNMENT.match(word):
            continue
        return word
    return None
