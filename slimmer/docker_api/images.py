"""Images: inspect, size, history, `docker save`, `docker load`, `docker import`, tags,
the legacy builder, and single files of an image."""
from __future__ import annotations

import io
import json
import re
from typing import BinaryIO, Callable, Iterable

import docker.errors

from .. import imagefs
from ..errors import BadInput, SlimError
from ..events import BuildStep
from .choke import api_error
from .reference import check_reference
from .session import SESSION_LABEL
from .streams import StreamReader, open_stream


class Images:
    """The image calls of docker_api.Docker (a Session)."""

    def inspect_image(self, reference: str) -> dict:
        check_reference(reference)
        try:
            return self.api.inspect_image(reference)
        except docker.errors.ImageNotFound as exc:
            raise BadInput(
                "image not found", reference,
                f"build or pull it first (docker pull {reference}); list local images with docker images") from exc
        except docker.errors.APIError as exc:
            raise api_error("inspecting the image", reference, exc) from exc

    def image_size(self, image_id: str) -> int:
        """The image's content size (imagefs.content_size, docs/BUILD.md): the same on every
        image store. Free when this process has read the image's layers, else one
        `docker save` read for its tar headers. Never the API's Size (compressed on the
        containerd store, disk usage on overlay2)."""
        raw = self.inspect_image(image_id)
        size = imagefs.known_content_size((raw.get("RootFS") or {}).get("Layers") or ())
        if size is None:
            with self.export_image(raw["Id"]) as stream:
                size = imagefs.saved_content_size(stream)
        return size

    def image_history(self, image_id: str) -> list[dict]:
        try:
            return self.api.history(image_id)
        except docker.errors.APIError as exc:
            raise api_error("reading the image history", image_id, exc) from exc

    def export_image(self, image_id: str) -> BinaryIO:
        """`docker save` of one image as a readable stream (a tar of layer tars)."""
        try:
            response, chunks = open_stream(self.api, self.api._url("/images/{0}/get", image_id))
        except docker.errors.APIError as exc:
            raise api_error("exporting the image", image_id, exc) from exc
        return io.BufferedReader(StreamReader(chunks, prefetch=16, on_close=response.close), buffer_size=1 << 20)

    def load_image(self, archive: Iterable[bytes]) -> list[str]:
        """`docker load` of a docker-save archive streamed from ARCHIVE's chunks; what the
        daemon says it loaded ("Loaded image: app:1", "Loaded image ID: sha256:...")."""
        loaded: list[str] = []
        try:
            for message in self.api.load_image(archive):
                if isinstance(message, dict) and (message.get("error") or message.get("errorDetail")):
                    detail = message.get("error") or (message.get("errorDetail") or {}).get("message")
                    raise SlimError("Docker refused to load the slim image", str(detail).strip()[:300],
                                    "check the daemon log; SLIMMER_BUILD=builder uses the builder instead")
                text = (message.get("stream") or "") if isinstance(message, dict) else ""
                for line in text.splitlines():
                    for prefix in ("Loaded image: ", "Loaded image ID: "):
                        if line.startswith(prefix):
                            loaded.append(line[len(prefix):].strip())
        except docker.errors.APIError as exc:
            raise api_error("loading the slim image", "docker load", exc) from exc
        return loaded

    def import_layer(self, layer: Iterable[bytes]) -> str:
        """`docker import` of a layer tar streamed from LAYER's chunks (the daemon applies it
        as it arrives); returns the new image's ID (untagged, in the ledger until
        removed: call remove_image and untrack_image)."""
        try:
            response = self.api._post(self.api._url("/images/create"), data=layer,
                                      params={"fromSrc": "-", "changes": [f"LABEL {SESSION_LABEL}={self.session}"]},
                                      headers={"Content-Type": "application/tar", "Transfer-Encoding": "chunked"},
                                      timeout=None)
            self.api._raise_for_status(response)
        except docker.errors.APIError as exc:
            raise api_error("importing the slim layer", "docker import", exc) from exc
        image_id = ""
        for line in response.text.splitlines():
            message = json.loads(line) if line.strip() else {}
            if message.get("error") or message.get("errorDetail"):
                detail = message.get("error") or (message.get("errorDetail") or {}).get("message")
                raise SlimError("Docker refused to import the slim layer", str(detail).strip()[:300],
                                "check the daemon log; SLIMMER_BUILD=builder uses the builder instead")
            if str(message.get("status", "")).startswith("sha256:"):
                image_id = message["status"].strip()
        if not image_id:
            raise SlimError("docker import named no image", response.text.strip()[-300:],
                            "check the daemon log; SLIMMER_BUILD=builder uses the builder instead")
        self.track_image(image_id)
        return image_id

    def remove_image(self, image_id: str) -> None:
        try:
            self.api.remove_image(image_id, force=False, noprune=False)
        except docker.errors.NotFound:
            pass

    def track_image(self, image_id: str) -> None:
        """Remove IMAGE_ID (an id or a tag) at cleanup unless untracked before."""
        with self._lock:
            if image_id not in self._images:
                self._images.append(image_id)

    def tag_image(self, image_id: str, tag: str) -> None:
        repository, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
        try:
            self.api.tag(image_id, repository, version, force=True)
        except docker.errors.APIError as exc:
            raise api_error("tagging the slim image", tag, exc) from exc

    def untrack_image(self, image_id: str) -> None:
        with self._lock:
            if image_id in self._images:
                self._images.remove(image_id)

    def file_reader(self, image_id: str) -> "ImageFileReader":
        return ImageFileReader(self, image_id)

    # --- build -------------------------------------------------------------------

    def build(self, context_dir: str, tag: str, on_step: Callable[[BuildStep], None] | None = None) -> str:
        """docker build of CONTEXT_DIR/Dockerfile (legacy builder); returns the image id.

        Intermediate images of this build are removed afterwards; the cache is not
        used so that removing them never touches another build's images. The
        builder's "Step N/M : INSTRUCTION" lines reach ON_STEP as BuildStep events.
        """
        image_id = None
        intermediate: list[str] = []
        after_from = False
        try:
            for event in self.api.build(path=context_dir, tag=tag, rm=True, forcerm=True,
                                        nocache=True, decode=True, labels=None):
                if "stream" in event:
                    line = event["stream"]
                    step = re.match(r"Step (\d+)/(\d+) : ((\w+).*)", line.strip())
                    if step:
                        after_from = step.group(4).upper() == "FROM"
                        if on_step:
                            on_step(BuildStep(int(step.group(1)), int(step.group(2)), step.group(3)))
                    match = re.match(r"\s*---> ([0-9a-f]{12})\s*$", line)
                    # The id printed after a FROM step is an existing image (the original!)
                    if match and not after_from:
                        intermediate.append(match.group(1))
                if "aux" in event and "ID" in event["aux"]:
                    image_id = event["aux"]["ID"]
                if "error" in event:
                    raise SlimError("docker build of the generated Dockerfile failed",
                                    event["error"].strip(),
                                    f"rebuild by hand to see more: docker build {context_dir}")
        except docker.errors.APIError as exc:
            raise api_error("building the slim image", context_dir, exc) from exc
        finally:
            self._intermediate_images = intermediate
        if image_id is None:
            image_id = self.api.inspect_image(tag)["Id"]
        return image_id

    def remove_intermediate(self, keep: Iterable[str]) -> None:
        """Remove the images a build left behind, except KEEP (ids or prefixes)."""
        keep = [k.replace("sha256:", "") for k in keep]
        for short_id in reversed(getattr(self, "_intermediate_images", [])):
            if any(k.startswith(short_id) for k in keep):
                continue
            try:
                if self.api.inspect_image(short_id).get("RepoTags"):
                    continue   # a tagged image is never ours to remove
                self.api.remove_image(short_id, force=False, noprune=False)
            except docker.errors.APIError:
                pass   # a parent of the slim image, or already gone

class ImageFileReader:
    """Reads single files of an image through a created, never started container.

    The container is the pristine image (nothing ran in it); it is created on
    the first read and removed by close() (or the session's cleanup).
    """

    MAX_BYTES = 16 << 20

    def __init__(self, docker, image_id: str):
        self.docker = docker
        self.image_id = image_id
        self.container_id: str | None = None

    def __call__(self, path: str) -> bytes | None:
        if self.container_id is None:
            self.container_id = self.docker.create_container(
                self.image_id, entrypoint=["/nonexistent"], command=[], name_hint="read")
        archive = self.docker.get_archive(self.container_id, path)
        if archive is None:
            return None
        try:
            for member in archive:
                if member.isfile() and member.size <= self.MAX_BYTES:
                    return archive.extractfile(member).read()
                return None
            return None
        finally:
            archive.close()

    def close(self) -> None:
        if self.container_id is not None:
            self.docker.remove_container(self.container_id)
            self.container_id = None
