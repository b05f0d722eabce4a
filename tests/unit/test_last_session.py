"""Telling the last session's ticks from today's (``executors/paper/last_session``)."""

from __future__ import annotations

import datetime as dt

import pytest

from execsvc.clock import ist_ns
from execsvc.executors.paper.last_session import CurrentDay, resent
from execsvc.market.ticks import Tick

MON, TUE = dt.date(2026, 11, 23), dt.date(2026, 11, 24)
SECOND = 1_000_000_000


def stamped(exchange_ns: int = 0, trade_ns: int = 0, token: int = 408065) -> Tick:
    return Tick(
        symbol="NSE:INFY", last_price=1500.0, instrument_token=token,
        exchange_timestamp=exchange_ns // SECOND, last_trade_time=trade_ns // SECOND,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("tick", "now", "predates"),
    [
        (stamped(ist_ns(MON, 15, 29)), ist_ns(TUE, 0, 0), True),  # Monday's close, Tuesday's first ns
        (stamped(ist_ns(MON, 23, 59, 59)), ist_ns(TUE, 9, 15), True),  # MCX's last, any time Tuesday
        (stamped(ist_ns(TUE, 0, 0)), ist_ns(TUE, 0, 0), False),  # stamped in the day
        (stamped(ist_ns(MON, 15, 29)), ist_ns(MON, 23, 59, 59), False),  # the same day still
        # the last trade's time is not the packet's: an illiquid instrument's quote of today
        (stamped(0, ist_ns(MON, 15, 29)), ist_ns(TUE, 9, 15), False),
        (stamped(ist_ns(TUE, 9, 15), ist_ns(MON, 15, 29)), ist_ns(TUE, 9, 16), False),  # today's quote
        (stamped(), ist_ns(TUE, 9, 15), False),  # ltp and quote ticks carry no time
    ],
)
def test_a_tick_predates_the_day_by_the_exchanges_stamp(tick: Tick, now: int, predates: bool) -> None:
    assert CurrentDay().predates(tick, now) is predates


def test_the_day_follows_the_clock_across_the_line() -> None:
    day = CurrentDay()
    monday_tick = stamped(ist_ns(MON, 15, 29))
    assert day.predates(monday_tick, ist_ns(MON, 20, 0)) is False
    assert day.predates(monday_tick, ist_ns(TUE, 0, 0, 1)) is True
    assert day.predates(stamped(ist_ns(TUE, 9, 15)), ist_ns(TUE, 9, 15)) is False


@pytest.mark.parametrize("stamp", ["yesterday", -1, float("-inf"), float("nan")])
def test_a_stamp_that_is_no_time_tells_none(stamp: object) -> None:
    tick = Tick(symbol="NSE:INFY", last_price=1500.0, exchange_timestamp=stamp)  # type: ignore[arg-type]
    assert CurrentDay().predates(tick, ist_ns(TUE, 9, 15)) is False


def test_the_line_keeps_only_undated_ticks_of_subscribed_tokens() -> None:
    undated, dated, other = stamped(), stamped(ist_ns(MON, 15, 29)), stamped(token=779521)
    traded = stamped(0, ist_ns(MON, 15, 29))  # a last trade's time dates no packet
    market = {"A": undated, "B": dated, "C": other, "D": traded}
    assert resent(market, {408065}) == {"A": undated, "D": traded}
    assert resent(market, ()) == {}
