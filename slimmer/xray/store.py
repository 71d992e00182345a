"""An image of the daemon as xray reads it from Docker's layer store (slimmer/layerstore.py:
where the layers are, their tar-splits, the checks): the same ImageLayout a `docker save`
archive gives, each layer a StoredLayer whose tar headers scan.members() walks without
reading any file's data."""
from __future__ import annotations

from ..layerstore import DRIVER, READ_SAVE_HINT, StoredLayer, StoreUnusable, chain_ids, locate_image
from .layout import ImageLayout


def store_layout(root: str, image_id: str, repo_tags: tuple[str, ...] = (), driver: str = DRIVER) -> ImageLayout:
    """IMAGE_ID's config and layers in the layer store under ROOT (Docker's root dir)."""
    image = locate_image(root, image_id, driver)
    config_name = "/".join((root, "image", driver, "imagedb", "content", *image_id.split(":", 1)))
    return ImageLayout(config=image.config, config_name=config_name, image_id=image_id,
                       repo_tags=tuple(repo_tags), layers=image.layers)


__all__ = ["DRIVER", "READ_SAVE_HINT", "StoredLayer", "StoreUnusable", "chain_ids", "store_layout"]
