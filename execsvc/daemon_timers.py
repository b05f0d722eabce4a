"""The daemon's timers through the day: the session square-off of MIS at each group of exchanges'
own time (before the broker's charged one), and, live, the stop a while after the day's last close.

A replay runs the square-off on the replay clock (``Replayer.at``: the first tick from its time).
A live daemon waits for its times on its clock (``WaitingClock.sleep_until``: the ``LiveClock``,
the service's own), not on ``asyncio.sleep``: asyncio sleeps on the monotonic clock, which a
suspended machine stops and an NTP step does not move, and only a clock's wait can be driven by a
test's clock that jumps (``tests/jumping_clock.py``), with nothing sleeping for real.

Resource handling: a live square-off timer is a side job of the daemon (``Daemon._side_job``) that
sleeps until its time, books the next day's timer and then squares off; the stop after the close
is a task of the daemon's task group. Whoever runs them ends them.
Error handling: nothing is caught here; a square-off that fails is logged by the side job, and
the next day's timer is booked before it, so one failure does not end the days after it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from execsvc.calendar import LOOKAHEAD_DAYS, SEGMENTS
from execsvc.clock import WaitingClock, ist_ns, trading_day
from execsvc.squareoff import SESSION_GROUPS, holds_mis

if TYPE_CHECKING:
    from execsvc.calendar import MarketCalendar
    from execsvc.service import ExecutionService

log = logging.getLogger("execsvc.daemon")


Callback = Callable[[int], Awaitable[None]]
Schedule = Callable[[int, Callback], None]
"""Runs ``callback(now)`` once, at or after a time (``Replayer.at``, or :func:`wall_clock_schedule`)."""


def wall_clock_schedule(
    clock: WaitingClock, side_job: Callable[[Coroutine[Any, Any, None], str], None]
) -> Schedule:
    """A :data:`Schedule` for a live daemon: each timer a ``side_job`` that sleeps on ``clock``
    until its time (the service's clock: the square-off is stamped with its time)."""

    async def sleep_until(ts_ns: int, callback: Callback) -> None:
        await clock.sleep_until(ts_ns)
        await callback(clock.now_ns())

    return lambda ts, callback: side_job(sleep_until(ts, callback), "square-off timer")


def schedule_square_offs(svc: ExecutionService, calendar: MarketCalendar, at: Schedule) -> None:
    """Square off MIS at each group of exchanges' own time (``squareoff.SESSION_GROUPS``)."""
    for lead, exchanges in SESSION_GROUPS:
        _schedule_group(svc, calendar, at, lead, exchanges, trading_day(svc.clock.now_ns()))


def _schedule_group(
    svc: ExecutionService,
    calendar: MarketCalendar,
    at: Schedule,
    lead: str,
    exchanges: tuple[str, ...],
    first: dt.date,
) -> None:
    """Square off ``exchanges``' MIS at ``lead``'s square-off time on its first trading day from
    ``first``, and from there the next day's: a daemon that runs across midnight (a multi-day
    replay, a live one serving until signalled) squares off every day, as the broker would."""
    for offset in range(LOOKAHEAD_DAYS):
        when_day = first + dt.timedelta(days=offset)
        when = calendar.square_off_ns(lead, when_day)
        if when is not None:
            break
    else:
        return

    async def square_off(now: int) -> None:
        _schedule_group(svc, calendar, at, lead, exchanges, when_day + dt.timedelta(days=1))
        if not holds_mis(svc, exchanges):
            return
        log.warning("%s square-off time reached (%s)", lead, when_day)
        reason = f"{lead} MIS square-off time"
        results = await svc.square_off(reason=reason, by="session", exchanges=exchanges)
        log.warning("square-off sent %d orders", len(results))

    at(when, square_off)


def stop_after_close_ns(calendar: MarketCalendar, day: dt.date, grace_ns: int) -> int | None:
    """When a live daemon stops on ``day``: ``grace_ns`` after its last session closes.

    Never later than one second before the date line: in the US winter MCX closes at 23:55, and the
    default five minutes after it is midnight exactly, where a stop would open the next day's
    journal only to close it (and race the day's rollover).

    Returns:
        None when no exchange has a session that day.
    """
    closes = [s.close_ns for s in (calendar.session(x, day) for x in SEGMENTS) if s is not None]
    if not closes:
        return None
    before_the_date_line = ist_ns(day + dt.timedelta(days=1), 0, 0) - 1_000_000_000
    return min(max(closes) + grace_ns, before_the_date_line)


async def stop_after_the_close(
    clock: WaitingClock, calendar: MarketCalendar, grace_seconds: float | None, stop: asyncio.Event
) -> None:
    """Live: set ``stop`` ``grace_seconds`` after the last session of the day closes on ``clock``
    (at once if that has passed; never if ``grace_seconds`` is None)."""
    if grace_seconds is None:
        return
    day = trading_day(clock.now_ns())
    end = stop_after_close_ns(calendar, day, int(grace_seconds * 1e9))
    if end is None:
        log.warning("no session today (%s): serving until signalled", day)
        return
    await clock.sleep_until(end)
    log.warning("the session is over: stopping")
    stop.set()
