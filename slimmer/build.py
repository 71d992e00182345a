"""Stage: build. `docker build` of exactly the generated artifacts directory."""
from __future__ import annotations

from typing import Callable

from .docker_api import Docker
from .model import Artifacts, BuiltImage

Event = Callable[[str], None]


def build_slim_image(docker: Docker, artifacts: Artifacts, tag: str,
                     on_line: Event = lambda _: None) -> BuiltImage:
    """Build the slim image from the artifacts directory and tag it.

    1. the build uses no cache, so its intermediate images are its own;
    2. the collect stage's image (the original plus a copy of the kept files)
       is removed afterwards; the slim image is the only thing left behind.
    """
    image_id = ""
    try:
        image_id = docker.build(artifacts.directory, tag, on_line=on_line)
    finally:
        docker.remove_intermediate(keep=[image_id] if image_id else [])
    size = int(docker.api.inspect_image(image_id).get("Size") or 0)
    return BuiltImage(tag=tag, id=image_id, size_bytes=size)
