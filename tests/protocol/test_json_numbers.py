"""JSON numbers as serde_json reads and prints them (the reference's error texts)."""

from __future__ import annotations

import pytest

from execsrv.protocol.json_numbers import (
    contains_number_beyond_f64,
    is_beyond_f64,
    is_serde_integer,
    serde_float,
)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1.5, "1.5"),
        (1.0, "1.0"),
        (0.0, "0.0"),
        (-0.0, "-0.0"),
        (100.0, "100.0"),
        (1e15, "1000000000000000.0"),
        (1e16, "1e+16"),
        (1.25e17, "1.25e+17"),
        (0.0001, "0.0001"),
        (0.00001, "0.00001"),
        (1e-6, "1e-6"),
        (1.5e-7, "1.5e-7"),
        (-2.5, "-2.5"),
        (1.7976931348623157e308, "1.7976931348623157e+308"),
        (5e-324, "5e-324"),
        (123456.789, "123456.789"),
    ],
)
def test_serde_float_prints_as_ryu(value: float, text: str) -> None:
    assert serde_float(value) == text


def test_serde_float_round_trips() -> None:
    for value in [0.1, 1 / 3, 2.0**64, 1e300 / 7, -1e-300 / 3]:
        assert float(serde_float(value)) == value


def test_integers_are_u64_or_i64_else_floats() -> None:
    assert is_serde_integer(2**64 - 1)
    assert is_serde_integer(-(2**63))
    assert not is_serde_integer(2**64)
    assert not is_serde_integer(-(2**63) - 1)


def test_beyond_f64_is_where_the_nearest_f64_is_infinite() -> None:
    largest = int(1.7976931348623157e308)
    assert not is_beyond_f64(largest)
    assert not is_beyond_f64(2**1024 - 2**970 - 1)  # rounds down to the largest f64
    assert is_beyond_f64(2**1024 - 2**970)  # the halfway point rounds to even: infinity
    assert is_beyond_f64(-(10**400))
    with pytest.raises(OverflowError):
        float(2**1024 - 2**970)
    assert float(2**1024 - 2**970 - 1) == 1.7976931348623157e308


def test_contains_number_beyond_f64_looks_everywhere() -> None:
    assert not contains_number_beyond_f64({"a": [1, 2.5, "1e400", {"b": 2**64}], "c": True})
    assert contains_number_beyond_f64({"a": [1, {"b": [10**400]}]})
    assert contains_number_beyond_f64(-(10**309))
    deep: list[object] = [10**400]
    for _ in range(100_000):
        deep = [deep]
    assert contains_number_beyond_f64(deep)
