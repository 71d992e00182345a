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
