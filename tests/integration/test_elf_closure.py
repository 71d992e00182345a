"""ELF closure on real binaries of debian:bookworm-slim, checked against the
image's own loader (`ldd` run inside the image) and the merged-/usr symlinks."""
from __future__ import annotations

import posixpath
import subprocess
import tarfile

import pytest

from slimmer.elf import ELF_MAGIC, read_elf_info
from slimmer.keep import compute_keep_set
from slimmer.model import (EntryType, FsEntry, ImageConfig, ImageIndex, ImageInfo, KeepOptions, KeepReason,
                           TraceLog, TracedPath)

BASE = "debian:bookworm-slim"
TEXT_MAX = 64 * 1024
_TYPES = ((tarfile.TarInfo.isdir, EntryType.DIR), (tarfile.TarInfo.issym, EntryType.SYMLINK),
          (tarfile.TarInfo.islnk, EntryType.HARDLINK), (tarfile.TarInfo.isreg, EntryType.FILE),
          (tarfile.TarInfo.isfifo, EntryType.FIFO), (tarfile.TarInfo.ischr, EntryType.CHAR),
          (tarfile.TarInfo.isblk, EntryType.BLOCK))


def docker(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], check=True, capture_output=True, **kw)


def export_index(image: str) -> tuple[ImageIndex, dict[str, bytes]]:
    """The image's filesystem (docker create + docker export, streamed), with
    ElfInfo for ELF files, and the content of small files under /etc."""
    container = docker("create", image, "/nonexistent").stdout.decode().strip()
    try:
        proc = subprocess.Popen(["docker", "export", container], stdout=subprocess.PIPE)
        entries: dict[str, FsEntry] = {"/": FsEntry("/", EntryType.DIR, 0o755, 0, 0, 0, None, 0)}
        texts: dict[str, bytes] = {}
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            for member in tar:
                path = posixpath.normpath("/" + member.name)
                kind = next(k for test, k in _TYPES if test(member))
                elf = shebang = None
                if kind is EntryType.FILE and member.size:
                    data = tar.extractfile(member).read()
                    if data[:4] == ELF_MAGIC:
                        elf = read_elf_info(data)
                    elif data[:2] == b"#!":
                        shebang = data[2:].split(b"\n", 1)[0].decode("utf-8", "replace").strip()
                    if path.startswith("/etc/") and member.size <= TEXT_MAX:
                        texts[path] = data
                target = member.linkname if kind is EntryType.SYMLINK else (
                    posixpath.normpath("/" + member.linkname) if kind is EntryType.HARDLINK else None)
                entries[path] = FsEntry(path, kind, member.mode & 0o7777, member.uid, member.gid,
                                        member.size if kind is EntryType.FILE else 0, target, 0, int(member.mtime),
                                        elf, shebang)
        assert proc.wait() == 0
        return ImageIndex(entries), texts
    finally:
        docker("rm", "-f", "-v", container)


@pytest.fixture(scope="module")
def base_fs(docker_engine):
    return export_index(BASE)


def loader_closure(binary: str) -> set[str]:
    """Real paths of what the image's own loader maps for `binary` (ldd in the image)."""
    script = f'for f in $(ldd {binary} | grep -o "/[^ ]*"); do readlink -f "$f"; done'
    out = docker("run", "--rm", "--network=none", BASE, "sh", "-c", script).stdout.decode()
    return set(out.split())


def keep_for(binary: str, base_fs):
    index, texts = base_fs
    trace = TraceLog(version=1, paths={binary: TracedPath(binary, frozenset({"execve"}), False)})
    image = ImageInfo(BASE, "sha256:x", (BASE,), 0, "linux", "amd64",
                      ImageConfig(env=("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)), ())
    options = KeepOptions(rules={"data": False, "package": False, "state": False, "app": False, "script": False})
    return compute_keep_set(trace, index, image, options, read_file=texts.get)


@pytest.mark.docker
@pytest.mark.parametrize("binary, sonames", [
    ("/usr/bin/bash", {"libtinfo.so.6", "libc.so.6", "ld-linux-x86-64.so.2"}),
    ("/usr/bin/ls", {"libselinux.so.1", "libpcre2-8.so.0", "libc.so.6", "ld-linux-x86-64.so.2"}),
])
def test_elf_closure_of_real_binaries_matches_the_images_loader(binary, sonames, base_fs):
    index, _ = base_fs
    kept = keep_for(binary, base_fs)
    elf_files = {p for p, k in kept.kept.items()
                 if k.reason is KeepReason.ELF and index.get(p).type is EntryType.FILE}
    assert elf_files == loader_closure(binary)
    names = {p for p, k in kept.kept.items() if k.reason is KeepReason.ELF}
    for soname in sonames:
        assert f"/usr/lib/x86_64-linux-gnu/{soname}" in names, soname
    # the interpreter is reached through /lib64 -> usr/lib64 and a link into /lib -> usr/lib
    assert kept.kept["/lib64"].reason is KeepReason.SYMLINK
    assert "/usr/lib64/ld-linux-x86-64.so.2" in kept and "/lib" in kept
    # every kept path's parent directory is kept: the slim tree is complete
    for path in kept.kept:
        parent = posixpath.dirname(path)
        assert parent == "/" or parent in kept, path


@pytest.mark.docker
def test_ld_so_conf_of_the_image_is_read(base_fs):
    index, texts = base_fs
    assert b"include" in texts["/etc/ld.so.conf"]
    kept = keep_for("/usr/bin/bash", base_fs)
    tinfo = "/usr/lib/x86_64-linux-gnu/libtinfo.so.6"
    assert kept.kept[tinfo].because_of == "/usr/bin/bash"
    assert index.get(tinfo).type is EntryType.SYMLINK
    assert kept.kept[posixpath.join(posixpath.dirname(tinfo), index.get(tinfo).link_target)].reason is KeepReason.ELF
