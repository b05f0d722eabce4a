"""A live placement still on its way when the date line passes ends with its day: nothing is
sent, and the service keeps trading (it halted with a KeyError). Against the simulator."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.engine import Submission
from tests.integration.test_live_kite import intent, live_config, placements_per_tag, tick

DAY = dt.date(2026, 11, 20)
NEXT_DAY = DAY + dt.timedelta(days=1)
LATE, AFTER_MIDNIGHT = ist_ns(DAY, 23, 59, 59), ist_ns(NEXT_DAY, 0, 0, 1)


def records(path: Path) -> list[dict]:
    return [json.loads(line)["ev"] for line in path.read_text().splitlines()]


async def test_a_placement_on_its_way_when_the_date_line_passes_does_not_crash_the_service(tmp_path, sim):
    """The order is journaled (write-ahead) and its POST task spawned; a tick past midnight rolls
    the day over before the task reads the order back by its tag."""
    clock = ReplayClock(LATE)
    async with ExecutionService(live_config(tmp_path, sim), clock=clock, access_token="t") as svc:
        await svc.engine.handle(Submission(intent("late1", order_type="LIMIT", price=1400.0), "late1"))
        clock.advance_to(AFTER_MIDNIGHT)
        await svc.on_tick(tick(1500.0))  # the date line
        await asyncio.gather(*svc._inflight)  # the placement's task, to its end
        await svc.settle()
        halted = svc.engine.state.breakers.halted_reason
        sent = placements_per_tag(sim)
    old = records(tmp_path / "2026-11-20.jsonl")
    assert [(r["status"], r["message"]) for r in old if r["type"] == "result"] == [
        ("CANCELLED", "expired at the end of the trading day: no update from the broker ended it")
    ]
    # observed: "internal error in a live order task: KeyError: 'exdcusfnrep6wg5kqmxe'"
    assert halted is None, halted
    assert sent == {}, sent  # journaled CANCELLED before it left: it must not go out after that
