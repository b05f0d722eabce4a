"""Property tests of the charges model: the fills of one order add up to the charges of the whole order."""

from __future__ import annotations

import datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from execsvc.costs import Rates, RateTable, fill_charges
from execsvc.events import Charges

TABLE = RateTable.load(Path(__file__).resolve().parents[2] / "configs" / "charges.yaml")
COMPONENTS = ("brokerage", "stt", "exchange", "sebi", "stamp", "gst", "auto_square_off", "total")
ROWS = [
    ("equity", "MIS"),
    ("equity", "CNC"),
    ("futures", "NRML"),
    ("options", "NRML"),
    ("currency", "NRML"),
    ("commodity", "NRML"),
]

rates_st = st.builds(
    lambda row, day: TABLE.rates_for(row[0], row[1], day),
    st.sampled_from(ROWS),
    st.dates(min_value=datetime.date(2024, 10, 1), max_value=datetime.date(2027, 12, 31)),
)
ticks_st = st.integers(min_value=1, max_value=400_000).map(lambda n: n * 0.05)  # prices on a 0.05 tick


def _split(
    rates: Rates, side: str, fills: list[tuple[float, int]], auto_square_off: bool = False
) -> list[Charges]:
    out, before = [], 0.0
    for price, qty in fills:
        out.append(
            fill_charges(
                rates,
                side=side,
                price=price,
                qty=qty,
                order_value_before=before,
                auto_square_off=auto_square_off,
            )
        )
        before += price * qty
    return out


def _assert_sums_match(parts: list[Charges], whole: Charges) -> None:
    tolerance = 0.001 * len(parts)
    for name in COMPONENTS:
        summed = sum(getattr(c, name) for c in parts)
        assert abs(summed - getattr(whole, name)) <= tolerance, (name, summed, getattr(whole, name))
    for c in parts:
        assert all(getattr(c, name) >= 0.0 for name in COMPONENTS)


@settings(max_examples=300, deadline=None)
@given(
    rates=rates_st,
    side=st.sampled_from(["BUY", "SELL"]),
    price=ticks_st,
    qtys=st.lists(st.integers(min_value=1, max_value=5_000), min_size=1, max_size=20),
    squared_off=st.booleans(),
)
def test_split_fills_sum_to_single_fill(
    rates: Rates, side: str, price: float, qtys: list[int], squared_off: bool
) -> None:
    """The broker's auto square-off fee, like flat brokerage, falls once per order."""
    parts = _split(rates, side, [(price, q) for q in qtys], squared_off)
    whole = fill_charges(rates, side=side, price=price, qty=sum(qtys), auto_square_off=squared_off)

    _assert_sums_match(parts, whole)


@settings(max_examples=300, deadline=None)
@given(
    rates=rates_st,
    side=st.sampled_from(["BUY", "SELL"]),
    fills=st.lists(st.tuples(ticks_st, st.integers(min_value=1, max_value=5_000)), min_size=1, max_size=20),
)
def test_fills_at_different_prices_sum_to_the_order(
    rates: Rates, side: str, fills: list[tuple[float, int]]
) -> None:
    parts = _split(rates, side, fills)
    order_value = 0.0
    for price, qty in fills:
        order_value += price * qty
    whole = fill_charges(rates, side=side, price=order_value, qty=1)

    _assert_sums_match(parts, whole)
