"""Rule "repaired" (always on, reason `repaired`): what verification found missing.

The verifier replays the probes against the slim image; a path the slim run
reached that exists in the original image but was removed is handed back in
KeepOptions.repaired as (path, probe name). Each is kept like a traced path,
with every closure a traced path gets (symlinks, parents, ELF, shebang,
packages, data, plugin and program-data triggers), and because_of names the
probe that needed it. Precedence: right after TRACED.
"""
from __future__ import annotations

from ..model import KeepReason
from .rule import Rule, Stage


class RepairedRule(Rule):
    """Keep each (path, probe) of KeepOptions.repaired, as a traced path."""

    name = "repaired"
    stage = Stage.SEED
    reasons = (KeepReason.REPAIRED,)
    cost = "only what a failed verification proved the app needs"

    def apply(self) -> None:
        for path, probe in self.keeper.options.repaired:
            if self.keeper.keep(path, KeepReason.REPAIRED, probe) is None:
                self.keeper.keep_nearest_directory(path, path)
