"""Sizes, ratios and reduction factors as people write them: one parser for every
flag (--max-size, --max-reclaimable, --min-efficiency, --min-ratio) and every
rules file (.slim-ci.toml, probe files).

Sizes (parse_size):
  1. A plain number is bytes: 80000000, "80000000". A fraction of a byte is an error.
  2. kB, MB, GB, TB, PB are powers of 1000, as `docker images` prints sizes;
     KiB, MiB, GiB, TiB, PiB are powers of 1024. The B may be left out (20M, 1.5Gi)
     and case does not matter (500kb = 500KB = 500 kB): nobody means bits here.
  3. A fractional number with a unit rounds down to whole bytes (1.5GiB).
  4. Negative sizes, booleans and anything else are bad input, with an example.

Ratios between 0 and 1 (parse_ratio, e.g. xray's efficiency):
  "95%", 95%, 0.95 and "0.95" are the same; 95 without "%" is an error (did the
  user mean 95% or 0.95?).

Reduction factors (parse_factor, --min-ratio): original/slim, "3", "3x", 2.5; > 0.
"""
from __future__ import annotations

import argparse
import math
import re

from .errors import BadInput

_PREFIXES = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
_SIZE = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([kmgtp]?)(i?)(b?)\s*", re.IGNORECASE)
_NUMBER = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(%?)\s*")
_FACTOR = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*(x?)\s*", re.IGNORECASE)

SIZE_EXAMPLES = "e.g. 80MB, 1.5GiB, 500kB or 80000000 (bytes)"
RATIO_EXAMPLES = "e.g. 95% or 0.95"
FACTOR_EXAMPLES = "e.g. 3 or 3x (original size / slim size)"


def parse_size(value: object, what: str = "size") -> int:
    """80MB, 1.5GiB, 500kB, 20M, 80000000 -> bytes (int)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadInput(f"{what} is not a size", repr(value), SIZE_EXAMPLES)
    if isinstance(value, (int, float)):
        if not math.isfinite(value) or value < 0 or value != int(value):
            raise BadInput(f"{what} is not a whole, non-negative number of bytes", value, SIZE_EXAMPLES)
        return int(value)
    match = _SIZE.fullmatch(value)
    if not match:
        raise BadInput(f"{what} is not a size", repr(value), SIZE_EXAMPLES)
    number, prefix, binary, _ = match.groups()
    if binary and not prefix:
        raise BadInput(f"{what} is not a size", repr(value), SIZE_EXAMPLES)
    if not prefix and "." in number and float(number) != int(float(number)):
        raise BadInput(f"{what} is not a whole number of bytes", repr(value), SIZE_EXAMPLES)
    base = 1024 if binary else 1000
    # whole numbers exactly (no float rounding for 9 PB), fractions rounded down
    if "." not in number:
        return int(number) * base ** _PREFIXES[prefix.lower()]
    return int(float(number) * base ** _PREFIXES[prefix.lower()])


def parse_ratio(value: object, what: str = "ratio") -> float:
    """95%, "95%", 0.95, "0.95" -> 0.95; must lie between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadInput(f"{what} is not a ratio", repr(value), RATIO_EXAMPLES)
    if isinstance(value, str):
        match = _NUMBER.fullmatch(value)
        if not match:
            raise BadInput(f"{what} is not a ratio", repr(value), RATIO_EXAMPLES)
        number = float(match.group(1)) / (100 if match.group(2) else 1)
    else:
        number = float(value)
    if not (math.isfinite(number) and 0 <= number <= 1):
        raise BadInput(f"{what} must lie between 0 and 1 (0% and 100%)", repr(value), RATIO_EXAMPLES)
    return number


def parse_factor(value: object, what: str = "reduction factor") -> float:
    """3, "3", "3x", 2.5 -> a positive factor (original size / slim size)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise BadInput(f"{what} is not a number", repr(value), FACTOR_EXAMPLES)
    if isinstance(value, str):
        match = _FACTOR.fullmatch(value)
        if not match:
            raise BadInput(f"{what} is not a number", repr(value), FACTOR_EXAMPLES)
        number = float(match.group(1))
    else:
        number = float(value)
    if not (math.isfinite(number) and number > 0):
        raise BadInput(f"{what} must be positive", repr(value), FACTOR_EXAMPLES)
    return number


# --- argparse `type=` adapters: argparse prints the message and exits 2 ------------------------

def _argument(parse, what: str):
    def convert(text: str):
        try:
            return parse(text, what)
        except BadInput as exc:
            raise argparse.ArgumentTypeError(f"{exc.what}: {exc.value} ({exc.hint})") from None
    convert.__name__ = what
    return convert


size_argument = _argument(parse_size, "size")
ratio_argument = _argument(parse_ratio, "ratio")
factor_argument = _argument(parse_factor, "factor")
