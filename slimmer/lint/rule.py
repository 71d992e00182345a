"""What a lint rule is (Rule: its catalogue entry) and what it reports (Finding).

A family module (apt.py, stages.py, ...) defines its Rule entries beside the
checks that report them; a check takes the parsed instructions and yields
findings made with `finding`, which points at the offending word.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from .parse import Instruction

SEVERITIES = ("error", "warning", "info", "style")          # most severe first


@dataclass(frozen=True)
class Rule:
    id: str
    codes: tuple[str, ...]     # hadolint codes that match this rule (some rules have one per package manager)
    severity: str
    why: str
    fix: str


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


Check = Callable[[Sequence[Instruction]], Iterable[Finding]]


def finding(rule: Rule, instruction: Instruction, message: str, at: str | re.Pattern | None = None,
            code: str | None = None) -> Finding:
    """RULE's finding about INSTRUCTION, placed at AT (a word or pattern) when it is found; the code
    is the rule's only hadolint code unless CODE names which one."""
    line, column = _locate(instruction, at)
    if code is None and len(rule.codes) == 1:
        code = rule.codes[0]
    return Finding(rule.id, line, message, rule.why, code=code, severity=rule.severity, column=column,
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
