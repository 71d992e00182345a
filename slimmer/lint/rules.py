"""Every lint rule family, and the catalogue of rules in its published order.

To add a rule, give it a Rule and a check in its family's module (or write a
new family module and add it to FAMILIES), add a positive and a negative case
to tests/unit/test_lint.py and its row to docs/LINT.md; RULES, `--ignore` and
the SARIF rule list follow from here.
"""
from __future__ import annotations

from . import add, apt, caches, layers, metadata, pip, secrets, shell, stages
from .rule import Check, Rule

FAMILIES = (layers, apt, caches, pip, add, stages, shell, metadata, secrets)

# The catalogue's published order (SARIF's rule indexes, docs/LINT.md's table): a rule not
# listed here comes after these, in FAMILIES order.
ORDER = ("copy-before-install", "apt-update-alone", "cache-not-removed", "remove-in-later-layer",
         "add-remote-url", "unpinned-from", "consecutive-runs", "outside-state", "no-user",
         "no-install-recommends", "apt-unpinned", "pip-unpinned", "secret-in-env", "toolchain-final-stage",
         "shell-form-cmd", "maintainer", "cd-in-run", "sudo", "add-local-file", "invalid-expose", "pipefail",
         "apt-no-yes", "unknown-from-stage", "copy-from-own-stage", "duplicate-stage-name", "relative-workdir",
         "untrusted-registry")

_BY_ID = {rule.id: rule for family in FAMILIES for rule in family.RULES}
RULES: dict[str, Rule] = {rule_id: _BY_ID[rule_id] for rule_id in ORDER}
RULES.update(_BY_ID)
WHY = {rule_id: rule.why for rule_id, rule in RULES.items()}
CHECKS: tuple[Check, ...] = tuple(check for family in FAMILIES for check in family.CHECKS)
