"""Streaming a tick file into the simulator, in (scaled) real time or one step at a time.

With ``speed > 0`` the feed task waits ``(ts_event gap) / speed`` between ticks (gaps of unknown
length, ``ts_event == 0``, cost nothing); with ``speed == 0`` nothing moves until :meth:`step`.

Resource handling:
    The file is read lazily by ``read_ticks`` (one line or record at a time) and closed when the
    feed is exhausted or :meth:`close` is called. ``run()`` is a task owned by the simulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

from execsvc.market.files import check_readable, read_ticks
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick

__all__ = ["TickFeed"]

_NS = 1_000_000_000


class TickFeed:
    """Pushes the ticks of ``path`` through ``push``; see the module docstring.

    Args:
        path: a tick file (any format :func:`~execsvc.market.files.read_ticks` reads).
        instruments: names ticks that carry only a token.
        push: where each tick goes (the simulator's ``push_tick``).
        speed: replay speed; 0 means only :meth:`step` moves the feed.

    Raises:
        TickDataError: ``path`` has no tick file suffix or does not open (before anything is served).
        ValueError: a negative ``speed``.
    """

    def __init__(
        self, path: str | Path, instruments: Instruments, push: Callable[[Tick], object], speed: float
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed={speed}: must be >= 0")
        check_readable(path)
        self.path = str(path)
        self.speed = speed
        self._push = push
        self._ticks: Iterator[Tick] = read_ticks(path, instruments=instruments)
        self.pushed = 0
        self.exhausted = False

    def _next(self) -> Tick | None:
        if self.exhausted:
            return None
        tick = next(self._ticks, None)
        if tick is None:
            self.exhausted = True
        return tick

    def step(self, count: int = 1) -> int:
        """Push the next ``count`` ticks now; returns how many there were."""
        done = 0
        while done < count:
            tick = self._next()
            if tick is None:
                break
            self._push(tick)
            done += 1
        self.pushed += done
        return done

    async def run(self) -> None:
        """Stream the file at ``speed`` until it ends (returns at once when ``speed == 0``)."""
        if self.speed == 0:
            return
        last_ts = 0
        while (tick := self._next()) is not None:
            if last_ts and tick.ts_event > last_ts:
                await asyncio.sleep((tick.ts_event - last_ts) / _NS / self.speed)
            last_ts = tick.ts_event or last_ts
            self._push(tick)
            self.pushed += 1

    def close(self) -> None:
        """Close the file."""
        close = getattr(self._ticks, "close", None)
        if close is not None:
            close()
        self.exhausted = True
