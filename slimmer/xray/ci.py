"""CI rules: thresholds an image must meet (`slim xray --ci`), from flags, .slim-ci.toml or .dive-ci.

  1. the rules: max_reclaimable and max_size (bytes, with units: "20MB", "1.5GiB"),
     min_efficiency, max_layer_ratio and max_user_wasted_ratio (0.95 or "95%");
  2. dive's .dive-ci keys are read with slimmer's figures: lowestEfficiency is
     min_efficiency, highestWastedBytes is max_reclaimable (reclaimable bytes are
     dive's "wasted" bytes), highestUserWastedPercent is max_user_wasted_ratio;
  3. a value of "disabled" (dive's word) switches a rule off: its threshold is None;
  4. from a directory, .dive-ci is read first and .slim-ci.toml wins over it;
  5. every rule is evaluated, none is skipped when an earlier one fails.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Mapping

from .. import units
from ..errors import BadInput
from ..textfmt import human_size
from .report import XrayReport

RULES = ("max_reclaimable", "min_efficiency", "max_size", "max_layer_ratio", "max_user_wasted_ratio")
BYTE_RULES = ("max_reclaimable", "max_size")
DEFAULT_RULES = {"min_efficiency": 0.9}
CI_FILE = ".slim-ci.toml"
DIVE_CI_FILE = ".dive-ci"
# dive's .dive-ci keys, scored with slimmer's figures (reclaimable bytes are dive's "wasted" bytes)
DIVE_KEYS = {"lowestEfficiency": "min_efficiency", "highestWastedBytes": "max_reclaimable",
             "highestUserWastedPercent": "max_user_wasted_ratio"}


@dataclass(frozen=True)
class RuleResult:
    name: str
    value: float
    threshold: float
    passed: bool
    message: str


def parse_bytes(value: object, what: str = "size") -> int:
    """1000, "20MB", "1.5 GiB", "300k" -> bytes (slimmer.units' reading, as for every flag)."""
    return units.parse_size(value, what)


def parse_ratio(value: object, what: str = "ratio") -> float:
    """0.95, "0.95", "95%" -> 0.95 (between 0 and 1)."""
    return units.parse_ratio(value, what)


DISABLED = "disabled"     # dive's value for a rule that is off


def rule_flag(name: str):
    """argparse `type=` for a CI rule's flag: the rule's size or ratio, or "disabled"."""
    convert = units.size_argument if name in BYTE_RULES else units.ratio_argument

    def parse(text: str):
        return DISABLED if text.strip().lower() == DISABLED else convert(text)
    parse.__name__ = convert.__name__
    return parse


def rule_value(name: str, value: object, what: str | None = None) -> float | None:
    """A rule's threshold from a flag or a file; None for dive's "disabled"."""
    if isinstance(value, str) and value.strip().lower() == DISABLED:
        return None
    if name in BYTE_RULES:
        return parse_bytes(value, what or name)
    return parse_ratio(value, what or name)


def rule_name(key: str) -> str | None:
    """'max-reclaimable' -> 'max_reclaimable'; dive's 'lowestEfficiency' -> 'min_efficiency'."""
    if key in DIVE_KEYS:
        return DIVE_KEYS[key]
    name = key.replace("-", "_")
    return name if name in RULES else None


def load_ci_rules(directory: str = ".", path: str | None = None) -> dict[str, float | None]:
    """CI rules from PATH, or else from DIRECTORY's .dive-ci and .slim-ci.toml (this one wins).

    A value of None means the rule was switched off ("disabled", as dive writes it)."""
    if path is not None:
        if not os.path.isfile(path):
            raise BadInput("cannot read the CI rules file", path, "pass an existing .slim-ci.toml or .dive-ci")
        return _load_toml_rules(path) if path.endswith(".toml") else _load_dive_rules(path)
    rules: dict[str, float | None] = {}
    dive = os.path.join(directory, DIVE_CI_FILE)
    if os.path.isfile(dive):
        rules.update(_load_dive_rules(dive))
    toml = os.path.join(directory, CI_FILE)
    if os.path.isfile(toml):
        rules.update(_load_toml_rules(toml))
    return rules


def _load_toml_rules(path: str) -> dict[str, float | None]:
    """Top level, or a [rules] or [xray] table; slimmer's names or dive's keys."""
    try:
        import tomllib
    except ModuleNotFoundError:   # Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except (OSError, ValueError) as exc:
        raise BadInput("cannot read the CI rules file", f"{path}: {exc}",
                       "fix the TOML, e.g. max_reclaimable = \"20MB\" and min_efficiency = 0.95") from exc
    table = data.get("rules") or data.get("xray") or data
    rules: dict[str, float | None] = {}
    for key, value in table.items():
        name = rule_name(key)
        if name is None:
            if isinstance(value, dict):
                continue
            raise BadInput("unknown rule in the CI rules file", f"{path}: {key}",
                           f"known rules: {', '.join(RULES + tuple(DIVE_KEYS))}")
        rules[name] = rule_value(name, value, f"{path}: {key}")
    return rules


def _load_dive_rules(path: str) -> dict[str, float | None]:
    """dive's .dive-ci: the `key: value` lines of its `rules:` section (comments, quotes and
    blank lines allowed); other sections are dive's own and are skipped."""
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput("cannot read the CI rules file", f"{path}: {exc}", "pass a readable .dive-ci") from exc
    rules: dict[str, float | None] = {}
    section = None
    for number, raw in enumerate(lines, 1):
        text = re.sub(r"(?:^|\s)#.*$", "", raw).rstrip()
        if not text.strip():
            continue
        match = re.fullmatch(r"(\s*)([\w-]+)\s*:\s*(.*)", text)
        if not match:
            raise BadInput("cannot read the CI rules file", f"{path}:{number}: {raw.strip()}",
                           "write rules as `  key: value` lines under `rules:`")
        indent, key, value = match.groups()
        if not indent:
            section = key
            if value.strip():
                raise BadInput("cannot read the CI rules file", f"{path}:{number}: {raw.strip()}",
                               "put the rules under a `rules:` line, indented")
            continue
        if section != "rules":
            continue
        name = rule_name(key)
        if name is None:
            raise BadInput("unknown rule in the CI rules file", f"{path}:{number}: {key}",
                           f"dive's keys: {', '.join(DIVE_KEYS)}")
        rules[name] = rule_value(name, value.strip().strip("\"'"), f"{path}:{number}: {key}")
    return rules


def evaluate_rules(report: XrayReport, rules: Mapping[str, float | None]) -> list[RuleResult]:
    """Every rule evaluated; none is skipped when an earlier one fails. None thresholds are off."""
    results = []
    biggest = max(report.layers, key=lambda layer: layer.size_bytes, default=None)
    for name in RULES:
        if rules.get(name) is None:
            continue
        threshold = rules[name]
        if name == "max_reclaimable":
            value, passed = report.reclaimable_bytes, report.reclaimable_bytes <= threshold
            text = f"reclaimable bytes {report.reclaimable_bytes} ({human_size(value)}), " \
                   f"threshold max {int(threshold)} ({human_size(threshold)})"
        elif name == "min_efficiency":
            value = report.efficiency
            passed = value >= threshold
            text = f"efficiency {value:.4f}, threshold min {threshold:.4f}"
        elif name == "max_size":
            value, passed = report.size_bytes, report.size_bytes <= threshold
            text = f"image size {value} ({human_size(value)}), threshold max {int(threshold)} ({human_size(threshold)})"
        elif name == "max_user_wasted_ratio":
            user = report.user_bytes
            value = report.reclaimable_bytes / user if user else 0.0
            passed = value <= threshold
            text = f"reclaimable bytes / bytes above the base layer {value:.4f} " \
                   f"({human_size(report.reclaimable_bytes)} of {human_size(user)}), threshold max {threshold:.4f}"
        else:
            value = (biggest.size_bytes / report.size_bytes) if biggest and report.size_bytes else 0.0
            passed = value <= threshold
            where = f" (layer {biggest.index})" if biggest else ""
            text = f"largest layer ratio {value:.4f}{where}, threshold max {threshold:.4f}"
        results.append(RuleResult(name, value, threshold, passed, f"{'PASS' if passed else 'FAIL'} {name}: {text}"))
    return results
