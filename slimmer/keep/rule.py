"""What a keep rule is: a small class the keeper instantiates once per run.

A rule declares, as class attributes, its name (the `--keep-rule NAME` for a
switchable rule), whether it is on by default (None: always on, not
switchable), the reasons it records (what the report's `keep.by_reason`
calls what it keeps: the rule `plugins` records the reason `plugin`), the
stage it runs in and what it costs. Its docstring is the rule's definition.
It implements the method of its stage; its instance holds the rule's
per-run state (what it has already expanded, a database it read).
"""
from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, ClassVar

from ..model import FsEntry, KeepReason

if TYPE_CHECKING:
    from .core import Keeper


class Stage(Enum):
    """When a rule runs; the keeper closes the set after SEED, CLOSED and WIDEN."""

    SEED = "seed"            # once: the paths to start from (`apply`)
    EACH = "each"            # every newly kept path, until nothing new appears (`each`)
    CLOSED = "closed"        # once, on the closed set: which objects are kept, which programs run (`apply`)
    WIDEN = "widen"          # once, after the CLOSED rules' paths are closed too (`apply`)
    GENERATE = "generate"    # after the excludes: files written fresh into the slim image (`generate`)


class Rule:
    """Base of every keep rule (see the module docstring)."""

    name: ClassVar[str]
    stage: ClassVar[Stage]
    reasons: ClassVar[tuple[KeepReason, ...]] = ()
    default: ClassVar[bool | None] = None
    cost: ClassVar[str] = ""
    # GENERATE rules: every path generate() may return (the build's layer, started before
    # they are known, holds back the directories above them: slimmer/early.py)
    may_generate: ClassVar[tuple[str, ...]] = ()

    def __init__(self, keeper: Keeper) -> None:
        self.keeper = keeper

    @classmethod
    def switchable(cls) -> bool:
        return cls.default is not None

    def apply(self) -> None:
        """SEED, CLOSED and WIDEN rules: keep what the rule keeps."""
        raise NotImplementedError(self.name)

    def each(self, path: str, entry: FsEntry) -> None:
        """EACH rules: keep what one newly kept path needs."""
        raise NotImplementedError(self.name)

    def generate(self) -> dict[str, bytes]:
        """GENERATE rules: path -> bytes written into the slim image instead of copied."""
        raise NotImplementedError(self.name)
