"""The struct-based ELF reader against pyelftools, on real binaries of this host."""
import glob
import os

import pytest

from slimmer.elf import read_elf_info, read_elf_info_reference


def _host_elfs(limit: int = 400) -> list[str]:
    found = []
    for pattern in ("/usr/bin/*", "/usr/lib/x86_64-linux-gnu/*.so*", "/usr/lib/x86_64-linux-gnu/*/*.so*"):
        for path in sorted(glob.glob(pattern)):
            if os.path.isfile(path) and not os.path.islink(path):
                with open(path, "rb") as handle:
                    if handle.read(4) == b"\x7fELF":
                        found.append(path)
    return found[:limit]


def test_matches_pyelftools_on_host_binaries():
    paths = _host_elfs()
    assert len(paths) > 100
    with_needed = 0
    for path in paths:
        data = open(path, "rb").read()
        ours = read_elf_info(data)
        assert ours == read_elf_info_reference(data), path
        with_needed += bool(ours and ours.needed)
    assert with_needed > 50


def test_bash_needs_libc_through_the_loader():
    info = read_elf_info(open("/usr/bin/bash", "rb").read())
    assert info.interpreter == "/lib64/ld-linux-x86-64.so.2"
    assert "libc.so.6" in info.needed and "libtinfo.so.6" in info.needed
    assert info.elf_class == 64 and info.machine == "EM_X86_64"


def test_libc_has_a_soname_and_no_interpreter_requirement():
    info = read_elf_info(open("/lib/x86_64-linux-gnu/libc.so.6", "rb").read())
    assert info.soname == "libc.so.6"


@pytest.mark.parametrize("data", [b"", b"\x7fELF", b"\x7fELF\x02\x01" + b"\xff" * 60, b"#!/bin/sh\n", b"\x7fELF\x09\x09" + b"\0" * 60])
def test_garbage_is_not_elf(data):
    assert read_elf_info(data) is None
