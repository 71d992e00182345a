"""Sizes, ratios and factors as users write them, through slimmer.units and the real CLI parser."""
from __future__ import annotations

import pytest

from slimmer.cli import build_parser, main
from slimmer.errors import BadInput
from slimmer.units import parse_factor, parse_ratio, parse_size


@pytest.mark.parametrize("text, expected", [
    ("80MB", 80_000_000),
    ("80 MB", 80_000_000),
    ("80mb", 80_000_000),
    ("80M", 80_000_000),
    ("20MB", 20_000_000),
    ("500kB", 500_000),
    ("500KB", 500_000),
    ("500k", 500_000),
    ("1.5GiB", 1_610_612_736),
    ("1.5 GiB", 1_610_612_736),
    ("1.5Gi", 1_610_612_736),
    ("2MiB", 2_097_152),
    ("1KiB", 1024),
    ("1TB", 10 ** 12),
    ("9PB", 9 * 10 ** 15),
    ("1.2345kB", 1234),              # fractions of a byte round down
    ("80000000", 80_000_000),
    ("  42 ", 42),
    ("42B", 42),
    ("0", 0),
    (".5MB", 500_000),
    (80_000_000, 80_000_000),
    (8e7, 80_000_000),               # a TOML float that is whole
])
def test_sizes(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["", "MB", "80XB", "80 M B", "-5MB", "1.5", "1.5B", "80Mbit", "iB", "5 iB",
                                  "1e6", True, None, -1, 1.5, float("inf"), [80]])
def test_bad_sizes_say_what_and_how(text):
    with pytest.raises(BadInput) as caught:
        parse_size(text, "--max-size")
    assert "--max-size" in caught.value.message
    assert "80MB" in caught.value.message and "1.5GiB" in caught.value.message


@pytest.mark.parametrize("text, expected", [
    ("95%", 0.95), ("95 %", 0.95), ("0.95", 0.95), (0.95, 0.95), ("100%", 1.0), ("0%", 0.0),
    (1, 1.0), ("1", 1.0), ("0", 0.0), ("99.5%", 0.995), (".9", 0.9),
])
def test_ratios(text, expected):
    assert parse_ratio(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["95", 95, "101%", "-1%", "1.5", "ninety", "", "95%%", False, None])
def test_bad_ratios(text):
    with pytest.raises(BadInput) as caught:
        parse_ratio(text, "min_efficiency")
    assert "min_efficiency" in caught.value.message and "95%" in caught.value.message


@pytest.mark.parametrize("text, expected", [("3", 3.0), ("3x", 3.0), ("2.5X", 2.5), (4, 4.0), (1.5, 1.5)])
def test_factors(text, expected):
    assert parse_factor(text) == expected


@pytest.mark.parametrize("text", ["0", "-2", "x3", "three", "", 0, True])
def test_bad_factors(text):
    with pytest.raises(BadInput):
        parse_factor(text)


def test_build_flags_take_units():
    args = build_parser().parse_args(["build", "app:1.0", "--max-size", "80MB", "--min-ratio", "3x"])
    assert args.max_size == 80_000_000 and args.min_ratio == 3.0
    args = build_parser().parse_args(["build", "app:1.0", "--max-size", "1.5GiB"])
    assert args.max_size == 1_610_612_736


def test_xray_flags_take_units():
    args = build_parser().parse_args(["xray", "app:1.0", "--max-reclaimable", "20MB", "--min-efficiency", "95%"])
    assert args.max_reclaimable == 20_000_000 and args.min_efficiency == pytest.approx(0.95)
    args = build_parser().parse_args(["xray", "app:1.0", "--min-efficiency", "0.95"])
    assert args.min_efficiency == pytest.approx(0.95)


@pytest.mark.parametrize("argv, shown", [
    (["build", "app:1.0", "--max-size", "80XB"], "80XB"),
    (["build", "app:1.0", "--min-ratio", "0"], "must be positive"),
    (["xray", "app:1.0", "--min-efficiency", "95"], "between 0 and 1"),
    (["xray", "app:1.0", "--max-reclaimable", "lots"], "lots"),
])
def test_bad_units_exit_2_with_an_example(argv, shown, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert shown in err and "e.g." in err
