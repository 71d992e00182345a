"""slim build's index read from Docker's layer store (slimmer/index.py) is the index
`docker save` gives, entry for entry, on real sample images; and a build reads it so."""
from __future__ import annotations

import pytest

from slimmer.docker_api import Docker
from slimmer.index import read_index
from slimmer.inspect import inspect_image

IMAGES = ["postgres", "node-express", "python-venv"]


@pytest.fixture(scope="module")
def docker(sample_images):
    return Docker()


@pytest.mark.parametrize("app", IMAGES)
def test_the_layer_store_gives_the_index_docker_save_gives(docker, sample_images, app, monkeypatch):
    monkeypatch.setenv("SLIMMER_CACHE_DIR", "off")
    image = inspect_image(docker, sample_images[app], content_size=False)
    from_store = read_index(docker, image)
    monkeypatch.setenv("SLIMMER_READ", "save")
    from_save = read_index(docker, image)
    assert (from_store.source, from_save.source) == ("layer store", "docker save")
    assert len(from_store.index) > 1000
    assert dict(from_store.index.entries) == dict(from_save.index.entries)
    assert dict(from_store.index.contents) == dict(from_save.index.contents)
    assert from_store.config == from_save.config
