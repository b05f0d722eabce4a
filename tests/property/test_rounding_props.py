"""Hypothesis: ``round_dp`` returns the very double ``round(value, digits)`` returns."""

from __future__ import annotations

import math
import struct

from hypothesis import example, given
from hypothesis import strategies as st

from execsvc.rounding import round_dp

DIGITS = st.integers(min_value=0, max_value=15)


def bits(value: float) -> bytes:
    """The float's IEEE bytes: tells 0.0 from -0.0 (and compares NaNs)."""
    return struct.pack("<d", value)


@given(st.floats(allow_nan=True, allow_infinity=True), DIGITS)
@example(0.00005, 4)  # a decimal tie that is not one in binary
@example(2.675, 2)  # the classic: 2.67499999... in binary
@example(-0.00004, 4)  # rounds to negative zero
@example(-0.0, 6)
@example(1e-320, 4)  # subnormal
@example(4503599627370497.0, 0)  # past 2**52
@example(0.5, 0)  # exact ties: half to even
@example(1.5, 0)
@example(-2.5, 0)
@example(0.125, 2)
def test_round_dp_is_round(value: float, digits: int) -> None:
    assert bits(round_dp(value, digits)) == bits(round(value, digits))


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(min_value=0, max_value=6))
def test_round_dp_at_every_half_way_point(units: int, digits: int) -> None:
    # x.xxxx5 in decimal: the values that sit nearest a tie, where a shortcut would slip
    value = (units + 0.5) / 10**digits
    assert bits(round_dp(value, digits)) == bits(round(value, digits))


@given(st.floats(min_value=0.0, max_value=1e7, allow_subnormal=False), st.sampled_from([2, 4, 6, 8]))
def test_round_dp_of_money(value: float, digits: int) -> None:
    # the range charges and prices live in
    assert math.isclose(round_dp(value, digits), value, abs_tol=10.0**-digits)
    assert bits(round_dp(value, digits)) == bits(round(value, digits))


def test_scales_are_exact_powers_of_ten() -> None:
    from execsvc.rounding import _SCALES

    assert [int(_SCALES[d]) for d in range(16)] == [10**d for d in range(16)]


def test_round_dp_refuses_digits_it_cannot_scale() -> None:
    import pytest

    for digits in (-1, 16):
        with pytest.raises(ValueError, match=f"digits={digits}"):
            round_dp(1.5, digits)
