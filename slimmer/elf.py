"""Read what the dynamic loader needs from an ELF file, with pyelftools.

Only headers are read: PT_INTERP and the dynamic section (DT_NEEDED,
DT_RPATH, DT_RUNPATH, DT_SONAME). slimmer never runs `ldd` inside an image;
resolution against the image's filesystem happens in keep.py.
"""
from __future__ import annotations

import io
from typing import BinaryIO

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from .model import ElfInfo

ELF_MAGIC = b"\x7fELF"


def is_elf(head: bytes) -> bool:
    return head[:4] == ELF_MAGIC


def read_elf_info(stream: BinaryIO | bytes) -> ElfInfo | None:
    """ElfInfo of an ELF file, or None when it is not a readable ELF file."""
    if isinstance(stream, (bytes, bytearray)):
        stream = io.BytesIO(stream)
    try:
        elf = ELFFile(stream)
        interpreter = None
        needed: list[str] = []
        rpath: list[str] = []
        runpath: list[str] = []
        soname = None
        for segment in elf.iter_segments():
            if segment["p_type"] == "PT_INTERP":
                interpreter = segment.get_interp_name()
        for section in elf.iter_sections():
            if not isinstance(section, DynamicSection):
                continue
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
        return ElfInfo(
            elf_class=elf.elfclass,
            machine=elf["e_machine"],
            interpreter=interpreter,
            needed=tuple(needed),
            rpath=tuple(rpath),
            runpath=tuple(runpath),
            soname=soname,
        )
    except (ELFError, ValueError, KeyError, AttributeError, OSError, UnicodeDecodeError):
        return None
