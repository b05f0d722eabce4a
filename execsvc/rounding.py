"""``round_dp``: Python's ``round(value, digits)``, bit for bit, at half the cost.

CPython rounds a float to decimal places through a correctly rounded decimal conversion (dtoa
and back), about 250 ns a call; a paper fill makes a dozen such calls (charges, prices, averages).
Scaling by ``10**digits``, rounding to an integer and dividing back gives the same double whenever
the scaled value is not exactly half-way: below 2**52 the half-integers are doubles, and rounding
is monotonic, so a product that rounds to within less than 0.5 of an integer was within less than
0.5 of it before rounding, and that integer is the correctly rounded one; IEEE division then gives
the double nearest ``integer / 10**digits``, which is what ``round`` returns. At an exact half,
for huge or non-finite values and for results of zero, the answer is ``round``'s own. A
hypothesis property test holds the two to the same bits.
"""

from __future__ import annotations

_SCALES = {digits: 10.0**digits for digits in range(16)}
_EXACT_LIMIT = 2.0**52  # below it every integer and every half-integer is a double


def round_dp(value: float, digits: int) -> float:
    """``round(value, digits)`` for ``0 <= digits < 16``, the same double every time, faster.

    Args:
        value: any float (NaN, infinities and zeros come back as ``round`` gives them).
        digits: decimal places.

    Returns:
        The double ``round(value, digits)`` returns.

    Raises:
        ValueError: ``digits`` outside 0 to 15.
    """
    scale = _SCALES.get(digits)
    if scale is None:
        raise ValueError(f"digits={digits!r}: round_dp takes 0 to 15 decimal places")
    scaled = value * scale
    if -_EXACT_LIMIT < scaled < _EXACT_LIMIT:
        whole = round(scaled)
        if whole and abs(scaled - whole) < 0.5:
            return whole / scale
    return value if value == 0.0 else round(value, digits)
