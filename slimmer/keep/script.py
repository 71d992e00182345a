"""Rule "script" (on by default, reason `script`): the commands a kept shell script runs.

Each kept shell script (sh, bash, dash, ash, ksh, zsh, busybox sh; directly or
through `env`) is read through `read_file`, and the words in command position
(line start, after ; & && || | ( ` $( and after then/do/else/...) that
resolve on the image PATH are kept with their ELF closure. A tokenizer, not a
parser: a word too many costs a file, a word missed costs a broken image, so
it errs towards keeping. The healthcheck's CMD-SHELL string is read the same
way (essential.py).
"""
from __future__ import annotations

import posixpath
import re
import shlex
from typing import TYPE_CHECKING, Iterable

from ..model import FsEntry, KeepReason
from .interpreter import env_command, parse_shebang
from .rule import Rule, Stage

if TYPE_CHECKING:
    from .core import Keeper

SHELLS = frozenset(("sh", "bash", "dash", "ash", "ksh", "mksh", "zsh", "busybox"))
_SHELL_WORDS = frozenset((
    # keywords and builtins: never looked up on PATH by a POSIX shell
    "if", "then", "else", "elif", "fi", "do", "done", "while", "until", "for", "in", "case", "esac",
    "function", "select", "!", "{", "}", "[[", "]]", "(", ")", ".", ":", "[", "alias", "bg", "break",
    "builtin", "cd", "continue", "declare", "echo", "eval", "exit", "export", "false", "fg", "getopts",
    "hash", "jobs", "kill", "let", "local", "printf", "pwd", "read", "readonly", "return", "set",
    "shift", "shopt", "source", "test", "times", "trap", "true", "type", "typeset", "ulimit", "umask",
    "unalias", "unset", "wait",
))
_COMMAND_PREFIXES = frozenset(("exec", "command", "nohup", "env", "nice", "time", "xargs", "then",
                               "do", "else", "elif", "if", "while", "until", "!", "{", "("))
_SEPARATORS = re.compile(r"\$\(|`|&&|\|\||[;&|()\n]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_COMMAND_WORD = re.compile(r"^[A-Za-z0-9_./+-][A-Za-z0-9_./+@:-]*$")
_CASE_PATTERN = re.compile(r"^\s*\(?[^\s()=$`'\"]+\)(?!\))")      # "  a|b) cmd ;;"
_HEREDOC = re.compile(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?")


class ScriptRule(Rule):
    """Keep the commands a kept shell script names (see the module docstring)."""

    name = "script"
    stage = Stage.EACH
    reasons = (KeepReason.SCRIPT,)
    default = True
    cost = "0-1.4 MB per sample app (batch-job's tail, wc, tr)"

    def each(self, path: str, entry: FsEntry) -> None:
        interpreter, argv = parse_shebang(entry.shebang or "")
        if not interpreter or shell_name(interpreter, argv) not in SHELLS:
            return
        data = self.keeper.content(path)
        if data is not None:
            keep_commands(self.keeper, script_commands(data.decode("utf-8", "replace")),
                          KeepReason.SCRIPT, path)


def keep_commands(keeper: Keeper, commands: Iterable[str], reason: KeepReason, because_of: str) -> None:
    """Keep each command found on the image PATH."""
    for command in commands:
        found = keeper.which(command)
        if found is not None:
            keeper.keep(found, reason, because_of)


def shell_name(interpreter: str, argv: list[str]) -> str:
    name = posixpath.basename(interpreter)
    if name == "env":
        return posixpath.basename(env_command(argv) or "")
    if name == "busybox" and argv:
        return argv[0].split()[0]
    return name


def script_commands(text: str) -> list[str]:
    """Words in command position of a shell script, in order, without duplicates."""
    commands: list[str] = []
    heredoc_end: str | None = None
    lines = []
    for line in text.splitlines():
        if heredoc_end is not None:
            if line.strip() == heredoc_end:
                heredoc_end = None
            continue
        match = _HEREDOC.search(line)
        if match:
            heredoc_end = match.group(1)
        lines.append(_CASE_PATTERN.sub("", _strip_comment(line)))
    for segment in _SEPARATORS.split("\n".join(lines)):
        try:
            words = shlex.split(segment, posix=True)
        except ValueError:
            words = segment.split()
        position = 0
        while position < len(words):
            word = words[position]
            if _ASSIGNMENT.match(word) or word in _COMMAND_PREFIXES or (
                    word.startswith("-") and position > 0 and words[position - 1] in ("env", "nice", "xargs",
                                                                                        "command", "exec")):
                position += 1
                continue
            break
        if position >= len(words):
            continue
        word = words[position]
        if word in _SHELL_WORDS or not _COMMAND_WORD.match(word) or word.endswith(")"):
            continue
        if word not in commands:
            commands.append(word)
    return commands


def _strip_comment(line: str) -> str:
    """Drop a `#` comment (a `#` at the start of a word, outside quotes)."""
    quote = None
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = None
        elif char in ("'", '"'):
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t;&|("):
            return line[:i]
    return line
