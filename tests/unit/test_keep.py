"""Keep rules on small fake image indexes: what a user would find in (or miss from) the slim image."""
from __future__ import annotations

import posixpath

import pytest

from slimmer.keep import (compute_keep_set, keep_summary, parse_shebang, removed_by_top_dir, resolve,
                          script_commands)
from slimmer.model import (ElfInfo, EntryType, FsEntry, Healthcheck, ImageConfig, ImageIndex, ImageInfo,
                           KeepOptions, KeepReason, LayerInfo, TraceLog, TracedPath)

R = KeepReason
X64 = dict(elf_class=64, machine="EM_X86_64")
LD = "/lib64/ld-linux-x86-64.so.2"


def d(mode=0o755, uid=0, gid=0, layer=0):
    return dict(type=EntryType.DIR, mode=mode, uid=uid, gid=gid, layer=layer)


def f(size=10, mode=0o644, elf=None, shebang=None, layer=0):
    return dict(type=EntryType.FILE, mode=mode, size=size, elf=elf, shebang=shebang, layer=layer)


def ln(target, layer=0):
    return dict(type=EntryType.SYMLINK, mode=0o777, link_target=target, layer=layer)


def elf(needed=(), interp=LD, rpath=(), runpath=(), elf_class=64, machine="EM_X86_64"):
    return f(size=1000, mode=0o755, elf=ElfInfo(elf_class=elf_class, machine=machine, interpreter=interp,
                                                needed=tuple(needed), rpath=tuple(rpath),
                                                runpath=tuple(runpath)))


def lib(needed=(), rpath=(), runpath=(), elf_class=64, machine="EM_X86_64"):
    return elf(needed, None, rpath, runpath, elf_class, machine)


def make_index(spec: dict) -> ImageIndex:
    """Entries from {path: kwargs}; missing parent directories are added (0755)."""
    entries = {"/": FsEntry("/", EntryType.DIR, 0o755, 0, 0, 0, None, 0)}
    for path, kw in spec.items():
        kw = dict(kw)
        entries[path] = FsEntry(path=path, type=kw.pop("type"), mode=kw.pop("mode", 0o644),
                                uid=kw.pop("uid", 0), gid=kw.pop("gid", 0), size=kw.pop("size", 0),
                                link_target=kw.pop("link_target", None), layer=kw.pop("layer", 0), **kw)
        parent = posixpath.dirname(path)
        while parent != "/" and parent not in spec and parent not in entries:
            entries[parent] = FsEntry(parent, EntryType.DIR, 0o755, 0, 0, 0, None, 0)
            parent = posixpath.dirname(parent)
    return ImageIndex(entries)


def make_image(layers=(), **config) -> ImageInfo:
    return ImageInfo(reference="app:1", id="sha256:" + "a" * 64, repo_tags=("app:1",), size_bytes=0,
                     os="linux", architecture="amd64", config=ImageConfig(**config), layers=tuple(layers))


def make_trace(*paths, writes=()) -> TraceLog:
    traced = {p: TracedPath(p, frozenset({"openat"}), False) for p in paths}
    for p in writes:
        traced[p] = TracedPath(p, frozenset({"openat"}), True)
    return TraceLog(version=1, paths=traced)


def keep(spec, *traced, writes=(), image=None, options=None, files=None):
    index = make_index(spec)
    read_file = (lambda path: (files or {}).get(path)) if files is not None else None
    return compute_keep_set(make_trace(*traced, writes=writes), index, image or make_image(),
                            options or KeepOptions(), read_file=read_file)


def reasons(keep_set) -> dict[str, R]:
    return {path: kept.reason for path, kept in keep_set.kept.items()}


GLIBC = {
    "/usr/lib": d(), "/lib": ln("usr/lib"), "/lib64": ln("usr/lib64"), "/bin": ln("usr/bin"),
    "/usr/lib64/ld-linux-x86-64.so.2": ln("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": lib(),
    "/usr/lib/x86_64-linux-gnu/libc.so.6": lib(),
}


# --- symlink resolution ------------------------------------------------------------

@pytest.mark.parametrize("spec, path, real, links", [
    ({"/a/b": f()}, "/a/b", "/a/b", ()),
    ({"/a/b": ln("/c/d"), "/c/d": f()}, "/a/b", "/c/d", ("/a/b",)),
    ({"/a/b": ln("../c/d"), "/c/d": f()}, "/a/b", "/c/d", ("/a/b",)),
    ({"/lib": ln("usr/lib"), "/usr/lib/x.so": f()}, "/lib/x.so", "/usr/lib/x.so", ("/lib",)),
    ({"/a": ln("b"), "/b": ln("c"), "/c": ln("/d/e"), "/d/e": f()}, "/a", "/d/e", ("/a", "/b", "/c")),
    ({"/x": ln("/y"), "/y": ln("/x")}, "/x", None, ("/x", "/y")),                # loop
    ({"/self": ln("/self")}, "/self/a", None, ("/self",)),                       # loop through a dir
    ({"/link": ln("/missing")}, "/link", None, ("/link",)),                      # dangling
    ({"/a/b": f()}, "/a/b/c", None, ()),                                         # not a directory
    ({"/d1/l": ln("../d2"), "/d2/f": f()}, "/d1/l/f", "/d2/f", ("/d1/l",)),      # relative dir link
    ({"/d/up": ln(".."), "/f": f()}, "/d/up/f", "/f", ("/d/up",)),
])
def test_resolve_walks_symlinks_component_by_component(spec, path, real, links):
    found = resolve(make_index(spec), path)
    assert found.path == real
    assert found.symlinks[:len(links)] == links


def test_resolve_loop_is_bounded_like_the_kernel():
    spec = {f"/l{i}": ln(f"/l{i + 1}") for i in range(45)}
    spec["/l45"] = f()
    assert resolve(make_index(spec), "/l0").path is None          # 45 links > 40
    assert resolve(make_index(spec), "/l10").path == "/l45"       # 35 links


# --- traced, symlinks, parents ------------------------------------------------------

def test_traced_path_keeps_symlinks_on_the_way_its_target_and_every_parent():
    spec = {"/usr": d(), "/usr/lib": d(), "/lib": ln("usr/lib"), "/usr/lib/app": d(mode=0o750, uid=5),
            "/usr/lib/app/conf": ln("conf.d/main"), "/usr/lib/app/conf.d/main": f(size=7),
            "/usr/lib/app/other": f(size=99)}
    kept = keep(spec, "/lib/app/conf")
    assert reasons(kept) == {
        "/lib": R.SYMLINK, "/usr": R.PARENT, "/usr/lib": R.SYMLINK, "/usr/lib/app": R.PARENT,
        "/usr/lib/app/conf": R.TRACED, "/usr/lib/app/conf.d": R.PARENT,
        "/usr/lib/app/conf.d/main": R.TRACED,
    }
    assert kept.kept["/usr/lib/app/conf.d/main"].because_of is None
    assert kept.kept["/lib"].because_of == "/lib/app/conf"
    assert "/usr/lib/app/other" not in kept


@pytest.mark.parametrize("traced", ["/proc/self/maps", "/sys/fs/cgroup/x", "/dev/null", "/.slimmer/sensor",
                                    "/nonexistent"])
def test_pseudo_filesystems_sensor_and_missing_paths_are_never_kept(traced):
    spec = {"/proc/self/maps": f(), "/sys/fs/cgroup/x": f(), "/dev/null": dict(type=EntryType.CHAR),
            "/.slimmer/sensor": f(), "/etc/hostname": f()}
    assert len(keep(spec, traced)) == 0


def test_a_file_created_at_run_time_keeps_only_its_directory():
    """nginx creates /run/nginx.pid, PostgreSQL a lock in /var/run/postgresql:
    the file is not in the image, the directory must be or the create fails."""
    spec = {"/run/postgresql": d(mode=0o2775, uid=101, gid=104), "/run/postgresql/old.pid": f(),
            "/var/run": ln("/run"), "/etc/hostname": f()}
    kept = keep(spec, "/var/run/postgresql/.s.PGSQL.5432.lock")
    assert reasons(kept) == {"/run": R.SYMLINK, "/run/postgresql": R.PARENT, "/var": R.PARENT,
                             "/var/run": R.SYMLINK}
    assert "/run/postgresql/old.pid" not in kept
    assert reasons(keep(spec, "/etc/missing.conf")) == {"/etc": R.PARENT}


def test_symlink_into_proc_keeps_only_the_link():
    kept = keep({"/etc/mtab": ln("/proc/self/mounts")}, "/etc/mtab")
    assert reasons(kept) == {"/etc": R.PARENT, "/etc/mtab": R.TRACED}


def test_dangling_symlink_that_was_traced_is_kept():
    kept = keep({"/etc/localtime": ln("/usr/share/zoneinfo/Nowhere")}, "/etc/localtime")
    assert "/etc/localtime" in kept


def test_traced_beats_parent_when_a_directory_is_both():
    kept = keep({"/srv/www": d(), "/srv/www/index.html": f()}, "/srv/www/index.html", "/srv/www")
    assert kept.kept["/srv/www"].reason is R.TRACED


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


# --- shebang interpreters ------------------------------------------------------------

@pytest.mark.parametrize("line, interpreter, argv", [
    ("/usr/bin/env python3", "/usr/bin/env", ["python3"]),
    ("/bin/sh -e", "/bin/sh", ["-e"]),
    ("  /usr/bin/perl -w -T ", "/usr/bin/perl", ["-w -T"]),
    ("", None, []),
])
def test_parse_shebang_splits_like_linux(line, interpreter, argv):
    assert parse_shebang(line) == (interpreter, argv)


def test_env_shebang_keeps_env_and_the_command_found_on_path():
    spec = dict(GLIBC)
    spec.update({
        "/usr/bin/env": elf(["libc.so.6"]),
        "/usr/local/bin/python3": ln("python3.11"), "/usr/local/bin/python3.11": elf(["libc.so.6"]),
        "/usr/bin/python3": elf(["libc.so.6"]),
        "/app/run": f(mode=0o755, shebang="/usr/bin/env -S python3 -u"),
        "/app/module.py": f(mode=0o644, shebang="/usr/bin/perl"), "/usr/bin/perl": elf(),
    })
    kept = keep(spec, "/app/run", "/app/module.py",
                image=make_image(env=("PATH=/usr/local/bin:/usr/bin",)))
    r = reasons(kept)
    assert r["/usr/bin/env"] is R.INTERPRETER
    assert r["/usr/local/bin/python3"] is R.INTERPRETER and r["/usr/local/bin/python3.11"] is R.INTERPRETER
    assert r["/usr/lib/x86_64-linux-gnu/libc.so.6"] is R.ELF
    assert "/usr/bin/python3" not in kept
    assert "/usr/bin/perl" not in kept            # a non-executable file's shebang is never run


def test_sh_shebang_keeps_the_shell_and_script_commands():
    spec = dict(GLIBC)
    spec.update({
        "/usr/bin/dash": elf(["libc.so.6"]), "/usr/bin/sh": ln("dash"),
        "/usr/bin/sed": elf(["libc.so.6"]), "/usr/bin/gosu": elf(), "/usr/bin/unused": elf(),
        "/usr/bin/grep": elf(), "/usr/bin/date": elf(),
        "/entry.sh": f(mode=0o755, shebang="/bin/sh -e"),
    })
    script = (b"#!/bin/sh -e\n# unused is only in a comment\nFOO=1 sed -i s/a/b/ /x && exec gosu app \"$@\"\n"
              b"if grep -q x /y; then echo `date`; fi\ncat <<EOF\nunused\nEOF\n")
    kept = keep(spec, "/entry.sh", files={"/entry.sh": script})
    r = reasons(kept)
    assert r["/usr/bin/dash"] is R.INTERPRETER and r["/bin"] is R.SYMLINK
    for command in ("sed", "gosu", "grep", "date"):
        assert r[f"/usr/bin/{command}"] is R.SCRIPT, command
    assert "/usr/bin/unused" not in kept
    off = keep(spec, "/entry.sh", files={"/entry.sh": script}, options=KeepOptions(rules={"script": False}))
    assert "/usr/bin/sed" not in off and "/usr/bin/dash" in off


def test_script_commands_tokenizer():
    text = 'a=1 b=2 first arg\nsecond | third && fourth || fifth; sixth\nx=$(seventh -v)\n' \
           'while read l; do eighth "$l"; done\ncase $x in\n  y) ninth ;;\nesac\necho "; notacommand"\n'
    assert script_commands(text) == ["first", "second", "third", "fourth", "fifth", "sixth", "seventh",
                                     "eighth", "ninth"]


# --- essentials --------------------------------------------------------------------------

def test_essentials_user_workdir_volumes_tmp_and_healthcheck():
    spec = dict(GLIBC)
    spec.update({
        "/etc/passwd": f(), "/etc/group": f(), "/etc/shadow": f(mode=0o640), "/etc/hostname": f(),
        "/srv/app": d(), "/data": d(mode=0o700, uid=999), "/data/old": f(), "/tmp": d(mode=0o1777),
        "/usr/bin/curl": elf(["libc.so.6"]), "/usr/bin/dash": elf(), "/usr/bin/sh": ln("dash"),
    })
    image = make_image(user="app", workdir="/srv/app", volumes=("/data",),
                       healthcheck=Healthcheck(("CMD", "curl", "-f", "http://localhost/")))
    r = reasons(keep(spec, image=image, options=KeepOptions(rules={"data": False})))
    for path in ("/etc/passwd", "/etc/group", "/etc/shadow", "/srv/app", "/data", "/tmp"):
        assert r[path] is R.ESSENTIAL, path
    assert r["/usr/bin/curl"] is R.HEALTHCHECK and r["/usr/lib/x86_64-linux-gnu/libc.so.6"] is R.ELF
    assert "/data/old" not in r and "/etc/hostname" not in r

    shell = make_image(healthcheck=Healthcheck(("CMD-SHELL", "curl -f http://x/ || exit 1")))
    r = reasons(keep(spec, image=shell, options=KeepOptions(rules={"data": False})))
    assert r["/usr/bin/dash"] is R.HEALTHCHECK and r["/usr/bin/curl"] is R.HEALTHCHECK
    assert "/etc/passwd" not in r


def test_passwd_is_kept_when_the_app_looked_it_up_without_user():
    r = reasons(keep({"/etc/passwd": f(), "/etc/group": f(), "/etc/nsswitch.conf": f()}, "/etc/passwd"))
    assert r["/etc/group"] is R.ESSENTIAL and r["/etc/nsswitch.conf"] is R.ESSENTIAL


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


# --- includes and excludes -------------------------------------------------------------------

def test_include_globs_and_directories_and_exclude_veto():
    spec = {"/app/static/a.css": f(), "/app/static/img/b.png": f(), "/app/main.py": f(),
            "/usr/share/doc/x/README": f(), "/usr/share/locale/de/x.mo": f(), "/usr/share/locale/fr/x.mo": f()}
    options = KeepOptions(include=("/app/static", "/usr/share/locale/*/x.mo"),
                          exclude=("/app/static/img", "/usr/share/locale/fr/*"))
    kept = keep(spec, "/app/main.py", options=options)
    r = reasons(kept)
    assert r["/app/static/a.css"] is R.INCLUDE and r["/usr/share/locale/de/x.mo"] is R.INCLUDE
    assert kept.kept["/app/static/a.css"].because_of == "/app/static"
    assert "/app/static/img" not in kept and "/app/static/img/b.png" not in kept
    assert "/usr/share/locale/fr/x.mo" not in kept
    assert "/usr/share/doc/x/README" not in kept


def test_exclude_never_removes_a_parent_of_a_kept_path():
    spec = {"/usr/share/locale/de/x.mo": f(), "/usr/share/locale/fr/y.mo": f(), "/app/main.py": f()}
    # "*/locale" matches the directory, not the files under it: the kept .mo keeps its parent
    kept = keep(spec, "/usr/share/locale/de/x.mo", "/usr/share/locale",
                options=KeepOptions(exclude=("*/locale",)))
    assert "/usr/share/locale/de/x.mo" in kept
    assert kept.kept["/usr/share/locale"].reason is R.PARENT
    # naming a directory exactly vetoes its whole tree, traced or not
    kept = keep(spec, "/app/main.py", options=KeepOptions(exclude=("/app",)))
    assert len(kept) == 0


# --- issue 5 rules: packages, app layers, data families --------------------------------------

SITE = "/usr/lib/python3/dist-packages"


def test_python_package_is_kept_whole_with_its_metadata():
    spec = {f"{SITE}/flask/__init__.py": f(), f"{SITE}/flask/json/provider.py": f(),
            f"{SITE}/flask/py.typed": f(), f"{SITE}/Flask-2.2.2.dist-info/METADATA": f(),
            f"{SITE}/Flask-2.2.2.dist-info/entry_points.txt": f(),
            f"{SITE}/yaml/__init__.py": f(), f"{SITE}/_yaml/__init__.py": f(),
            f"{SITE}/PyYAML-6.0.egg-info/top_level.txt": f(),
            f"{SITE}/jinja2/__init__.py": f(), f"{SITE}/Jinja2-3.1.dist-info/METADATA": f()}
    files = {f"{SITE}/PyYAML-6.0.egg-info/top_level.txt": b"_yaml\nyaml\n"}
    kept = keep(spec, f"{SITE}/flask/__init__.py", f"{SITE}/yaml/__init__.py", files=files)
    r = reasons(kept)
    assert r[f"{SITE}/flask/json/provider.py"] is R.PACKAGE           # the lazily imported module
    assert r[f"{SITE}/Flask-2.2.2.dist-info/entry_points.txt"] is R.PACKAGE
    assert r[f"{SITE}/PyYAML-6.0.egg-info/top_level.txt"] is R.PACKAGE
    assert f"{SITE}/jinja2/__init__.py" not in kept
    off = keep(spec, f"{SITE}/flask/__init__.py", options=KeepOptions(rules={"package": False}))
    assert f"{SITE}/flask/json/provider.py" not in off


def test_python_record_keeps_every_file_of_the_distribution():
    site = "/usr/local/lib/python3.11/site-packages"
    spec = {f"{site}/attr/__init__.py": f(), f"{site}/attrs/__init__.py": f(),
            f"{site}/attrs-23.1.0.dist-info/RECORD": f(), f"{site}/other/__init__.py": f()}
    files = {f"{site}/attrs-23.1.0.dist-info/RECORD":
             b"attr/__init__.py,sha256=x,10\nattrs/__init__.py,sha256=y,3\n../../../bin/x,,\n"}
    r = reasons(keep(spec, f"{site}/attr/__init__.py", files=files))
    assert r[f"{site}/attrs/__init__.py"] is R.PACKAGE and f"{site}/other/__init__.py" not in r


@pytest.mark.parametrize("traced, package_dir", [
    ("/app/node_modules/express/index.js", "/app/node_modules/express"),
    ("/app/node_modules/@babel/core/lib/x.js", "/app/node_modules/@babel/core"),
    ("/usr/share/nodejs/debug/src/index.js", "/usr/share/nodejs/debug"),
])
def test_node_package_is_kept_whole(traced, package_dir):
    spec = {traced: f(), f"{package_dir}/package.json": f(), f"{package_dir}/lib/lazy.js": f(),
            "/app/node_modules/unused/index.js": f(), "/usr/share/nodejs/unused/index.js": f()}
    r = reasons(keep(spec, traced))
    assert r[f"{package_dir}/lib/lazy.js"] is R.PACKAGE and r[f"{package_dir}/package.json"] is R.PACKAGE
    assert "/app/node_modules/unused/index.js" not in r and "/usr/share/nodejs/unused/index.js" not in r


def test_copy_layers_are_kept_whole_unless_large_or_a_rootfs():
    layers = [LayerInfo(0, "sha256:0", 80_000_000, "/bin/sh -c #(nop) ADD file:abc in / "),
              LayerInfo(1, "sha256:1", 1_000, "/bin/sh -c #(nop) COPY dir:def in /app "),
              LayerInfo(2, "sha256:2", 60_000_000, "COPY model.bin /models/ # buildkit"),
              LayerInfo(3, "sha256:3", 500, "RUN /bin/sh -c echo hi > /etc/hi # buildkit")]
    spec = {"/etc/os-release": f(layer=0), "/app": d(layer=1), "/app/views/unprobed.html": f(layer=1),
            "/app/empty": d(layer=1), "/models/model.bin": f(size=60_000_000, layer=2),
            "/etc/hi": f(layer=3)}
    r = reasons(keep(spec, image=make_image(layers)))
    assert r["/app/views/unprobed.html"] is R.APP and r["/app/empty"] is R.APP
    assert "/models/model.bin" not in r and "/etc/os-release" not in r and "/etc/hi" not in r
    assert len(keep(spec, image=make_image(layers), options=KeepOptions(rules={"app": False}))) == 0


def test_tls_library_keeps_the_ca_store_through_its_symlinks():
    spec = dict(GLIBC)
    spec.update({
        "/usr/bin/app": elf(["libssl.so.3", "libc.so.6"]),
        "/usr/lib/x86_64-linux-gnu/libssl.so.3": lib(["libcrypto.so.3"]),
        "/usr/lib/x86_64-linux-gnu/libcrypto.so.3": lib(),
        "/etc/ssl/certs/ca-certificates.crt": f(size=200_000),
        "/etc/ssl/certs/ISRG_Root_X1.pem": ln("/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt"),
        "/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt": f(),
        "/usr/share/ca-certificates/mozilla/Unlinked.crt": f(),
        "/usr/lib/ssl/cert.pem": ln("/etc/ssl/certs/ca-certificates.crt"),
        "/usr/lib/ssl/certs": ln("/etc/ssl/certs"), "/etc/ssl/openssl.cnf": f(),
        "/usr/lib/ssl/misc/CA.pl": f(mode=0o755, shebang="/usr/bin/perl"), "/usr/bin/perl": elf(["libc.so.6"]),
    })
    r = reasons(keep(spec, "/usr/bin/app"))
    assert "/usr/lib/ssl/misc/CA.pl" not in r and "/usr/bin/perl" not in r     # tools, not TLS data
    assert r["/etc/ssl/certs/ca-certificates.crt"] is R.DATA
    assert r["/usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt"] is R.DATA
    assert r["/usr/lib/ssl/cert.pem"] is R.DATA and r["/etc/ssl/openssl.cnf"] is R.DATA
    assert "/usr/share/ca-certificates/mozilla/Unlinked.crt" not in r
    assert "/etc/ssl/certs/ca-certificates.crt" not in keep(spec, "/usr/bin/app",
                                                            options=KeepOptions(rules={"data": False}))


def test_libc_keeps_timezones_and_the_nss_modules_nsswitch_names():
    spec = dict(GLIBC)
    spec.update({
        "/usr/bin/app": elf(["libc.so.6"]),
        "/usr/share/zoneinfo/Europe/Paris": f(), "/etc/localtime": ln("/usr/share/zoneinfo/Etc/UTC"),
        "/usr/share/zoneinfo/Etc/UTC": f(), "/etc/nsswitch.conf": f(), "/etc/hosts": f(),
        "/usr/lib/x86_64-linux-gnu/libnss_files.so.2": lib(), "/usr/lib/x86_64-linux-gnu/libnss_dns.so.2": lib(),
        "/usr/lib/x86_64-linux-gnu/libnss_mdns4.so.2": lib(), "/usr/lib/x86_64-linux-gnu/libnss_ldap.so.2": lib(),
    })
    files = {"/etc/nsswitch.conf": b"passwd: files\nhosts: files mdns4 [NOTFOUND=return] dns\n"}
    r = reasons(keep(spec, "/usr/bin/app", files=files))
    assert r["/usr/share/zoneinfo/Europe/Paris"] is R.DATA and r["/etc/localtime"] is R.DATA
    for module in ("files", "dns", "mdns4"):
        assert r[f"/usr/lib/x86_64-linux-gnu/libnss_{module}.so.2"] is R.DATA, module
    assert "/usr/lib/x86_64-linux-gnu/libnss_ldap.so.2" not in r
    assert r["/etc/hosts"] is R.DATA


def test_jvm_keeps_conf_and_security():
    home = "/usr/lib/jvm/java-17-openjdk-amd64"
    spec = dict(GLIBC)
    spec.update({
        f"{home}/bin/java": elf(["libjli.so", "libc.so.6"], runpath=["$ORIGIN/../lib"]),
        f"{home}/lib/libjli.so": lib(), f"{home}/lib/libjava.so": lib(),
        f"{home}/conf/security": ln("/etc/java-17-openjdk/security"),
        "/etc/java-17-openjdk/security/java.security": f(),
        f"{home}/lib/security/cacerts": ln("/etc/ssl/certs/java/cacerts"),
        "/etc/ssl/certs/java/cacerts": f(), f"{home}/lib/libawt.so": lib(),
    })
    # the data rule alone: with "plugins" on, the dlopen'ed libjava.so makes lib/ a
    # plugin directory and libawt.so is kept too (see the plugin tests)
    r = reasons(keep(spec, f"{home}/bin/java", f"{home}/lib/libjava.so",
                     options=KeepOptions(rules={"plugins": False})))
    assert r["/etc/java-17-openjdk/security/java.security"] is R.DATA
    assert r["/etc/ssl/certs/java/cacerts"] is R.DATA
    assert r[f"{home}/lib/libjli.so"] is R.ELF
    assert f"{home}/lib/libawt.so" not in r


# --- report helpers --------------------------------------------------------------------------

def test_summary_and_removed_by_top_dir_account_bytes_by_reason_and_directory():
    spec = {"/app/main.py": f(size=100), "/usr/share/doc/a/README": f(size=1000),
            "/usr/share/doc/b/README": f(size=500), "/usr/bin/tool": f(size=50), "/etc/x": f(size=7)}
    index = make_index(spec)
    kept = compute_keep_set(make_trace("/app/main.py"), index, make_image(), KeepOptions())
    summary = keep_summary(kept, index)
    assert summary == {"files": 2, "bytes": 100,
                       "by_reason": {"parent": {"files": 1, "bytes": 0}, "traced": {"files": 1, "bytes": 100}}}
    assert removed_by_top_dir(index, kept) == [("/usr/share", 1500, 2), ("/usr/bin", 50, 1), ("/etc", 7, 1)]
    assert removed_by_top_dir(index, kept, depth=1)[0] == ("/usr", 1550, 3)


# --- plugin directories, program data, locales ----------------------------------------------

PG = "/usr/lib/postgresql/15"
POSTGRES = dict(GLIBC, **{
    f"{PG}/bin/postgres": elf(["libssl.so.3", "libc.so.6"]),
    "/usr/lib/x86_64-linux-gnu/libssl.so.3": lib(["libcrypto.so.3"]),
    "/usr/lib/x86_64-linux-gnu/libcrypto.so.3": lib(),
    "/usr/lib/x86_64-linux-gnu/libunused.so.1": lib(),
    f"{PG}/lib/plpgsql.so": lib(["libc.so.6"]),
    f"{PG}/lib/pgcrypto.so": lib(["libcrypto.so.3"]),
    f"{PG}/lib/llvmjit.so": lib(["libLLVM-14.so.1"]),
    f"{PG}/lib/llvmjit_types.bc": f(),
    f"{PG}/lib/bitcode/postgres/a.bc": f(),
    "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1": dict(lib(), size=100_000_000),
    "/usr/share/postgresql/15/timezonesets/Default": f(),
    "/usr/share/postgresql/15/extension/pgcrypto.control": f(),
    "/usr/share/postgresql/15/extension/pgcrypto--1.3.sql": f(),
    "/usr/share/postgresql/14/extension/old.control": f(),
    "/usr/share/postgresql-common/pg_wrapper": f(),
})


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


def test_a_partly_read_locale_is_kept_whole():
    """PostgreSQL's postmaster sets LC_MESSAGES/NUMERIC/TIME; a backend sets LC_COLLATE and
    LC_CTYPE only for its first connection: a locale half kept refuses every connection."""
    spec = dict(GLIBC, **{"/usr/bin/app": elf(["libc.so.6"]),
                          "/usr/lib/locale/C.utf8/LC_TIME": f(), "/usr/lib/locale/C.utf8/LC_CTYPE": f(),
                          "/usr/lib/locale/C.utf8/LC_COLLATE": f(), "/usr/lib/locale/de_DE/LC_CTYPE": f()})
    r = reasons(keep(spec, "/usr/bin/app", "/usr/lib/locale/C.utf8/LC_TIME"))
    assert r["/usr/lib/locale/C.utf8/LC_COLLATE"] is R.DATA and r["/usr/lib/locale/C.utf8/LC_CTYPE"] is R.DATA
    assert "/usr/lib/locale/de_DE/LC_CTYPE" not in r
    off = reasons(keep(spec, "/usr/bin/app", "/usr/lib/locale/C.utf8/LC_TIME",
                       options=KeepOptions(rules={"data": False})))
    assert "/usr/lib/locale/C.utf8/LC_COLLATE" not in off


# --- OS packages and package metadata -------------------------------------------------------

DPKG_STATUS = (b"Package: libc6\nStatus: install ok installed\nArchitecture: amd64\nMulti-Arch: same\n"
               b"Description: GNU C Library\n shared libraries\n\n"
               b"Package: curl\nStatus: install ok installed\nArchitecture: amd64\n\n"
               b"Package: tzdata\nStatus: install ok installed\nArchitecture: all\n\n"
               b"Package: docs-only\nStatus: install ok installed\nArchitecture: all\n")
DPKG = dict(GLIBC, **{
    "/usr/bin/app": elf(["libc.so.6"]), "/usr/bin/curl": elf(["libc.so.6"]),
    "/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so": lib(), "/usr/share/zoneinfo/UTC": f(),
    "/usr/share/doc/docs-only/README": f(), "/var/lib/dpkg/status": f(size=len(DPKG_STATUS)),
    "/var/lib/dpkg/info/libc6:amd64.list": f(), "/var/lib/dpkg/info/curl.list": f(),
    "/var/lib/dpkg/info/tzdata.list": f(), "/var/lib/dpkg/info/docs-only.list": f(),
})
DPKG_FILES = {
    "/var/lib/dpkg/status": DPKG_STATUS,
    # merged /usr: dpkg lists /lib/..., the image holds /usr/lib/...
    "/var/lib/dpkg/info/libc6:amd64.list": b"/.\n/lib\n/lib/x86_64-linux-gnu\n/lib/x86_64-linux-gnu/libc.so.6\n"
                                           b"/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so\n",
    "/var/lib/dpkg/info/curl.list": b"/.\n/usr\n/usr/bin\n/usr/bin/curl\n",
    "/var/lib/dpkg/info/tzdata.list": b"/.\n/usr/share/zoneinfo/UTC\n",
    "/var/lib/dpkg/info/docs-only.list": b"/.\n/usr\n/usr/share/doc/docs-only/README\n",
}


def test_os_packages_keep_every_file_of_a_package_with_a_kept_file():
    on = keep(DPKG, "/usr/bin/app", options=KeepOptions(rules={"os-packages": True, "data": False}),
              files=DPKG_FILES)
    assert on.kept["/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so"].reason is R.OS_PACKAGE
    assert on.kept["/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so"].because_of == "package libc6:amd64"
    # a directory shared by every package (/usr/bin) pulls in no package
    assert "/usr/bin/curl" not in on and "/usr/share/doc/docs-only/README" not in on
    default = keep(DPKG, "/usr/bin/app", options=KeepOptions(rules={"data": False}), files=DPKG_FILES)
    assert "/usr/lib/x86_64-linux-gnu/gconv/UTF-16.so" not in default          # opt-in


def test_package_metadata_is_the_status_file_trimmed_to_packages_still_present():
    kept = keep(DPKG, "/usr/bin/app", "/usr/share/zoneinfo/UTC", files=DPKG_FILES)
    status = kept.generated["/var/lib/dpkg/status"].decode()
    assert [line for line in status.splitlines() if line.startswith("Package:")] == [
        "Package: libc6", "Package: tzdata"]
    assert "Description: GNU C Library\n shared libraries\n" in status     # paragraphs verbatim
    assert status.endswith("\n\n") and "\n\n\n" not in status
    # the original is not copied (the trimmed one replaces it); its directory is kept
    assert "/var/lib/dpkg/status" not in kept and kept.kept["/var/lib/dpkg"].reason is R.PARENT
    summary = keep_summary(kept, make_index(DPKG))["by_reason"]["package-metadata"]
    assert summary == {"files": 1, "bytes": len(kept.generated["/var/lib/dpkg/status"])}
    off = keep(DPKG, "/usr/bin/app", options=KeepOptions(rules={"package-metadata": False}), files=DPKG_FILES)
    assert off.generated == {} and "/var/lib/dpkg" not in off


def test_package_metadata_follows_excludes():
    kept = keep(DPKG, "/usr/bin/app", "/usr/share/zoneinfo/UTC", files=DPKG_FILES,
                options=KeepOptions(exclude=("/usr/share/zoneinfo",)))
    status = kept.generated["/var/lib/dpkg/status"].decode()
    assert "Package: tzdata" not in status and "Package: libc6" in status
    for pattern in ("/var/lib/dpkg", "/var/lib/dpkg/stat*"):
        excluded = keep(DPKG, "/usr/bin/app", files=DPKG_FILES, options=KeepOptions(exclude=(pattern,)))
        assert excluded.generated == {} and "/var/lib/dpkg/status" not in excluded


APK_INSTALLED = (b"C:Q1abc=\nP:musl\nV:1.2.4-r2\nF:lib\nR:ld-musl-x86_64.so.1\nR:libc.musl-x86_64.so.1\n\n"
                 b"P:busybox\nV:1.36.1-r5\nF:bin\nR:busybox\nF:etc\nR:securetty\n\n"
                 b"P:zlib\nV:1.3-r2\nF:lib\nR:libz.so.1\nR:libz.so.1.3\n\n")
APK = {"/lib/ld-musl-x86_64.so.1": lib(), "/lib/libc.musl-x86_64.so.1": ln("ld-musl-x86_64.so.1"),
       "/bin/busybox": elf(interp="/lib/ld-musl-x86_64.so.1"), "/etc/securetty": f(),
       "/lib/libz.so.1": ln("libz.so.1.3"), "/lib/libz.so.1.3": lib(), "/usr/bin/app": elf(
           ["libc.musl-x86_64.so.1"], interp="/lib/ld-musl-x86_64.so.1"),
       "/lib/apk/db/installed": f(size=len(APK_INSTALLED))}


def test_apk_database_drives_os_packages_and_is_trimmed():
    files = {"/lib/apk/db/installed": APK_INSTALLED}
    kept = keep(APK, "/usr/bin/app", files=files)
    installed = kept.generated["/lib/apk/db/installed"].decode()
    assert installed.startswith("C:Q1abc=\nP:musl\n") and "P:busybox" not in installed and "P:zlib" not in installed
    assert "/etc/securetty" not in kept
    on = keep(APK, "/bin/busybox", options=KeepOptions(rules={"os-packages": True}), files=files)
    assert on.kept["/etc/securetty"].reason is R.OS_PACKAGE
    assert "/lib/libz.so.1.3" not in on


def test_merged_usr_directories_listed_by_dpkg_are_not_package_files():
    """dpkg lists /lib (a directory for it); the image has the symlink /lib -> usr/lib, kept
    for every library: that alone must not keep a package's paragraph."""
    spec = dict(DPKG, **{"/var/lib/dpkg/info/apt.list": f()})
    status = DPKG_STATUS + b"\nPackage: apt\nStatus: install ok installed\nArchitecture: amd64\n"
    files = dict(DPKG_FILES, **{"/var/lib/dpkg/status": status,
                                "/var/lib/dpkg/info/apt.list": b"/.\n/lib\n/lib/x86_64-linux-gnu\n/usr/bin/apt\n"})
    kept = keep(spec, "/usr/bin/app", files=files)
    assert "/lib" in kept
    assert "Package: apt" not in kept.generated["/var/lib/dpkg/status"].decode()


def test_program_data_leaves_out_documentation():
    spec = dict(POSTGRES, **{"/usr/share/postgresql/15/man/man1/psql.1.gz": f()})
    r = reasons(keep(spec, f"{PG}/bin/postgres", "/usr/share/postgresql/15/timezonesets/Default"))
    assert r["/usr/share/postgresql/15/extension/pgcrypto.control"] is R.PROGRAM_DATA
    assert "/usr/share/postgresql/15/man/man1/psql.1.gz" not in r


GCONV = "/usr/lib/x86_64-linux-gnu/gconv"
GCONV_SPEC = {f"{GCONV}/gconv-modules": f(), f"{GCONV}/gconv-modules.cache": f(size=27000),
              f"{GCONV}/gconv-modules.d/gconv-modules-extra.conf": f(), f"{GCONV}/ISO8859-1.so": lib(),
              f"{GCONV}/CP1252.so": lib(), f"{GCONV}/BIG5.so": lib(),
              f"{GCONV}/EUC-JP.so": lib()}


def test_reading_the_gconv_cache_keeps_the_configuration_and_common_charsets_only():
    kept = keep(GCONV_SPEC, f"{GCONV}/gconv-modules.cache")
    for name in ("gconv-modules", "gconv-modules.d/gconv-modules-extra.conf", "ISO8859-1.so", "CP1252.so"):
        assert f"{GCONV}/{name}" in kept, name
    assert f"{GCONV}/BIG5.so" not in kept and f"{GCONV}/EUC-JP.so" not in kept


def test_a_loaded_gconv_module_keeps_every_module():
    kept = keep(GCONV_SPEC, f"{GCONV}/EUC-JP.so")
    assert f"{GCONV}/BIG5.so" in kept and kept.kept[f"{GCONV}/BIG5.so"].reason is R.DATA
