"""Keep rules on small fake image indexes: what a user would find in (or miss from) the slim
image. The keeper's own rules (traced paths, symlinks, parents, includes, excludes) and the
report helpers; each other rule family has its test_keep_RULE.py."""
from __future__ import annotations

import pytest

from keepfakes import R, d, f, keep, ln, make_image, make_index, make_trace, reasons
from slimmer.keep import compute_keep_set, keep_summary, removed_by_top_dir, resolve
from slimmer.model import EntryType, KeepOptions


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
