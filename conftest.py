"""Loaded by pytest before any test module (the repository root is its rootdir): the
layer cache of this test session lives in a temporary directory of its own, never in
the user's ~/.cache/slimmer (slimmer/imagefs/cache.py). Subprocesses (the CLI, the
bench) inherit it through the environment."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

_CACHE = tempfile.mkdtemp(prefix="slimmer-test-cache-")
os.environ["SLIMMER_CACHE_DIR"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)
