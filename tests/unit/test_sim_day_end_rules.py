"""The end of the simulated exchange's day (``execsvc.sim.day_end``): pure decisions on the book
and execsvc's calendar: which orders expire, when the next can, and which days settle T1 stock."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from execsvc.calendar import Holidays, MarketCalendar
from execsvc.clock import ist_ns
from execsvc.session_hours import SessionConfig
from execsvc.sim.book import ExchangeBook
from execsvc.sim.config import DEFAULT_HOLIDAYS
from execsvc.sim.day_end import DAY_ENDED, expire, expiring, next_end_ns, settles
from execsvc.sim.orders import SimOrder
from execsvc.sim.session import SessionGate
from tests.unit.test_sim_book import make_book, px, req

THU, FRI, SAT = dt.date(2026, 11, 19), dt.date(2026, 11, 20), dt.date(2026, 11, 21)
CALENDAR = MarketCalendar(SessionConfig(), Holidays.load(DEFAULT_HOLIDAYS))


@pytest.mark.parametrize(
    ("calendar", "now", "due"),
    [
        (CALENDAR, ist_ns(THU, 10, 0), ist_ns(THU, 15, 30)),  # equity and F&O close first
        (CALENDAR, ist_ns(THU, 15, 30), ist_ns(THU, 17, 0)),  # then currencies
        (CALENDAR, ist_ns(THU, 17, 0), ist_ns(THU, 23, 55)),  # then MCX (the US winter)
        (CALENDAR, ist_ns(THU, 23, 55), ist_ns(FRI, 0, 0)),  # then the date line
        (CALENDAR, ist_ns(SAT, 10, 0), ist_ns(SAT + dt.timedelta(days=1), 0, 0)),  # no session
        (None, ist_ns(THU, 10, 0), ist_ns(FRI, 0, 0)),  # without a calendar only the date line
    ],
)
def test_the_next_end_is_the_first_close_after_now_else_the_date_line(calendar, now, due) -> None:
    assert next_end_ns(calendar, now) == due


def book_with_orders(calendar: MarketCalendar | None) -> tuple[ExchangeBook, SimOrder, SimOrder, SimOrder]:
    """A book at THU 15:00 with a resting LIMIT, a stop and an AMO waiting for the open."""
    book = make_book()
    book.session = SessionGate(calendar)
    at = ist_ns(THU, 15, 0)
    book.on_tick(px(1500.0, at), at)
    resting, _ = book.place(req(price=1490.0), "k", at)
    stop, _ = book.place(req("SELL", "SL-M", trigger_price=1480.0), "k", at)
    amo, _ = book.place(req(price=1495.0, variety="amo"), "k", at)
    return book, resting, stop, amo


@pytest.mark.parametrize(
    ("calendar", "now", "date_line", "ended"),
    [
        (CALENDAR, ist_ns(THU, 15, 29, 59), False, False),
        (CALENDAR, ist_ns(THU, 15, 30), False, True),  # NSE's close
        (None, ist_ns(THU, 15, 30), False, False),  # any hour without the calendar
        (None, ist_ns(FRI, 0, 0), True, True),  # until its date line
        (CALENDAR, ist_ns(FRI, 0, 0), True, True),
    ],
)
def test_orders_at_the_exchange_expire_at_their_close_or_the_date_line_and_an_amo_waits(
    calendar, now, date_line, ended
) -> None:
    book, resting, stop, amo = book_with_orders(calendar)
    assert (resting.status, stop.status, amo.status) == ("OPEN", "TRIGGER PENDING", "AMO REQ RECEIVED")
    due = expiring(book, calendar, now, date_line=date_line)
    updates = expire(book, due, now)
    assert [o.order_id for o in due] == ([resting.order_id, stop.order_id] if ended else [])
    assert [(u.status, u.payload["status_message"]) for u in updates] == [("CANCELLED", DAY_ENDED)] * len(due)
    if ended:
        assert (resting.cancelled_quantity, stop.cancelled_quantity) == (10, 10)
        assert not book.resting.has_orders("NSE:INFY")  # no later tick can fill or trigger them
    assert amo.status == "AMO REQ RECEIVED" and book.waits_for_open(amo)


@pytest.mark.parametrize(
    ("calendar", "day", "settling"),
    [
        (CALENDAR, dt.date(2026, 11, 23), True),  # a Monday
        (CALENDAR, dt.date(2026, 11, 24), False),  # Guru Nanak Jayanti: an NSE holiday
        (CALENDAR, SAT, False),
        (CALENDAR, dt.date(2026, 11, 8), False),  # Muhurat trading, a Sunday special session
        (None, dt.date(2026, 11, 24), True),  # without a calendar holidays are unknown
        (None, SAT, False),
    ],
)
def test_t1_settles_on_regular_trading_days_only(calendar, day, settling) -> None:
    assert settles(calendar, day) is settling


def book_waiting_for_the_open() -> tuple[ExchangeBook, SimOrder, SimOrder, SimOrder]:
    """A calendar book on THU with three orders waiting for an open, none of whose instruments
    ticks: an AMO from before the open, a future taken in the F&O pre-open, an AMO from after the
    close."""
    book = make_book()
    book.session = SessionGate(CALENDAR)
    early, _ = book.place(req(price=1495.0, variety="amo"), "k", ist_ns(THU, 8, 0))
    future_terms = req(price=24_000.0, product="NRML")
    future_terms = dataclasses.replace(future_terms, exchange="NFO", tradingsymbol="NIFTY26DECFUT")
    future, _ = book.place(future_terms, "k", ist_ns(THU, 9, 5), goes="at_open")
    late, _ = book.place(req(price=1495.0, variety="amo"), "k", ist_ns(THU, 16, 0))
    return book, early, future, late


@pytest.mark.parametrize(
    ("now", "date_line", "ended"),
    [
        (ist_ns(THU, 15, 29, 59), False, False),
        (ist_ns(THU, 15, 30), False, True),  # NSE's and NFO's close
        (ist_ns(FRI, 0, 0), True, True),  # a clock that jumped over the close to the date line
    ],
)
def test_an_order_the_open_never_released_ends_with_its_day_but_an_amo_after_the_close_waits(
    now, date_line, ended
) -> None:
    book, early, future, late = book_waiting_for_the_open()
    due = expiring(book, CALENDAR, now, date_line=date_line)
    updates = expire(book, due, now)
    assert [o.order_id for o in due] == ([early.order_id, future.order_id] if ended else [])
    assert [(u.status, u.payload["status_message"]) for u in updates] == [("CANCELLED", DAY_ENDED)] * len(due)
    assert [book.waits_for_open(o) for o in (early, future)] == [not ended] * 2
    assert late.status == "AMO REQ RECEIVED" and book.waits_for_open(late)


def test_without_a_calendar_an_amo_waits_past_the_date_line() -> None:
    """Without the calendar the simulator knows no close: an AMO may have come after it."""
    book = make_book()
    amo, _ = book.place(req(price=1495.0, variety="amo"), "k", ist_ns(THU, 8, 0))
    assert expiring(book, None, ist_ns(FRI, 0, 0), date_line=True) == []
    assert book.waits_for_open(amo)
