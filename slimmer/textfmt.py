"""Small text helpers shared by every output: sizes and indented log excerpts."""
from __future__ import annotations


def human_size(size: float) -> str:
    """1234567 -> '1.2 MB' (decimal units, as docker images prints them)."""
    for unit in ("B", "kB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def indent(text: str, lines: int = 30, prefix: str = "    ") -> str:
    """The last LINES lines of TEXT, each indented: a log excerpt inside an error message."""
    return "\n".join(prefix + line for line in text.rstrip().splitlines()[-lines:])
