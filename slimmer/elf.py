"""Read what the dynamic loader needs from an ELF file.

Only the program headers are read, the way the loader itself reads them:
  1. PT_INTERP names the program interpreter (the dynamic loader);
  2. PT_DYNAMIC holds DT_NEEDED, DT_RPATH, DT_RUNPATH and DT_SONAME as offsets
     into the string table at DT_STRTAB;
  3. DT_STRTAB is a virtual address: the PT_LOAD segment containing it maps it
     to a file offset.
slimmer never runs `ldd` inside an image; resolution against the image's
filesystem happens in keep.py.

Every ELF file of an image is read while its layers stream by, so this is a
small struct-based reader (pyelftools, which tests use as the reference, is two
orders of magnitude slower on the hundreds of libraries of a JVM or Python image).
"""
from __future__ import annotations

import io
import struct
from typing import BinaryIO

from .model import ElfInfo

ELF_MAGIC = b"\x7fELF"

PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_SONAME, DT_RPATH, DT_RUNPATH = 0, 1, 5, 14, 15, 29

# e_machine values slimmer meets in images, named as pyelftools names them
MACHINES = {3: "EM_386", 40: "EM_ARM", 62: "EM_X86_64", 183: "EM_AARCH64", 243: "EM_RISCV",
            21: "EM_PPC64", 22: "EM_S390", 8: "EM_MIPS"}


def is_elf(head: bytes) -> bool:
    return head[:4] == ELF_MAGIC


def read_elf_info(stream: BinaryIO | bytes) -> ElfInfo | None:
    """ElfInfo of an ELF file, or None when it is not a readable ELF file."""
    data = stream if isinstance(stream, (bytes, bytearray, memoryview)) else stream.read()
    try:
        return _parse(bytes(data) if isinstance(data, memoryview) else data)
    except (struct.error, IndexError, ValueError, OverflowError, TypeError):
        return None


def _parse(data: bytes) -> ElfInfo | None:
    if data[:4] != ELF_MAGIC or len(data) < 52:
        return None
    elf_class = {1: 32, 2: 64}.get(data[4])
    order = {1: "<", 2: ">"}.get(data[5])
    if elf_class is None or order is None:
        return None
    if len(data) < 64 and elf_class == 64:
        return None
    if elf_class == 64:
        machine, = struct.unpack_from(order + "H", data, 18)
        phoff, = struct.unpack_from(order + "Q", data, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 54)
        ph_format, dyn_format = order + "IIQQQQQQ", order + "qQ"
    else:
        machine, = struct.unpack_from(order + "H", data, 18)
        phoff, = struct.unpack_from(order + "I", data, 28)
        phentsize, phnum = struct.unpack_from(order + "HH", data, 42)
        ph_format, dyn_format = order + "IIIIIIII", order + "iI"

    loads: list[tuple[int, int, int]] = []   # (vaddr, offset, filesz)
    interpreter = None
    dynamic = None
    for i in range(phnum):
        fields = struct.unpack_from(ph_format, data, phoff + i * phentsize)
        if elf_class == 64:
            p_type, _flags, p_offset, p_vaddr, _paddr, p_filesz = fields[:6]
        else:
            p_type, p_offset, p_vaddr, _paddr, p_filesz = fields[:5]
        if p_type == PT_LOAD:
            loads.append((p_vaddr, p_offset, p_filesz))
        elif p_type == PT_INTERP:
            interpreter = data[p_offset:p_offset + p_filesz].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        elif p_type == PT_DYNAMIC:
            dynamic = (p_offset, p_filesz)

    tags: list[tuple[int, int]] = []
    strtab_vaddr = None
    if dynamic is not None:
        offset, size = dynamic
        step = struct.calcsize(dyn_format)
        for position in range(offset, min(offset + size, len(data)) - step + 1, step):
            tag, value = struct.unpack_from(dyn_format, data, position)
            if tag == DT_NULL:
                break
            if tag == DT_STRTAB:
                strtab_vaddr = value
            tags.append((tag, value))

    strtab = _file_offset(loads, strtab_vaddr) if strtab_vaddr is not None else None

    def string(value: int) -> str:
        start = strtab + value
        end = data.index(b"\0", start)
        return data[start:end].decode("utf-8", "surrogateescape")

    needed: list[str] = []
    rpath: list[str] = []
    runpath: list[str] = []
    soname = None
    if strtab is not None:
        for tag, value in tags:
            if tag == DT_NEEDED:
                needed.append(string(value))
            elif tag == DT_RPATH:
                rpath.extend(p for p in string(value).split(":") if p)
            elif tag == DT_RUNPATH:
                runpath.extend(p for p in string(value).split(":") if p)
            elif tag == DT_SONAME:
                soname = string(value)
    return ElfInfo(elf_class=elf_class, machine=MACHINES.get(machine, f"EM_{machine}"),
                   interpreter=interpreter, needed=tuple(needed), rpath=tuple(rpath),
                   runpath=tuple(runpath), soname=soname)


def _file_offset(loads: list[tuple[int, int, int]], vaddr: int) -> int | None:
    for start, offset, size in loads:
        if start <= vaddr < start + size:
            return vaddr - start + offset
    return None


def read_elf_info_reference(data: bytes) -> ElfInfo | None:
    """The same facts read by pyelftools: the oracle the tests compare against."""
    from elftools.common.exceptions import ELFError
    from elftools.elf.dynamic import DynamicSection
    from elftools.elf.elffile import ELFFile
    try:
        elf = ELFFile(io.BytesIO(data))
        interpreter = None
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_INTERP":
                interpreter = segment.get_interp_name()
        needed, rpath, runpath, soname = [], [], [], None
        for section in elf.iter_sections():
            if isinstance(section, DynamicSection):
                for tag in section.iter_tags():
                    kind = tag.entry.d_tag
                    if kind == "DT_NEEDED":
                        needed.append(tag.needed)
                    elif kind == "DT_RPATH":
                        rpath.extend(p for p in tag.rpath.split(":") if p)
                    elif kind == "DT_RUNPATH":
                        runpath.extend(p for p in tag.runpath.split(":") if p)
                    elif kind == "DT_SONAME":
                        soname = tag.soname
        return ElfInfo(elf_class=elf.elfclass, machine=elf["e_machine"], interpreter=interpreter,
                       needed=tuple(needed), rpath=tuple(rpath), runpath=tuple(runpath), soname=soname)
    except (ELFError, ValueError, KeyError, AttributeError, OSError, UnicodeDecodeError):
        return None
