"""Rule state: a directory the app writes into is kept whole."""
from __future__ import annotations

import posixpath

import pytest

from keepfakes import R, d, f, keep, reasons
from slimmer.model import EntryType, KeepOptions


# --- state directories ---------------------------------------------------------------------

def test_written_directory_is_kept_whole_with_empty_subdirectories():
    spec = {"/var/lib/db/base/1": f(size=100), "/var/lib/db/pg_notify": d(mode=0o700),
            "/var/lib/db/PG_VERSION": f(), "/var/lib/other/x": f(), "/tmp": d(mode=0o1777),
            "/tmp/cache/old": f()}
    kept = keep(spec, writes=["/var/lib/db/postmaster.pid", "/tmp/scratch", "/var/lib/newdir/x"])
    r = reasons(kept)
    for path in ("/var/lib/db/base/1", "/var/lib/db/pg_notify", "/var/lib/db/PG_VERSION", "/var/lib/db/base"):
        assert r[path] is R.STATE, path
    assert "/var/lib/db/postmaster.pid" not in kept          # runtime-created: not in the image
    assert "/var/lib/other/x" not in kept and "/tmp/cache/old" not in kept
    assert kept.kept["/var/lib/db/pg_notify"].because_of == "/var/lib/db/postmaster.pid"
    assert "/var/lib/db/base/1" not in keep(spec, writes=["/var/lib/db/postmaster.pid"],
                                            options=KeepOptions(rules={"state": False}))


@pytest.mark.parametrize("written", ["/home/app/.cache_file", "/root/.history", "/etc/app.conf", "/run/x.pid",
                                     "/var/log/app.log", "/newfile"])
def test_system_roots_are_never_kept_whole(written):
    spec = {"/home/app/big": f(), "/root/big": f(), "/etc/big": f(), "/run/big": f(), "/var/log/big": f(),
            "/big": f()}
    kept = keep(spec, writes=[written])
    assert not [path for path in kept.paths() if path.endswith("/big")]
    # only the directory the file is created in (and its parents) comes along
    assert all(spec.get(path, d())["type"] is EntryType.DIR for path in kept.paths())
    parent = posixpath.dirname(written)
    assert parent == "/" or parent in kept


STDLIB = "/usr/lib/python3.11"
CACHES = {f"{STDLIB}/json/__init__.py": f(size=14_000), f"{STDLIB}/json/decoder.py": f(size=13_000),
          f"{STDLIB}/json/__pycache__/old.cpython-311.pyc": f(), f"{STDLIB}/email/parser.py": f(),
          "/var/cache/apt/pkgcache.bin": f(size=30_000_000), "/var/cache/fontconfig/x.cache-8": f(),
          "/root/.cache/pip/http/x": f(), "/home/app/.cache/go-build/x": f(), "/home/app/.npm/_cacache/x": f(),
          "/home/app/.npm/_logs/old.log": f(), "/srv/data/.cache/thumbs/a.png": f(),
          "/var/lib/db/base/1": f(size=100)}


@pytest.mark.parametrize("written", [
    f"{STDLIB}/json/__pycache__/__init__.cpython-311.pyc",      # the dir exists
    f"{STDLIB}/json/__pycache__/decoder.cpython-311.pyc.139872",  # written first, then renamed
    f"{STDLIB}/email/__pycache__/parser.cpython-311.pyc",       # nearest existing dir: the stdlib's email/
    f"{STDLIB}/email/parser.pyc",
    "/var/cache/apt/archives/partial/x.deb", "/var/cache/fontconfig/new.cache-8",
    "/root/.cache/pip/selfcheck.json", "/home/app/.cache/go-build/y", "/home/app/.npm/_cacache/tmp/x",
    "/home/app/.npm/_logs/new.log", "/srv/data/.cache/thumbs/b.png",
])
def test_caches_are_never_state(written):
    """Issue 17: a CLI run as root keeps 2.8 MB of stdlib as "state" because Python tries
    to write bytecode next to it; the program rebuilds a cache, so no write to one counts."""
    kept = keep(CACHES, writes=[written])
    assert not [path for path, kept_path in kept.kept.items() if kept_path.reason is R.STATE]
    assert f"{STDLIB}/json/decoder.py" not in kept and f"{STDLIB}/email/parser.py" not in kept
    assert "/var/cache/apt/pkgcache.bin" not in kept


def test_a_write_beside_a_cache_is_still_state():
    kept = keep(CACHES, writes=["/var/lib/db/postmaster.pid", "/srv/data/upload.bin"])
    assert kept.kept["/var/lib/db/base/1"].reason is R.STATE
    assert kept.kept["/srv/data/.cache/thumbs/a.png"].reason is R.STATE     # inside the app's own state dir
