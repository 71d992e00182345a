"""Makes tests/unit/imagetar.py (the docker-save archive builder) importable as `imagetar`."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _cache_of_its_own(tmp_path_factory, monkeypatch):
    """Each unit test gets an empty layer cache: tests/unit/fakes.py numbers its images
    1, 2, 3... in every test, so a build record (slimmer/build.py, reuse) of one test would
    name another test's image of the same number; Docker's image IDs are content digests."""
    monkeypatch.setenv("SLIMMER_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
