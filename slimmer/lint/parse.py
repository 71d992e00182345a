"""Reading a Dockerfile into instructions (parse_dockerfile).

  1. parser directives (`# syntax=`, `# escape=`) are honoured at the top only;
  2. continuation lines are joined; comment lines inside a continuation are
     dropped; a file that ends inside a continuation is a parse error;
  3. heredocs (`RUN <<EOF ... EOF`, `COPY <<EOF /dest`) are folded into their
     instruction: the body of a heredoc fed to a shell is the RUN's command,
     any other body (a file for COPY, a script for python3) is data;
  4. an unknown instruction (`FROMM`), an instruction without arguments, an
     unterminated heredoc and anything but ARG before the first FROM are
     parse errors (DockerfileError, exit code 2), never "no findings";
  5. `# hadolint ignore=DL3008,DL3015`, `# slim ignore=RULE` or
     `# slim-lint ignore=RULE` on the comment lines right above an instruction
     silence those rules for it; `# hadolint global ignore=...` (and the slim
     forms) silence them for the file.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass

from ..errors import BadInput
from .shelltext import split_words

LAYER_MAKING = ("RUN", "COPY", "ADD")
INSTRUCTIONS = ("FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL")


class DockerfileError(BadInput):
    """The Dockerfile cannot be parsed (exit code 2), with the line and column of the problem."""

    def __init__(self, path: str, line: int, column: int, what: str, hint: str):
        self.path, self.line, self.column = path, line, column
        super().__init__(f"{path}:{line}:{column}: {what}", None, hint)


@dataclass(frozen=True)
class Instruction:
    line: int                  # first line of the instruction, 1-based
    keyword: str               # upper case: RUN, COPY, FROM ...
    args: str                  # the text after the keyword, continuation lines joined
    stage: int                 # 0-based build stage (one per FROM); -1 for ARGs before the first FROM
    exec_form: bool            # RUN/CMD/ENTRYPOINT written as a JSON array
    column: int = 1            # column of the keyword
    source: tuple[str, ...] = ()              # the raw lines, continuation and heredoc lines included
    heredocs: tuple[tuple[str, str], ...] = ()   # (delimiter, body) in order
    ignores: frozenset = frozenset()          # rule ids/codes silenced by the comment above

    @property
    def flags(self) -> list[str]:
        """Leading --flags (--from=build, --mount=type=cache,...)."""
        found = []
        text = self.args
        while text.startswith("--"):
            flag, _, text = text.partition(" ")
            found.append(flag)
            text = text.lstrip()
        return found

    def flag(self, name: str) -> str | None:
        for item in self.flags:
            key, eq, value = item[2:].partition("=")
            if key == name:
                return value if eq else ""
        return None

    @property
    def body(self) -> str:
        """args without the leading --flags."""
        text = self.args
        while text.startswith("--"):
            _, _, text = text.partition(" ")
            text = text.lstrip()
        return text

    @property
    def command(self) -> str:
        """The shell text of a RUN: exec form joined with spaces, flags stripped, shell heredocs folded in."""
        if self.exec_form:
            try:
                return " ".join(str(word) for word in json.loads(self.args))
            except ValueError:
                return self.args
        text = self.body
        if not self.heredocs:
            return text
        bodies = []
        for match in HEREDOC.finditer(text):
            prefix = text[:match.start()].strip()
            if _feeds_shell(prefix):
                bodies.append(dict(self.heredocs).get(match.group(3), ""))
        if not bodies:
            return text
        return "\n".join(bodies)


HEREDOC = re.compile(r"<<(-?)\s*([\"']?)([A-Za-z_][\w.-]*)\2")
_SHELLS = re.compile(r"^(?:(?:/usr)?/bin/)?(?:ba|da|z|k|a)?sh(?:\s+-[-\w]+)*$")


def _feeds_shell(prefix: str) -> bool:
    """True when the heredoc after PREFIX is a shell script: `RUN <<EOF` or `RUN bash -e <<EOF`."""
    return prefix == "" or _SHELLS.match(prefix) is not None


_DIRECTIVE = re.compile(r"#\s*([A-Za-z][\w-]*)\s*=\s*(\S+)")
_PRAGMA = re.compile(r"#\s*(?:hadolint|slim|slim-lint)\s+(global\s+)?ignore\s*=\s*([\w,\s-]+)", re.I)


def rule_key(name: str) -> str:
    """How a rule is named in an ignore: hadolint/shellcheck codes upper case (DL3008), ids lower case."""
    name = name.strip()
    return name.upper() if re.fullmatch(r"(?i)(?:DL|SC)\d{4}", name) else name.lower()


def parse_dockerfile(text: str, path: str = "Dockerfile") -> list[Instruction]:
    """Instructions with their line, column and stage; see the module docstring for the rules."""
    return parse_with_ignores(text, path)[0]


def parse_with_ignores(text: str, path: str) -> tuple[list[Instruction], frozenset]:
    """The instructions and the rules the file's global ignore comments silence (rule 5)."""
    escape = "\\"
    lines = text.splitlines()
    for raw in lines:                               # parser directives come first
        directive = _DIRECTIVE.fullmatch(raw.strip())
        if not directive:
            break
        if directive.group(1).lower() == "escape":
            escape = directive.group(2)[0]
    instructions: list[Instruction] = []
    global_ignores: set[str] = set()
    pragma: set[str] = set()
    stage = -1
    number = 0
    while number < len(lines):
        raw = lines[number]
        stripped = raw.strip()
        if not stripped:
            pragma = set()
            number += 1
            continue
        if stripped.startswith("#"):
            found = _PRAGMA.match(stripped)
            if found:
                names = {rule_key(name) for name in re.split(r"[,\s]+", found.group(2)) if name.strip()}
                (global_ignores if found.group(1) else pragma).update(names)
            number += 1
            continue
        start, column = number + 1, len(raw) - len(raw.lstrip()) + 1
        parts: list[str] = []
        source: list[str] = []
        while True:
            body = lines[number].rstrip()
            source.append(lines[number])
            number += 1
            if body.endswith(escape):
                parts.append(body[:-1])
                while number < len(lines) and (not lines[number].strip() or lines[number].strip().startswith("#")):
                    source.append(lines[number])
                    number += 1
                if number >= len(lines):
                    raise DockerfileError(path, start, column, "the file ends inside a line continuation",
                                          f"remove the trailing {escape} from the last instruction")
                continue
            parts.append(body)
            break
        joined = " ".join(part.strip() for part in parts if part.strip())
        word, _, args = joined.partition(" ")
        keyword = word.upper()
        args = args.strip()
        _check_keyword(path, start, column, word, args)
        heredocs: list[tuple[str, str]] = []
        inner = args.partition(" ")[2] if keyword == "ONBUILD" else args
        if keyword in LAYER_MAKING or (keyword == "ONBUILD" and args.split(" ", 1)[0].upper() in LAYER_MAKING):
            for match in HEREDOC.finditer(inner):
                delimiter, strip_tabs = match.group(3), match.group(1) == "-"
                body_lines = []
                while True:
                    if number >= len(lines):
                        raise DockerfileError(path, start, column,
                                              f"heredoc <<{delimiter} is not terminated",
                                              f"end it with a line holding only {delimiter}")
                    line = lines[number]
                    source.append(line)
                    number += 1
                    candidate = line.lstrip("\t") if strip_tabs else line
                    if candidate.rstrip() == delimiter:
                        break
                    body_lines.append(candidate)
                heredocs.append((delimiter, "\n".join(body_lines)))
        if keyword == "FROM":
            stage += 1
        elif stage < 0 and keyword != "ARG":
            raise DockerfileError(path, start, column, f"{keyword} before the first FROM",
                                  "only ARG may come before FROM; start the file with FROM image:tag")
        form = re.sub(r"^(?:--\S+\s+)*", "", args)
        instructions.append(Instruction(
            start, keyword, args, stage, exec_form=form.startswith("[") and form.endswith("]"), column=column,
            source=tuple(source), heredocs=tuple(heredocs), ignores=frozenset(pragma)))
        pragma = set()
    return instructions, frozenset(global_ignores)


def _check_keyword(path: str, line: int, column: int, word: str, args: str) -> None:
    keyword = word.upper()
    if keyword not in INSTRUCTIONS:
        close = difflib.get_close_matches(keyword, INSTRUCTIONS, n=1)
        raise DockerfileError(path, line, column, f"unknown instruction {word}",
                              f"did you mean {close[0]}?" if close else
                              f"instructions are {', '.join(INSTRUCTIONS)}")
    if not args:
        raise DockerfileError(path, line, column, f"{keyword} needs arguments",
                              f"e.g. {keyword} {_EXAMPLES.get(keyword, '...')}")
    if keyword == "ONBUILD":
        inner = args.split(" ", 1)
        _check_keyword(path, line, column + len(word) + 1, inner[0], inner[1] if len(inner) > 1 else "")


_EXAMPLES = {"FROM": "debian:bookworm-slim", "RUN": "make", "COPY": "src /app/", "WORKDIR": "/app",
             "USER": "app", "CMD": '["app"]', "ENTRYPOINT": '["app"]', "EXPOSE": "8080"}


# --- reading an instruction's arguments -------------------------------------------------------------

def sources(instruction: Instruction) -> list[str]:
    """Source arguments of COPY/ADD (destination and flags dropped)."""
    body = instruction.body
    if body.startswith("["):
        try:
            return [str(w) for w in json.loads(body)][:-1]
        except ValueError:
            pass
    return split_words(body)[:-1]


def assignments(args: str, arg: bool = False) -> list[tuple[str, str | None]]:
    """ENV/ARG pairs: `A=1 B="x y"`, legacy `ENV A some value`, `ARG NAME` (value None)."""
    words = split_words(args)
    if not words:
        return []
    if not arg and "=" not in words[0]:
        name, _, value = args.partition(" ")
        return [(name, value.strip())]
    pairs = []
    for word in words:
        name, eq, value = word.partition("=")
        pairs.append((name, value if eq else None))
    return pairs


def final_stage(instructions) -> int:
    return max((i.stage for i in instructions), default=0)
