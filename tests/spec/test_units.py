import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seifer_iac.spec.units import (
    UnitError,
    format_bandwidth,
    format_bytes,
    parse_bandwidth,
    parse_duration,
    parse_flops,
    parse_size,
    shown,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("512Mi", 512 * 2**20),
        ("1Gi", 2**30),
        ("300M", 300_000_000),
        ("64Ki", 65536),
        (1024, 1024),
        ("0.5Gi", 2**29),
    ],
)
def test_sizes_are_kubernetes_quantities(text, expected):
    assert parse_size(text) == expected


@pytest.mark.parametrize("text", ["512Mb", "512MB", "1 gigabyte", "Mi", "", "12XB", True, [1]])
def test_bad_sizes_say_which_units_work(text):
    with pytest.raises(UnitError, match="not a size"):
        parse_size(text)


def test_size_in_bits_gets_a_hint():
    with pytest.raises(UnitError, match="512Mi, not 512Mb"):
        parse_size("512Mb")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6.5Mbps", 6.5e6),
        ("1Gbps", 1e9),
        ("500Kbps", 5e5),
        ("2MB/s", 16e6),
        (1000, 1000.0),
        ("1e3bps", 1000.0),
    ],
)
def test_bandwidths_are_bits_per_second(text, expected):
    assert math.isclose(parse_bandwidth(text), expected)


@pytest.mark.parametrize("text", ["6.5Mbs", "fast", "-1Mbps", 0, "0Mbps", -3])
def test_bad_bandwidths_are_rejected(text):
    with pytest.raises(UnitError):
        parse_bandwidth(text)


@pytest.mark.parametrize(("text", "expected"), [("2s", 2.0), ("500ms", 0.5), ("1m", 60.0), (3, 3.0)])
def test_durations_are_seconds(text, expected):
    assert parse_duration(text) == expected


def test_flops_units():
    assert parse_flops("12GFLOPS") == 12e9
    with pytest.raises(UnitError, match="compute speed"):
        parse_flops("12GHz")


@given(st.integers(min_value=1, max_value=2**40))
def test_mebibytes_round_trip(n):
    assert parse_size(f"{n}Ki") == n * 1024


def test_formatting_for_people():
    assert format_bytes(40.2 * 2**20) == "40.2 MiB"
    assert format_bytes(12) == "12 B"
    assert format_bandwidth(6.5e6) == "6.5 Mbps"
    assert format_bandwidth(math.inf) == "local"


def test_a_shown_value_is_one_short_line_whatever_it_holds() -> None:
    assert shown("rpi\n2\x1b[31m") == "rpi\\n2\\x1b[31m"
    assert shown("x" * 5_000_000, 10) == "xxxxxxx..."
    assert "\n" not in shown("\n" * 100) and len(shown("\n" * 100)) == 40
