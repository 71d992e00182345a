"""The image index (the stage's output), from a `docker save` stream or from the layer cache.

index_image_cached, the way `slim build` indexes:
  1. the layers' records are looked up in the cache by the diff_ids Docker reports
     (`docker image inspect`'s RootFS.Layers);
  2. all of them cached (and the image config, when the caller names the image ID):
     the index is merged from the cache; `docker save` is not read at all, and the
     layers' content sizes (the image's size) and the config come along;
  3. some cached: `docker save` is read once, and the layers the cache names by
     their member name are passed over unparsed (the daemon writes the whole stream
     either way; passing over a layer costs about what reading its bytes does: bench/cache_bench.py);
  4. a member passed over that turns out to be another layer (a damaged cache) makes
     the index read the stream again, parsing everything.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO, Callable, Sequence

from ..model import ImageIndex
from .cache import LayerCache
from .merge import merge_layers
from .saved import CacheMismatch, read_saved_image, variant
from .size import remember_size

_INDEX_VARIANT = variant(hashes=False, elf=True)


def index_image(stream: BinaryIO) -> ImageIndex:
    """The merged filesystem of the image in a `docker save` stream."""
    return merge_layers(read_saved_image(stream).layers)


@dataclass(frozen=True)
class IndexRead:
    """An index and how it was obtained."""
    index: ImageIndex
    layers: int                  # layers in the image
    from_cache: int              # of which taken from the layer cache
    save_read: bool              # whether `docker save` (or the stream given for it) was read at all
    config: dict | None = None   # the image config (history with empty_layer flags, rootfs, ...)
    source: str = ""             # how it was read: "layer cache", "docker save", "layer store" (slimmer/index.py)

    @property
    def parsed(self) -> int:
        """Layers parsed from the `docker save` stream."""
        return self.layers - self.from_cache if self.save_read else 0


def index_image_cached(diff_ids: Sequence[str], open_save: Callable[[], AbstractContextManager[BinaryIO]],
                       cache: LayerCache | None, image_id: str = "") -> IndexRead:
    """The index of the image with these layers (module docstring); OPEN_SAVE opens its
    `docker save` stream when it is needed; CACHE None reads the stream every time.
    IMAGE_ID: the config of this image is wanted too (IndexRead.config)."""
    diff_ids = list(diff_ids)
    known = {}
    if cache is not None:
        for diff_id in dict.fromkeys(diff_ids):
            record = cache.get(diff_id, _INDEX_VARIANT)
            if record is not None:
                known[diff_id] = record
    config = cache.config(image_id) if cache is not None and image_id else None
    if diff_ids and len(known) == len(set(diff_ids)) and (config is not None or not image_id):
        layers = [known[diff_id].files("", index, diff_id) for index, diff_id in enumerate(diff_ids)]
        for layer in layers:
            remember_size(layer.digest, layer.size_bytes)
        return IndexRead(merge_layers(layers), len(layers), len(layers), save_read=False, config=config,
                         source="layer cache")
    try:
        with open_save() as stream:
            saved = read_saved_image(stream, cache=cache, known=known)
    except CacheMismatch:
        known = {}
        with open_save() as stream:
            saved = read_saved_image(stream, cache=cache)
    return IndexRead(merge_layers(saved.layers), len(saved.layers), saved.from_cache, save_read=True,
                     config=saved.config, source="docker save")
