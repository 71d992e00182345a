"""Stage 1, inspect: an image reference becomes an ImageInfo (config and layers).

The image's size is its content size (imagefs.content_size; docs/BUILD.md),
never the API's `Size`, which is the compressed size on the containerd image
store and the disk usage on overlay2: the original and the slim image, xray and
compare, the report and the gates all count the same bytes.

Which history entry made which layer: the image config's `empty_layer` flags
decide when the caller has the config (image_info_from_api's config_history, or
with_config_history once a `docker save` archive was read); the Docker API's
history carries no such flag, so without the config a heuristic decides
(_layer_entries).
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


def image_info_from_api(reference: str, raw: dict, history: list[dict],
                        config_history: list[dict] | None = None) -> ImageInfo:
    """Pure: build ImageInfo from `docker image inspect` and `docker history` output,
    and the image config's own history when the caller has it (CONFIG_HISTORY, the
    `history` list of the config JSON in a `docker save` archive).

    size_bytes is 0: the API's Size is not slimmer's size (module docstring);
    with_content_size fills it. Layer sizes are not in the inspect output either;
    imagefs fills exact figures. Here each layer gets the size of the history
    entry that made it, paired as _layer_entries says.
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
    created_by = [item.get("CreatedBy") or "" for item in chronological]
    sizes = [int(item.get("Size") or 0) for item in chronological]
    entries = _layer_entries(created_by, sizes, len(diff_ids), config_history)
    layers = _paired_layers(diff_ids, entries, sizes)
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


def with_config_history(docker: DockerPort, image: ImageInfo, config_history: list[dict] | None) -> ImageInfo:
    """IMAGE with its layers paired by the image config's `empty_layer` flags, for a caller
    that reads the config (a `docker save` archive's) after inspecting the image: the
    API's inspect and history are read again (two small calls; each layer's size comes
    from the API entry that made it). IMAGE itself without a config history."""
    if not config_history:
        return image
    raw = docker.inspect_image(image.id)
    info = image_info_from_api(image.reference, raw, docker.image_history(image.id), config_history)
    return replace(info, size_bytes=image.size_bytes)


def _layer_entries(created_by: list[str], sizes: list[int], layer_count: int,
                   config_history: list[dict] | None) -> tuple[HistoryEntry, ...]:
    """Which history entries (chronological) made a layer:
      1. the API's history is newest-first; the caller reverses it;
      2. the image config's `empty_layer` flags decide when the caller has the config
         and they apply: the builder wrote them, and the daemon pairs layers by them.
         They apply when the config history has as many entries as the API's, with
         the same created_by each, and exactly as many entries without the flag
         (absent means false, as in the OCI image spec) as the image has layers;
      3. otherwise (no config, no history in it, or it does not line up) a heuristic,
         _mark_empty: entries of size 0 whose instruction makes no layer are empty.
    """
    entries = _flags_entries(created_by, layer_count, config_history)
    return entries if entries is not None else _mark_empty(created_by, sizes, layer_count)


def _flags_entries(created_by: list[str], layer_count: int,
                   config_history: list[dict] | None) -> tuple[HistoryEntry, ...] | None:
    """The entries as the config's flags say (_layer_entries, rule 2), None when they do not apply."""
    if not config_history or len(config_history) != len(created_by):
        return None
    if [item.get("created_by") or "" for item in config_history] != created_by:
        return None
    flags = [bool(item.get("empty_layer")) for item in config_history]
    if flags.count(False) != layer_count:
        return None
    return tuple(HistoryEntry(created_by=instruction(text), empty_layer=flag) for text, flag in zip(created_by, flags))


def _paired_layers(diff_ids: list[str], entries: tuple[HistoryEntry, ...], sizes: list[int]) -> tuple[LayerInfo, ...]:
    """Entries that made a layer pair up with the layers in order; when the counts
    disagree (squashed or imported images), layers keep an empty created_by rather
    than a wrong one."""
    made = [(entry, size) for entry, size in zip(entries, sizes) if not entry.empty_layer]
    if len(made) != len(diff_ids):
        made = [(HistoryEntry("", False), 0)] * len(diff_ids)
    return tuple(LayerInfo(index=i, digest=digest, size_bytes=size, created_by=entry.created_by)
                 for i, (digest, (entry, size)) in enumerate(zip(diff_ids, made)))


_NO_LAYER = ("ENV", "LABEL", "CMD", "ENTRYPOINT", "EXPOSE", "USER", "WORKDIR", "VOLUME",
             "HEALTHCHECK", "STOPSIGNAL", "SHELL", "ARG", "ONBUILD", "MAINTAINER")


def _mark_empty(created_by: list[str], sizes: list[int], layer_count: int) -> tuple[HistoryEntry, ...]:
    """Which history entries made a layer, without the config's flags (a heuristic).

    WORKDIR is ambiguous: the classic builder commits a (0-byte) layer when
    it creates the directory, none otherwise. Count the certain layers first,
    then take the ambiguous ones only if that makes the counts agree. A RUN
    that changed nothing makes no layer either (the classic builder flags it
    empty); nothing here can tell, the counts disagree and the layers stay
    unpaired: the config's flags are the answer.
    """
    kinds = []
    for text, size in zip(created_by, sizes):
        keyword = history_keyword(text)
        if size:
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
        HistoryEntry(created_by=instruction(text),
                     empty_layer=not (kind == "layer" or (kind == "maybe" and take_maybe)))
        for text, kind in zip(created_by, kinds))


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
