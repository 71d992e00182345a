"""Reading the shell text of a RUN: good enough for Dockerfiles, not a shell parser.

  1. split_segments cuts at &&, ||, ;, | and newlines (quotes not respected:
     for finding `rm` and `git clone` steps);
  2. shell_commands gives the simple commands with quotes respected: words
     without operators, redirections, comments, leading `VAR=value`
     assignments and keywords like `then`;
  3. a `sudo ...` or `env A=1 ...` prefix is dropped where the program matters
     (without_sudo), and a program is named by its last path component.
"""
from __future__ import annotations

import re
import shlex
from typing import Iterator


def split_segments(command: str) -> list[str]:
    """Shell command split at &&, ||, ;, | and newlines (good enough for Dockerfile RUN lines)."""
    return [part.strip() for part in re.split(r"&&|\|\||;|\||\n", command) if part.strip()]


def split_words(segment: str) -> list[str]:
    try:
        return shlex.split(segment, comments=False)
    except ValueError:
        return segment.split()


_OPERATORS = {"&&", "||", ";", "|", "|&", "&", "(", ")", ";;", "{", "}"}
_PREFIXES = {"then", "do", "else", "elif", "if", "while", "until", "!", "time", "exec", "command", "nohup"}


def shell_tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.commenters = ""
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:               # unbalanced quotes: split by hand
        return re.findall(r"&&|\|\||[|;&()]|[^\s|;&()]+", line)


def shell_lines(command: str) -> Iterator[str]:
    """The lines of shell text, continuations joined, comment lines dropped."""
    for line in re.sub(r"\\\n", " ", command).split("\n"):
        if not line.strip().startswith("#"):
            yield line


def shell_commands(command: str) -> list[list[str]]:
    """The simple commands in shell text: words without operators, redirections, comments,
    leading `VAR=value` assignments and keywords like `then`; quotes respected."""
    commands: list[list[str]] = []
    for line in shell_lines(command):
        current: list[str] = []
        tokens = shell_tokens(line)
        skip_next = False
        for position, token in enumerate(tokens):
            if skip_next:
                skip_next = False
                continue
            if token in _OPERATORS:
                if current:
                    commands.append(current)
                current = []
                continue
            if re.fullmatch(r"[<>&]+", token) and any(c in token for c in "<>"):
                skip_next = True
                continue
            if token.isdigit() and position + 1 < len(tokens) and re.fullmatch(r"[<>&]+", tokens[position + 1]):
                continue             # the 2 of 2>/dev/null
            if not current and (token in _PREFIXES or re.fullmatch(r"[A-Za-z_]\w*=.*", token)):
                continue
            current.append(token)
        if current:
            commands.append(current)
    return commands


def without_sudo(words: list[str]) -> list[str]:
    if words and words[0] == "sudo":
        rest = words[1:]
        while rest and rest[0].startswith("-"):
            rest = rest[1:]
        return rest
    if words and words[0] == "env":
        rest = words[1:]
        while rest and (rest[0].startswith("-") or "=" in rest[0]):
            rest = rest[1:]
        return rest
    return words


def program_of(words: list[str]) -> str:
    return words[0].rsplit("/", 1)[-1] if words else ""


def operands(words: list[str], options_with_value: set[str]) -> list[str]:
    """WORDS without their options: `-x`, `--flag`, and the value after an option that takes one."""
    found, skip = [], False
    for word in words:
        if skip:
            skip = False
            continue
        if word in options_with_value:
            skip = True
            continue
        if word.startswith("-"):
            continue
        found.append(word)
    return found
