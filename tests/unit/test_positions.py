"""Unit tests of position maths (execsvc.positions): pure functions on immutable positions."""

from __future__ import annotations

import pytest

from execsvc.positions import Position, apply_fill, is_reducing

Fill = tuple[str, int, float]


def _flat() -> Position:
    return Position(strategy_code="S1", symbol="NSE:INFY")


def _apply_all(fills: list[Fill], position: Position | None = None) -> tuple[Position, list[float]]:
    position = position if position is not None else _flat()
    realized = []
    for side, qty, price in fills:
        position, gross = apply_fill(position, side, qty, price)
        realized.append(gross)
    return position, realized


# (name, fills, net_qty, avg_price, realized of each fill)
SEQUENCES = [
    ("open long", [("BUY", 10, 100.0)], 10, 100.0, [0.0]),
    ("add long: weighted average", [("BUY", 10, 100.0), ("BUY", 30, 104.0)], 40, 103.0, [0.0, 0.0]),
    ("partial close long", [("BUY", 10, 100.0), ("SELL", 4, 105.0)], 6, 100.0, [0.0, 20.0]),
    ("partial close long at a loss", [("BUY", 10, 100.0), ("SELL", 4, 97.5)], 6, 100.0, [0.0, -10.0]),
    ("close long to flat", [("BUY", 10, 100.0), ("SELL", 10, 95.0)], 0, 0.0, [0.0, -50.0]),
    ("flip long to short", [("BUY", 10, 100.0), ("SELL", 15, 110.0)], -5, 110.0, [0.0, 100.0]),
    ("open short", [("SELL", 10, 100.0)], -10, 100.0, [0.0]),
    ("add short: weighted average", [("SELL", 10, 100.0), ("SELL", 10, 110.0)], -20, 105.0, [0.0, 0.0]),
    ("partial cover short", [("SELL", 10, 100.0), ("BUY", 4, 90.0)], -6, 100.0, [0.0, 40.0]),
    ("partial cover short at a loss", [("SELL", 10, 100.0), ("BUY", 4, 102.5)], -6, 100.0, [0.0, -10.0]),
    ("cover short to flat", [("SELL", 10, 100.0), ("BUY", 10, 105.0)], 0, 0.0, [0.0, -50.0]),
    ("flip short to long", [("SELL", 10, 100.0), ("BUY", 15, 90.0)], 5, 90.0, [0.0, 100.0]),
    (
        "average, partial close, add again",
        [("BUY", 10, 100.0), ("BUY", 10, 110.0), ("SELL", 5, 120.0), ("BUY", 5, 90.0)],
        20,
        101.25,
        [0.0, 0.0, 75.0, 0.0],
    ),
    (
        "reopen after flat starts a fresh average",
        [("BUY", 10, 100.0), ("SELL", 10, 101.0), ("BUY", 3, 200.0)],
        3,
        200.0,
        [0.0, 10.0, 0.0],
    ),
]


@pytest.mark.parametrize(
    ("fills", "net_qty", "avg_price", "realized"),
    [case[1:] for case in SEQUENCES],
    ids=[case[0] for case in SEQUENCES],
)
def test_apply_fill_sequences(
    fills: list[Fill], net_qty: int, avg_price: float, realized: list[float]
) -> None:
    position, got_realized = _apply_all(fills)

    assert position.net_qty == net_qty
    assert position.avg_price == pytest.approx(avg_price, rel=1e-12)
    assert got_realized == pytest.approx(realized, abs=1e-9)
    assert position.realized_gross == pytest.approx(sum(realized), abs=1e-9)


@pytest.mark.parametrize(
    "fills",
    [case[1] for case in SEQUENCES],
    ids=[case[0] for case in SEQUENCES],
)
def test_apply_fill_keeps_day_totals(fills: list[Fill]) -> None:
    position, _ = _apply_all(fills)

    buys = [(q, p) for s, q, p in fills if s == "BUY"]
    sells = [(q, p) for s, q, p in fills if s == "SELL"]
    assert position.buy_qty == sum(q for q, _ in buys)
    assert position.sell_qty == sum(q for q, _ in sells)
    assert position.buy_value == pytest.approx(sum(q * p for q, p in buys))
    assert position.sell_value == pytest.approx(sum(q * p for q, p in sells))
    assert position.net_qty == position.buy_qty - position.sell_qty


def test_flat_realized_equals_sell_minus_buy_value() -> None:
    fills = [("BUY", 7, 101.35), ("SELL", 12, 99.8), ("BUY", 9, 100.05), ("SELL", 4, 102.4)]

    position, _ = _apply_all(fills)

    assert position.net_qty == 0
    assert position.realized_gross == pytest.approx(position.sell_value - position.buy_value, abs=1e-9)


def test_apply_fill_accumulates_charges_and_keeps_identity() -> None:
    position = Position(strategy_code="S1", symbol="NSE:INFY", product="CNC")

    position, _ = apply_fill(position, "BUY", 10, 100.0, charges=1.25)
    position, _ = apply_fill(position, "SELL", 10, 103.0, charges=2.5)

    assert position.key == ("S1", "NSE:INFY", "CNC")
    assert position.charges == 3.75
    assert position.realized_gross == pytest.approx(30.0)
    assert position.realized_net == pytest.approx(26.25)


def test_apply_fill_does_not_mutate_its_input() -> None:
    before = Position(strategy_code="S1", symbol="NSE:INFY", net_qty=5, avg_price=100.0)

    after, _ = apply_fill(before, "SELL", 5, 110.0)

    assert (before.net_qty, before.avg_price, before.realized_gross) == (5, 100.0, 0.0)
    assert (after.net_qty, after.avg_price, after.realized_gross) == (0, 0.0, 50.0)


@pytest.mark.parametrize(
    ("net_qty", "mark", "unrealized"), [(10, 105.0, 50.0), (-10, 105.0, -50.0), (0, 1.0, 0.0)]
)
def test_unrealized(net_qty: int, mark: float, unrealized: float) -> None:
    position = Position(
        strategy_code="S1", symbol="NSE:INFY", net_qty=net_qty, avg_price=100.0 if net_qty else 0.0
    )

    assert position.unrealized(mark) == pytest.approx(unrealized)


# --- is_reducing -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("side", "qty", "net_qty", "pending", "reducing"),
    [
        ("SELL", 5, 10, 0, True),
        ("SELL", 10, 10, 0, True),
        ("SELL", 11, 10, 0, False),  # would flip
        ("SELL", 5, 10, 5, True),
        ("SELL", 5, 10, 6, False),  # the working SELL closes first; this one would open a short
        ("SELL", 1, 10, 10, False),
        ("BUY", 5, 10, 0, False),  # adds to a long
        ("BUY", 5, -10, 0, True),
        ("BUY", 10, -10, 0, True),
        ("BUY", 11, -10, 0, False),
        ("BUY", 4, -10, 6, True),
        ("BUY", 5, -10, 6, False),
        ("SELL", 5, -10, 0, False),  # adds to a short
        ("BUY", 1, 0, 0, False),
        ("SELL", 1, 0, 0, False),
    ],
)
def test_is_reducing(side: str, qty: int, net_qty: int, pending: int, reducing: bool) -> None:
    assert is_reducing(side, qty, net_qty, pending) is reducing


# --- open_charges: what opening the open quantity cost -----------------------------------------------------


# (name, fills as (side, qty, price, charges), open_charges after)
OPEN_CHARGES = [
    ("opening fills add up", [("BUY", 10, 100.0, 3.0), ("BUY", 5, 101.0, 2.0)], 5.0),
    ("a partial close takes its share", [("BUY", 10, 100.0, 3.0), ("SELL", 4, 101.0, 9.0)], 1.8),
    ("flat leaves nothing open", [("BUY", 10, 100.0, 3.0), ("SELL", 10, 101.0, 9.0)], 0.0),
    ("a flip opens with its rest", [("BUY", 10, 100.0, 3.0), ("SELL", 40, 101.0, 8.0)], 6.0),
    ("short side alike", [("SELL", 10, 100.0, 4.0), ("BUY", 5, 99.0, 1.0)], 2.0),
]


@pytest.mark.parametrize(
    ("fills", "open_charges"), [c[1:] for c in OPEN_CHARGES], ids=[c[0] for c in OPEN_CHARGES]
)
def test_open_charges_follow_the_open_quantity(
    fills: list[tuple[str, int, float, float]], open_charges: float
) -> None:
    position = _flat()
    for side, qty, price, charges in fills:
        position, _ = apply_fill(position, side, qty, price, charges)

    assert position.open_charges == pytest.approx(open_charges, abs=1e-12)
    assert position.charges == pytest.approx(sum(c for *_, c in fills))
