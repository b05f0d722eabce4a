"""A stand-in for the wall clock that jumps when a test says so: ``LiveClock``'s interface
(``now_ns``, ``sleep_until``), so a service treats it as live (ticks do not move it, its timers
run), while time moves only by :meth:`JumpingClock.advance_to`."""

from __future__ import annotations

import asyncio


class JumpingClock:
    """A live clock that stands still until told to jump; a sleeper wakes once it is jumped past
    the sleeper's time.

    ``asleep`` waits until a task sleeps on it to a time still ahead: the step a timer does
    when it wakes is done by then (it has gone back to sleep).
    """

    def __init__(self, start_ns: int) -> None:
        self._now = start_ns
        self._sleepers: list[tuple[int, asyncio.Future[None]]] = []
        self._changed = asyncio.Condition()

    def now_ns(self) -> int:
        """The time last jumped to."""
        return self._now

    async def sleep_until(self, ts_ns: int) -> None:
        """Return once the clock has been jumped to ``ts_ns`` or later."""
        if ts_ns <= self._now:
            return
        entry = (ts_ns, asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        try:  # a sleeper cancelled while it tells ``asleep`` must not stay listed
            async with self._changed:
                self._changed.notify_all()
            await entry[1]
        finally:
            self._sleepers.remove(entry)

    def advance_to(self, ts_ns: int, *, wake: bool = True) -> None:
        """Jump to ``ts_ns`` (never back) and wake the sleepers it passes.

        ``wake=False``: the clock moves but no sleeper wakes yet, as after a suspend, when a
        ``LiveClock`` nap (on the monotonic clock, which a suspend stops) ends up to a minute
        late; the next ``advance_to`` wakes them.
        """
        self._now = max(self._now, ts_ns)
        if not wake:
            return
        for until, woken in self._sleepers:
            if until <= self._now and not woken.done():
                woken.set_result(None)

    async def asleep(self, timeout: float = 10.0) -> int:
        """Wait (``timeout`` is a hang guard) until a task sleeps to a time ahead; returns the earliest."""

        def ahead() -> list[int]:
            return [until for until, woken in self._sleepers if until > self._now and not woken.done()]

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(ahead)
            return min(ahead())

    async def asleep_until(self, ts_ns: int, timeout: float = 10.0) -> None:
        """Wait (``timeout`` is a hang guard) until a task sleeps to ``ts_ns`` (one timer among several)."""

        def there() -> bool:
            return any(until == ts_ns and not woken.done() for until, woken in self._sleepers)

        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(there)
