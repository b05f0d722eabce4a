"""Replay speed: ticks per second through the whole paper pipeline, beside a minimal loop.

One synthetic stream of 1,000,000 quote ticks (a seeded random walk over four symbols, generated
in memory, the same for every case) is replayed with:

- A: a strategy that does nothing;
- B: a MARKET order every 100 ticks, alternating side;
- C: a LIMIT order every 100 ticks, 5 bps from the price, resting until crossed.

The minimal loop is what Python costs at least: a strategy object called per tick, a dict of market
state, resting orders in price-ordered heaps; no bus, no journal, no breakers. The same stream is
also read back from each file format, and peak memory (RSS) is reported.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import heapq
import random
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BREAKERS_OFF
from execsvc import ExecutionService, OrderIntent, ReplayClock, Tick
from execsvc.clock import ist_ns
from execsvc.config import config_from_dict
from execsvc.market.files import read_ticks
from execsvc.market.replay import Replayer
from execsvc.market.tick_writers import write_ticks
from execsvc.market.ticks import OHLC, Depth, DepthLevel
from execsvc.strategies.base import StrategyContext

N_TICKS = 1_000_000
SYMBOLS = ("NSE:INFY", "NSE:RELIANCE", "NSE:HDFCBANK", "NSE:SBIN")
OPEN = ist_ns(dt.date(2026, 11, 20), 9, 15)


def synthetic_ticks(n: int = N_TICKS, seed: int = 20261120) -> list[Tick]:
    """Quote ticks of a seeded random walk on the 0.05 grid, 20 ms apart, four symbols in turn."""
    rng = random.Random(seed)
    prices = [1500.0, 2900.0, 1700.0, 800.0]
    out: list[Tick] = []
    ts = OPEN
    for i in range(n):
        k = i % 4
        step = rng.choice((-1, 0, 0, 1))
        prices[k] = round(max(1.0, prices[k] + step * 0.05), 2)
        p = prices[k]
        ts += 20_000_000 if k == 0 else 0
        out.append(
            Tick(
                symbol=SYMBOLS[k],
                last_price=p,
                ts_event=ts + k,
                volume_traded=i,
                ohlc=OHLC(open=p, high=p, low=p, close=p),
                depth=Depth(
                    buy=(DepthLevel(100, round(p - 0.05, 2), 1),),
                    sell=(DepthLevel(100, round(p + 0.05, 2), 1),),
                ),
                mode="quote",
            )
        )
    return out


class EveryNMarket:
    """B: a MARKET order every ``every`` ticks, alternating side."""

    strategy_code = "B"

    def __init__(self, every: int = 100) -> None:
        self.every, self.count, self.side = every, 0, "BUY"

    def on_tick(self, tick: Tick, ctx: StrategyContext) -> None:
        self.count += 1
        if self.count % self.every == 0:
            ctx.submit(
                OrderIntent(
                    symbol=tick.symbol,
                    strategy_code="B",
                    side=self.side,
                    qty=1,
                    intent_id=ctx.next_intent_id(),
                )
            )
            self.side = "SELL" if self.side == "BUY" else "BUY"

    def on_result(self, result: Any, ctx: StrategyContext) -> None:
        pass


class EveryNLimit:
    """C: a LIMIT order every ``every`` ticks, 5 bps from the price, alternating side; it rests."""

    strategy_code = "C"

    def __init__(self, every: int = 100) -> None:
        self.every, self.count, self.side = every, 0, "BUY"

    def on_tick(self, tick: Tick, ctx: StrategyContext) -> None:
        self.count += 1
        if self.count % self.every == 0:
            offset = tick.last_price * 0.0005
            raw = tick.last_price - offset if self.side == "BUY" else tick.last_price + offset
            price = round(round(raw / 0.05) * 0.05, 2)
            ctx.submit(
                OrderIntent(
                    symbol=tick.symbol,
                    strategy_code="C",
                    side=self.side,
                    qty=1,
                    order_type="LIMIT",
                    price=price,
                    intent_id=ctx.next_intent_id(),
                )
            )
            self.side = "SELL" if self.side == "BUY" else "BUY"

    def on_result(self, result: Any, ctx: StrategyContext) -> None:
        pass


class NoOp:
    """A: does nothing."""

    strategy_code = "A"

    def on_tick(self, tick: Tick, ctx: StrategyContext) -> None:
        pass

    def on_result(self, result: Any, ctx: StrategyContext) -> None:
        pass


def minimal_loop(ticks: list[Tick], case: str) -> float:
    """The floor: strategy call, market dict, heaps of resting orders; returns ticks/s."""
    market: dict[str, Tick] = {}
    bids: dict[str, list[tuple[float, int]]] = {s: [] for s in SYMBOLS}
    asks: dict[str, list[tuple[float, int]]] = {s: [] for s in SYMBOLS}
    fills = [0]

    class S:
        count = 0
        side = 1

        def on_tick(self, tick: Tick) -> None:
            self.count += 1
            if case != "A" and self.count % 100 == 0:
                if case == "B":
                    fills[0] += 1
                else:
                    offset = tick.last_price * 0.0005
                    if self.side > 0:
                        heapq.heappush(bids[tick.symbol], (-(tick.last_price - offset), self.count))
                    else:
                        heapq.heappush(asks[tick.symbol], (tick.last_price + offset, self.count))
                self.side = -self.side

    strategy = S()
    t0 = time.perf_counter()
    for tick in ticks:
        symbol = tick.symbol
        market[symbol] = tick
        price = tick.last_price
        b = bids[symbol]
        while b and -b[0][0] >= price:
            heapq.heappop(b)
            fills[0] += 1
        a = asks[symbol]
        while a and a[0][0] <= price:
            heapq.heappop(a)
            fills[0] += 1
        strategy.on_tick(tick)
    return len(ticks) / (time.perf_counter() - t0)


def _config(journal_dir: str) -> Any:
    return config_from_dict(
        {
            "journal": {"dir": journal_dir, "fsync": "batch"},
            "market": {"instruments_file": None},
            "execution": {"circuit_breakers": BREAKERS_OFF},
        }
    )


async def replay_case(ticks: Any, strategy: Any) -> tuple[float, int]:
    """Replay ``ticks`` with one strategy through a fresh service; (ticks/s, journal records)."""
    with tempfile.TemporaryDirectory() as tmp:
        first = OPEN
        clock = ReplayClock(first)
        async with ExecutionService(_config(tmp), clock=clock) as svc:
            replayer = Replayer(svc, [strategy])
            gc.collect()
            t0 = time.perf_counter()
            stats = await replayer.run(ticks)
            elapsed = time.perf_counter() - t0
            records = svc.journal.next_seq
        return stats.ticks / elapsed, records


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def _run() -> None:
    print(f"== replay: {N_TICKS:,} synthetic quote ticks (seeded random walk, 4 symbols)")
    t0 = time.perf_counter()
    ticks = synthetic_ticks()
    print(f"generated in {time.perf_counter() - t0:.1f} s; peak RSS {_peak_rss_mb():,.0f} MB")
    for case, strategy in (("A", NoOp()), ("B", EveryNMarket()), ("C", EveryNLimit())):
        floor = minimal_loop(ticks, case)
        rate, records = await replay_case(ticks, strategy)
        print(
            f"case {case}: {rate:>12,.0f} ticks/s   minimal loop {floor:>12,.0f} ticks/s   "
            f"ratio {rate / floor:5.3f}   journal records {records:,}"
        )
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("ticks.jsonl", "ticks.csv", "ticks.kite"):
            path = Path(tmp) / name
            write_ticks(path, ticks, mode="quote")
            size = path.stat().st_size
            t0 = time.perf_counter()
            count = sum(1 for _ in read_ticks(path))
            read_rate = count / (time.perf_counter() - t0)
            rate, _ = await replay_case(read_ticks(path), NoOp())
            print(
                f"file {name:<12} {size / 1e6:7.1f} MB  read only {read_rate:>10,.0f} ticks/s   "
                f"replay A from file {rate:>10,.0f} ticks/s"
            )
    print(f"peak RSS {_peak_rss_mb():,.0f} MB (the in-memory stream of 1M ticks included)")


def main() -> None:
    """Run the replay benchmark on uvloop when available."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(_run())
    else:
        uvloop.run(_run())
