"""JSON numbers as the reference's serde_json reads and prints them.

serde_json (without ``arbitrary_precision``) reads an integer in the i64 or
u64 range as an integer and every other number as an f64; a number beyond the
f64 range (``1e400``, or an integer above about ``1.8e308``) fails the whole
message with ``number out of range``. msgspec reads integers exactly, so
these rules are applied here, after decoding.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Final

__all__ = [
    "I64_MAX",
    "I64_MIN",
    "NUMBER_OUT_OF_RANGE",
    "U64_MAX",
    "contains_number_beyond_f64",
    "is_beyond_f64",
    "is_serde_integer",
    "serde_float",
]

I64_MIN: Final = -(2**63)
I64_MAX: Final = 2**63 - 1
U64_MAX: Final = 2**64 - 1
NUMBER_OUT_OF_RANGE: Final = "number out of range"
"""serde_json's reason for a number beyond f64 (without its ``at line 1 column N``)."""

_F64_OVERFLOW: Final = 2**1024 - 2**970
"""The smallest integer that rounds to infinity as an f64."""


def is_serde_integer(value: int) -> bool:
    """Whether serde_json reads ``value`` as an integer (i64 or u64), not an f64."""
    return I64_MIN <= value <= U64_MAX


def is_beyond_f64(value: int) -> bool:
    """Whether serde_json fails on ``value`` with ``number out of range``."""
    return abs(value) >= _F64_OVERFLOW


def contains_number_beyond_f64(value: object) -> bool:
    """Whether a decoded JSON value holds an integer serde_json cannot read.

    msgspec itself rejects floats beyond f64 and integers beyond Python's digit
    limit; the integers between those come through and are found here.
    """
    pending = [value]
    while pending:  # iterative: the value may nest as deep as msgspec allows
        item = pending.pop()
        if isinstance(item, int) and is_beyond_f64(item):
            return True
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
    return False


def serde_float(value: float) -> str:
    """``value`` as serde_json writes a float in its error messages.

    That is ryu's format: the shortest digits that round-trip (as ``repr``),
    in plain notation from 1e-5 up to below 1e16 (``1.0``, ``0.00001``,
    ``1000000000000000.0``) and otherwise ``1e+16``, ``1.5e-7`` (as measured
    against codex 0.130.0).
    """
    sign = "-" if math.copysign(1.0, value) < 0 else ""
    if value == 0:
        return sign + "0.0"
    decimal = Decimal(repr(abs(value))).normalize().as_tuple()
    assert isinstance(decimal.exponent, int)  # finite
    digits = "".join(map(str, decimal.digits))
    exponent = decimal.exponent  # value == digits * 10**exponent
    end = len(digits) + exponent  # 10**(end-1) <= value < 10**end
    if exponent >= 0 and end <= 16:
        text = digits + "0" * exponent + ".0"
    elif 0 < end <= 16:
        text = f"{digits[:end]}.{digits[end:]}"
    elif -5 < end <= 0:
        text = "0." + "0" * -end + digits
    elif len(digits) == 1:
        text = f"{digits}e{end - 1:+}"
    else:
        text = f"{digits[0]}.{digits[1:]}e{end - 1:+}"
    return sign + text
