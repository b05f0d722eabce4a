"""The simulator's session gate (``execsvc.sim.session``): pure decisions on execsvc's calendar."""

from __future__ import annotations

import datetime as dt

import pytest

from execsvc.calendar import Holidays, MarketCalendar
from execsvc.cli import build_parser
from execsvc.clock import ist_ns
from execsvc.errors import ConfigError
from execsvc.market.auction_months import AuctionMonths
from execsvc.session_hours import SessionConfig
from execsvc.sim.config import DEFAULT_HOLIDAYS, SimConfig
from execsvc.sim.envelope import ApiError
from execsvc.sim.session import MARKETS_CLOSED, SessionGate, load_session_gate
from tests.unit.test_auction_months import INSTRUMENTS as NIFTY_FUTURES

FRI, SAT = dt.date(2026, 11, 20), dt.date(2026, 11, 21)
GATE = SessionGate(MarketCalendar(SessionConfig(), Holidays.load(DEFAULT_HOLIDAYS)))
CLOSED = ApiError.input(MARKETS_CLOSED)


@pytest.mark.parametrize(
    ("exchange", "variety", "kind", "when", "goes"),
    [
        ("NSE", "regular", "EQ", ist_ns(FRI, 9, 15), "now"),
        ("NSE", "regular", "EQ", ist_ns(FRI, 15, 29, 59), "now"),
        ("NSE", "regular", "EQ", ist_ns(FRI, 15, 30), CLOSED),
        ("NSE", "iceberg", "EQ", ist_ns(FRI, 16, 0), CLOSED),
        ("NSE", "regular", "EQ", ist_ns(FRI, 9, 5), CLOSED),  # the equity pre-open takes no API order here
        ("NSE", "amo", "EQ", ist_ns(FRI, 20, 0), "now"),  # the book queues an AMO for the open itself
        ("NSE", "amo", "EQ", ist_ns(SAT, 11, 0), "now"),
        ("NSE", "regular", "EQ", ist_ns(SAT, 11, 0), CLOSED),
        ("NFO", "regular", "FUT", ist_ns(FRI, 9, 5), "at_open"),  # the futures call auction
        ("NFO", "regular", "CE", ist_ns(FRI, 9, 5), CLOSED),  # options have no pre-open
        ("NFO", "regular", "FUT", ist_ns(FRI, 15, 31), CLOSED),
        ("CDS", "regular", "FUT", ist_ns(FRI, 16, 59), "now"),
        ("CDS", "regular", "FUT", ist_ns(FRI, 17, 0), CLOSED),
        ("MCX", "regular", "FUT", ist_ns(FRI, 23, 54), "now"),  # the US winter: 23:55
        ("MCX", "regular", "FUT", ist_ns(FRI, 23, 55), CLOSED),
        ("MCX", "regular", "FUT", ist_ns(dt.date(2026, 11, 24), 17, 30), "now"),  # an evening-only holiday
        ("MCX", "regular", "FUT", ist_ns(dt.date(2026, 11, 24), 11, 0), CLOSED),
    ],
)
def test_where_an_order_goes_by_exchange_variety_and_time(exchange, variety, kind, when, goes):
    assert GATE.placement(exchange, variety, kind, when) == goes


@pytest.mark.parametrize(
    ("order_type", "validity", "goes"),
    [
        ("LIMIT", "DAY", "at_open"),
        ("MARKET", "DAY", "at_open"),
        ("SL", "DAY", CLOSED),
        ("LIMIT", "IOC", CLOSED),
    ],
)
def test_the_futures_pre_open_takes_no_stop_and_no_ioc(order_type, validity, goes):
    when = ist_ns(FRI, 9, 5)
    assert GATE.placement("NFO", "regular", "FUT", when, order_type=order_type, validity=validity) == goes


def test_without_a_calendar_every_hour_is_in_session():
    gate = SessionGate()
    saturday_night = ist_ns(SAT, 23, 0)
    assert gate.placement("NSE", "regular", "EQ", saturday_night) == "now"
    assert gate.in_session("NSE:INFY", saturday_night)
    assert gate.change_refusal("NSE:INFY", False, saturday_night) is None


def test_a_change_out_of_the_session_is_refused_unless_the_order_waits_for_the_open():
    after_close = ist_ns(FRI, 15, 45)
    assert GATE.change_refusal("NSE:INFY", False, after_close) == CLOSED
    assert GATE.change_refusal("NSE:INFY", True, after_close) is None
    assert GATE.change_refusal("NSE:INFY", False, ist_ns(FRI, 15, 0)) is None


def test_the_calendar_is_off_by_default_and_its_holidays_file_read_only_when_on(tmp_path):
    missing = SessionConfig(holidays_file=str(tmp_path / "none.yaml"))
    assert load_session_gate(SimConfig(session=missing)).calendar is None
    with pytest.raises(ConfigError, match=r"none\.yaml: cannot read holidays file"):
        load_session_gate(SimConfig(session=missing, session_calendar=True))
    assert load_session_gate(SimConfig(session_calendar=True)).calendar is not None


def test_kite_sim_takes_the_calendar_switch_and_a_holidays_file():
    default = build_parser().parse_args(["kite-sim"])
    on = build_parser().parse_args(["kite-sim", "--session-calendar", "--holidays-file", "h.yaml"])
    assert (default.session_calendar, default.holidays_file) == (False, None)
    assert (on.session_calendar, on.holidays_file) == (True, "h.yaml")


@pytest.mark.parametrize(
    ("symbol", "when", "goes"),
    [
        ("NFO:NIFTY26DECFUT", ist_ns(FRI, 9, 5), "at_open"),  # the current month
        ("NFO:NIFTY27JANFUT", ist_ns(FRI, 9, 5), "refused"),  # not yet in its last five trading days
        ("NFO:NIFTY27FEBFUT", ist_ns(FRI, 9, 5), "refused"),
        ("NFO:NIFTY27FEBFUT", ist_ns(FRI, 9, 15), "now"),  # the normal session takes every month
        ("NFO:NIFTY27MARFUT", ist_ns(FRI, 9, 5), "at_open"),  # not in the dump: no month to tell
    ],
)
def test_the_futures_pre_open_takes_the_current_month_only(symbol, when, goes):
    gate = SessionGate(GATE.calendar, AuctionMonths(NIFTY_FUTURES))
    placed = gate.placement("NFO", "regular", "FUT", when, symbol=symbol)
    if goes == "refused":
        assert isinstance(placed, ApiError) and placed.error_type == "InputException"
        assert placed.message.startswith(f"tradingsymbol={symbol.partition(':')[2]!r}")
        assert "current month (expiry 2026-12-29)" in placed.message and "AMO" in placed.message
    else:
        assert placed == goes
