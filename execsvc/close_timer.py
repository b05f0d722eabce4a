"""The simulated broker's timer: on a live clock, its MIS auto square-off comes at its times and
what is held is journaled at each exchange's close, with no input.

Inputs drive both steps, which keeps a replay deterministic: the first tick of an instrument from
its exchange's broker time squares it off (``auto_square_off``), and the first tick, intent, cancel
or modification from an exchange's close journals the last ticks of what is held there
(``session_closes``), so a restart between the close and the date line settles and carries at
the close. A daemon on the wall clock may get no such input: no tick of an illiquid name after
15:25, a feed that dropped, none at all once the exchanges close, and nothing steps its clock.
Its MIS then stayed open until the date line (a later time, maybe another price; a restart in
between saw a position the broker would have closed), and killed between the close and the date
line it had journaled no close (expiring F&O settled at the day's last fill after the restart).
So on a clock that moves by itself (:class:`~execsvc.clock.WaitingClock`: the ``LiveClock``, never
a ``ReplayClock``), a paper or dry-run service runs this timer: at each exchange's broker time and
close, on every day it runs, it drives the same steps as the inputs and makes the records durable.
A square-off is stamped with the broker's time, as its instrument's tick then would have left it
(``square_off_due``), however late the timer woke (a suspended machine); the closes with the
clock's time, as an input's.

One timer for both, not two: a wake after both times (a suspend over 15:25 and 15:30) must square
off before it journals the closes, as the day went, which two tasks woken together would not
keep to. It lives in the service, not in the daemon: the steps are the engine's, the gap is the
same for an embedded service on a ``LiveClock``, and the service's task group is what a stop and a
kill end.

It journals nothing the inputs would not have: nothing when nothing is held; a tick after it
finds the square-off done and the close journaled already (only a changed price is journaled
again), and so does a restart, which folds them back (``session_closes.restore``).

Resource handling: one task in the service's task group (``Lifecycle``), cancelled and awaited by
a stop (after its drain) and a kill alike; while it waits for a time, it waits on the clock's
``sleep_until`` and on the calendar changing, each in a task of its own that it cancels and awaits.
A stop first does the pass the timer owes if its time has come (``CloseTimer.before_stop``): a
nap ends late after a suspend, and a stop in between would otherwise cancel a step that was due,
and a restart after the date line would then settle at other prices.
Error handling: nothing is caught: a journal that cannot write fails the task and so the service,
as the journal writer's failure would.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING

from execsvc.aio import first_of
from execsvc.calendar import LOOKAHEAD_DAYS, SEGMENTS, MarketCalendar
from execsvc.clock import WaitingClock, ist_ns, trading_day
from execsvc.executors.paper.auto_square_off import square_off_due
from execsvc.executors.paper.cutoffs import broker_time

if TYPE_CHECKING:
    from execsvc.service import ExecutionService


def next_wake_ns(calendar: MarketCalendar | None, now_ns: int) -> int | None:
    """When the timer wakes next: the first broker's square-off time or session close of any
    exchange after ``now_ns``, on its IST day or a later one.

    Returns:
        None without a calendar; with no session in the next ``LOOKAHEAD_DAYS`` days, the start
        of the day after them (to look again from there).
    """
    if calendar is None:
        return None
    today = trading_day(now_ns)
    for offset in range(LOOKAHEAD_DAYS):
        day = today + dt.timedelta(days=offset)
        sessions = [s for s in (calendar.session(exchange, day) for exchange in SEGMENTS) if s is not None]
        ahead = [t for s in sessions for t in (broker_time(s), s.close_ns) if t > now_ns]
        if ahead:
            return min(ahead)
    return ist_ns(today + dt.timedelta(days=LOOKAHEAD_DAYS), 0, 0)


def wants_close_timer(svc: ExecutionService) -> bool:
    """Whether ``svc`` runs the timer: a clock that moves by itself, and a simulated broker (live,
    the broker squares off, closes and settles; a replay's times come with its ticks)."""
    return isinstance(svc.clock, WaitingClock) and svc.engine.paper.result_mode in ("paper", "dry-run")


class CloseTimer:
    """The timer of one service on a :class:`~execsvc.clock.WaitingClock`; see the module docstring.

    Args:
        svc: a paper or dry-run service on a clock that moves by itself (``wants_close_timer``).
    """

    def __init__(self, svc: ExecutionService) -> None:
        clock = svc.clock
        assert isinstance(clock, WaitingClock)
        self._svc = svc
        self._clock = clock
        # the time it sleeps until: 0 before its first pass, None while only a new calendar wakes it
        self._wakes_ns: int | None = 0

    async def run(self) -> None:
        """Square off MIS at the broker's times and journal the held instruments' last ticks at each
        exchange's close, day after day.

        Each pass does what inputs would have done by the clock's time (:func:`_catch_up`) and makes
        it durable, then sleeps to the next time of the calendar the paper broker has, or until that
        calendar changes. It ends when another instance takes the account over (the lease is lost:
        nothing more may be journaled) or when cancelled.
        """
        svc, clock = self._svc, self._clock
        engine = svc.engine
        paper = engine.paper
        marks = paper.session_closes
        while not svc.deposed.is_set():
            marks.calendar_changed.clear()  # a change from here on wakes the sleep below
            now = clock.now_ns()
            await _catch_up(svc, now)
            if svc.deposed.is_set():
                break
            await engine.journal.flush()  # a kill right after must not lose it
            self._wakes_ns = next_wake_ns(paper.cutoffs.calendar, now)
            await _sleep_or_wake(clock, self._wakes_ns, marks.calendar_changed)

    async def before_stop(self) -> None:
        """A stop's last pass, before it cancels the timer: the pass the timer owes by now, if its
        time has come and it has not woken yet (after a suspend its nap ends up to a minute late).
        Nothing when it is not due: a stop is no input, and rolls no day the timer would not."""
        now, wakes = self._clock.now_ns(), self._wakes_ns
        woken = self._svc.engine.paper.session_closes.calendar_changed.is_set()
        if woken or (wakes is not None and now >= wakes):
            await _catch_up(self._svc, now)


async def _catch_up(svc: ExecutionService, now: int) -> None:
    """Do what inputs would have done by ``now``: the broker's square-offs of the journal's day,
    each at its time; the date line if it has passed (and the new day's square-offs due by then);
    the session-close step. Each is done once, whoever comes first: a timer's pass, an input, or a
    stop's last pass (:meth:`CloseTimer.before_stop`)."""
    engine = svc.engine
    paper = engine.paper
    square_off_due(paper, now)  # the journal's day's, also when the clock is past its date line
    await engine.maybe_roll(now)  # a day with no input yet: its times are its own
    if svc.deposed.is_set():
        return
    square_off_due(paper, now)
    paper.session_closes.catch_up(paper, now)


async def _sleep_or_wake(clock: WaitingClock, until: int | None, wake: asyncio.Event) -> None:
    """Wait until the clock reaches ``until`` (None: never) or ``wake`` is set, whichever is first."""
    if until is None:
        await wake.wait()
        return
    await first_of(clock.sleep_until(until), wake.wait())  # raises the clock's error, if its wait failed
