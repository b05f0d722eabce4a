"""Hypothesis: every rupee of charges a position pays is set against a close exactly once or is still
open, whatever the fills (partial closes, flips, re-opens): the loss streak's round trips add up."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from execsvc.positions import Position, apply_fill

FILLS = st.lists(
    st.tuples(
        st.sampled_from(["BUY", "SELL"]),
        st.integers(1, 500),
        st.integers(1, 400_000).map(lambda steps: steps * 0.05),
        st.integers(0, 100_000).map(lambda paise: paise / 10_000),
    ),
    min_size=1,
    max_size=15,
)


@settings(max_examples=300, deadline=None)
@given(FILLS)
def test_charges_are_set_against_closes_once_or_stay_open(fills: list[tuple[str, int, float, float]]) -> None:
    position = Position(strategy_code="S1", symbol="NSE:INFY")
    set_against_closes = 0.0
    for side, qty, price, charges in fills:
        before = position.open_charges
        position, _ = apply_fill(position, side, qty, price, charges)
        closing_cost = charges + before - position.open_charges  # what the state's fold gives the order
        assert closing_cost >= -1e-9
        assert position.open_charges >= -1e-9
        if position.net_qty == 0:
            assert position.open_charges == 0.0
        set_against_closes += closing_cost

    assert abs(set_against_closes + position.open_charges - position.charges) <= 1e-6
