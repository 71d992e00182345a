"""Every keep rule, in the order the keeper runs them within their stage.

To add a rule, append its class here (see the package docstring); RULES, the
`--keep-rule` names and the report's reasons all follow from this list.
"""
from __future__ import annotations

from .app import AppRule
from .core import IncludeRule, ParentRule, SymlinkRule
from .data import DataRule
from .elf import ElfRule
from .essential import EssentialRule
from .imports import ImportsRule
from .interpreter import InterpreterRule
from .package import PackageRule
from .packagedb import OsPackagesRule, PackageMetadataRule
from .plugins import PluginsRule
from .program_data import ProgramDataRule
from .repaired import RepairedRule
from .rule import Rule
from .script import ScriptRule
from .state import StateRule
from .traced import TracedRule

RULE_TYPES: list[type[Rule]] = [
    # SEED: where the keep set starts
    TracedRule, RepairedRule, EssentialRule, StateRule, AppRule, IncludeRule,
    # EACH: what every kept path needs
    ParentRule, SymlinkRule, ElfRule, InterpreterRule, ScriptRule, ImportsRule, PackageRule, DataRule,
    # CLOSED, WIDEN: rules that look at the whole closed set
    PluginsRule, ProgramDataRule, OsPackagesRule,
    # GENERATE: after the excludes
    PackageMetadataRule,
]

# Switchable rules (--keep-rule NAME=on|off) and their defaults.
RULES: dict[str, bool] = {rule.name: bool(rule.default) for rule in RULE_TYPES if rule.switchable()}
