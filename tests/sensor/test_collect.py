"""collect mode: a tree with every kind of entry round-trips exactly."""
from __future__ import annotations

import io
import os
import select
import stat
import subprocess
import tarfile
import time

import pytest

from slimmer import sensor

from conftest import LABEL

# struct vfs_cap_data revision 2: cap_net_bind_service+ep, as setcap writes it
CAPABILITY = bytes.fromhex("01000002" "00040000" "00000000" "00000000" "00000000")
OLD = 981173106   # 2001-02-03 04:05:06 UTC: mtimes that a copy would not produce by accident


def build_tree(root: str) -> list[str]:
    """Creates the tree under root; returns the keep list (files listed one by one)."""
    os.makedirs(f"{root}/sub/deeper")
    os.makedirs(f"{root}/empty-dir")
    with open(f"{root}/file", "w") as stream:
        stream.write("content\n")
    os.link(f"{root}/file", f"{root}/sub/hardlink")
    os.symlink("file", f"{root}/relative-link")
    os.symlink(f"{root}/file", f"{root}/absolute-link")
    os.symlink("nowhere", f"{root}/dangling-link")
    with open(f"{root}/setuid", "wb") as stream:
        stream.write(b"\x7fELF pretend")
    os.chmod(f"{root}/setuid", 0o4755)
    with open(f"{root}/capable", "wb") as stream:
        stream.write(b"binary")
    os.chmod(f"{root}/capable", 0o755)
    os.setxattr(f"{root}/capable", "security.capability", CAPABILITY)
    with open(f"{root}/sub/deeper/owned", "w") as stream:
        stream.write("user data")
    os.chown(f"{root}/sub/deeper/owned", 1000, 1000)
    os.chmod(f"{root}/sub/deeper/owned", 0o640)
    os.chown(f"{root}/sub", 1000, 1000)
    os.chmod(f"{root}/sub", 0o2750)
    os.chmod(f"{root}/empty-dir", 0o1777)
    os.mkfifo(f"{root}/fifo", 0o600)
    os.mknod(f"{root}/null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    weird = f"{root}/tab\there\nnewline-\udce9"            # escaping, non-UTF-8 byte
    with open(weird, "w") as stream:
        stream.write("weird")
    os.setxattr(f"{root}/file", "user.origin", b"slimmer-test")
    names = ["file", "sub/hardlink", "relative-link", "absolute-link", "dangling-link", "setuid",
             "capable", "sub/deeper/owned", "empty-dir", "fifo", "null", os.path.basename(weird)]
    for name in ["file", "sub/deeper/owned", "sub/deeper", "sub", "empty-dir", "absolute-link"]:
        os.utime(f"{root}/{name}", (OLD, OLD), follow_symlinks=False)
    return [f"{root}/{name}" for name in names]


def write_list(path: str, keep: list[str]) -> None:
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as stream:
        stream.writelines(sensor.escape_path(p) + "\n" for p in keep)


def describe(path: str) -> dict:
    st = os.lstat(path)
    entry = {"type": stat.S_IFMT(st.st_mode), "mode": stat.S_IMODE(st.st_mode),
             "uid": st.st_uid, "gid": st.st_gid}
    if not stat.S_ISDIR(st.st_mode):
        entry["mtime"] = st.st_mtime_ns    # directories: see test below (their parents move)
    if stat.S_ISLNK(st.st_mode):
        entry["target"] = os.readlink(path)
    else:
        entry["xattrs"] = {name: os.getxattr(path, name) for name in os.listxattr(path)}
    if stat.S_ISREG(st.st_mode):
        entry["nlink"] = st.st_nlink
        with open(path, "rb") as stream:
            entry["content"] = stream.read()
    if stat.S_ISCHR(st.st_mode):
        entry["rdev"] = st.st_rdev
    return entry


def test_collect_round_trips_a_tree_on_the_host(sensor_binary, tmp_path):
    root = str(tmp_path / "src")
    keep = build_tree(root)
    write_list(str(tmp_path / "keep.list"), keep)
    dest = str(tmp_path / "dest")
    done = subprocess.run([sensor_binary, "collect", str(tmp_path / "keep.list"), dest],
                          capture_output=True)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    for path in keep:
        assert describe(dest + path) == describe(path), path
    # parents: created with their original mode and owner, and mtimes set last
    parent = root
    while parent != "/":
        original, copy = os.lstat(parent), os.lstat(dest + parent)
        assert (copy.st_mode, copy.st_uid, copy.st_gid) == (original.st_mode, original.st_uid,
                                                             original.st_gid), parent
        parent = os.path.dirname(parent)
    for name in ("sub", "sub/deeper", "empty-dir"):
        assert os.lstat(f"{dest}{root}/{name}").st_mtime_ns == os.lstat(f"{root}/{name}").st_mtime_ns
    # hardlinks stay hardlinks; directories are not copied recursively
    assert os.lstat(f"{dest}{root}/file").st_ino == os.lstat(f"{dest}{root}/sub/hardlink").st_ino
    assert os.listdir(f"{dest}{root}/empty-dir") == []
    assert not os.path.exists(f"{dest}/tmp/unlisted")


def test_missing_paths_warn_and_io_errors_fail(sensor_binary, tmp_path):
    (tmp_path / "there").write_text("x")
    write_list(str(tmp_path / "keep.list"), [f"{tmp_path}/not-there", f"{tmp_path}/there"])
    done = subprocess.run([sensor_binary, "collect", str(tmp_path / "keep.list"),
                           str(tmp_path / "dest")], capture_output=True)
    assert done.returncode == 0
    assert b"[slim-sensor] collect: warning:" in done.stderr and b"not-there" in done.stderr
    assert (tmp_path / "dest" / str(tmp_path).lstrip("/") / "there").read_text() == "x"
    # DEST under a regular file cannot be written: exit 1, naming the path
    write_list(str(tmp_path / "keep2.list"), [f"{tmp_path}/there"])
    done = subprocess.run([sensor_binary, "collect", str(tmp_path / "keep2.list"),
                           str(tmp_path / "there" / "dest")], capture_output=True)
    assert done.returncode == 1
    assert b"[slim-sensor]" in done.stderr


def test_parent_symlinks_are_kept_and_never_written_through(sensor_binary, tmp_path):
    """Like /lib -> usr/lib: the link is copied, the file lands at the real place."""
    (tmp_path / "usr" / "lib").mkdir(parents=True)
    (tmp_path / "usr" / "lib" / "libx.so").write_text("lib")
    os.symlink("usr/lib", tmp_path / "lib")
    write_list(str(tmp_path / "keep.list"), [f"{tmp_path}/lib/libx.so"])
    dest = tmp_path / "dest"
    assert subprocess.run([sensor_binary, "collect", str(tmp_path / "keep.list"), str(dest)]).returncode == 0
    copied = dest / str(tmp_path).lstrip("/")
    assert os.readlink(copied / "lib") == "usr/lib"
    assert (copied / "usr" / "lib" / "libx.so").read_text() == "lib"


def tar_entries(container, path: str, strip: str) -> dict:
    chunks, _ = container.get_archive(path)
    archive = tarfile.open(fileobj=io.BytesIO(b"".join(chunks)))
    entries = {}
    for member in archive:
        name = member.name[len(strip):] if member.name.startswith(strip) else member.name
        entries[name] = (member.type, member.mode, member.uid, member.gid, member.mtime,
                         member.linkname.split("/", 1)[-1] if member.islnk() else member.linkname,
                         member.pax_headers.get("SCHILY.xattr.security.capability"),
                         archive.extractfile(member).read() if member.isfile() else None,
                         (member.devmajor, member.devminor) if member.ischr() else None)
    return entries


def _tree_setup(tree: str) -> str:
    """Shell that gives the case tree in TREE every kind of entry collect must carry (a
    hardlink, a symlink with an old mtime, setuid, a file capability, another owner,
    setgid, a fifo, a device) and writes /keep.list naming all of it; ends with "&& "."""
    return (f"cd {tree} && ln absolute.txt sub/hardlink && ln -s absolute.txt rel-link "
            f"&& cp /workload setuid && chmod 4755 setuid && cp /workload capable "
            f"&& /workload setcap capable && chown 1000:1000 relative.txt sub && chmod 2750 sub "
            f"&& mkfifo fifo && mknod null c 1 3 && touch -h -d '2001-02-03 04:05:06' rel-link sub "
            f"&& find {tree} -mindepth 1 | sed 's/\\\\/\\\\\\\\/g' > /keep.list && ")


@pytest.mark.docker
def test_collect_round_trips_a_tree_in_a_container(docker_ledger, debian_image, sensor_binary):
    """As the generated Dockerfile runs it: root, in the original image's filesystem."""
    tree = "/collect-src/tree"
    setup = _tree_setup(tree) + "/.slimmer/sensor collect /keep.list /dest"
    container = docker_ledger.containers.create(debian_image, ["sh", "-c", setup], labels=LABEL)
    try:
        assert container.put_archive("/", sensor.sensor_tar())
        container.start()
        assert container.wait(timeout=60)["StatusCode"] == 0, container.logs()
        original = tar_entries(container, tree, "tree")
        copied = tar_entries(container, f"/dest{tree}", "tree")
        assert copied == original
        assert original["/capable"][6] is not None        # the capability was there to copy
        assert original["/setuid"][1] & 0o7777 == 0o4755
        assert original["/sub/hardlink"][0] == tarfile.LNKTYPE
    finally:
        container.remove(force=True, v=True)


def tar_view(archive: tarfile.TarFile, prefix: str) -> dict:
    """Entries under PREFIX by their name below it: what a layer applying the tar holds
    (a hardlink reads as its target's file; which name of a linked pair carries the
    content depends on the walk order, so the pair is compared as a group)."""
    members = {m.name.rstrip("/"): m for m in archive}
    content = {name: archive.extractfile(m).read() for name, m in members.items() if m.isfile()}
    groups: dict[str, set[str]] = {}
    for name, member in members.items():
        if member.islnk():
            group = groups.setdefault(member.linkname.rstrip("/"), {member.linkname.rstrip("/")})
            group.add(name)
            groups[name] = group
    view = {}
    for name, member in members.items():
        if not (name == prefix or name.startswith(prefix + "/")):
            continue
        source = members[member.linkname.rstrip("/")] if member.islnk() else member
        view[name[len(prefix):]] = (
            tarfile.REGTYPE if member.islnk() else member.type, source.mode & 0o7777, source.uid, source.gid,
            int(source.mtime), "" if member.islnk() else member.linkname,
            source.pax_headers.get("SCHILY.xattr.security.capability"),
            content.get(source.name.rstrip("/")), (member.devmajor, member.devminor) if member.ischr() else None,
            frozenset(n[len(prefix):] for n in groups.get(name, ())))
    return view


def test_collect_to_stdout_writes_the_copied_tree_as_a_tar(sensor_binary, tmp_path):
    """`collect LIST -`: the entries the copy makes, as one tar (names relative to /), with
    of the xattrs only security.capability (what a Docker layer carries)."""
    root = str(tmp_path / "src")
    keep = build_tree(root)
    write_list(str(tmp_path / "keep.list"), keep + [f"{root}/not-there"])
    done = subprocess.run([sensor_binary, "collect", str(tmp_path / "keep.list"), "-"], capture_output=True)
    assert done.returncode == 0, done.stderr
    assert b"not-there" in done.stderr and b"warning" in done.stderr
    archive = tarfile.open(fileobj=io.BytesIO(done.stdout), mode="r:")
    view = tar_view(archive, root.lstrip("/"))
    for path in keep:
        name, entry = path[len(root):], describe(path)
        typ, mode, uid, gid, mtime, link, capability, data, device, group = view[name]
        assert (mode, uid, gid) == (entry["mode"], entry["uid"], entry["gid"]), name
        assert mtime == os.lstat(path).st_mtime_ns // 10**9, name
        assert link == (entry.get("target") or ""), name
        assert capability == (entry.get("xattrs", {}).get("security.capability", b"").decode("utf-8", "surrogateescape")
                              or None), name
        assert data == entry.get("content"), name
        assert device == ((os.major(entry["rdev"]), os.minor(entry["rdev"])) if "rdev" in entry else None), name
    assert view["/file"][-1] == view["/sub/hardlink"][-1] == {"/file", "/sub/hardlink"}
    assert view["/sub"][1:4] == (0o2750, 1000, 1000)          # a parent, with its own metadata
    assert "user.origin" not in str(archive.getmember(root.lstrip("/") + "/file").pax_headers)
    assert not archive.getnames()[0].startswith("/")


def test_collect_from_stdin_writes_each_path_before_the_list_ends(sensor_binary, tmp_path):
    """`collect - -` with the list still arriving (slimmer/early.py feeds it while the keep
    stage runs): the entries of the paths received so far come out before the sensor waits
    for more, not when its 1 MB buffer fills; the end of the list ends the tar."""
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_bytes(b"one\n")
    second.write_bytes(b"two\n")
    proc = subprocess.Popen([sensor_binary, "collect", "-", "-"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        proc.stdin.write(sensor.escape_path(str(first)).encode() + b"\n")
        proc.stdin.flush()
        received = b""
        deadline = time.monotonic() + 10
        while b"one\n" not in received and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                received += os.read(proc.stdout.fileno(), 1 << 20)
        assert b"one\n" in received, "nothing came out while the list was still open"
        assert proc.poll() is None                       # still waiting for the rest of the list
        proc.stdin.write(sensor.escape_path(str(second)).encode() + b"\n")
        proc.stdin.close()
        received += proc.stdout.read()
        assert proc.wait(timeout=10) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
    names = tarfile.open(fileobj=io.BytesIO(received), mode="r:").getnames()
    assert names[-2:] == [str(first).lstrip("/"), str(second).lstrip("/")]


def test_collect_to_stdout_fails_when_the_stream_cannot_be_written(sensor_binary, tmp_path):
    """A stream that cannot be written is a failure that names it (exit 1), never a short tar
    that looks complete."""
    (tmp_path / "file").write_text("x")
    write_list(str(tmp_path / "keep.list"), [f"{tmp_path}/file"])
    with open(os.devnull, "rb") as read_only:
        done = subprocess.run([sensor_binary, "collect", str(tmp_path / "keep.list"), "-"],
                              stdout=read_only, stderr=subprocess.PIPE)
    assert done.returncode == 1
    assert b"[slim-sensor] collect: writing the tar stream to stdout" in done.stderr


@pytest.mark.docker
def test_collect_to_stdout_matches_the_daemons_archive_of_the_copy(docker_ledger, debian_image, sensor_binary):
    """The tar `collect LIST -` writes holds what Docker's archive of the copied tree holds
    (the way the generated Dockerfile's COPY --from takes it): names, types, modes, owners,
    mtimes, link targets, hardlink groups, capabilities, content, devices."""
    tree = "/collect-src/tree"
    setup = _tree_setup(tree) + ("/.slimmer/sensor collect /keep.list /dest "
                                 "&& /.slimmer/sensor collect /keep.list - > /tree.tar")
    container = docker_ledger.containers.create(debian_image, ["sh", "-c", setup], labels=LABEL)
    try:
        assert container.put_archive("/", sensor.sensor_tar())
        container.start()
        assert container.wait(timeout=60)["StatusCode"] == 0, container.logs()
        chunks, _ = container.get_archive(f"/dest{tree}")
        copied = tar_view(tarfile.open(fileobj=io.BytesIO(b"".join(chunks))), "tree")
        chunks, _ = container.get_archive("/tree.tar")
        outer = tarfile.open(fileobj=io.BytesIO(b"".join(chunks)))
        streamed = tar_view(tarfile.open(fileobj=outer.extractfile("tree.tar")), tree.lstrip("/"))
        assert streamed == copied
        assert copied["/capable"][6] is not None and copied["/setuid"][1] == 0o4755
    finally:
        container.remove(force=True, v=True)
