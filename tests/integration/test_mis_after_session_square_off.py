"""Past its session square-off (``session.square_off_*``), the service takes no fresh MIS order on
that group's exchanges: getting flat at 15:15 and opening again before the broker's 15:20 would leave
the new position to the broker's square-off and its fee. Exits pass; so do other products, other
exchanges' MIS until their own time, and after-market orders (their day is the next session's)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.clock import ReplayClock, ist_ns
from execsvc.market.tick_writers import write_ticks
from execsvc.squareoff import mis_entry_cutoff
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick
from tests.integration.test_daemon import run_daemon, write_config
from tests.integration.test_paper_auto_square_off import with_calendar

CRUDE = "MCX:CRUDEOIL26DECFUT"
WHY = "NSE MIS square-off time 15:15 IST has passed: no fresh MIS order on NSE (exits pass)"


def order(side: str, qty: int, intent_id: str, **kw: Any) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side=side, qty=qty, intent_id=intent_id, **kw)


async def test_past_the_session_square_off_only_exits_open_no_mis(journal_dir: Path):
    config = make_config(journal_dir, market={"multipliers": {"MCX:CRUDEOIL": 100}})
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(config, clock=clock) as svc:
        with_calendar(svc)
        svc.engine.mis_entry_cutoff = mis_entry_cutoff(svc.engine.calendar)  # as the daemon does
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.on_tick(tick(CRUDE, 6000.0, OPEN_NS + SECOND))
        before = await svc.execute_intent(order("BUY", 4, "in"))
        clock.advance_to(ist_ns(DAY, 15, 16))
        fresh = await svc.execute_intent(order("BUY", 1, "again"))
        short = await svc.execute_intent(order("SELL", 5, "flip"))  # past the position: opens a short
        exit_ = await svc.execute_intent(order("SELL", 4, "out"))
        cnc = await svc.execute_intent(order("BUY", 1, "cnc", product="CNC"))
        amo = await svc.execute_intent(order("BUY", 1, "amo", variety="amo"))
        crude = await svc.execute_intent(
            OrderIntent(symbol=CRUDE, strategy_code="s1", side="BUY", qty=1, intent_id="crude")
        )
    assert before.status == "FILLED"
    for refused in (fresh, short):
        assert (refused.status, refused.reject_reason, refused.message) == ("REJECTED", "session", WHY)
    assert (exit_.status, cnc.status, amo.status, crude.status) == ("FILLED", "FILLED", "PLACED", "FILLED")


class BuysMisAfterTheSquareOff:
    """Buys 10 INFY MIS at the first tick, and again at the first tick past 15:15."""

    strategy_code = "LATE"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def on_tick(self, tick: Tick, ctx: Any) -> None:
        late = tick.ts_event >= ist_ns(DAY, 15, 16)
        if len(self.sent) == (1 if late else 0):
            intent_id = "late-buy" if late else "first-buy"
            self.sent.append(intent_id)
            ctx.submit(OrderIntent(symbol=tick.symbol, strategy_code="LATE", side="BUY", qty=10,
                                   intent_id=intent_id))  # fmt: skip

    def on_result(self, result: Any, ctx: Any) -> None:
        pass


async def test_the_daemon_refuses_a_fresh_mis_order_past_its_square_off(tmp_path: Path):
    ticks = [Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0,
                  ts_event=ist_ns(DAY, 15, 10) + s * SECOND) for s in range(0, 600, 10)]  # fmt: skip
    write_ticks(tmp_path / "ticks.jsonl", ticks)
    config = write_config(tmp_path, market={"instruments_file": None})
    proc = await run_daemon(
        "--config", str(config), "--mode", "paper", "--ticks", str(tmp_path / "ticks.jsonl"),
        "--speed", "1000000", "--strategy",
        "tests.integration.test_mis_after_session_square_off:BuysMisAfterTheSquareOff",
        "--exit-at-end", log=tmp_path / "console.log",
    )  # fmt: skip
    await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, (tmp_path / "console.log").read_text()[-2000:]
    path = tmp_path / "journal" / f"{DAY.isoformat()}.jsonl"
    events = [json.loads(line)["ev"] for line in path.read_text().splitlines()]
    first = {e["intent_id"]: e for e in reversed(events) if e["type"] == "result"}
    assert first["first-buy"]["status"] == "FILLED"
    assert (first["late-buy"]["status"], first["late-buy"]["reject_reason"]) == ("REJECTED", "session")
    assert first["late-buy"]["message"] == WHY
    positions = [e for e in events if e["type"] == "fill" and e["intent_id"] == "late-buy"]
    assert positions == []
    assert dt.date.fromisoformat(path.stem) == DAY
