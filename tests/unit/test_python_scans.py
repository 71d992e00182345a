"""What each Python source imports, kept across runs by content (imagefs/cache.py rule 7,
langimports.python.scan_key): a second keep stage gives the same keep set without parsing
any source again; the file is bounded, merged with another run's, and a damaged one is
ignored."""
from __future__ import annotations

import pytest

from keepfakes import make_image, make_index
from slimmer.imagefs import LayerCache, cache as cache_module, load_python_scans, save_python_scans
from slimmer.keep import compute_keep_set
from slimmer.langimports import python as python_module
from slimmer.model import KeepOptions, TraceLog, TracedPath, TracedProcess
from tests.unit.test_keep_imports import PYTHON, SERVER, SERVER_TRACE


def _keep(scans):
    files = {path: kw["text"].encode() for path, kw in PYTHON.items() if "text" in kw}
    entries = {path: {k: v for k, v in kw.items() if k != "text"} for path, kw in PYTHON.items()}
    trace = TraceLog(version=1, paths={p: TracedPath(p, frozenset({"openat"}), False) for p in SERVER_TRACE},
                     processes=tuple(TracedProcess(1, exe, tuple(argv)) for exe, argv in SERVER))
    return compute_keep_set(trace, make_index(entries), make_image(), KeepOptions(), read_file=files.get,
                            python_scans=scans)


def test_a_second_keep_stage_parses_no_source_and_keeps_the_same(monkeypatch):
    scans: dict = {}
    first = _keep(scans)
    assert first == _keep(None)                       # the memo changes nothing kept
    assert len(scans) >= 5
    monkeypatch.setattr(python_module, "scan_python",
                        lambda *args, **kwargs: pytest.fail("a source was parsed again"))
    assert _keep(dict(scans)) == first


def test_the_key_names_the_bytes_main_and_deferred():
    key = python_module.scan_key(b"import os\n", True, None)
    assert key == python_module.scan_key(b"import os\n", True, None)
    assert len({key, python_module.scan_key(b"import sys\n", True, None),
                python_module.scan_key(b"import os\n", False, None),
                python_module.scan_key(b"import os\n", True, {"f": ("pip",)})}) == 4


def test_scans_kept_in_the_cache_round_trip_merge_and_stay_bounded(tmp_path, monkeypatch):
    cache = LayerCache(str(tmp_path / "cache"))
    assert load_python_scans(None) is None and load_python_scans(cache) == {}
    scans = {"a" * 64: (("os", "import", 0, (), (), ()),)}
    save_python_scans(cache, scans, 0)
    assert load_python_scans(cache) == scans
    other = {"b" * 64: ()}                            # another run's, saved meanwhile
    save_python_scans(cache, other, 0)
    assert load_python_scans(cache) == {**scans, **other}
    unchanged = load_python_scans(cache)
    save_python_scans(cache, unchanged, len(unchanged))   # nothing new: nothing written
    monkeypatch.setattr(cache_module, "PYTHON_SCANS_MAX", 3)
    save_python_scans(cache, {f"{n:064x}": () for n in range(5)}, 0)
    assert list(load_python_scans(cache)) == [f"{n:064x}" for n in range(2, 5)]    # the oldest went


def test_a_damaged_scans_file_is_ignored(tmp_path):
    cache = LayerCache(str(tmp_path / "cache"))
    save_python_scans(cache, {"a" * 64: ()}, 0)
    path = tmp_path / "cache" / f"layers-v{cache_module.FORMAT}" / "python-scans"
    path.write_bytes(path.read_bytes()[:-5])
    assert load_python_scans(cache) == {}
