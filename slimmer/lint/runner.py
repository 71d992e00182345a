"""Running the rules over a Dockerfile: ignores, the failure threshold, and figures from an image.

  1. every check runs on the parsed instructions; findings are ordered by line,
     column and rule id;
  2. a finding is dropped when its rule id or hadolint code is ignored: by
     `--ignore`, by a global ignore comment, or by an ignore comment right above
     the instruction the finding is about;
  3. with an image (`--image`), evidence.py's attach_image_figures adds xray's
     byte figures to the findings.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import replace
from typing import Iterable, Sequence

from ..errors import BadInput
from .config import LintConfig
from .parse import parse_with_ignores, rule_key
from .rule import SEVERITIES, Finding
from .rules import CHECKS, RULES
from .stages import untrusted_registry

THRESHOLDS = SEVERITIES + ("none",)


def lint_dockerfile(text: str, path: str = "Dockerfile", ignore: Iterable[str] = (),
                    config: LintConfig | None = None) -> list[Finding]:
    """Every finding in TEXT (a Dockerfile), ordered by line, minus the ignored rules (ids or codes).

    CONFIG (config.py) adds ignored rules, severity overrides, trusted registries, and may turn
    the inline ignore comments off. Raises DockerfileError when TEXT cannot be parsed."""
    config = config or LintConfig()
    instructions, global_ignores = parse_with_ignores(text, path)
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(instructions))
    if config.trusted_registries:
        findings.extend(untrusted_registry(instructions, config.trusted_registries))
    silenced = {rule_key(name) for name in (*ignore, *config.ignored)}
    by_line: dict[int, frozenset] = {}
    if not config.disable_ignore_pragma:
        silenced |= set(global_ignores)
        by_line = {instruction.line: instruction.ignores for instruction in instructions}
    kept = [f for f in findings if not ({f.id, f.code} & (silenced | by_line.get(f.anchor, frozenset())))]
    if config.overrides:
        kept = [_overridden(f, config.overrides) for f in kept]
    kept.sort(key=lambda f: (f.line, f.column, f.id))
    return kept


def _overridden(finding: Finding, overrides) -> Finding:
    """A finding with the severity the configuration gives its code (first) or its rule id."""
    level = overrides.get(finding.code) if finding.code else None
    level = level or overrides.get(finding.id)
    return replace(finding, severity=level) if level else finding


def check_rule_names(names: Iterable[str]) -> None:
    """BadInput for a name that is neither a slimmer rule id nor a hadolint/shellcheck code."""
    for name in names:
        key = rule_key(name)
        if key not in RULES and not re.fullmatch(r"(?:DL|SC)\d{4}", key):
            close = difflib.get_close_matches(key, RULES, n=1)
            raise BadInput("unknown lint rule", name,
                           f"did you mean {close[0]}?" if close else "see docs/LINT.md for rule ids and codes")


def fails(findings: Sequence[Finding], threshold: str = "info") -> bool:
    """hadolint's --failure-threshold: True when a finding is at THRESHOLD or more severe."""
    if threshold not in THRESHOLDS:
        raise BadInput("unknown failure threshold", threshold, f"use one of: {', '.join(THRESHOLDS)}")
    if threshold == "none":
        return False
    limit = SEVERITIES.index(threshold)
    return any(SEVERITIES.index(f.severity) <= limit for f in findings)
