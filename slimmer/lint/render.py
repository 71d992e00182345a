"""`slim lint`'s outputs: text, JSON and GitHub Actions annotations (SARIF: slimmer/sarif.py)."""
from __future__ import annotations

from typing import Sequence

from .rule import Finding
from .rules import RULES


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
