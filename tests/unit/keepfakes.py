"""Small fake image indexes, traces and images for the keep rules' tests."""
from __future__ import annotations

import posixpath

from slimmer.keep import compute_keep_set
from slimmer.model import (ElfInfo, EntryType, FsEntry, ImageConfig, ImageIndex, ImageInfo, KeepOptions,
                           KeepReason, TraceLog, TracedPath)

R = KeepReason
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


def reasons(keep_set) -> dict[str, KeepReason]:
    return {path: kept.reason for path, kept in keep_set.kept.items()}


GLIBC = {
    "/usr/lib": d(), "/lib": ln("usr/lib"), "/lib64": ln("usr/lib64"), "/bin": ln("usr/bin"),
    "/usr/lib64/ld-linux-x86-64.so.2": ln("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"),
    "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2": lib(),
    "/usr/lib/x86_64-linux-gnu/libc.so.6": lib(),
}

X64 = dict(elf_class=64, machine="EM_X86_64")

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

