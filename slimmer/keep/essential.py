"""Rule "essential" (always on, reasons `essential` and `healthcheck`): what the image config needs.

  1. /etc/passwd, /etc/group (+ shadow, gshadow, nsswitch.conf when present)
     when the image has a USER or the app read either file;
  2. WORKDIR; VOLUME mount points;
  3. /tmp (the image's entry, mode 1777; an image without /tmp gets none:
     the collect step copies only what exists);
  4. HEALTHCHECK (reason `healthcheck`): the command's executable (CMD:
     argv[0] on PATH; CMD-SHELL: /bin/sh and the commands of the shell
     string, read as the script rule reads a script).
"""
from __future__ import annotations

from ..model import KeepReason
from .rule import Rule, Stage
from .script import keep_commands, script_commands

ACCOUNT_FILES = ("/etc/passwd", "/etc/group", "/etc/shadow", "/etc/gshadow", "/etc/nsswitch.conf")


class EssentialRule(Rule):
    """Keep what USER, WORKDIR, VOLUME and HEALTHCHECK need (see the module docstring)."""

    name = "essential"
    stage = Stage.SEED
    reasons = (KeepReason.ESSENTIAL, KeepReason.HEALTHCHECK)
    cost = "a few small files"

    def apply(self) -> None:
        keeper = self.keeper
        config = keeper.image.config
        looked_up = any(p in keeper.accessed for p in ("/etc/passwd", "/etc/group"))
        if config.user or looked_up:
            for path in ACCOUNT_FILES:
                keeper.keep(path, KeepReason.ESSENTIAL, "USER" if config.user else path)
        if config.workdir:
            keeper.keep(config.workdir, KeepReason.ESSENTIAL, "WORKDIR")
        for volume in config.volumes:
            keeper.keep(volume, KeepReason.ESSENTIAL, "VOLUME")
        keeper.keep("/tmp", KeepReason.ESSENTIAL, "/tmp")
        self.keep_healthcheck()

    def keep_healthcheck(self) -> None:
        health = self.keeper.image.config.healthcheck
        if health is None or len(health.test) <= 1:
            return
        kind, args = health.test[0], health.test[1:]
        if kind == "CMD":
            found = self.keeper.which(args[0])
            if found:
                self.keeper.keep(found, KeepReason.HEALTHCHECK, "HEALTHCHECK")
        elif kind == "CMD-SHELL":
            self.keeper.keep("/bin/sh", KeepReason.HEALTHCHECK, "HEALTHCHECK")
            keep_commands(self.keeper, script_commands(args[0]), KeepReason.HEALTHCHECK, "HEALTHCHECK")
