"""Rule "app" (on by default, reason `app`): what the Dockerfile's COPY/ADD wrote.

Entries a COPY/ADD layer wrote (known from the layer's history) are kept,
each as an entry (a directory's entry, not its tree), in their final version:
a file a later RUN changed (`RUN chmod +x /www/cgi-bin/*`: mode, owner or
content) is still an app file, and the RUN's version is the one kept. Not
when the layer is larger than KeepOptions.app_layer_max_bytes (default 50 MB:
a model, a dataset) or copies into "/" (a base image's rootfs).
"""
from __future__ import annotations

from ..history import copy_destination
from ..model import KeepReason
from .rule import Rule, Stage


class AppRule(Rule):
    """Keep every entry of the image's application layers (see the module docstring)."""

    name = "app"
    stage = Stage.SEED
    reasons = (KeepReason.APP,)
    default = True
    cost = "the app's own files; 0 MB beyond the traced ones on most sample apps"

    def apply(self) -> None:
        limit = self.keeper.options.app_layer_max_bytes
        app_layers = {layer.index for layer in self.keeper.image.layers
                      if is_copy_layer(layer.created_by) and layer.size_bytes <= limit}
        if not app_layers:
            return
        for path, entry in self.keeper.index.entries.items():
            copied_by = [layer for layer in entry.written_by if layer in app_layers]
            if copied_by:
                self.keeper.keep(path, KeepReason.APP, f"layer {copied_by[-1]}", follow_last=False)


def is_copy_layer(created_by: str) -> bool:
    """A COPY/ADD layer from history, except one that writes into "/" (a base rootfs)."""
    return copy_destination(created_by) not in (None, "/", "/.")
