"""The image index with the layer cache (slimmer/imagefs/cache.py), the index stage alone:
`python -m bench cache`.

For an image whose bottom layers another image has (python-flask on the Debian base of
postgres), three rounds, interleaved, each cache a temporary directory of its own:
  1. no cache: `docker save` read and every layer parsed;
  2. cold cache: the same, plus each layer's sha256 and its record written;
  3. partial: the other image indexed before, so its layers are cached: the shared
     ones are passed over in the stream, the others parsed;
  4. warm: every layer cached: no `docker save` at all;
  5. the floor of any read of `docker save`: the stream drained, nothing parsed.
"""
from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time

IMAGE = os.environ.get("BENCH_CACHE_IMAGE", "slimmer-sample/python-flask:latest")
SHARING = os.environ.get("BENCH_CACHE_SHARING", "slimmer-sample/postgres:latest")
ROUNDS = 3


def run() -> str:
    from slimmer.docker_api import Docker
    from slimmer.imagefs import LayerCache, index_image_cached

    docker = Docker()
    image, sharing = docker.inspect_image(IMAGE), docker.inspect_image(SHARING)
    layers = image["RootFS"]["Layers"]
    shared = sum(1 for a, b in zip(layers, sharing["RootFS"]["Layers"]) if a == b)

    def index(cache_dir: str | None):
        cache = LayerCache(cache_dir) if cache_dir else None
        started = time.monotonic()
        read = index_image_cached(layers, lambda: docker.export_image(image["Id"]), cache)
        return time.monotonic() - started, read

    def drain() -> float:
        started = time.monotonic()
        with docker.export_image(image["Id"]) as stream:
            while stream.read(1 << 20):
                pass
        return time.monotonic() - started

    figures: dict[str, list[float]] = {}
    notes: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="slimmer-cache-bench-") as workdir:
        base = os.path.join(workdir, "sharing")
        index_image_cached(sharing["RootFS"]["Layers"], lambda: docker.export_image(sharing["Id"]),
                           LayerCache(base))
        for round_ in range(ROUNDS):
            cold, partial = os.path.join(workdir, f"cold-{round_}"), os.path.join(workdir, f"partial-{round_}")
            shutil.copytree(base, partial)
            for label, measure in (("no cache", lambda: index(None)),
                                   ("cold cache", lambda: index(cold)),
                                   ("partial: shared layers cached", lambda: index(partial)),
                                   ("warm: every layer cached", lambda: index(partial)),
                                   ("docker save drained, nothing parsed", lambda: (drain(), None))):
                seconds, read = measure()
                figures.setdefault(label, []).append(seconds)
                if read is not None:
                    notes[label] = (f"{read.parsed} parsed, {read.from_cache} from the cache, "
                                    f"docker save {'read' if read.save_read else 'not read'}")
    lines = [f"{IMAGE}: {len(layers)} layers, {shared} shared with {SHARING} (indexed first for the partial case)",
             "", "| index of the image | median s | runs s | layers |", "|---|---|---|---|"]
    for label, values in figures.items():
        lines.append(f"| {label} | {statistics.median(values):.2f} | {', '.join(f'{v:.2f}' for v in values)} "
                     f"| {notes.get(label, '')} |")
    return "\n".join(lines)
