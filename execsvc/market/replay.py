"""Replay recorded ticks through the paper pipeline, deterministically.

The replay clock follows the ticks' ``ts_event``; it never goes backwards (an out-of-order tick is
applied at the current clock time). Everything time-based reads it: the trading day and journal
file, breaker day figures and throttles, every timestamp in the journal. Intents a strategy submits
on a tick are handled before the next tick, through the engine's own path (validation, idempotency,
breakers, executor, journal, state); only the in-process queue hop of the live service is skipped,
so the order of events, and so the journal, is the same on every run.

Speed: as fast as possible (default), or real time x N; in real-time mode a gap in the data is
waited out, capped at ``max_wait_s`` of wall time per gap.
"""

from __future__ import annotations

import asyncio
import heapq
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from execsvc.clock import ReplayClock
from execsvc.engine import Engine, Submission
from execsvc.events import ExecutionResult
from execsvc.market.files import OnBad, read_ticks
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.service import ExecutionService
from execsvc.strategies.base import StrategyContext, strategy_contexts

_MINUTE_NS = 60 * 1_000_000_000
_YIELD_EVERY = 8192


@dataclass
class ReplayStats:
    """What a replay did, for the summary table and the report."""

    ticks: int = 0
    intents: int = 0
    skipped_ticks: int = 0
    first_ts: int = 0
    last_ts: int = 0
    out_of_order: int = 0
    equity_curve: list[tuple[int, float]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0


def iter_files(
    paths: Iterable[str | Path],
    instruments: Instruments | None,
    on_bad: OnBad,
    on_skip: Callable[[Any], None] | None,
) -> Iterator[Tick]:
    """The ticks of several files, one file after the other."""
    for path in paths:
        yield from read_ticks(path, instruments=instruments, on_bad=on_bad, on_skip=on_skip)


class Replayer:
    """Drives ticks and strategies through one started :class:`ExecutionService`.

    Args:
        service: started, with a :class:`ReplayClock`.
        strategies: objects with ``on_tick(tick, ctx)`` and optionally ``on_result(result, ctx)``;
            each needs a ``strategy_code`` attribute (or gets ``S<n>``).
        speed: None for as fast as possible, else a real-time multiplier.
        progress: print a progress line to stderr (on a terminal).
        max_wait_s: the longest wall-clock wait for one gap in real-time mode.
    """

    def __init__(
        self,
        service: ExecutionService,
        strategies: list[Any],
        *,
        speed: float | None = None,
        progress: bool = False,
        max_wait_s: float = 1.0,
    ) -> None:
        self._timers: list[tuple[int, int, Callable[[int], Awaitable[None]]]] = []
        self._next_timer = 1 << 62
        clock = service.clock
        if not isinstance(clock, ReplayClock):
            raise TypeError("a replay needs a service built with a ReplayClock")
        self.service = service
        self.clock = clock
        self.engine: Engine = service.engine
        self.speed = speed
        self.progress = progress
        self.max_wait_s = max_wait_s
        self.stats = ReplayStats()
        self._earlier_days_net = 0.0  # realized net of the days already rolled over
        self._strategies = strategy_contexts(strategies, self.engine.state.position, clock.now_ns)
        self._by_code: dict[str, list[tuple[Any, StrategyContext]]] = {}
        for strategy, ctx in self._strategies:
            self._by_code.setdefault(ctx.strategy_code, []).append((strategy, ctx))
        self.engine.result_listener = self._on_result

    def _on_result(self, result: ExecutionResult) -> None:
        for strategy, ctx in self._by_code.get(result.strategy_code, ()):
            ctx.results.append(result)
            on_result = getattr(strategy, "on_result", None)
            if on_result is not None:
                on_result(result, ctx)

    def at(self, ts_ns: int, callback: Callable[[int], Awaitable[None]]) -> None:
        """Run ``callback(now)`` once, on the first tick at or after ``ts_ns`` on the replay clock."""
        heapq.heappush(self._timers, (ts_ns, len(self._timers), callback))
        self._next_timer = self._timers[0][0]

    async def _fire_timers(self, now: int) -> None:
        while self._timers and self._timers[0][0] <= now:
            _, _, callback = heapq.heappop(self._timers)
            await callback(now)
        self._next_timer = self._timers[0][0] if self._timers else 1 << 62

    def equity(self) -> float:
        """Realized net P&L since the replay began plus the open positions marked at their last prices.

        The breakers' figures start afresh each day; the days already rolled over are added back, so
        a replay of several days draws one curve instead of falling back to zero at each date line.
        """
        state = self.engine.state
        last_price = self.engine.paper.last_price  # a carried position: the last close until a tick
        total = self._earlier_days_net + state.breakers.realized_net
        for pos in state.positions.values():
            if pos.net_qty:
                price = last_price(pos.symbol)
                if price is not None:
                    total += pos.unrealized(price)
        return total

    async def _submit_pending(self) -> None:
        engine = self.engine
        for _strategy, ctx in self._strategies:
            while ctx.pending:
                batch, ctx.pending = ctx.pending, []
                for intent in batch:
                    self.stats.intents += 1
                    await engine.handle(
                        Submission(intent, intent.intent_id or f"replay-{self.stats.intents}")
                    )

    async def run(self, ticks: Iterable[Tick]) -> ReplayStats:
        """Replay every tick; returns the statistics (the journal holds the rest)."""
        stats = self.stats
        clock = self.clock
        engine = self.engine
        executor_on_tick = engine.executor.on_tick
        strategies = self._strategies
        journal = engine.journal
        fills_before = engine.state.fills
        next_sample = 0
        wall_start = time.perf_counter()
        last_progress = wall_start
        speed = self.speed
        first_wall = 0.0
        count = 0
        for tick in ticks:
            ts = tick.ts_event
            if ts > clock._now:
                clock._now = ts
            elif ts < clock._now:
                stats.out_of_order += 1
            now = clock._now
            if count == 0:
                stats.first_ts = now
                first_wall = time.perf_counter()
            elif speed is not None:
                first_wall = await self._pace(now, first_wall)
            count += 1
            if now >= engine._day_end_ns:
                day = engine.state.day
                await engine.maybe_roll(now)
                if engine.state.day != day:  # the day as it closed: its auto square-off is in it
                    self._earlier_days_net += engine.previous_day_realized_net
            executor_on_tick(tick, now)
            if now >= self._next_timer:
                await self._fire_timers(now)
            for strategy, ctx in strategies:
                strategy.on_tick(tick, ctx)
                if ctx.pending:
                    await self._submit_pending()
            if engine.state.fills != fills_before or now >= next_sample:
                fills_before = engine.state.fills
                stats.equity_curve.append((now, round(self.equity(), 2)))
                next_sample = now - now % _MINUTE_NS + _MINUTE_NS
            if count % _YIELD_EVERY == 0:
                if journal.pending():
                    await asyncio.sleep(0)
                if self.progress:
                    wall = time.perf_counter()
                    if wall - last_progress > 0.5:
                        last_progress = wall
                        rate = count / (wall - wall_start)
                        print(f"\r  replaying: {count:,} ticks, {rate:,.0f} ticks/s", end="", file=sys.stderr)
        if count:  # the curve ends where the data does, not at the last minute's sample
            end = (clock._now, round(self.equity(), 2))
            curve = stats.equity_curve
            if curve and curve[-1][0] == end[0]:
                curve[-1] = end  # later ticks of that instant moved it since
            else:
                curve.append(end)
        stats.ticks = count
        stats.last_ts = clock._now
        stats.wall_seconds = time.perf_counter() - wall_start
        if self.progress:
            print(file=sys.stderr)
        return stats

    async def _pace(self, now: int, first_wall: float) -> float:
        """Wait until ``now`` is due on the wall clock, at most ``max_wait_s``; returns the wall
        time the schedule counts from, moved on by whatever part of a gap was skipped."""
        assert self.speed is not None
        target = (now - self.stats.first_ts) / 1e9 / self.speed
        lag = target - (time.perf_counter() - first_wall)
        if lag > self.max_wait_s:
            # forget the rest of the gap: else every tick after it waits max_wait_s until the
            # schedule catches up (an overnight gap at --speed 50: a tick a second for 20 minutes)
            first_wall -= lag - self.max_wait_s
            lag = self.max_wait_s
        if lag > 0.001:
            await asyncio.sleep(lag)
        return first_wall


def max_drawdown(curve: list[tuple[int, float]]) -> float:
    """The largest fall from a peak of the equity curve, in rupees (0 or positive)."""
    peak = 0.0
    worst = 0.0
    for _, value in curve:
        peak = max(peak, value)
        worst = max(worst, peak - value)
    return worst
