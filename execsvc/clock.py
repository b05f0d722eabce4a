"""Clocks: every timestamp in execsvc comes from one injected clock.

``LiveClock`` reads the wall clock; ``ReplayClock`` is advanced by the ticks of a replay (and by
tests), so anything time-based is deterministic there. The trading day is the IST calendar date.
Only a clock that moves by itself can be waited on (``WaitingClock``): a timer of the service runs
on one, never on a replay clock, whose time is its inputs'.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from functools import lru_cache
from typing import Protocol, runtime_checkable

from execsvc.errors import ValidationError

IST = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")
_NS = 1_000_000_000
# the longest a LiveClock sleeps before it reads the wall clock again: asyncio sleeps on the
# monotonic clock, which a suspend stops and an NTP step does not move, so a wait of hours is
# taken in naps and comes at most this late after such a jump
_NAP_SECONDS = 60.0


class Clock(Protocol):
    """A source of integer-nanosecond UTC timestamps."""

    def now_ns(self) -> int:
        """Nanoseconds since the Unix epoch."""
        ...


@runtime_checkable
class WaitingClock(Clock, Protocol):
    """A clock that moves by itself, and so can be waited on (``LiveClock``; a test's jumping fake)."""

    async def sleep_until(self, ts_ns: int) -> None:
        """Return once ``now_ns()`` has reached ``ts_ns`` (at once if it has)."""
        ...


class LiveClock:
    """The wall clock."""

    def now_ns(self) -> int:
        """Nanoseconds since the Unix epoch, from ``time.time_ns``."""
        return time.time_ns()

    async def sleep_until(self, ts_ns: int) -> None:
        """Return once the wall clock has reached ``ts_ns``, read again at least every minute."""
        while True:
            left = ts_ns - time.time_ns()
            if left <= 0:
                return
            await asyncio.sleep(min(left / _NS, _NAP_SECONDS))


class ReplayClock:
    """A clock that only moves when told to: by replayed ticks, or by a test.

    It never goes backwards: a tick older than the current time leaves the clock where it is.
    """

    def __init__(self, start_ns: int = 0) -> None:
        if type(start_ns) is not int:  # a float would become every journal record's time
            raise ValidationError(f"ReplayClock start_ns={start_ns!r}: must be an int of nanoseconds")
        self._now = start_ns

    def now_ns(self) -> int:
        """The time last set."""
        return self._now

    def advance_to(self, ts_ns: int) -> None:
        """Move to ``ts_ns`` if it is later than now."""
        if ts_ns > self._now:
            self._now = ts_ns

    def advance(self, seconds: float) -> None:
        """Move forward by ``seconds``."""
        self._now += int(seconds * _NS)


def ist_datetime(ts_ns: int) -> dt.datetime:
    """The IST wall time of a timestamp."""
    return dt.datetime.fromtimestamp(ts_ns / _NS, tz=IST)


_IST_OFFSET_NS = (5 * 3600 + 30 * 60) * _NS
_DAY_NS = 86_400 * _NS
_EPOCH = dt.date(1970, 1, 1)


@lru_cache(maxsize=64)
def _date_of_day_number(days: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=days)


def trading_day(ts_ns: int) -> dt.date:
    """The IST calendar date of a timestamp: the key of daily breakers and journal files."""
    return _date_of_day_number((ts_ns + _IST_OFFSET_NS) // _DAY_NS)


@lru_cache(maxsize=4096)
def _iso_second(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, tz=IST).strftime("%Y-%m-%dT%H:%M:%S")


def iso_ist(ts_ns: int) -> str:
    """``YYYY-MM-DDTHH:MM:SS.ffffff+05:30`` for result timestamps (deterministic for a given ts).

    The seconds part is cached: results come in bursts within the same second.
    """
    seconds, rest = divmod(ts_ns, _NS)
    return f"{_iso_second(seconds)}.{rest // 1000:06d}+05:30"


def ist_hhmm(ts_ns: int) -> str:
    """``HH:MM``, the IST wall time of a timestamp to the minute (for messages)."""
    minutes = (ts_ns + _IST_OFFSET_NS) % _DAY_NS // (60 * _NS)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def ist_ns(day: dt.date, hour: int, minute: int, second: int = 0) -> int:
    """The timestamp of an IST wall time on ``day`` (handy for tests and sessions)."""
    moment = dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=IST)
    return int(moment.timestamp()) * _NS
