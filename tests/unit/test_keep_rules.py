"""The rule registry: the --keep-rule names users' scripts use, the reasons the report
shows, and docs/KEEP-RULES.md all come from the rule objects and agree."""
from __future__ import annotations

import os
import re

from slimmer.keep import PRECEDENCE, RULE_TYPES, RULES
from slimmer.model import KeepReason

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "KEEP-RULES.md")


def test_keep_rule_names_and_defaults_stay_what_users_scripts_pass():
    assert RULES == {"state": True, "package": True, "app": True, "script": True, "data": True,
                     "plugins": True, "program-data": True, "package-metadata": True, "os-packages": False,
                     "imports": True}


def test_every_reason_is_recorded_by_exactly_one_rule_and_ranked_once():
    owners = [reason for rule in RULE_TYPES for reason in rule.reasons]
    assert sorted(owners) == sorted(KeepReason)
    assert sorted(PRECEDENCE) == sorted(KeepReason) and len(PRECEDENCE) == len(KeepReason)
    assert PRECEDENCE[:2] == (KeepReason.TRACED, KeepReason.REPAIRED) and PRECEDENCE[-1] is KeepReason.PARENT


def test_every_rule_says_what_it_is_and_costs():
    for rule in RULE_TYPES:
        assert rule.__doc__ and rule.cost and rule.name, rule
    assert len({rule.name for rule in RULE_TYPES}) == len(RULE_TYPES)


def test_the_rule_table_in_the_docs_matches_the_rules():
    rows = {}
    for line in open(DOC, encoding="utf-8"):
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 4 and cells[0].startswith("`"):
            name = cells[0].strip("`")
            reason = re.match(r"`([^`]+)`", cells[3]).group(1)
            rows[name] = (cells[1].strip("*") == "on", reason)
    expected = {}
    for rule in RULE_TYPES:
        if rule.switchable():
            reason = rule.reasons[0].value if rule.reasons else rule.generated_reason
            expected[rule.name] = (rule.default, reason)
    assert rows == expected
