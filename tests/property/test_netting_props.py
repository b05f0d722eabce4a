"""Property tests of the broker's square-off netting (``executors.paper.netting``): whatever the
positions, the closing legs' charges add up exactly to those of the broker's one net order, and
only the legs on its side share them, each part within ₹0.0001 of its pro rata share."""

from __future__ import annotations

import datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from execsvc.costs import RateTable, fill_charges
from execsvc.executors.paper.netting import plan
from execsvc.positions import Position

TABLE = RateTable.load(Path(__file__).resolve().parents[2] / "configs" / "charges.yaml")
PARTS = ("brokerage", "stt", "exchange", "sebi", "stamp", "gst", "auto_square_off")
ROWS = [("equity", "MIS"), ("futures", "MIS"), ("options", "MIS"), ("commodity", "MIS")]

positions_st = st.lists(st.integers(-5_000, 5_000).filter(bool), min_size=1, max_size=6)


def _units(rupees: float) -> int:
    return round(rupees * 10_000)


@settings(max_examples=300, deadline=None)
@given(
    positions_st,
    st.sampled_from(ROWS),
    st.dates(min_value=datetime.date(2024, 10, 1), max_value=datetime.date(2027, 12, 31)),
    st.integers(1, 400_000).map(lambda n: n * 0.05),
)
def test_the_legs_share_exactly_the_charges_of_the_one_net_order(
    net_qtys: list[int], row: tuple[str, str], day: datetime.date, price: float
) -> None:
    positions = [
        Position(strategy_code=f"s{i}", symbol="NSE:INFY", product="MIS", net_qty=q)
        for i, q in enumerate(net_qtys)
    ]
    net = sum(net_qtys)
    side = "SELL" if net > 0 else "BUY"
    rates = TABLE.rates_for(*row, day)
    order = fill_charges(rates, side=side, price=price, qty=abs(net), auto_square_off=True)

    square_off = plan("NSE:INFY", positions, price, order, 0)

    assert (square_off.side, square_off.qty) == (("", 0) if net == 0 else (side, abs(net)))
    assert [(leg.strategy_code, leg.net_qty) for leg in square_off.legs] == [
        (p.strategy_code, p.net_qty) for p in positions
    ]
    trading = [leg for leg in square_off.legs if net and (leg.net_qty > 0) == (net > 0)]
    weight = sum(abs(leg.net_qty) for leg in trading)
    for part in (*PARTS, "total"):
        whole = _units(getattr(order, part)) if net else 0
        shares = [_units(getattr(leg.charges, part)) for leg in square_off.legs]
        assert sum(shares) == whole, part
        for leg, share in zip(square_off.legs, shares, strict=True):
            if leg not in trading:
                assert share == 0, part
            elif part != "total":  # a total is its parts' sum
                assert abs(share - whole * abs(leg.net_qty) / weight) < 1, part
    for leg in square_off.legs:
        parts = sum(_units(getattr(leg.charges, part)) for part in PARTS)
        assert parts == _units(leg.charges.total)
    assert plan("NSE:INFY", positions, price, order, 0) == square_off  # the same every time
