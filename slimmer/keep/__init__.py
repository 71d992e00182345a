"""The keep stage: which paths of the original image the slim image keeps, and why.

A pure function of the trace, the image index and the image config; no Docker.
Start from what the app reached, add what those paths provably need, until
nothing new appears; each kept path records the reason of the rule that kept
it (the report's `keep.by_reason`). One module per rule, named after it:

  traced.py        traced        what the app reached while it ran
  repaired.py      repaired      what verification found missing (KeepOptions.repaired)
  essential.py     essential     USER's account files, WORKDIR, VOLUMEs, /tmp, HEALTHCHECK
  state.py         state         a directory the app writes into, whole
  app.py           app           what COPY/ADD layers wrote
  core.py          include, parent, symlink; excludes; precedence; the run
  elf.py           elf           interpreter and DT_NEEDED, as the dynamic loader finds them
  interpreter.py   interpreter   a kept script's shebang interpreter
  script.py        script        the commands a kept shell script runs
  package.py       package       the whole Python distribution / Node package of a kept file
  data.py          data          CA store, zoneinfo, NSS, gconv, locales, JVM conf
  plugins.py       plugins       shared objects of a dlopen'ed plugin directory
  program_data.py  program-data  a program's /usr/share/NAME tree
  packagedb.py     os-packages, package-metadata: the dpkg/apk database

Each rule is a class (rule.py) giving its name, default (None: always on;
True/False: switchable with `--keep-rule NAME=on|off`, listed in RULES), the
reasons it records, its stage and cost; its module docstring defines it.
Precedence: a path keeps the FIRST reason in PRECEDENCE order, whatever order
the rules met it in (core.py).

How to add a rule:
  1. add its reason to model.KeepReason and place it in core.PRECEDENCE;
  2. write keep/NAME.py: a docstring that defines the rule, and a Rule
     subclass with name, stage, reasons, default, cost and the method of its
     stage (`apply`, `each` or `generate`); per-run state goes in __init__; a
     GENERATE rule lists every path it may write in `may_generate` (the early
     layer holds the directories above them back: slimmer/early.py);
  3. append the class to rules.RULE_TYPES, in run order within its stage;
  4. add its row to the table in docs/KEEP-RULES.md and a table-driven test
     in tests/unit/test_keep_*.py.
"""
from __future__ import annotations

from typing import Callable

from ..model import ImageIndex, ImageInfo, KeepOptions, KeepSet, Resolution, TraceLog
from .core import PRECEDENCE, Keeper, ReadFile, ancestors, excluded
from .interpreter import parse_shebang
from .rules import RULE_TYPES, RULES
from .script import script_commands
from .summary import keep_summary, removed_by_top_dir

__all__ = ["compute_keep_set", "excluded", "generated_directories", "resolve", "Resolution", "removed_by_top_dir", "keep_summary", "RULES",
           "RULE_TYPES", "PRECEDENCE", "script_commands", "parse_shebang"]


def compute_keep_set(trace: TraceLog, index: ImageIndex, image: ImageInfo, options: KeepOptions,
                     read_file: ReadFile | None = None, python_scans=None,
                     on_keep: Callable[[str], None] | None = None) -> KeepSet:
    """The keep set of an image for a trace. `read_file(path)` returns the
    content of a regular file of the original image (or None); without it,
    rules that need content (ld.so.conf, shell scripts, RECORD files) fall
    back to defaults. `python_scans`: a mapping that keeps what each Python
    source imports, by its content, across runs (the layer cache's).
    `on_keep(path)`: called once for each path as it enters the set (the
    build's layer starts from them: slimmer/early.py); the set only grows
    until the excludes, which are applied last."""
    return Keeper(trace, index, image, options, read_file, RULE_TYPES, python_scans, on_keep).run()


def generated_directories() -> set[str]:
    """Every directory above a path a GENERATE rule may write (Rule.may_generate)."""
    return {parent for rule in RULE_TYPES for path in rule.may_generate for parent in ancestors(path)}


def resolve(index: ImageIndex, path: str, follow_last: bool = True) -> Resolution:
    """Where `path` leads in the image: ImageIndex.resolve."""
    return index.resolve(path, follow_last)
