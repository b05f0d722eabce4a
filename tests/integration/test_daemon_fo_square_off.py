"""The paper daemon squares F&O MIS off at ``session.square_off_fo`` (15:20, five minutes before
Zerodha's 15:25), not with equity at 15:15, and takes fresh F&O MIS orders until then. Before, NFO
and BFO went with NSE's group: ``square_off_fo`` was checked at load and then never used, so an
F&O trader lost the last five minutes the config gave them."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

from execsvc import OrderIntent, Tick
from execsvc.clock import ist_ns
from execsvc.market.tick_writers import write_ticks
from tests.integration.test_daemon import run_daemon, write_config

DAY = dt.date(2026, 11, 20)
FUT = "NFO:NIFTY26NOVFUT"
SECOND = 1_000_000_000


class BuysFutureAgainAt1517:
    """Buys 10 MIS of each symbol on its first tick, and 10 more of the future at 15:17."""

    strategy_code = "FO"

    def __init__(self) -> None:
        self.sent: set[str] = set()

    def on_tick(self, tick: Tick, ctx: Any) -> None:
        late = tick.symbol == FUT and tick.ts_event >= ist_ns(DAY, 15, 17)
        key = f"{tick.symbol}-late" if late else tick.symbol
        if key not in self.sent:
            self.sent.add(key)
            ctx.submit(OrderIntent(symbol=tick.symbol, strategy_code="FO", side="BUY", qty=10,
                                   intent_id="late" if late else ctx.next_intent_id()))  # fmt: skip

    def on_result(self, result: Any, ctx: Any) -> None:
        pass


async def test_fo_mis_is_squared_off_at_square_off_fo_not_with_equity(tmp_path):
    ticks = [
        Tick(symbol=symbol, last_price=price, ts_event=ist_ns(DAY, 15, 10) + s * SECOND)
        for s in range(0, 900, 10)  # 15:10:00 to 15:24:50
        for symbol, price in (("NSE:INFY", 1500.0), (FUT, 24000.0))
    ]  # fmt: skip
    write_ticks(tmp_path / "ticks.jsonl", ticks)
    config = write_config(tmp_path, market={"instruments_file": None})
    proc = await run_daemon(
        "--config", str(config), "--mode", "paper", "--ticks", str(tmp_path / "ticks.jsonl"),
        "--speed", "1000000", "--exit-at-end",
        "--strategy", "tests.integration.test_daemon_fo_square_off:BuysFutureAgainAt1517",
        log=tmp_path / "console.log",
    )  # fmt: skip
    await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (tmp_path / "console.log").read_text()[-2000:]
    path = tmp_path / "journal" / f"{DAY.isoformat()}.jsonl"
    events = [json.loads(line)["ev"] for line in path.read_text().splitlines()]

    requests = [(e["reason"], e["ts_event"]) for e in events if e["type"] == "square_off"]
    assert requests == [
        ("NSE MIS square-off time", ist_ns(DAY, 15, 15)),
        ("NFO MIS square-off time", ist_ns(DAY, 15, 20)),
    ]
    late = [e for e in events if e["type"] == "result" and e["intent_id"] == "late"]
    assert [(r["status"], r.get("reject_reason")) for r in late] == [("FILLED", None)]
    closing = [
        (e["symbol"], e["qty"], e["ts_event"]) for e in events if e["type"] == "fill" and e["side"] == "SELL"
    ]
    assert closing == [("NSE:INFY", 10, ist_ns(DAY, 15, 15)), (FUT, 20, ist_ns(DAY, 15, 20))]
