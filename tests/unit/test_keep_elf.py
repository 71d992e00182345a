"""Rule elf: the dynamic loader's search, glibc's and musl's, on fake indexes."""
from __future__ import annotations

import pytest

from keepfakes import GLIBC, R, elf, f, keep, lib, ln, make_image, reasons
from slimmer.model import KeepOptions


# --- ELF closure ----------------------------------------------------------------------

def test_elf_closure_interpreter_needed_transitive_and_symlinked_sonames():
    spec = dict(GLIBC)
    spec.update({
        "/usr/bin/app": elf(["libfoo.so.1"]),
        "/usr/lib/x86_64-linux-gnu/libfoo.so.1": ln("libfoo.so.1.2.3"),
        "/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3": lib(["libbar.so.2", "libc.so.6"]),
        "/usr/lib/x86_64-linux-gnu/libbar.so.2": lib(["libc.so.6", "libmissing.so.9"]),
        "/usr/lib/x86_64-linux-gnu/libunused.so.1": lib(),
    })
    kept = keep(spec, "/bin/app")
    r = reasons(kept)
    for path in ("/usr/lib/x86_64-linux-gnu/libfoo.so.1.2.3", "/usr/lib/x86_64-linux-gnu/libbar.so.2",
                 "/usr/lib/x86_64-linux-gnu/libc.so.6", "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"):
        assert r[path] is R.ELF, path
    assert r["/usr/lib/x86_64-linux-gnu/libfoo.so.1"] is R.ELF     # the name DT_NEEDED asked for
    assert r["/lib64"] is R.SYMLINK and r["/usr/lib64/ld-linux-x86-64.so.2"] is R.ELF
    assert r["/usr/bin/app"] is R.TRACED
    assert "/usr/lib/x86_64-linux-gnu/libunused.so.1" not in kept
    assert kept.kept["/usr/lib/x86_64-linux-gnu/libbar.so.2"].because_of.endswith("libfoo.so.1")


def _two_copies(**app_kw):
    spec = dict(GLIBC)
    spec.update({
        "/opt/app/bin/app": elf(["libx.so"], **app_kw),
        "/opt/app/rpath/libx.so": lib(["libc.so.6"]),
        "/opt/app/runpath/libx.so": lib(["libc.so.6"]),
        "/env/libx.so": lib(["libc.so.6"]),
        "/usr/lib/x86_64-linux-gnu/libx.so": lib(["libc.so.6"]),
    })
    return spec


@pytest.mark.parametrize("app_kw, env, winner", [
    (dict(rpath=["$ORIGIN/../rpath"]), (), "/opt/app/rpath/libx.so"),
    (dict(runpath=["${ORIGIN}/../runpath"]), (), "/opt/app/runpath/libx.so"),
    # DT_RPATH is ignored when DT_RUNPATH is present
    (dict(rpath=["$ORIGIN/../rpath"], runpath=["$ORIGIN/../runpath"]), (), "/opt/app/runpath/libx.so"),
    # RPATH beats LD_LIBRARY_PATH, which beats RUNPATH
    (dict(rpath=["/opt/app/rpath"]), ("LD_LIBRARY_PATH=/env",), "/opt/app/rpath/libx.so"),
    (dict(runpath=["/opt/app/runpath"]), ("LD_LIBRARY_PATH=/nowhere:/env",), "/env/libx.so"),
    ({}, (), "/usr/lib/x86_64-linux-gnu/libx.so"),
])
def test_library_search_order_follows_the_glibc_loader(app_kw, env, winner):
    kept = keep(_two_copies(**app_kw), "/opt/app/bin/app", image=make_image(env=env))
    found = {p for p in ("/opt/app/rpath/libx.so", "/opt/app/runpath/libx.so", "/env/libx.so",
                         "/usr/lib/x86_64-linux-gnu/libx.so") if p in kept}
    assert found == {winner}


def test_rpath_of_the_executable_applies_to_its_libraries_but_not_through_runpath():
    spec = dict(GLIBC)
    spec.update({
        "/app/bin/app": elf(["liba.so"], rpath=["$ORIGIN/../lib"]),
        "/app/lib/liba.so": lib(["libb.so"]),                     # no RUNPATH: exe's RPATH applies
        "/app/lib/libb.so": lib(["libc_r.so"], runpath=["/nowhere"]),   # RUNPATH: exe's RPATH does not
        "/app/lib/libc_r.so": lib(),
        "/usr/lib/x86_64-linux-gnu/libc_r.so": lib(),
    })
    kept = keep(spec, "/app/bin/app")
    assert "/app/lib/liba.so" in kept and "/app/lib/libb.so" in kept
    assert "/usr/lib/x86_64-linux-gnu/libc_r.so" in kept and "/app/lib/libc_r.so" not in kept


def test_wrong_class_or_machine_is_skipped_and_search_continues():
    spec = dict(GLIBC)
    spec.update({
        "/usr/bin/app": elf(["libz.so.1"], rpath=["/opt/i386", "/opt/arm"]),
        "/opt/i386/libz.so.1": lib(elf_class=32, machine="EM_386"),
        "/opt/arm/libz.so.1": lib(machine="EM_AARCH64"),
        "/usr/lib/x86_64-linux-gnu/libz.so.1": lib(),
        "/usr/lib/x86_64-linux-gnu/libc.so": f(size=50),      # a linker script, not ELF
    })
    kept = keep(spec, "/usr/bin/app")
    assert "/usr/lib/x86_64-linux-gnu/libz.so.1" in kept
    assert "/opt/i386/libz.so.1" not in kept and "/opt/arm/libz.so.1" not in kept


def test_ld_so_conf_directories_and_includes_are_searched_before_defaults():
    spec = dict(GLIBC)
    spec.update({
        "/usr/bin/app": elf(["libq.so"]),
        "/opt/q/lib/libq.so": lib(), "/usr/lib/x86_64-linux-gnu/libq.so": lib(),
        "/etc/ld.so.conf": f(), "/etc/ld.so.conf.d/q.conf": f(), "/etc/ld.so.conf.d/skip.txt": f(),
    })
    files = {"/etc/ld.so.conf": b"# comment\ninclude /etc/ld.so.conf.d/*.conf\n",
             "/etc/ld.so.conf.d/q.conf": b"/opt/q/lib\n", "/etc/ld.so.conf.d/skip.txt": b"/nowhere\n"}
    with_conf = keep(spec, "/usr/bin/app", files=files)
    assert "/opt/q/lib/libq.so" in with_conf and "/usr/lib/x86_64-linux-gnu/libq.so" not in with_conf
    without = keep(spec, "/usr/bin/app")
    assert "/usr/lib/x86_64-linux-gnu/libq.so" in without and "/opt/q/lib/libq.so" not in without


def test_lib_token_expands_to_the_multiarch_dir():
    spec = dict(GLIBC)
    spec.update({"/usr/bin/app": elf(["libt.so"], runpath=["/opt/$LIB"]), "/opt/lib64/libt.so": lib()})
    assert "/opt/lib64/libt.so" in keep(spec, "/usr/bin/app")


def test_musl_closure_uses_musl_search_path():
    spec = {
        "/lib/ld-musl-x86_64.so.1": lib(),
        "/lib/libc.musl-x86_64.so.1": ln("ld-musl-x86_64.so.1"),
        "/usr/bin/app": elf(["libssl.so.3", "libc.musl-x86_64.so.1"], interp="/lib/ld-musl-x86_64.so.1"),
        "/usr/lib/libssl.so.3": lib(["libcrypto.so.3"]),
        "/usr/local/lib/libcrypto.so.3": lib(),
        "/usr/lib/x86_64-linux-gnu/libssl.so.3": lib(),
    }
    kept = keep(spec, "/usr/bin/app", options=KeepOptions(rules={"data": False}))
    r = reasons(kept)
    assert r["/lib/ld-musl-x86_64.so.1"] is R.ELF
    assert r["/usr/lib/libssl.so.3"] is R.ELF and r["/usr/local/lib/libcrypto.so.3"] is R.ELF
    assert r["/lib/libc.musl-x86_64.so.1"] is R.ELF
    assert "/usr/lib/x86_64-linux-gnu/libssl.so.3" not in kept
