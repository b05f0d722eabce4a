"""The session-close timer: on a live clock, what is held is journaled at each exchange's close.

The simulated broker journals the last ticks of what it holds on an exchange once its session has
closed (``session_closes``, :mod:`execsvc.executors.paper.session_closes`), so a restart between
the close and the date line settles and carries at the close. Inputs drive that step: the first
tick, intent, cancel or modification from the close, which keeps a replay deterministic. A daemon
on the wall clock gets no ticks once the exchanges close, and nothing steps its clock: killed (or
crashed) between the close and the date line, it had journaled no close, and expiring F&O settled
at the day's last fill after the restart. So on a clock that moves by itself
(:class:`~execsvc.clock.WaitingClock`: the ``LiveClock``, never a ``ReplayClock``), a paper or
dry-run service runs this timer: at each exchange's close, on every day it runs, it drives the same
step as the inputs, at the clock's time, and makes the record durable at once.

It lives in the service, not in the daemon: the step is the engine's, the gap is the same for an
embedded service on a ``LiveClock``, and the service's task group is what a stop and a kill end.

It journals nothing the inputs would not have: nothing when nothing is held there; a tick after
it finds the close journaled already (only a changed price is journaled again), and so does a
restart, which folds the journaled closes back (``session_closes.restore``).

Resource handling: one task in the service's task group (``Lifecycle``), cancelled and awaited by
a stop (after its drain) and a kill alike; while it waits for a close, it waits on the clock's
``sleep_until`` and on the calendar changing, each in a task of its own that it cancels and awaits.
Error handling: nothing is caught: a journal that cannot write fails the task and so the service,
as the journal writer's failure would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

from execsvc.calendar import SEGMENTS, MarketCalendar
from execsvc.clock import WaitingClock, ist_ns, trading_day

if TYPE_CHECKING:
    from execsvc.service import ExecutionService

_LOOKAHEAD_DAYS = 15  # past the longest run of exchange holidays (as the daemon's square-off)


def next_close_ns(calendar: MarketCalendar | None, now_ns: int) -> int | None:
    """The first session close of any exchange after ``now_ns``, on its IST day or a later one.

    Returns:
        None without a calendar; with no session in the next ``_LOOKAHEAD_DAYS`` days, the start
        of the day after them (to look again from there).
    """
    if calendar is None:
        return None
    today = trading_day(now_ns)
    for offset in range(_LOOKAHEAD_DAYS):
        day = today + dt.timedelta(days=offset)
        sessions = (calendar.session(exchange, day) for exchange in SEGMENTS)
        closes = [s.close_ns for s in sessions if s is not None and s.close_ns > now_ns]
        if closes:
            return min(closes)
    return ist_ns(today + dt.timedelta(days=_LOOKAHEAD_DAYS), 0, 0)


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


def wants_close_timer(svc: ExecutionService) -> bool:
    """Whether ``svc`` runs the timer: a clock that moves by itself, and a simulated broker (live,
    the broker closes and settles; a replay's closes come with its ticks)."""
    return isinstance(svc.clock, WaitingClock) and svc.engine.paper.result_mode in ("paper", "dry-run")


async def run_close_timer(svc: ExecutionService) -> None:
    """Journal the held instruments' last ticks at each exchange's close, day after day.

    Each pass does what an input at the clock's time would do first (the date line if it has
    passed, then the session-close step), then sleeps to the next close of the calendar the paper
    broker has, or until that calendar changes. It ends when another instance takes the account
    over (the lease is lost: nothing more may be journaled) or when cancelled.
    """
    clock = svc.clock
    assert isinstance(clock, WaitingClock)
    engine = svc.engine
    paper = engine.paper
    marks = paper.session_closes
    while not svc.deposed.is_set():
        marks.calendar_changed.clear()  # a change from here on wakes the sleep below
        now = clock.now_ns()
        await engine.maybe_roll(now)  # a day with no input yet: its closes are its own
        if now >= marks.next_ns and not svc.deposed.is_set():
            marks.step(paper, now)
            await engine.journal.flush()  # a kill right after the close must not lose it
        until = next_close_ns(paper.cutoffs.calendar, now)
        await _sleep_or_wake(clock, until, marks.calendar_changed)


async def _sleep_or_wake(clock: WaitingClock, until: int | None, wake: asyncio.Event) -> None:
    """Wait until the clock reaches ``until`` (None: never) or ``wake`` is set, whichever is first."""
    if until is None:
        await wake.wait()
        return
    sleeping = asyncio.ensure_future(clock.sleep_until(until))
    waking = asyncio.ensure_future(wake.wait())
    try:
        await asyncio.wait((sleeping, waking), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeping.cancel()
        waking.cancel()
        await asyncio.wait((sleeping, waking))
    if not sleeping.cancelled():
        sleeping.result()  # the clock's error, if its wait failed
