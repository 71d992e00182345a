"""SARIF 2.1.0 output for `slim lint --format sarif` (GitHub code scanning, IDEs).

The log has one run: tool.driver.rules lists every lint rule (slimmer's id as
the rule id, hadolint's codes as a property), and each result points at the
rule by id and index, with a level (error, warning, note) and one physical
location: the Dockerfile's URI and the line and column of the finding.
Columns are counted in Unicode code points (columnKind says so).
"""
from __future__ import annotations

import os
import pathlib
from typing import Sequence
from urllib.parse import quote

from . import __version__
from .lint import RULES, Finding

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {"error": "error", "warning": "warning", "info": "note", "style": "note"}


def artifact_uri(path: str) -> str:
    """A relative path as a relative URI reference ("sub dir/Dockerfile" -> "sub%20dir/Dockerfile"),
    an absolute one as a file:// URI."""
    if os.path.isabs(path):
        return pathlib.PurePosixPath(path).as_uri() if os.sep == "/" else pathlib.Path(path).as_uri()
    return quote(path.replace(os.sep, "/"))


def _title(rule_id: str) -> str:
    return "".join(part.capitalize() for part in rule_id.split("-"))


def lint_log(findings: Sequence[Finding], path: str) -> dict:
    """The SARIF log of FINDINGS in the Dockerfile at PATH."""
    rule_ids = list(RULES)
    rules = [{
        "id": rule.id,
        "name": _title(rule.id),
        "shortDescription": {"text": rule.why},
        "fullDescription": {"text": f"{rule.why}. Fix: {rule.fix} (docs/LINT.md)"},
        "help": {"text": f"fix: {rule.fix}"},
        "defaultConfiguration": {"level": LEVELS[rule.severity]},
        "properties": {"hadolint": list(rule.codes), "severity": rule.severity},
    } for rule in RULES.values()]
    results = []
    for finding in findings:
        result = {
            "ruleId": finding.id,
            "ruleIndex": rule_ids.index(finding.id),
            "level": LEVELS[finding.severity],
            "message": {"text": finding.message + (f" ({finding.code})" if finding.code else "")},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": artifact_uri(path)},
                "region": {"startLine": finding.line, "startColumn": finding.column},
            }}],
            "properties": {"severity": finding.severity},
        }
        if finding.code:
            result["properties"]["hadolint"] = finding.code
        if finding.bytes is not None:
            result["properties"].update({"bytes": finding.bytes, "layer": finding.layer})
        results.append(result)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "slimmer", "semanticVersion": __version__, "version": __version__,
                                "rules": rules}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }
