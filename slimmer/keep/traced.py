"""Rule "traced" (always on, reason `traced`): what the app reached while it ran.

Every traced path that exists in the image is kept, resolved component by
component through the index (the symlinks on the way and the final target:
see core.py). A dangling symlink exists (the app read it). A path that does
not exist (created at run time: a pid file, a lock, a socket) keeps its
nearest existing directory, so the create succeeds in the slim image too.
"""
from __future__ import annotations

from ..model import KeepReason
from .rule import Rule, Stage


class TracedRule(Rule):
    """Keep every traced path, or the nearest directory of one the image lacks."""

    name = "traced"
    stage = Stage.SEED
    reasons = (KeepReason.TRACED,)
    cost = "the files the app touched: the floor of every slim image"

    def apply(self) -> None:
        for traced in self.keeper.trace.paths.values():
            if self.keeper.keep(traced.path, KeepReason.TRACED, None) is None:
                self.keeper.keep_nearest_directory(traced.path, traced.path)
