"""An image's size (docs/BUILD.md, "Image size"): its content size, the bytes of
regular-file content in its layer tars, uncompressed, each layer counted (hidden
versions too), hardlinks once. It is the same figure on every image store, unlike the
API's `Size` (compressed on the containerd store, disk usage elsewhere)."""
from __future__ import annotations

from typing import Iterable

from .cache import LayerCache, default_cache
from .layer import LayerFiles

_LAYER_CONTENT_BYTES: dict[str, int] = {}   # diff_id -> content size, for every layer read in this process


def content_size(layers: Iterable[LayerFiles]) -> int:
    """An image's size (the module docstring; docs/BUILD.md): the regular-file content of
    its layer tars, uncompressed, every layer counted. What xray, compare, the report and
    the --max-size/--min-ratio gates all call an image's size."""
    return sum(layer.size_bytes for layer in layers)


def remember_size(diff_id: str, size: int) -> None:
    if diff_id:
        _LAYER_CONTENT_BYTES[diff_id] = size


def known_content_size(diff_ids: Iterable[str], cache: LayerCache | None = None) -> int | None:
    """The content size of an image with these layers when every one of them has been
    read already, by this process (the index of the original, xray) or by an earlier run
    (the layer cache: CACHE, else the environment's), else None. A diff_id names the
    uncompressed layer tar, so the figure cannot be stale."""
    total = 0
    lookup = None
    for diff_id in diff_ids:
        size = _LAYER_CONTENT_BYTES.get(diff_id)
        if size is None:
            if lookup is None:
                lookup = cache or default_cache() or _NoCache()
            size = lookup.size(diff_id)
            if size is None:
                return None
            _LAYER_CONTENT_BYTES[diff_id] = size
        total += size
    return total


class _NoCache:
    @staticmethod
    def size(diff_id: str) -> None:
        return None
