"""The daemon across days (a subprocess, on the replay clock): it squares MIS off every day, not
only on the day it started. Written by a review that found it broken."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from execsvc import OrderIntent, Tick
from execsvc.clock import ist_ns, trading_day
from execsvc.market.tick_writers import write_ticks
from tests.integration.test_daemon import run_daemon, write_config

DAY = dt.date(2026, 11, 19)  # a Thursday: Friday the 20th trades too
NEXT_DAY = DAY + dt.timedelta(days=1)
SECOND = 1_000_000_000


class BuyEachDay:
    """Buys 10 MIS on the first tick of each trading day."""

    strategy_code = "B2"

    def __init__(self) -> None:
        self.days: set[dt.date] = set()

    def on_tick(self, tick: Tick, ctx: Any) -> None:
        day = trading_day(tick.ts_event)
        if day not in self.days:
            self.days.add(day)
            ctx.submit(OrderIntent(symbol=tick.symbol, strategy_code="B2", side="BUY", qty=10,
                                   intent_id=ctx.next_intent_id()))  # fmt: skip

    def on_result(self, result: Any, ctx: Any) -> None:
        pass


async def test_a_paper_daemon_replaying_two_days_squares_off_mis_on_each_day(tmp_path):
    """The square-off is scheduled once, for the day the daemon started: on the second day the MIS
    position stays open past the square-off time and the close (the broker would have squared it
    off; the next date line drops it as expired, its P&L never booked)."""
    ticks = [
        Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0 + i * 0.05,
             ts_event=ist_ns(day, 15, 10) + i * 10 * SECOND)
        for day in (DAY, NEXT_DAY) for i in range(90)  # 15:10:00 to 15:24:50, each day
    ]  # fmt: skip
    write_ticks(tmp_path / "ticks.jsonl", ticks)
    config = write_config(tmp_path)
    proc = await run_daemon(
        "--config", str(config), "--mode", "paper", "--ticks", str(tmp_path / "ticks.jsonl"),
        "--speed", "1000000", "--strategy", "tests.integration.test_daemon_days:BuyEachDay",
        "--exit-at-end", log=tmp_path / "console.log",
    )  # fmt: skip
    await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (tmp_path / "console.log").read_text()[-2000:]
    squared = {}
    for day in (DAY, NEXT_DAY):
        path = tmp_path / "journal" / f"{day.isoformat()}.jsonl"
        events = [json.loads(line)["ev"] for line in path.read_text().splitlines()]
        squared[day.isoformat()] = [e["qty"] for e in events if e["type"] == "fill" and e["side"] == "SELL"]

    assert squared == {DAY.isoformat(): [10], NEXT_DAY.isoformat(): [10]}
