"""Rule program-data: a program's /usr/share data tree."""
from __future__ import annotations

import pytest

from keepfakes import GLIBC, PG, POSTGRES, R, elf, f, keep, reasons
from slimmer.model import KeepOptions


@pytest.mark.parametrize("traced, rules, kept_tree, not_kept", [
    # the server read one file of its data tree: the whole versioned tree, not the other version's
    ((f"{PG}/bin/postgres", "/usr/share/postgresql/15/timezonesets/Default"), {},
     "/usr/share/postgresql/15", ("/usr/share/postgresql/14/extension/old.control",
                                  "/usr/share/postgresql-common/pg_wrapper")),
    # nothing read there: nothing kept
    ((f"{PG}/bin/postgres",), {}, None, ("/usr/share/postgresql/15/extension/pgcrypto.control",)),
    ((f"{PG}/bin/postgres", "/usr/share/postgresql/15/timezonesets/Default"), {"program-data": False},
     None, ("/usr/share/postgresql/15/extension/pgcrypto.control",)),
])
def test_program_data_tree_is_kept_whole_when_the_program_read_from_it(traced, rules, kept_tree, not_kept):
    r = reasons(keep(POSTGRES, *traced, options=KeepOptions(rules=rules)))
    if kept_tree:
        assert r[f"{kept_tree}/extension/pgcrypto.control"] is R.PROGRAM_DATA
        assert r[f"{kept_tree}/extension/pgcrypto--1.3.sql"] is R.PROGRAM_DATA
        assert r[f"{kept_tree}/timezonesets/Default"] is R.TRACED
    for path in not_kept:
        assert path not in r, path


def test_program_data_of_a_program_in_a_bin_dir_is_share_slash_its_name():
    spec = dict(GLIBC, **{"/usr/sbin/nginx": elf(["libc.so.6"]), "/usr/share/nginx/html/index.html": f(),
                          "/usr/share/nginx/html/50x.html": f(), "/usr/share/other/x": f()})
    r = reasons(keep(spec, "/usr/sbin/nginx", "/usr/share/nginx/html/index.html", "/usr/share/other/x"))
    assert r["/usr/share/nginx/html/50x.html"] is R.PROGRAM_DATA
    assert "/usr/share/other" not in {p for p in r if r[p] is R.PROGRAM_DATA}


def test_program_data_leaves_out_documentation():
    spec = dict(POSTGRES, **{"/usr/share/postgresql/15/man/man1/psql.1.gz": f()})
    r = reasons(keep(spec, f"{PG}/bin/postgres", "/usr/share/postgresql/15/timezonesets/Default"))
    assert r["/usr/share/postgresql/15/extension/pgcrypto.control"] is R.PROGRAM_DATA
    assert "/usr/share/postgresql/15/man/man1/psql.1.gz" not in r
