"""Hypothesis: a contract multiplier scales money and nothing else. Whatever the fills (partial
closes, flips, re-opens), P&L with multiplier m is m times the P&L with 1, realized and unrealized,
and so are the traded values; quantities and average prices do not move."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from execsvc.positions import Position, apply_fill

FILLS = st.lists(
    st.tuples(
        st.sampled_from(["BUY", "SELL"]),
        st.integers(1, 500),
        st.integers(1, 400_000).map(lambda steps: steps * 0.05),
    ),
    min_size=1,
    max_size=15,
)
MULTIPLIERS = st.sampled_from([10.0, 100.0, 1000.0, 100_000.0]) | st.integers(2, 5000).map(float)


@settings(max_examples=300, deadline=None)
@given(FILLS, MULTIPLIERS, st.integers(1, 400_000).map(lambda steps: steps * 0.05))
def test_pnl_with_multiplier_m_is_m_times_pnl_with_one(
    fills: list[tuple[str, int, float]], m: float, mark: float
) -> None:
    one = Position(strategy_code="S1", symbol="MCX:CRUDEOIL26DECFUT", product="NRML")
    scaled = one
    realized_one = realized_m = 0.0
    for side, qty, price in fills:
        one, r1 = apply_fill(one, side, qty, price)
        scaled, rm = apply_fill(scaled, side, qty, price, multiplier=m)
        realized_one += r1
        realized_m += rm
        assert rm == pytest.approx(m * r1, rel=1e-9, abs=1e-6)

    assert (scaled.net_qty, scaled.buy_qty, scaled.sell_qty) == (one.net_qty, one.buy_qty, one.sell_qty)
    assert scaled.avg_price == one.avg_price
    assert scaled.multiplier == m and one.multiplier == 1.0
    assert realized_m == pytest.approx(m * realized_one, rel=1e-9, abs=1e-6)
    assert scaled.realized_gross == pytest.approx(m * one.realized_gross, rel=1e-9, abs=1e-6)
    assert scaled.buy_value == pytest.approx(m * one.buy_value, rel=1e-12)
    assert scaled.sell_value == pytest.approx(m * one.sell_value, rel=1e-12)
    assert scaled.unrealized(mark) == pytest.approx(m * one.unrealized(mark), rel=1e-9, abs=1e-6)
    if scaled.net_qty == 0:  # flat: realized is what was sold less what was bought, multiplier and all
        assert scaled.realized_gross == pytest.approx(
            scaled.sell_value - scaled.buy_value, rel=1e-9, abs=1e-3
        )
