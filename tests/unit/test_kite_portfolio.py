"""The journal's positions against the broker's positions and holdings (executors/kite/portfolio.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from execsvc.errors import BrokerDataError
from execsvc.events import Fill, JournalOpened, PositionsCarried
from execsvc.executors.kite.mapping import KiteHolding, KitePosition, parse_holdings
from execsvc.executors.kite.portfolio import (
    Quantities,
    broker_holdings,
    broker_positions,
    journal_positions,
    position_mismatches,
)
from execsvc.positions import Position
from execsvc.state import ServiceState

MOCKS = Path(__file__).resolve().parents[1] / "kite_mocks"
INFY_CNC = ("NSE:INFY", "CNC")


def test_the_official_holdings_mock_parses() -> None:
    raw = json.loads((MOCKS / "holdings.json").read_text())["data"]
    holdings = parse_holdings(raw)
    assert [(h.exchange, h.tradingsymbol, h.product, h.quantity, h.t1_quantity) for h in holdings] == [
        ("NSE", "AARON", "CNC", 1, 0),
        ("BSE", "SBIN", "CNC", 16, 0),
    ]
    sbin = holdings[1]
    assert (sbin.isin, sbin.used_quantity, sbin.realised_quantity, sbin.opening_quantity) == (
        "INE062A01020",
        0,
        16,
        16,
    )
    assert sbin.average_price == 801.78125 and isinstance(holdings[0].average_price, float)
    assert broker_holdings(holdings) == {"AARON": 1, "SBIN": 16}


def test_holdings_parse_tolerates_nulls_strings_and_new_fields_and_names_a_bad_row() -> None:
    row = {"tradingsymbol": "INFY", "exchange": "NSE", "quantity": "4", "t1_quantity": None, "new": {}}
    assert parse_holdings([row]) == [KiteHolding(tradingsymbol="INFY", exchange="NSE", quantity=4)]
    with pytest.raises(BrokerDataError, match=r"Kite holdings\[1\]: quantity is missing"):
        parse_holdings([row, {"tradingsymbol": "X", "exchange": "NSE"}])
    with pytest.raises(BrokerDataError, match="expected a list"):
        parse_holdings({"data": []})


def test_journal_positions_sum_strategies_and_keep_what_was_carried_in() -> None:
    positions = [
        Position(strategy_code="a", symbol="NSE:INFY", product="CNC", net_qty=7),
        Position(strategy_code="b", symbol="NSE:INFY", product="CNC", net_qty=3),
        Position(strategy_code="a", symbol="NSE:TCS", product="MIS", net_qty=-2),
    ]
    carried = {INFY_CNC: 6, ("NSE:SBIN", "CNC"): 4}  # SBIN was sold off today: flat, still carried in
    assert journal_positions(positions, carried) == {
        INFY_CNC: Quantities(10, 6),
        ("NSE:TCS", "MIS"): Quantities(-2, 0),
        ("NSE:SBIN", "CNC"): Quantities(0, 4),
    }


def test_the_journal_fold_keeps_what_each_day_carried_in() -> None:
    state = ServiceState(capital=500_000.0)
    carried = [
        Position(strategy_code="a", symbol="NSE:INFY", product="CNC", net_qty=5, avg_price=1500.0),
        Position(strategy_code="b", symbol="NSE:INFY", product="CNC", net_qty=2, avg_price=1490.0),
    ]
    state.apply(JournalOpened(day="2026-11-17", mode="live"))
    state.apply(PositionsCarried(positions=carried, from_day="2026-11-16"))
    state.apply(
        Fill(
            fill_id="t1",
            order_id="o1",
            intent_id="i1",
            strategy_code="a",
            symbol="NSE:INFY",
            side="SELL",
            qty=3,
            price=1510.0,
            product="CNC",
        )
    )
    assert journal_positions(state.positions.values(), state.carried) == {INFY_CNC: Quantities(4, 7)}
    state.apply(JournalOpened(day="2026-11-18", mode="live"))  # a new day: nothing carried yet
    assert state.carried == {}


def test_broker_positions_take_overnight_quantity_as_carried_in() -> None:
    rows = [
        KitePosition(tradingsymbol="GOLD", exchange="MCX", product="NRML", quantity=0, overnight_quantity=3),
        KitePosition(tradingsymbol="INFY", exchange="NSE", product="CNC", quantity=-2),
    ]
    assert broker_positions(rows) == {("MCX:GOLD", "NRML"): Quantities(0, 3), INFY_CNC: Quantities(-2, 0)}


def holding(symbol: str, quantity: int, t1: int = 0, exchange: str = "NSE") -> KiteHolding:
    return KiteHolding(tradingsymbol=symbol, exchange=exchange, quantity=quantity, t1_quantity=t1)


def test_broker_holdings_count_t1_and_join_exchanges() -> None:
    rows = [holding("INFY", 3, t1=2), holding("SBIN", 4, exchange="BSE"), holding("SBIN", 1)]
    assert broker_holdings(rows) == {"INFY": 5, "SBIN": 5}


Q = Quantities
CASES = [
    # (what, ours, theirs, held, expected)
    ("flat everywhere", {}, {}, {}, []),
    ("intraday matches", {("NSE:INFY", "MIS"): Q(5)}, {("NSE:INFY", "MIS"): Q(5)}, None, []),
    (
        "intraday differs",
        {("NSE:INFY", "MIS"): Q(10)},
        {},
        None,
        ["NSE:INFY MIS: journal 10, broker 0"],
    ),
    (
        "NRML carried stays under positions, overnight included in net",
        {("NFO:NIFTYFUT", "NRML"): Q(75, 50)},
        {("NFO:NIFTYFUT", "NRML"): Q(75, 50)},
        None,
        [],
    ),
    (
        "NRML carried but gone at the broker",
        {("NFO:NIFTYFUT", "NRML"): Q(50, 50)},
        {},
        None,
        ["NFO:NIFTYFUT NRML: journal 50, broker 0"],
    ),
    ("CNC bought today, under positions", {INFY_CNC: Q(5)}, {INFY_CNC: Q(5)}, None, []),
    ("CNC bought yesterday, in holdings as T1", {INFY_CNC: Q(5, 5)}, {}, {"INFY": 5}, []),
    ("CNC held, more held than carried", {INFY_CNC: Q(5, 5)}, {}, {"INFY": 40}, []),
    ("CNC carried, held, sold 2 today", {INFY_CNC: Q(3, 5)}, {INFY_CNC: Q(-2)}, {"INFY": 5}, []),
    ("CNC carried, held, bought 2 more today", {INFY_CNC: Q(7, 5)}, {INFY_CNC: Q(2)}, {"INFY": 5}, []),
    (
        "CNC carried on both exchanges, one holding covers both",
        {INFY_CNC: Q(5, 5), ("BSE:INFY", "CNC"): Q(2, 2)},
        {},
        {"INFY": 7},
        [],
    ),
    (
        "CNC carried on both exchanges, the holding is short",
        {INFY_CNC: Q(5, 5), ("BSE:INFY", "CNC"): Q(2, 2)},
        {},
        {"INFY": 6},
        ["BSE:INFY+NSE:INFY CNC carried in: journal 7, broker holds 6"],
    ),
    (
        "CNC still under positions overnight counts as held",
        {INFY_CNC: Q(5, 5)},
        {INFY_CNC: Q(5, 5)},
        {},
        [],
    ),
    (
        "CNC carried more than the broker holds",
        {INFY_CNC: Q(10, 10)},
        {},
        {"INFY": 4},
        ["NSE:INFY CNC carried in: journal 10, broker holds 4"],
    ),
    (
        "CNC carried, holdings not read",
        {INFY_CNC: Q(5, 5)},
        {},
        None,
        ["NSE:INFY CNC carried in: journal 5, broker holds 0"],
    ),
    (
        "CNC today's sale differs; carried is covered",
        {INFY_CNC: Q(3, 5)},
        {INFY_CNC: Q(-1)},
        {"INFY": 5},
        ["NSE:INFY CNC today: journal -2, broker -1"],
    ),
    (
        "CNC carried and held, the broker shows a flat CNC row today",
        {INFY_CNC: Q(5, 5)},
        {INFY_CNC: Q(0)},
        {"INFY": 5},
        [],
    ),
    (
        "a CNC sale of stock execsvc never bought carries a short in: nothing need be held",
        {INFY_CNC: Q(-5, -5)},
        {},
        {},
        [],
    ),
    (
        "a stranger's CNC buy today",
        {},
        {INFY_CNC: Q(3)},
        {"INFY": 100},
        ["NSE:INFY CNC today: journal 0, broker 3"],
    ),
    (
        "both CNC checks fail, sorted",
        {INFY_CNC: Q(9, 5), ("NSE:TCS", "MIS"): Q(1)},
        {INFY_CNC: Q(1)},
        {"INFY": 2},
        [
            "NSE:INFY CNC carried in: journal 5, broker holds 2",
            "NSE:INFY CNC today: journal 4, broker 1",
            "NSE:TCS MIS: journal 1, broker 0",
        ],
    ),
]


@pytest.mark.parametrize(("what", "ours", "theirs", "held", "expected"), CASES, ids=[c[0] for c in CASES])
def test_position_mismatches(
    what: str,
    ours: dict[tuple[str, str], Quantities],
    theirs: dict[tuple[str, str], Quantities],
    held: dict[str, int] | None,
    expected: list[str],
) -> None:
    assert position_mismatches(ours, theirs, held) == expected
