"""Rule plugins: shared objects of plugin directories, within a closure budget."""
from __future__ import annotations

import pytest

from keepfakes import PG, POSTGRES, R, keep, lib, reasons
from slimmer.model import KeepOptions


@pytest.mark.parametrize("traced, rules, kept, dropped", [
    # the server stat'ed its $libdir: every extension there, but not one whose closure adds libLLVM
    ((f"{PG}/bin/postgres", f"{PG}/lib"), {},
     {f"{PG}/lib/pgcrypto.so": R.PLUGIN, f"{PG}/lib/plpgsql.so": R.PLUGIN},
     (f"{PG}/lib/llvmjit.so", "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1", f"{PG}/lib/llvmjit_types.bc",
      f"{PG}/lib/bitcode/postgres/a.bc")),
    # a traced .so that no kept object needs was dlopen'ed: its directory is a plugin directory
    ((f"{PG}/bin/postgres", f"{PG}/lib/plpgsql.so"), {},
     {f"{PG}/lib/pgcrypto.so": R.PLUGIN, f"{PG}/lib/plpgsql.so": R.TRACED}, (f"{PG}/lib/llvmjit.so",)),
    # a library the loader finds by DT_NEEDED does not make its directory a plugin directory
    ((f"{PG}/bin/postgres", "/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu"), {},
     {"/usr/lib/x86_64-linux-gnu/libcrypto.so.3": R.ELF},
     ("/usr/lib/x86_64-linux-gnu/libunused.so.1", f"{PG}/lib/pgcrypto.so")),
    # switched off: only what was traced
    ((f"{PG}/bin/postgres", f"{PG}/lib"), {"plugins": False}, {}, (f"{PG}/lib/pgcrypto.so",)),
])
def test_plugin_directories_keep_their_shared_objects_within_a_closure_budget(traced, rules, kept, dropped):
    r = reasons(keep(POSTGRES, *traced, options=KeepOptions(rules=rules)))
    for path, reason in kept.items():
        assert r.get(path) is reason, path
    for path in dropped:
        assert path not in r, path


def test_plugin_closure_is_kept_with_it_within_the_budget():
    spec = dict(POSTGRES, **{f"{PG}/lib/xml.so": lib(["libxml2.so.2"]),
                             "/usr/lib/x86_64-linux-gnu/libxml2.so.2": lib(),
                             f"{PG}/lib/sepgsql.so": lib(["libselinux.so.1"]),     # 0.4 MB + 0.7 MB
                             "/usr/lib/x86_64-linux-gnu/libselinux.so.1": dict(lib(), size=700_000)})
    spec[f"{PG}/lib/sepgsql.so"] = dict(spec[f"{PG}/lib/sepgsql.so"], size=400_000)
    r = reasons(keep(spec, f"{PG}/bin/postgres", f"{PG}/lib"))
    assert r[f"{PG}/lib/xml.so"] is R.PLUGIN and r["/usr/lib/x86_64-linux-gnu/libxml2.so.2"] is R.ELF
    assert f"{PG}/lib/sepgsql.so" not in r and "/usr/lib/x86_64-linux-gnu/libselinux.so.1" not in r
    # what the set already holds costs nothing: with libselinux kept, sepgsql.so fits
    r = reasons(keep(spec, f"{PG}/bin/postgres", f"{PG}/lib", "/usr/lib/x86_64-linux-gnu/libselinux.so.1"))
    assert r[f"{PG}/lib/sepgsql.so"] is R.PLUGIN
