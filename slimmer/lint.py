"""`slim lint`: layer, cache and correctness mistakes in a Dockerfile (pure).

Every rule has slimmer's own id, hadolint's code where hadolint has the same
check, a severity (error > warning > info > style), a why and a fix; the RULES
table below is the catalogue (docs/LINT.md is written from it).

How a Dockerfile is read (parse_dockerfile):
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
With an image (`--image`), attach_image_figures adds xray's byte figures to the
findings of the final stage, matching its layer-making instructions to the
image's top layers.
"""
from __future__ import annotations

import difflib
import json
import re
import shlex
from dataclasses import dataclass, field, replace
from typing import Iterable, Sequence

from .errors import BadInput
from .xray import XrayReport, human_bytes

LAYER_MAKING = ("RUN", "COPY", "ADD")
INSTRUCTIONS = ("FROM", "RUN", "CMD", "LABEL", "MAINTAINER", "EXPOSE", "ENV", "ADD", "COPY", "ENTRYPOINT",
                "VOLUME", "USER", "WORKDIR", "ARG", "ONBUILD", "STOPSIGNAL", "HEALTHCHECK", "SHELL")
SEVERITIES = ("error", "warning", "info", "style")          # most severe first
THRESHOLDS = SEVERITIES + ("none",)


# --- the rule catalogue -------------------------------------------------------------------------

@dataclass(frozen=True)
class Rule:
    id: str
    codes: tuple[str, ...]     # hadolint codes that match this rule (some rules have one per package manager)
    severity: str
    why: str
    fix: str


RULES: dict[str, Rule] = {rule.id: rule for rule in (
    # layers and the build cache: what slimmer is about
    Rule("copy-before-install", (), "warning",
         "every code change busts the cache of the dependency install that follows",
         "copy the dependency manifests first (COPY requirements.txt .), install, then COPY . ."),
    Rule("apt-update-alone", (), "warning",
         "a cached update layer gives a later install stale package lists",
         "RUN apt-get update && apt-get install -y ... in one RUN"),
    Rule("cache-not-removed", ("DL3009", "DL3042", "DL3019", "DL3032", "DL3040", "DL3060"), "warning",
         "cache files removed in a later RUN still ship in this layer",
         "remove the cache in the same RUN (rm -rf /var/lib/apt/lists/*, pip --no-cache-dir, apk --no-cache, "
         "yum clean all) or use RUN --mount=type=cache"),
    Rule("remove-in-later-layer", (), "warning",
         "layers are diffs: deleting in a later layer does not take the bytes back",
         "delete the files in the RUN that created them"),
    Rule("add-remote-url", (), "warning",
         "ADD of a URL downloads without a checksum unless --checksum is given, and in the final stage the "
         "download ships in a layer",
         "RUN curl -fsSLO URL && echo 'SHA256  file' | sha256sum -c && ... && rm file; or ADD --checksum= in a "
         "build stage"),
    Rule("unpinned-from", ("DL3006", "DL3007"), "warning",
         "an unpinned base image changes under you; builds stop being reproducible",
         "FROM image:1.2 or FROM image@sha256:..."),
    Rule("consecutive-runs", ("DL3059",), "info",
         "steps that belong together should share one layer, so cleanup takes bytes back",
         "join the RUNs with &&"),
    Rule("outside-state", (), "warning",
         "the build cache does not notice when the outside world changes",
         "download a pinned version and verify its checksum; clone a tag or commit; rebuild the base image "
         "instead of upgrading packages"),
    Rule("no-user", ("DL3002",), "warning",
         "the container runs as root",
         "RUN useradd -r app (or use a numeric uid) and USER app in the final stage"),
    Rule("no-install-recommends", ("DL3015",), "info",
         "recommended packages are installed too: often tens of MB nobody asked for",
         "apt-get install -y --no-install-recommends ..."),
    Rule("apt-unpinned", ("DL3008",), "warning",
         "an unpinned package installs whatever version the mirror has on the day of the build",
         "apt-get install -y curl=7.88.1-10+deb12u5"),
    Rule("pip-unpinned", ("DL3013",), "warning",
         "an unpinned package installs whatever version PyPI has on the day of the build",
         "pip install flask==3.0.2, or pip install -r requirements.txt with pinned versions"),
    Rule("secret-in-env", (), "error",
         "ENV values and ARG defaults are stored in the image config and history: anyone who can pull the "
         "image can read them",
         "RUN --mount=type=secret,id=NAME for build-time secrets; pass runtime secrets with docker run -e or "
         "a *_FILE variable"),
    Rule("toolchain-final-stage", (), "warning",
         "the final image ships a compiler toolchain (hundreds of MB) the app does not need at run time",
         "build in a toolchain stage (FROM golang:1.22 AS build) and COPY --from=build the result into a "
         "runtime image (a -slim, -jre, distroless or scratch base)"),
    Rule("shell-form-cmd", ("DL3025",), "warning",
         "shell form runs the command under /bin/sh -c: the app is not PID 1 and never gets SIGTERM",
         'CMD ["executable", "arg"] (exec form, a JSON array)'),
    Rule("maintainer", ("DL4000",), "error",
         "MAINTAINER is deprecated",
         'LABEL org.opencontainers.image.authors="name <mail>"'),
    Rule("cd-in-run", ("DL3003",), "warning",
         "a cd does not last beyond its RUN; WORKDIR says where the build is and lasts",
         "WORKDIR /path"),
    Rule("sudo", ("DL3004",), "error",
         "sudo has unpredictable TTY and signal behaviour and is not needed: RUN already runs as the current USER",
         "switch with USER root ... USER app around the step, or use gosu/setpriv at run time"),
    Rule("add-local-file", ("DL3020",), "error",
         "ADD of a local file or directory does what COPY does, plus archive extraction you did not ask for",
         "COPY file /dest (keep ADD for local tar archives it should extract)"),
    Rule("invalid-expose", ("DL3011",), "error",
         "a port outside 0-65535 (or not a number) cannot be exposed",
         "EXPOSE 8080 or EXPOSE 8080/tcp"),
    Rule("pipefail", ("DL4006",), "warning",
         "/bin/sh takes a pipe's exit code from its last command: a failing download piped into tar or sh "
         "leaves a broken layer and a green build",
         'SHELL ["/bin/bash", "-o", "pipefail", "-c"] before the RUN, or set -o pipefail in it'),
    Rule("apt-no-yes", ("DL3014",), "warning",
         "without -y apt-get asks for confirmation, gets none in a build and fails",
         "apt-get install -y ..."),
    Rule("unknown-from-stage", ("DL3022",), "warning",
         "COPY --from names no earlier stage: it is pulled as an image of that name (a typo builds against "
         "whatever that image is) or the build fails",
         "name a stage defined above (FROM ... AS build), a smaller stage index, or a full image reference "
         "(image:tag)"),
    Rule("copy-from-own-stage", ("DL3023",), "error",
         "a stage cannot copy from itself",
         "copy from an earlier stage"),
    Rule("duplicate-stage-name", ("DL3024",), "error",
         "two stages with one name: --from and --target pick one of them silently",
         "give every stage its own name"),
    Rule("relative-workdir", ("DL3000",), "error",
         "a relative WORKDIR depends on every WORKDIR before it, including the base image's",
         "WORKDIR /app (an absolute path)"),
)}

WHY = {rule_id: rule.why for rule_id, rule in RULES.items()}


# --- parsing -----------------------------------------------------------------------------------

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


def parse_dockerfile(text: str, path: str = "Dockerfile") -> list[Instruction]:
    """Instructions with their line, column and stage; see the module docstring for the rules."""
    return _parse(text, path)[0]


def _parse(text: str, path: str) -> tuple[list[Instruction], frozenset]:
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
                names = {name.strip().upper() if re.fullmatch(r"(?i)(?:DL|SC)\d{4}", name.strip()) else
                         name.strip().lower() for name in re.split(r"[,\s]+", found.group(2)) if name.strip()}
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


# --- shell text ------------------------------------------------------------------------------------

def _segments(command: str) -> list[str]:
    """Shell command split at &&, ||, ;, | and newlines (good enough for Dockerfile RUN lines)."""
    return [part.strip() for part in re.split(r"&&|\|\||;|\||\n", command) if part.strip()]


def _words(segment: str) -> list[str]:
    try:
        return shlex.split(segment, comments=False)
    except ValueError:
        return segment.split()


_OPERATORS = {"&&", "||", ";", "|", "|&", "&", "(", ")", ";;", "{", "}"}
_PREFIXES = {"then", "do", "else", "elif", "if", "while", "until", "!", "time", "exec", "command", "nohup"}


def _tokens(line: str) -> list[str]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.commenters = ""
    lexer.whitespace_split = True
    try:
        return list(lexer)
    except ValueError:               # unbalanced quotes: split by hand
        return re.findall(r"&&|\|\||[|;&()]|[^\s|;&()]+", line)


def shell_commands(command: str) -> list[list[str]]:
    """The simple commands in shell text: words without operators, redirections, comments,
    leading `VAR=value` assignments and keywords like `then`; quotes respected."""
    text = re.sub(r"\\\n", " ", command)
    commands: list[list[str]] = []
    for line in text.split("\n"):
        if line.strip().startswith("#"):
            continue
        current: list[str] = []
        tokens = _tokens(line)
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


def _without_sudo(words: list[str]) -> list[str]:
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


def _program(words: list[str]) -> str:
    return words[0].rsplit("/", 1)[-1] if words else ""


def _apt_installs(command: str) -> list[list[str]]:
    """Each `apt-get install ...` / `apt install ...` in COMMAND, as its words."""
    found = []
    for words in shell_commands(command):
        words = _without_sudo(words)
        if _program(words) in ("apt-get", "apt") and "install" in words[1:]:
            found.append(words)
    return found


_APT_OPTIONS_WITH_VALUE = {"-o", "--option", "-t", "--target-release", "--default-release", "-c", "--config-file"}


def _apt_packages(words: list[str]) -> list[str]:
    packages, after_install, skip = [], False, False
    for word in words[1:]:
        if skip:
            skip = False
            continue
        if word in _APT_OPTIONS_WITH_VALUE:
            skip = True
            continue
        if word.startswith("-"):
            continue
        if not after_install:
            after_install = word == "install"
            continue
        packages.append(word)
    return packages


# --- rules -----------------------------------------------------------------------------------------

INSTALLERS = re.compile(
    r"\b(pip3?\s+install|python3?\s+-m\s+pip\s+install|npm\s+(?:install|ci|i)\b|yarn(?:\s+install)?\b|"
    r"pnpm\s+install|bundle\s+install|composer\s+install|go\s+mod\s+download|mvn\b|gradle\b|cargo\s+build|"
    r"poetry\s+install|pipenv\s+install)")
APT_INSTALL = re.compile(r"\bapt(?:-get)?\s+(?:[-\w=:]+\s+)*install\b")
APT_UPDATE = re.compile(r"\bapt(?:-get)?\s+(?:-\S+\s+)*update\b")
MANAGERS = {"apt": re.compile(r"\bapt(?:-get)?\b"), "apk": re.compile(r"\bapk\b"),
            "yum/dnf": re.compile(r"\b(?:yum|dnf|microdnf)\b"), "pip": re.compile(r"\bpip3?\b"),
            "npm": re.compile(r"\bnpm\b")}
CLEANUP = re.compile(r"^\s*(?:rm\b|apt-get\s+(?:clean|autoremove|purge)|apk\s+del|yum\s+clean|dnf\s+clean|"
                     r"npm\s+cache\s+clean|pip3?\s+cache\s+purge)")
# what a command leaves behind, for remove-in-later-layer
CREATES = ((APT_UPDATE, "/var/lib/apt/lists"), (APT_INSTALL, "/var/cache/apt"),
           (re.compile(r"\bpip3?\s+install"), "/root/.cache/pip"), (re.compile(r"\bnpm\s+(?:install|ci)"), "/root/.npm"))


@dataclass(frozen=True)
class Finding:
    id: str                    # slimmer's rule id (RULES)
    line: int                  # where the mistake is: the line of the offending word when it can be found
    message: str
    why: str
    bytes: int | None = None   # from an image, with --image
    layer: int | None = None
    code: str | None = None    # hadolint's code for the same check, when there is one
    severity: str = "warning"
    column: int = 1
    instruction_line: int = 0  # first line of the instruction the finding is about (0: same as line)

    @property
    def anchor(self) -> int:
        return self.instruction_line or self.line


def lint_dockerfile(text: str, path: str = "Dockerfile", ignore: Iterable[str] = ()) -> list[Finding]:
    """Every finding in TEXT (a Dockerfile), ordered by line, minus the ignored rules (ids or codes).

    Raises DockerfileError when TEXT cannot be parsed."""
    instructions, global_ignores = _parse(text, path)
    findings: list[Finding] = []
    for rule in _RULE_FUNCTIONS:
        findings.extend(rule(instructions))
    silenced = {_ignore_key(name) for name in ignore} | set(global_ignores)
    by_line = {instruction.line: instruction.ignores for instruction in instructions}
    kept = [f for f in findings if not ({f.id, f.code} & (silenced | by_line.get(f.anchor, frozenset())))]
    kept.sort(key=lambda f: (f.line, f.column, f.id))
    return kept


def _ignore_key(name: str) -> str:
    name = name.strip()
    return name.upper() if re.fullmatch(r"(?i)(?:DL|SC)\d{4}", name) else name.lower()


def check_rule_names(names: Iterable[str]) -> None:
    """BadInput for a name that is neither a slimmer rule id nor a hadolint/shellcheck code."""
    for name in names:
        key = _ignore_key(name)
        if key not in RULES and not re.fullmatch(r"(?:DL|SC)\d{4}", key):
            close = difflib.get_close_matches(key, RULES, n=1)
            raise BadInput("unknown lint rule", name,
                           f"did you mean {close[0]}?" if close else "see docs/LINT.md for rule ids and codes")


def _finding(rule: str, instruction: Instruction, message: str, at: str | re.Pattern | None = None,
             code: str | None = None) -> Finding:
    entry = RULES[rule]
    line, column = _locate(instruction, at)
    if code is None and len(entry.codes) == 1:
        code = entry.codes[0]
    return Finding(rule, line, message, entry.why, code=code, severity=entry.severity, column=column,
                   instruction_line=instruction.line)


def _locate(instruction: Instruction, at: str | re.Pattern | None) -> tuple[int, int]:
    """Line and column of AT (a word or pattern) in the instruction's source, else of its keyword."""
    if at:
        pattern = at if isinstance(at, re.Pattern) else re.compile(
            r"(?<![\w.-])" + re.escape(at) + r"(?![\w.-])")
        for offset, line in enumerate(instruction.source):
            match = pattern.search(line, (instruction.column + len(instruction.keyword)) if offset == 0 else 0)
            if match:
                return instruction.line + offset, match.start() + 1
    return instruction.line, instruction.column


def _copies_whole_context(instruction: Instruction) -> bool:
    if instruction.keyword not in ("COPY", "ADD") or instruction.flag("from") is not None:
        return False
    sources = _sources(instruction)
    return any(source in (".", "./", "*", "./*") for source in sources)


def _sources(instruction: Instruction) -> list[str]:
    """Source arguments of COPY/ADD (destination and flags dropped)."""
    body = instruction.body
    if body.startswith("["):
        try:
            return [str(w) for w in json.loads(body)][:-1]
        except ValueError:
            pass
    return _words(body)[:-1]


def _copy_before_install(instructions):
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
                yield _finding("copy-before-install", copy,
                               f"line {copy.line} copies the whole build context before the dependency install "
                               f"at line {instruction.line} ({match.group(0).strip()}); copy the dependency "
                               f"manifests first, install, then copy the rest")


def _apt_update_alone(instructions):
    for instruction in instructions:
        if instruction.keyword == "RUN" and APT_UPDATE.search(instruction.command) \
                and not APT_INSTALL.search(instruction.command):
            yield _finding("apt-update-alone", instruction,
                           "apt-get update without apt-get install in the same RUN; "
                           "use RUN apt-get update && apt-get install -y ...", at="update")


def _cache_not_removed(instructions):
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
            yield _finding("cache-not-removed", instruction,
                           f"package cache not removed in the RUN that created it: {what}", at=word, code=code)


def _removed_paths(command: str) -> list[str]:
    paths = []
    for segment in _segments(command):
        words = _words(segment)
        if words and words[0] == "rm":
            paths.extend(w for w in words[1:] if not w.startswith("-"))
    return paths


def _stem(path: str) -> str:
    """'/var/lib/apt/lists/*' -> '/var/lib/apt/lists'; '/tmp/x.tgz' stays."""
    return re.sub(r"/?\*.*$", "", path).rstrip("/") or "/"


def _remove_in_later_layer(instructions):
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
                    yield _finding("remove-in-later-layer", instruction,
                                   f"{removed} is removed here, but line {earlier.line} ({earlier.keyword}) added it "
                                   f"in an earlier layer; remove it in that same step", at=removed)
                    break


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
    words = _words(instruction.body)
    destination = words[-1].rstrip("/") if words else ""
    return bool(destination) and (stem == destination or stem.startswith(destination + "/"))


def _mount_target(flag: str) -> str:
    match = re.search(r"(?:target|dst|destination)=([^,]+)", flag)
    return match.group(1).rstrip("/") if match else "\0"


def _final_stage(instructions) -> int:
    return max((i.stage for i in instructions), default=0)


def _add_remote_url(instructions):
    final = _final_stage(instructions)
    for instruction in instructions:
        if instruction.keyword != "ADD":
            continue
        url = next((w for w in _sources(instruction) if re.match(r"(?:https?|ftp)://", w)), None)
        if not url or url.endswith(".git") or "/.git#" in url:
            continue
        checksum = instruction.flag("checksum") is not None
        if checksum and instruction.stage != final:
            continue
        problem = "ships the download in the final image" if checksum else "has no checksum"
        yield _finding("add-remote-url", instruction,
                       f"ADD of a remote URL ({url}) {problem}; download with curl in a RUN that verifies a "
                       f"checksum and removes the archive, or ADD --checksum= in a build stage", at=url)


def _stage_names(instructions) -> dict[str, int]:
    names = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            match = re.search(r"\s+AS\s+(\S+)\s*$", instruction.body, re.I)
            if match:
                names.setdefault(match.group(1).lower(), instruction.stage)
    return names


def _from_images(instructions) -> dict[int, str]:
    """Stage -> its base image reference, with global ARG defaults substituted ("" when unknown)."""
    defaults: dict[str, str] = {}
    images = {}
    for instruction in instructions:
        if instruction.keyword == "ARG" and instruction.stage < 0:
            for name, value in _assignments(instruction.args, arg=True):
                if value is not None:
                    defaults[name] = value
        elif instruction.keyword == "FROM":
            words = _words(instruction.body)
            image = words[0] if words else ""

            def substitute(match):
                name = match.group(1) or match.group(2)
                return defaults.get(name, match.group(0))
            images[instruction.stage] = re.sub(r"\$\{(\w+)\}|\$(\w+)", substitute, image)
    return images


def _unpinned_from(instructions):
    stage_names = _stage_names(instructions)
    images = _from_images(instructions)
    for instruction in instructions:
        if instruction.keyword != "FROM":
            continue
        image = images.get(instruction.stage, "")
        if not image or image.lower() == "scratch" or image.lower() in stage_names or "$" in image \
                or "@sha256:" in image:
            continue
        written = (_words(instruction.body) or [image])[0]
        last = image.rsplit("/", 1)[-1]
        if ":" not in last:
            yield _finding("unpinned-from", instruction,
                           f"FROM {image} has no tag (means :latest); pin a version, e.g. {image}:1.2 or a digest",
                           at=written, code="DL3006")
        elif last.endswith(":latest"):
            yield _finding("unpinned-from", instruction,
                           f"FROM {image} uses :latest; pin a version or a digest", at=written, code="DL3007")


def _managers(command: str) -> set[str]:
    return {name for name, pattern in MANAGERS.items() if pattern.search(command)}


def _consecutive_runs(instructions):
    for previous, current in zip(instructions, instructions[1:]):
        if previous.keyword != "RUN" or current.keyword != "RUN" or previous.stage != current.stage:
            continue
        shared = _managers(previous.command) & _managers(current.command)
        cleanup = all(CLEANUP.match(seg) for seg in _segments(current.command))
        if shared:
            yield _finding("consecutive-runs", current,
                           f"RUN at line {previous.line} and RUN at line {current.line} both use "
                           f"{', '.join(sorted(shared))}; join them with && into one RUN")
        elif cleanup:
            yield _finding("consecutive-runs", current,
                           f"the cleanup RUN at line {current.line} belongs in the RUN at line {previous.line}; "
                           f"join them with && so the bytes never reach a layer")


def _outside_state(instructions):
    for instruction in instructions:
        if instruction.keyword != "RUN":
            continue
        command = instruction.command
        pipe_to_shell = re.search(r"\b(?:curl|wget)\b[^|;&]*\|\s*(?:sudo\s+)?(?:ba|z|da)?sh\b", command)
        if pipe_to_shell:
            yield _finding("outside-state", instruction,
                           "pipes a download into a shell (curl | sh): the script can change without the cache "
                           "noticing; download a pinned version and verify its checksum",
                           at=re.compile(r"\b(?:curl|wget)\b"))
        upgrade = re.search(r"\bapt(?:-get)?\s+(?:-\S+\s+)*(?:dist-)?upgrade\b|\bapk\s+upgrade\b|"
                            r"\b(?:yum|dnf)\s+(?:-\S+\s+)*(?:update|upgrade)\s*(?:-y\s*)?(?:$|&&|;)", command)
        if upgrade:
            yield _finding("outside-state", instruction,
                           "upgrades packages in a cached layer: the result depends on when the cache was made; "
                           "rebuild the base image instead, or pin package versions",
                           at=re.compile(r"\b(?:dist-)?upgrade\b|\bupdate\b"))
        for segment in _segments(command):
            words = _words(segment)
            if len(words) >= 2 and words[0] == "git" and words[1] == "clone":
                pinned = any(w in ("-b", "--branch") or w.startswith("--branch=") for w in words) or \
                    re.search(r"git\s+(?:-C\s+\S+\s+)?(?:checkout|reset\s+--hard)\s+\S+", command)
                if not pinned:
                    yield _finding("outside-state", instruction,
                                   "git clone without a pinned ref: the cache keeps whatever the branch was; "
                                   "clone a tag (--branch v1.2) or check out a commit", at="clone")


def _no_user(instructions):
    froms = [i for i in instructions if i.keyword == "FROM"]
    if not froms:
        return
    final_stage = froms[-1].stage
    users = [i for i in instructions if i.keyword == "USER" and i.stage == final_stage]
    if not users:
        finding = _finding("no-user", froms[-1],
                           "the final stage has no USER; add e.g. RUN useradd -r app and USER app")
        yield replace(finding, code=None)    # hadolint's DL3002 only fires on an explicit root USER
    elif users[-1].args.split(":")[0].strip() in ("root", "0"):
        yield _finding("no-user", users[-1], f"the final stage runs as {users[-1].args}; switch to a non-root USER")


# --- rules that hadolint users know -----------------------------------------------------------------

def _apt_rules(instructions):
    """no-install-recommends (DL3015), apt-unpinned (DL3008), apt-no-yes (DL3014)."""
    recommends_off = set()     # stages where an apt.conf snippet turned recommends off
    for instruction in instructions:
        if instruction.keyword != "RUN":
            continue
        command = instruction.command
        if re.search(r"Install-Recommends\s*\"?\s*(?:false|0)", command, re.I) and "apt.conf" in command:
            recommends_off.add(instruction.stage)
        for words in _apt_installs(command):
            text = " ".join(words)
            if "--no-install-recommends" not in words and instruction.stage not in recommends_off \
                    and not re.search(r"Install-Recommends=(?:false|0|no)", text, re.I):
                yield _finding("no-install-recommends", instruction,
                               f"{_program(words)} install without --no-install-recommends pulls in recommended "
                               f"packages; add --no-install-recommends", at="install")
            if not any(_answers_yes(word) for word in words) and "Assume-Yes=true" not in text:
                yield _finding("apt-no-yes", instruction,
                               f"{_program(words)} install without -y waits for a confirmation the build cannot "
                               f"give; add -y", at="install")
            unpinned = [p for p in _apt_packages(words)
                        if "=" not in p and "/" not in p and not p.endswith(".deb") and "$" not in p]
            if unpinned:
                yield _finding("apt-unpinned", instruction,
                               f"apt packages without a version: {', '.join(unpinned)}; pin them "
                               f"(e.g. {unpinned[0]}=VERSION, see apt-cache policy {unpinned[0]})", at=unpinned[0])


def _answers_yes(word: str) -> bool:
    return word in ("--yes", "--assume-yes") or bool(re.fullmatch(r"-[a-zA-Z]*y[a-zA-Z]*", word))


_PIP_OPTIONS_WITH_VALUE = {
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-i", "--index-url", "--extra-index-url",
    "-f", "--find-links", "-t", "--target", "--prefix", "--root", "--trusted-host", "--platform",
    "--python-version", "--implementation", "--abi", "--src", "--progress-bar", "--cache-dir", "--log",
    "--proxy", "--timeout", "--retries", "--exists-action", "--cert", "--client-cert", "--global-option",
    "--install-option", "-C", "--config-settings", "--only-binary", "--no-binary", "--upgrade-strategy",
    "--python"}


def _pip_unpinned(instructions):
    for instruction in instructions:
        if instruction.keyword != "RUN":
            continue
        for words in shell_commands(instruction.command):
            words = _without_sudo(words)
            program = _program(words)
            if program.startswith("python") and words[1:3] == ["-m", "pip"]:
                words = words[2:]
            elif program == "uv" and words[1:2] == ["pip"]:
                words = words[1:]
            elif not re.fullmatch(r"pip[\d.]*", program):
                continue
            if "install" not in words[1:2] or any(w in ("-c", "--constraint") or w.startswith("--constraint=")
                                                  for w in words):
                continue
            packages, skip = [], False
            for word in words[2:]:
                if skip:
                    skip = False
                    continue
                if word in _PIP_OPTIONS_WITH_VALUE:
                    skip = True
                    continue
                if word.startswith("-"):
                    continue
                packages.append(word)
            unpinned = [p for p in packages if not _pip_pinned(p)]
            if unpinned:
                yield _finding("pip-unpinned", instruction,
                               f"pip packages without a version: {', '.join(unpinned)}; pin them "
                               f"(e.g. {unpinned[0].split('[')[0]}==VERSION) or install from a pinned "
                               f"requirements file", at=unpinned[0])


def _pip_pinned(requirement: str) -> bool:
    if "$" in requirement or re.search(r"==|~=|<|>|@|===", requirement):
        return True
    # a path, an archive, a wheel or a VCS/URL requirement names its own version
    return requirement.startswith((".", "/", "~")) or "://" in requirement or \
        requirement.endswith((".whl", ".tar.gz", ".zip", ".tgz"))


_SECRET_WORDS = {"PASSWORD", "PASSWD", "SECRET", "TOKEN", "APIKEY", "CREDENTIALS", "CREDENTIAL", "PRIVATEKEY"}
_SECRET_PAIRS = {("API", "KEY"), ("ACCESS", "KEY"), ("PRIVATE", "KEY"), ("SECRET", "KEY"), ("AUTH", "KEY")}
_NOT_A_SECRET_SUFFIX = {"FILE", "PATH", "DIR", "URL", "URI", "NAME", "ENDPOINT", "HOST", "PORT", "TTL",
                        "LENGTH", "TIMEOUT", "EXPIRY", "HEADER", "TYPE", "ID", "USER", "USERNAME", "ENABLED"}
_NOT_A_SECRET_VALUE = re.compile(r"(?i)yes|no|true|false|on|off|0|1|none|null")


def is_secret_name(name: str) -> bool:
    """DB_PASSWORD, GITHUB_TOKEN, API_KEY: yes. TOKENIZERS_PARALLELISM, POSTGRES_PASSWORD_FILE: no."""
    parts = [part for part in re.split(r"[_\-.]+", name.upper()) if part]
    if not parts or parts[-1] in _NOT_A_SECRET_SUFFIX:
        return False
    if any(part in _SECRET_WORDS for part in parts):
        return True
    return any(pair in _SECRET_PAIRS for pair in zip(parts, parts[1:]))


def _assignments(args: str, arg: bool = False) -> list[tuple[str, str | None]]:
    """ENV/ARG pairs: `A=1 B="x y"`, legacy `ENV A some value`, `ARG NAME` (value None)."""
    words = _words(args)
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


def _secret_in_env(instructions):
    for instruction in instructions:
        if instruction.keyword not in ("ENV", "ARG"):
            continue
        for name, value in _assignments(instruction.args, arg=instruction.keyword == "ARG"):
            if value is None or not is_secret_name(name):
                continue
            literal = re.sub(r"\$\{[^}]*\}|\$\w+", "", value).strip()
            if not literal or _NOT_A_SECRET_VALUE.fullmatch(literal):
                continue
            where = "a default value" if instruction.keyword == "ARG" else "a value"
            yield _finding("secret-in-env", instruction,
                           f"{instruction.keyword} {name} has {where} written in the Dockerfile; it is kept in "
                           f"the image {'history' if instruction.keyword == 'ARG' else 'config'} for anyone to "
                           f"read (the value is not repeated here)", at=name)


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


def _toolchain_final_stage(instructions):
    froms = {i.stage: i for i in instructions if i.keyword == "FROM"}
    if not froms:
        return
    images = _from_images(instructions)
    names = _stage_names(instructions)
    final = max(froms)
    stage = final
    seen = set()
    while images.get(stage, "").lower() in names and stage not in seen:   # FROM build: follow the chain
        seen.add(stage)
        stage = names[images[stage].lower()]
    toolchain = toolchain_image(images.get(stage, ""))
    if toolchain:
        single = len(froms) == 1
        yield _finding("toolchain-final-stage", froms[final],
                       f"the final stage runs on {images[stage]}, a {toolchain} build toolchain image"
                       f"{' and the file has no build stage' if single else ''}; build in a stage and copy the "
                       f"result into a runtime base (-slim, -jre, distroless, scratch)",
                       at=(_words(froms[final].body) or [None])[0])


def _shell_form_cmd(instructions):
    for instruction in instructions:
        if instruction.keyword in ("CMD", "ENTRYPOINT") and not instruction.exec_form:
            yield _finding("shell-form-cmd", instruction,
                           f"{instruction.keyword} in shell form runs under /bin/sh -c, so the app is not PID 1 "
                           f"and gets no SIGTERM; write {instruction.keyword} {_exec_form(instruction.args)}")


def _exec_form(args: str) -> str:
    return json.dumps(_words(args))


def _maintainer(instructions):
    for instruction in instructions:
        if instruction.keyword == "MAINTAINER":
            yield _finding("maintainer", instruction,
                           "MAINTAINER is deprecated; use LABEL org.opencontainers.image.authors=\"...\"")


def _shell_word_rules(instructions):
    """cd-in-run (DL3003) and sudo (DL3004): commands in a RUN."""
    for instruction in instructions:
        if instruction.keyword != "RUN":
            continue
        commands = shell_commands(instruction.command)
        if any(words[0] == "cd" for words in commands):
            yield _finding("cd-in-run", instruction,
                           "cd in a RUN; use WORKDIR to change directory", at="cd")
        if any(words[0] == "sudo" for words in commands):
            yield _finding("sudo", instruction,
                           "sudo in a RUN; RUN runs as the current USER already: switch with USER instead",
                           at="sudo")


_ARCHIVE = re.compile(r"\.(?:tar|tar\.(?:gz|bz2|xz|lz|lzma|Z|zst)|tgz|tbz2?|tb2|txz|tlz|tZ|tpz|tzst)$")


def _add_local_file(instructions):
    for instruction in instructions:
        if instruction.keyword != "ADD":
            continue
        local = [s for s in _sources(instruction)
                 if not re.match(r"(?:https?|ftp|git)://|git@", s) and not s.startswith("<<") and "$" not in s
                 and not _ARCHIVE.search(s)]
        if local:
            yield _finding("add-local-file", instruction,
                           f"ADD of {', '.join(local)}: not an archive to extract; use COPY", at=local[0])


def _invalid_expose(instructions):
    for instruction in instructions:
        if instruction.keyword != "EXPOSE":
            continue
        for spec in instruction.args.split():
            if "$" in spec:
                continue
            match = re.fullmatch(r"(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?", spec, re.I)
            ports = [int(p) for p in match.groups()[:2] if p] if match else []
            if not match or any(port > 65535 for port in ports) or (len(ports) == 2 and ports[0] > ports[1]):
                yield _finding("invalid-expose", instruction,
                               f"EXPOSE {spec}: not a port or port range in 0-65535 with /tcp, /udp or /sctp",
                               at=spec)


def _pipefail(instructions):
    shells: dict[int, list[str]] = {}
    names = _stage_names(instructions)
    images = _from_images(instructions)
    for instruction in instructions:
        if instruction.keyword == "FROM":
            parent = names.get(images.get(instruction.stage, "").lower())
            shells[instruction.stage] = list(shells.get(parent, ["/bin/sh", "-c"]))
            continue
        if instruction.keyword == "SHELL":
            try:
                shells[instruction.stage] = [str(w) for w in json.loads(instruction.args)]
            except ValueError:
                pass
            continue
        if instruction.keyword != "RUN" or instruction.exec_form:
            continue
        shell = shells.get(instruction.stage, ["/bin/sh", "-c"])
        if "pipefail" in " ".join(shell) or not re.search(r"(?:^|/)(?:ba|da|z|k|a)?sh$", shell[0] if shell else ""):
            continue
        command = instruction.command
        if re.search(r"\bset\b[^;&|\n]*\bpipefail\b", command):
            continue
        if any(token in ("|", "|&") for line in re.sub(r"\\\n", " ", command).split("\n")
               if not line.strip().startswith("#") for token in _tokens(line)):
            yield _finding("pipefail", instruction,
                           f"a pipe under {shell[0]} without pipefail: a failure before the last command is "
                           f"ignored; add SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"] before this RUN",
                           at=re.compile(r"(?<!\|)\|(?!\|)"))


def _copy_from(instructions):
    """unknown-from-stage (DL3022), copy-from-own-stage (DL3023)."""
    names: dict[str, int] = {}
    for instruction in instructions:
        if instruction.keyword == "FROM":
            match = re.search(r"\s+AS\s+(\S+)\s*$", instruction.body, re.I)
            if match:
                names.setdefault(match.group(1).lower(), instruction.stage)
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
                yield _finding("copy-from-own-stage", instruction,
                               f"COPY --from={source} is this stage itself", at=f"--from={source}")
            else:
                yield _finding("unknown-from-stage", instruction,
                               f"COPY --from={source}: stage {source} is not defined before this line",
                               at=f"--from={source}")
            continue
        if key in names:
            if names[key] == instruction.stage:
                yield _finding("copy-from-own-stage", instruction,
                               f"COPY --from={source} names the stage it is in", at=f"--from={source}")
            continue
        if re.search(r"[:/@]", source):
            continue                  # an image reference: alpine:3.19, ghcr.io/org/tool
        later = any(i.keyword == "FROM" and re.search(rf"\s+AS\s+{re.escape(source)}\s*$", i.body, re.I)
                    for i in instructions)
        close = difflib.get_close_matches(key, list(names), n=1)
        hint = " (it is defined later: move that stage up)" if later else \
            (f" (did you mean --from={close[0]}?)" if close else "")
        yield _finding("unknown-from-stage", instruction,
                       f"COPY --from={source} names no stage defined above{hint}; without a tag it is pulled "
                       f"as the image {source}:latest", at=f"--from={source}")


def _duplicate_stage_names(instructions):
    seen: dict[str, int] = {}
    for instruction in instructions:
        if instruction.keyword != "FROM":
            continue
        match = re.search(r"\s+AS\s+(\S+)\s*$", instruction.body, re.I)
        if not match:
            continue
        name = match.group(1).lower()
        if name in seen:
            yield _finding("duplicate-stage-name", instruction,
                           f"stage name {match.group(1)} is already used at line {seen[name]}",
                           at=re.compile(r"(?<=\s)" + re.escape(match.group(1)) + r"\s*$"))
        else:
            seen[name] = instruction.line


def _relative_workdir(instructions):
    for instruction in instructions:
        if instruction.keyword != "WORKDIR":
            continue
        path = instruction.args.strip().strip("\"'")
        if path.startswith(("/", "$")) or re.match(r"[A-Za-z]:[\\/]", path):
            continue
        yield _finding("relative-workdir", instruction,
                       f"WORKDIR {path} is relative; use an absolute path", at=instruction.args.strip())


_RULE_FUNCTIONS = (_copy_before_install, _apt_update_alone, _cache_not_removed, _remove_in_later_layer,
                   _add_remote_url, _unpinned_from, _consecutive_runs, _outside_state, _no_user, _apt_rules,
                   _pip_unpinned, _secret_in_env, _toolchain_final_stage, _shell_form_cmd, _maintainer,
                   _shell_word_rules, _add_local_file, _invalid_expose, _pipefail, _copy_from,
                   _duplicate_stage_names, _relative_workdir)


# --- figures from an image ---------------------------------------------------------------------

def attach_image_figures(findings: Sequence[Finding], text: str, report: XrayReport) -> list[Finding]:
    """Findings with xray's bytes of the layer each (final-stage) finding is about.

    The final stage's RUN/COPY/ADD instructions made the image's top layers, in order.
    """
    instructions = parse_dockerfile(text)
    if not instructions:
        return list(findings)
    final_stage = max(i.stage for i in instructions)
    makers = [i for i in instructions if i.stage == final_stage and i.keyword in LAYER_MAKING]
    layers = list(report.layers)[-len(makers):] if makers and len(makers) <= len(report.layers) else []
    layer_of = {instruction.line: layer for instruction, layer in zip(makers, layers)}
    attached = []
    for finding in findings:
        layer = layer_of.get(finding.anchor)
        if layer is None:
            attached.append(finding)
            continue
        if finding.id == "cache-not-removed":
            nbytes, what = sum(layer.caches.values()), "of package cache"
        elif finding.id == "remove-in-later-layer":
            nbytes, what = layer.deleted.bytes, "deleted here but still shipped in earlier layers"
        elif finding.id == "apt-update-alone":
            nbytes, what = layer.caches.get("apt lists", 0), "of apt lists"
        else:
            nbytes, what = layer.size_bytes, "in this layer"
        attached.append(replace(finding, bytes=nbytes, layer=layer.index,
                                message=f"{finding.message} [layer {layer.index}: {human_bytes(nbytes)} {what}]"))
    return attached


# --- exit code and output ------------------------------------------------------------------------------

def fails(findings: Sequence[Finding], threshold: str = "info") -> bool:
    """hadolint's --failure-threshold: True when a finding is at THRESHOLD or more severe."""
    if threshold not in THRESHOLDS:
        raise BadInput("unknown failure threshold", threshold, f"use one of: {', '.join(THRESHOLDS)}")
    if threshold == "none":
        return False
    limit = SEVERITIES.index(threshold)
    return any(SEVERITIES.index(f.severity) <= limit for f in findings)


def to_json(findings: Sequence[Finding], path: str) -> dict:
    return {"dockerfile": path, "count": len(findings),
            "findings": [{"id": f.id, "code": f.code, "severity": f.severity, "line": f.line, "column": f.column,
                          "message": f.message, "why": f.why, "fix": RULES[f.id].fix, "bytes": f.bytes,
                          "layer": f.layer} for f in findings]}


def _label(finding: Finding) -> str:
    return f"{finding.id} {finding.code}" if finding.code else finding.id


def render_text(findings: Sequence[Finding], path: str) -> str:
    if not findings:
        return f"{path}: no findings"
    lines = [f"{path}:{f.line}:{f.column}: {f.severity} [{_label(f)}] {f.message}\n    why: {f.why}"
             for f in findings]
    lines.append(f"{len(findings)} finding{'s' if len(findings) != 1 else ''}")
    return "\n".join(lines)


_GITHUB_LEVEL = {"error": "error", "warning": "warning", "info": "notice", "style": "notice"}


def render_github(findings: Sequence[Finding], path: str) -> str:
    """GitHub Actions workflow commands: one annotation per finding."""
    def escape(text: str, property_value: bool = False) -> str:
        text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
        return text.replace(":", "%3A").replace(",", "%2C") if property_value else text
    return "\n".join(
        f"::{_GITHUB_LEVEL[f.severity]} file={escape(path, True)},line={f.line},col={f.column},"
        f"title={escape(_label(f), True)}::{escape(f.message)}" for f in findings)
