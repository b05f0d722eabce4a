"""Metrics after a restart: an intent sent again (a strategy replaying its morning, a producer's
retry) is answered with its journaled result, published again; the counters must not count that
as a new intent, fill and charges. Found on a kill -9 mid-evening: the restarted daemon's
``execsvc_charges_rupees_total`` counted a GOLDM fill made before the kill."""

from __future__ import annotations

import asyncio
from pathlib import Path

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock
from execsvc.metrics import ServiceMetrics
from tests.conftest import OPEN_NS, SECOND, make_config, tick

GOLDM = "MCX:GOLDM27FEBFUT"


async def _counted(metrics: ServiceMetrics) -> None:
    while not metrics.results.value(status="FILLED"):  # counted whether or not it is new
        await asyncio.sleep(0)


def buy() -> OrderIntent:
    return OrderIntent(symbol=GOLDM, strategy_code="mcx", side="BUY", qty=3, product="NRML", intent_id="g1")


async def test_an_intent_sent_again_after_a_restart_is_not_counted_again(journal_dir: Path) -> None:
    config = make_config(journal_dir, market={"multipliers": {"MCX:GOLDM": 10}})
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick(GOLDM, 130_000.0, OPEN_NS + SECOND))
        first = await svc.execute_intent(buy())
    async with ExecutionService(config, clock=clock) as svc:
        metrics = ServiceMetrics(svc)
        await svc.submit(buy())  # as a strategy sends it: the answer comes back on the bus
        await asyncio.wait_for(_counted(metrics), 5)
        again = svc.engine.state.latest_results["g1"]
        metrics.close()

    assert first.status == again.status == "FILLED" and again.charges == first.charges > 0
    assert (metrics.intents.value(), metrics.fills.value(), metrics.charges.value()) == (0.0, 0.0, 0.0)
