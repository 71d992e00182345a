"""Stage 1, inspect: an image reference becomes an ImageInfo (config and layers).

The image's size is its content size (imagefs.content_size; docs/BUILD.md),
never the API's `Size`, which is the compressed size on the containerd image
store and the disk usage on overlay2: the original and the slim image, xray and
compare, the report and the gates all count the same bytes.
"""
from __future__ import annotations

from dataclasses import replace

from .history import instruction, keyword as history_keyword
from . import imagefs
from .dockerport import DockerPort
from .model import Healthcheck, HistoryEntry, ImageConfig, ImageInfo, LayerInfo


def inspect_image(docker: DockerPort, reference: str, *, content_size: bool = True) -> ImageInfo:
    """REFERENCE's ImageInfo. content_size=False leaves size_bytes at 0 for a caller that
    reads the image's layers anyway and calls with_content_size afterwards (then free)."""
    raw = docker.inspect_image(reference)
    history = docker.image_history(raw["Id"])
    info = image_info_from_api(reference, raw, history)
    return with_content_size(docker, info) if content_size else info


def with_content_size(docker: DockerPort, image: ImageInfo) -> ImageInfo:
    """IMAGE with size_bytes set to its content size: known without any I/O when this
    process has read its layers already (the index of `slim build`, xray), else from
    one `docker save` stream read for its tar headers."""
    size = imagefs.known_content_size(layer.digest for layer in image.layers)
    if size is None:
        with docker.export_image(image.id) as stream:
            size = imagefs.saved_content_size(stream)
    return replace(image, size_bytes=size)


def image_info_from_api(reference: str, raw: dict, history: list[dict]) -> ImageInfo:
    """Pure: build ImageInfo from `docker image inspect` and `docker history` output.

    size_bytes is 0: the API's Size is not slimmer's size (module docstring);
    with_content_size fills it. Layer sizes are not in the inspect output either;
    imagefs fills exact figures. Here each layer gets the size of the history
    entry that made it:
      1. history is newest-first from the API; reverse it;
      2. entries with Size 0 whose instruction makes no layer (ENV, LABEL, CMD...)
         are "empty"; the remaining entries pair up with RootFS.Layers in order;
      3. when the counts disagree (squashed or imported images), layers keep
         an empty created_by rather than a wrong one.
    """
    config = raw.get("Config") or {}
    health = config.get("Healthcheck")
    healthcheck = None
    if health and health.get("Test"):
        healthcheck = Healthcheck(
            test=tuple(health["Test"]),
            interval_ns=int(health.get("Interval") or 0),
            timeout_ns=int(health.get("Timeout") or 0),
            start_period_ns=int(health.get("StartPeriod") or 0),
            retries=int(health.get("Retries") or 0),
        )
    image_config = ImageConfig(
        entrypoint=tuple(config.get("Entrypoint") or ()),
        cmd=tuple(config.get("Cmd") or ()),
        env=tuple(config.get("Env") or ()),
        workdir=config.get("WorkingDir") or "",
        user=config.get("User") or "",
        exposed_ports=tuple(sorted((config.get("ExposedPorts") or {}).keys())),
        volumes=tuple(sorted((config.get("Volumes") or {}).keys())),
        labels=tuple(sorted((config.get("Labels") or {}).items())),
        healthcheck=healthcheck,
        stop_signal=config.get("StopSignal") or "",
        shell=tuple(config.get("Shell") or ()),
    )
    chronological = list(reversed(history))
    diff_ids = (raw.get("RootFS") or {}).get("Layers") or []
    entries = _mark_empty(chronological, len(diff_ids))
    layer_history = [(entry, item) for entry, item in zip(entries, chronological) if not entry.empty_layer]
    if len(layer_history) != len(diff_ids):
        layer_history = [(HistoryEntry("", False), {})] * len(diff_ids)
    layers = tuple(
        LayerInfo(index=i, digest=digest, size_bytes=int(item.get("Size") or 0),
                  created_by=entry.created_by)
        for i, (digest, (entry, item)) in enumerate(zip(diff_ids, layer_history)))
    return ImageInfo(
        reference=reference,
        id=raw["Id"],
        repo_tags=tuple(raw.get("RepoTags") or ()),
        size_bytes=0,
        os=raw.get("Os") or "linux",
        architecture=raw.get("Architecture") or "",
        config=image_config,
        layers=layers,
        history=entries,
    )


_NO_LAYER = ("ENV", "LABEL", "CMD", "ENTRYPOINT", "EXPOSE", "USER", "WORKDIR", "VOLUME",
             "HEALTHCHECK", "STOPSIGNAL", "SHELL", "ARG", "ONBUILD", "MAINTAINER")


def _mark_empty(chronological: list[dict], layer_count: int) -> tuple[HistoryEntry, ...]:
    """Which history entries made a layer.

    WORKDIR is ambiguous: the classic builder commits a (0-byte) layer when
    it creates the directory, none otherwise. Count the certain layers first,
    then take the ambiguous ones only if that makes the counts agree.
    """
    kinds = []
    for item in chronological:
        keyword = history_keyword(item.get("CreatedBy") or "")
        if item.get("Size"):
            kinds.append("layer")
        elif keyword == "WORKDIR":
            kinds.append("maybe")
        elif keyword in _NO_LAYER:
            kinds.append("empty")
        else:
            kinds.append("layer")
    certain = kinds.count("layer")
    take_maybe = certain + kinds.count("maybe") == layer_count
    return tuple(
        HistoryEntry(created_by=instruction(item.get("CreatedBy") or ""),
                     empty_layer=not (kind == "layer" or (kind == "maybe" and take_maybe)))
        for item, kind in zip(chronological, kinds))


def default_slim_tag(image: ImageInfo) -> str:
    """app:1.0 -> app:1.0-slim; app -> app:latest-slim; an id -> slimmer/<short id>:slim."""
    reference = image.reference
    if reference.startswith("sha256:") or reference == image.id[7:7 + len(reference)]:
        return f"slimmer/{image.id[7:19]}:slim"
    name, _, digest = reference.partition("@")
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        repo, tag = name.rsplit(":", 1)
    else:
        repo, tag = name, "latest"
    return f"{repo}:{tag}-slim"
