"""Rule repaired: paths the verifier found missing are kept like traced ones, with every closure."""
from __future__ import annotations

from keepfakes import PG, POSTGRES, R, elf, f, keep, lib, ln, reasons
from slimmer.model import KeepOptions

SITE = "/usr/lib/python3/dist-packages"
SPEC = dict(POSTGRES, **{
    "/usr/bin/report": ln("/opt/tools/report"),
    "/opt/tools/report": elf(["libreport.so.1"]), "/opt/tools/lib/libreport.so.1": lib(["libc.so.6"]),
    "/opt/tools/unused": f(),
    "/usr/local/bin/job.sh": f(mode=0o755, shebang="/bin/sh"), "/usr/bin/dash": elf(["libc.so.6"]),
    "/usr/bin/sh": ln("dash"), "/usr/bin/wc": elf(["libc.so.6"]),
    f"{SITE}/yaml/__init__.py": f(), f"{SITE}/yaml/loader.py": f(),
    "/etc/ld.so.conf": f(),
})
FILES = {"/usr/local/bin/job.sh": b"#!/bin/sh\nwc -l /data\n", "/etc/ld.so.conf": b"/opt/tools/lib\n"}


def repaired(*pairs, traced=(), include=()):
    return keep(SPEC, *traced, files=FILES, options=KeepOptions(repaired=tuple(pairs), include=include))


def test_a_repaired_path_is_kept_with_its_probe_symlinks_parents_and_elf_closure():
    kept = repaired(("/usr/bin/report", "exec report --daily"))
    r = reasons(kept)
    assert r["/usr/bin/report"] is R.REPAIRED and r["/opt/tools/report"] is R.REPAIRED
    assert kept.kept["/opt/tools/report"].because_of == "exec report --daily"
    assert r["/opt/tools/lib/libreport.so.1"] is R.ELF and r["/usr/lib/x86_64-linux-gnu/libc.so.6"] is R.ELF
    assert r["/opt/tools"] is R.PARENT and "/opt/tools/unused" not in r
    assert "/usr/bin/report" not in reasons(keep(SPEC, files=FILES))


def test_a_repaired_script_keeps_its_interpreter_and_commands():
    r = reasons(repaired(("/usr/local/bin/job.sh", "run job")))
    assert r["/usr/local/bin/job.sh"] is R.REPAIRED
    assert r["/usr/bin/dash"] is R.INTERPRETER and r["/usr/bin/wc"] is R.SCRIPT


def test_a_repaired_module_keeps_its_package_and_a_repaired_plugin_its_directory():
    r = reasons(repaired((f"{SITE}/yaml/__init__.py", "GET /yaml"), (f"{PG}/lib/plpgsql.so", "exec psql"),
                         traced=(f"{PG}/bin/postgres",)))
    assert r[f"{SITE}/yaml/loader.py"] is R.PACKAGE
    assert r[f"{PG}/lib/plpgsql.so"] is R.REPAIRED and r[f"{PG}/lib/pgcrypto.so"] is R.PLUGIN


def test_repaired_ranks_right_after_traced():
    kept = repaired(("/opt/tools/unused", "GET /"), ("/etc/ld.so.conf", "GET /"),
                    traced=("/etc/ld.so.conf",), include=("/opt/tools",))
    assert kept.kept["/opt/tools/unused"].reason is R.REPAIRED        # beats include
    assert kept.kept["/opt/tools/report"].reason is R.INCLUDE
    assert kept.kept["/etc/ld.so.conf"].reason is R.TRACED             # traced beats repaired
