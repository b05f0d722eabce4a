"""The fold of the marks a day carries in, and what a start after its date line carries on.

A paper or dry-run day's ``PositionsCarried.marks`` are the last session's ticks of what it holds.
A carried mark stands until the day journals a price of its instrument: a fill or a trigger took a
tick of that day, which a running service marks at and a restarted one does not know, so the old
close must not stand in for it (a restart would settle or carry the older price). The ticks the
day journals past an exchange's close or at its date line are its last prices.
"""

from __future__ import annotations

from execsvc.events import (
    Charges,
    DayClose,
    Fill,
    JournalOpened,
    PositionsCarried,
    SessionCloses,
)
from execsvc.executors.paper.day_closes import marks_to_carry
from execsvc.journal.codec import encode_event
from execsvc.market.ticks import Depth, DepthLevel, Tick
from execsvc.positions import Position
from execsvc.state import ServiceState

INFY, TCS, SBIN = "NSE:INFY", "NSE:TCS", "NSE:SBIN"


def held(symbol: str) -> Position:
    return Position(strategy_code="s1", symbol=symbol, product="CNC", net_qty=10, avg_price=100.0)


def a_day_carrying(*marks: DayClose) -> ServiceState:
    state = ServiceState(500_000.0)
    state.apply(JournalOpened(day="2026-11-20"))
    state.apply(
        PositionsCarried(positions=[held(m.symbol) for m in marks], from_day="2026-11-19", marks=list(marks))
    )
    return state


def fill(symbol: str, price: float) -> Fill:
    return Fill(
        fill_id="o1-1", order_id="o1", intent_id="i1", strategy_code="s1", symbol=symbol, side="BUY",
        qty=1, price=price, product="CNC", charges=Charges(), ts_event=1,
    )  # fmt: skip


def test_a_carried_mark_stands_until_the_day_journals_a_price_of_its_instrument() -> None:
    infy, tcs = DayClose(symbol=INFY, last_price=1_510.0), DayClose(symbol=TCS, last_price=4_010.0)
    state = a_day_carrying(infy, tcs)

    state.apply(fill(INFY, 1_520.0))

    assert state.carried_marks == {TCS: tcs}
    assert state.marks() == {TCS: tcs}


def test_the_ticks_journaled_after_a_close_are_the_days_last_prices() -> None:
    state = a_day_carrying(DayClose(symbol=INFY, last_price=1_510.0))
    late = DayClose(symbol=INFY, last_price=1_530.0, bid=1_529.95)

    state.apply(SessionCloses(closes=[late, DayClose(symbol=SBIN, last_price=801.0)]))

    assert state.carried_marks == {}
    assert state.marks() == {INFY: late, SBIN: DayClose(symbol=SBIN, last_price=801.0)}


def test_a_new_day_forgets_the_old_days_marks() -> None:
    state = a_day_carrying(DayClose(symbol=INFY, last_price=1_510.0))
    state.apply(SessionCloses(closes=[DayClose(symbol=TCS, last_price=4_010.0)]))

    state.apply(JournalOpened(day="2026-11-23"))

    assert state.marks() == {}


def test_the_marks_carried_are_those_of_held_instruments_in_symbol_order_without_empty_quotes() -> None:
    seen = Tick(symbol=TCS, last_price=4_010.0, depth=Depth(buy=(DepthLevel(5, 4_009.5),), sell=()))
    journaled = DayClose(symbol=INFY, last_price=1_510.0, bid=0.0, ask=0.0)  # as ``day_close`` writes
    known = {TCS: seen, INFY: journaled, SBIN: Tick(symbol=SBIN, last_price=801.0)}

    marks = marks_to_carry([held(TCS), held(INFY), held(TCS)], known)

    assert marks == [
        DayClose(symbol=INFY, last_price=1_510.0),
        DayClose(symbol=TCS, last_price=4_010.0, bid=4_009.5),
    ]
    assert encode_event(PositionsCarried(positions=[], marks=marks)) == (
        b'{"type":"positions_carried","positions":[],"marks":[{"symbol":"NSE:INFY","last_price":1510.0},'
        b'{"symbol":"NSE:TCS","last_price":4010.0,"bid":4009.5}]}'
    )
