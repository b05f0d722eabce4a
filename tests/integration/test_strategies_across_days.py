"""The sample strategies across the IST date line in a replay of several days: a breaker latch
lasts until the next day (README, Breakers), and so must a strategy's stop that follows it. Before,
MeanReversion stayed stopped and MovingAverageCross stayed on exits only for the rest of the replay,
so a multi-day ``execsvc replay`` of the samples traded its first day only."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.market.replay import Replayer
from execsvc.market.ticks import Tick
from execsvc.strategies.samples import MeanReversion, MovingAverageCross
from tests.conftest import DAY, SECOND, journal_records, make_config, tick

MONDAY = DAY + dt.timedelta(days=3)
ONE_TRADE_A_DAY = {"execution": {"circuit_breakers": {"max_trades_per_strategy_per_day": 1}}}


def ticks_of(day: dt.date, prices: list[float]) -> list[Tick]:
    start = ist_ns(day, 9, 30)
    return [tick("NSE:INFY", p, start + n * SECOND) for n, p in enumerate(prices)]


# each day: an entry that fills (the day's one trade), then an order the trade-count breaker refuses
MRV_DAY = [100.0, 100.0, 100.0, 99.9, 100.2, 100.3]  # BUY fills at 99.95, SELL at 100.25, BUY refused
MAX_DAY = [100.0, 101.0, 100.0, 101.0, 100.0, 101.0]  # up-cross BUY, down-cross SELL, up-cross refused


async def replay_two_days(journal_dir: Path, strategy: object, prices: list[float]) -> list[str]:
    config = make_config(journal_dir, **ONE_TRADE_A_DAY)
    ticks = ticks_of(DAY, prices) + ticks_of(MONDAY, prices)
    async with ExecutionService(config, clock=ReplayClock(ticks[0].ts_event)) as svc:
        await Replayer(svc, [strategy]).run(ticks)
    return [e["status"] for e in journal_records(journal_dir / f"{MONDAY.isoformat()}.jsonl")
            if e["type"] == "result" and not e["intent_id"].startswith("auto-sqoff")]  # fmt: skip


async def test_mean_reversion_stopped_by_a_breaker_trades_again_the_next_day(journal_dir):
    strategy = MeanReversion(window=3, offset_ticks=1, qty=1)
    monday = await replay_two_days(journal_dir, strategy, MRV_DAY)
    friday = journal_records(journal_dir / f"{DAY.isoformat()}.jsonl")
    assert [e.get("reject_reason") for e in friday if e.get("status") == "REJECTED"] == [
        "breaker:max_trades_per_strategy_per_day"
    ]
    assert monday[:2] == ["PLACED", "FILLED"], "stopped on Friday, it never traded on Monday"


async def test_moving_average_cross_on_exits_only_enters_again_the_next_day(journal_dir):
    strategy = MovingAverageCross(fast=1, slow=2, qty=1)
    monday = await replay_two_days(journal_dir, strategy, MAX_DAY)
    assert "FILLED" in monday, "on exits only since Friday, it never entered on Monday"
