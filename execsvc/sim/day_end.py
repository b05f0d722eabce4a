"""The end of the simulated exchange's day: which orders expire, when, and which days settle.

An exchange keeps no order overnight: a DAY order still working at its session's close ends
there, and Kite shows it ``CANCELLED`` (FACTS.md 2.3 lists "exchange, end of day" among the
causes), with an order update over the WebSocket and a postback as for any other cancel. The
live service expects exactly that: at its own date line it closes whatever no update ended
(``LiveExecutor.expire_all``), so a simulator that kept such an order working could fill it the
next day, an order the service's journal already closed. The simulator ends them

- with its session calendar (:mod:`execsvc.sim.session`): at the close of the order's exchange
  on the day it went there (NSE 15:30, CDS 17:00, MCX 23:30 or 23:55 IST);
- at its IST date line, with or without the calendar: without one (a rehearsal at any hour) that
  is where its day ends, as the service's does; with one nothing at the exchange is left by then.

An order waiting for the open (an AMO, a future taken in the F&O pre-open) is released to the
book by its instrument's first tick in the normal session. The exchange opens it at the open
whether or not the instrument trades, and ends it at that session's close like any DAY order, so
with the calendar one whose open has come and whose session has closed ends too, released or
not (the clock may also have jumped over the close to the date line). An AMO placed after the
close waits for the next open and is left alone, as is every waiting order without the calendar
(it knows no close, so an AMO may have come after it: the service carries AMOs over its date line
alike). The simulator has no GTT. TTL orders end with the DAY ones (a TTL is minutes, never past
the close; the simulator does not expire them sooner). An AMO that went out at the open is a DAY
order from there on.

T1 settlement (:mod:`execsvc.sim.holdings`) moves stock on settlement days: with the calendar,
the days NSE holds its regular session (not a weekend, not an exchange holiday, not a special
session such as Muhurat trading or a Sunday budget session, whose trades settle on the next
regular day: the simulator's reading, not a confirmed rule); without it, every weekday (holidays
unknown, as before the calendar).

Every function takes ``now_ns`` (or a day): nothing here reads a clock.
"""

from __future__ import annotations

import datetime as dt

from execsvc.calendar import SEGMENTS, MarketCalendar
from execsvc.clock import ist_ns, trading_day
from execsvc.sim.book import ExchangeBook, Update
from execsvc.sim.orders import SimOrder

__all__ = ["DAY_ENDED", "expire", "expiring", "next_end_ns", "settles"]

DAY_ENDED = "Order cancelled by the system: a DAY order unfilled at the close expires."
"""The ``status_message`` of an order the day's end cancelled. FACTS.md has no capture of Kite's
text for it (its examples of CANCELLED orders carry ``null``), so this wording is the simulator's."""

_SETTLING_EXCHANGE = "NSE"  # equity delivery settles on the equity segment's days (NSE's and BSE's agree)


def next_end_ns(calendar: MarketCalendar | None, now_ns: int) -> int:
    """The next moment at or after which an order may expire: the first session close after
    ``now_ns`` on its IST day (with a calendar), else the next IST date line."""
    day = trading_day(now_ns)
    date_line = ist_ns(day + dt.timedelta(days=1), 0, 0)
    if calendar is None:
        return date_line
    sessions = (calendar.session(exchange, day) for exchange in SEGMENTS)
    closes = [s.close_ns for s in sessions if s is not None and s.close_ns > now_ns]
    return min(closes, default=date_line)


def expiring(
    book: ExchangeBook, calendar: MarketCalendar | None, now_ns: int, *, date_line: bool
) -> list[SimOrder]:
    """The orders at the exchange whose day has ended at ``now_ns``, in the book's order.

    Args:
        book: the simulated exchange.
        calendar: the session calendar, or None (then only the date line ends orders).
        now_ns: the simulator's clock.
        date_line: the IST date line has been crossed: every order at the exchange ends.
    """
    working = [o for o in book.orders.values() if o.working]
    if calendar is None:
        return [o for o in working if not book.waits_for_open(o)] if date_line else []
    ended: list[SimOrder] = []
    for order in working:
        if book.waits_for_open(order):
            if _open_session_closed(calendar, order, now_ns):
                ended.append(order)
        elif date_line or _session_closed(calendar, order, now_ns):
            ended.append(order)
    return ended


def _session_closed(calendar: MarketCalendar, order: SimOrder, now_ns: int) -> bool:
    if order.exchange not in SEGMENTS:
        return False  # an exchange the calendar does not know: its order ends at the date line
    went = order.exchange_ns if order.exchange_ns is not None else order.order_ns
    session = calendar.session(order.exchange, trading_day(went))
    return session is None or now_ns >= session.close_ns


def _open_session_closed(calendar: MarketCalendar, order: SimOrder, now_ns: int) -> bool:
    """Whether the session whose open ``order`` waited for has closed by ``now_ns``: the first open
    after its placement (one placed after a close waits for the next day's)."""
    if order.exchange not in SEGMENTS:
        return False  # no known close: it waits for its instrument's tick, as without the calendar
    opens_ns = calendar.next_open(order.exchange, order.order_ns)
    session = calendar.session(order.exchange, trading_day(opens_ns))
    return session is not None and now_ns >= session.close_ns


def expire(book: ExchangeBook, orders: list[SimOrder], now_ns: int) -> list[Update]:
    """Cancel ``orders`` as the exchange does at the end of the day; returns their updates. One
    that waited for the open leaves that queue: no later tick may release it."""
    updates = []
    for order in orders:
        book.leave_open_queue(order)
        updates.append(book._cancelled(order, now_ns, DAY_ENDED))
    return updates


def settles(calendar: MarketCalendar | None, day: dt.date) -> bool:
    """Whether T1 stock is delivered on ``day``: a regular NSE session with a calendar (see the
    module docstring), else a weekday."""
    if calendar is None:
        return day.weekday() < 5
    regular = (_SETTLING_EXCHANGE, day) not in calendar.holidays.specials
    return regular and calendar.is_trading_day(_SETTLING_EXCHANGE, day)
