"""Stage: build. `docker build` of exactly the generated artifacts directory."""
from __future__ import annotations

from .dockerport import DockerPort
from .events import BuildStep, Emit, ignore
from .model import Artifacts, BuiltImage


def build_slim_image(docker: DockerPort, artifacts: Artifacts, tag: str, emit: Emit = ignore) -> BuiltImage:
    """Build the slim image from the artifacts directory and tag it.

    1. the build uses no cache, so its intermediate images are its own;
    2. the collect stage's image (the original plus a copy of the kept files)
       is removed afterwards; the slim image is the only thing left behind;
    3. each builder step reaches EMIT as a BuildStep event.
    """
    image_id = ""
    try:
        image_id = docker.build(artifacts.directory, tag, on_step=lambda step: emit(step))
    finally:
        docker.remove_intermediate(keep=[image_id] if image_id else [])
    return BuiltImage(tag=tag, id=image_id, size_bytes=docker.image_size(image_id))


__all__ = ["build_slim_image", "BuildStep"]
