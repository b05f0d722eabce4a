"""The paper daemon squares MCX's MIS off at MCX's own time (30 minutes before its close), not at
NSE's 15:15 with the equity positions. Found by a commodity trader's day: the session square-off
closed an MCX MIS position at 15:15, and the evening's MIS were left to the broker's charged auto
square-off.

MCX's close is the day's: 23:30 while the US is on summer time, 23:55 in its winter
(``session.mcx_close: auto``). With a fixed 23:30, a winter day's MCX MIS were closed at 23:00,
25 minutes early, every day from November to March."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest

from execsvc import OrderIntent, Tick
from execsvc.clock import ist_ns
from execsvc.market.tick_writers import write_ticks
from tests.integration.test_daemon import run_daemon, write_config

CRUDE = "MCX:CRUDEOIL26DECFUT"
SECOND = 1_000_000_000


class BuyEachSymbolOnce:
    """Buys MIS on the first tick of each symbol: 1 lot of crude, 10 INFY."""

    strategy_code = "MX"

    def __init__(self) -> None:
        self.bought: set[str] = set()

    def on_tick(self, tick: Tick, ctx: Any) -> None:
        if tick.symbol not in self.bought:
            self.bought.add(tick.symbol)
            qty = 1 if tick.symbol == CRUDE else 10
            ctx.submit(OrderIntent(symbol=tick.symbol, strategy_code="MX", side="BUY", qty=qty,
                                   intent_id=ctx.next_intent_id()))  # fmt: skip

    def on_result(self, result: Any, ctx: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("day", "square_off"),
    [
        (dt.date(2026, 11, 25), (23, 25)),  # US winter: 30 minutes before 23:55, not 23:00
        (dt.date(2026, 7, 15), (23, 0)),  # US summer: 30 minutes before 23:30
    ],
)
async def test_mcx_mis_is_squared_off_at_mcx_time_not_nse_time(
    tmp_path, day: dt.date, square_off: tuple[int, int]
):
    infy = [Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0,
                 ts_event=ist_ns(day, 15, 10) + s * SECOND) for s in range(0, 600, 10)]  # fmt: skip
    times = [(10, 0), (15, 16), (17, 0), (22, 59), (23, 0), (23, 1), (23, 24), (23, 25), (23, 26)]
    crude = [Tick(symbol=CRUDE, last_price=6000.0 + n, ts_event=ist_ns(day, h, m))
             for n, (h, m) in enumerate(times)]  # fmt: skip
    write_ticks(tmp_path / "ticks.jsonl", sorted(infy + crude, key=lambda t: t.ts_event))
    config = write_config(tmp_path, market={"instruments_file": None, "multipliers": {"MCX:CRUDEOIL": 100}})
    proc = await run_daemon(
        "--config", str(config), "--mode", "paper", "--ticks", str(tmp_path / "ticks.jsonl"),
        "--speed", "1000000", "--strategy", "tests.integration.test_daemon_mcx_square_off:BuyEachSymbolOnce",
        "--exit-at-end", log=tmp_path / "console.log",
    )  # fmt: skip
    await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (tmp_path / "console.log").read_text()[-2000:]
    path = tmp_path / "journal" / f"{day.isoformat()}.jsonl"
    events = [json.loads(line)["ev"] for line in path.read_text().splitlines()]

    requests = [(e["reason"], e["ts_event"]) for e in events if e["type"] == "square_off"]
    closing = {e["symbol"]: e["ts_event"] for e in events if e["type"] == "fill" and e["side"] == "SELL"}
    assert requests == [
        ("NSE MIS square-off time", ist_ns(day, 15, 15)),
        ("MCX MIS square-off time", ist_ns(day, *square_off)),
    ]
    assert closing == {"NSE:INFY": ist_ns(day, 15, 15), CRUDE: ist_ns(day, *square_off)}
    assert not [
        e for e in events if e["type"] == "broker_square_off" or e.get("intent_id", "").startswith("auto-")
    ]
