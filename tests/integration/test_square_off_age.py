"""The service's own square-off is never refused as stale (``execution.max_intent_age_seconds``).

Its closing intents are stamped when the square-off starts; the cancels of the working MIS orders
come first, and live, the closing orders queue for Kite's rate-limit slots. Neither wait makes
the signal to get flat an old one: a closing order REJECTED ``stale`` left the position open
into the broker's own (charged) square-off.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import msgspec
import pytest

from execsvc import ExecutionResult, ExecutionService, OrderIntent, ReplayClock, Tick
from execsvc.clock import LiveClock
from execsvc.executors.kite.ratelimit import RateLimiter
from execsvc.sim import KiteSimulator
from tests.conftest import OPEN_NS, make_config, tick
from tests.integration.test_kite_sim import NO_LIMITS
from tests.integration.test_live_kite import Collector, live_config
from tests.unit.test_kite_ratelimit import JumpClock


@pytest.fixture
async def unlimited_sim() -> AsyncIterator[KiteSimulator]:
    """The simulator without its own (wall-clock) limits: the client's limiter runs on a jump clock."""
    async with KiteSimulator(heartbeat_seconds=0.05, rate_limits=NO_LIMITS) as simulator:
        simulator.push_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        yield simulator


async def test_a_square_off_whose_cancels_took_longer_than_the_age_limit_still_gets_flat(journal_dir):
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS))
        opened = await svc.execute_intent(
            OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=5, intent_id="open")
        )
        resting = await svc.execute_intent(
            OrderIntent(
                symbol="NSE:INFY",
                strategy_code="s1",
                side="BUY",
                qty=5,
                order_type="LIMIT",
                price=1400.0,
                intent_id="rest",
            )
        )

        def slow_cancel(result: ExecutionResult) -> None:  # its cancel confirmed 31 s later
            if result.status == "CANCELLED":
                clock.advance(31)

        svc.engine.result_listener = slow_cancel
        results = await svc.square_off(reason="end of day", by="test")
        left = {p.symbol: p.net_qty for p in svc.positions()}
    assert (opened.status, resting.status) == ("FILLED", "PLACED")
    assert [(r.status, r.reject_reason) for r in results] == [("CANCELLED", None), ("FILLED", None)]
    assert left == {"NSE:INFY": 0}


async def test_live_square_off_orders_queued_for_rate_limit_slots_are_sent(tmp_path, unlimited_sim):
    config = live_config(tmp_path, unlimited_sim, rate_limits={"orders_per_second": 2, "margin_seconds": 0.0})
    config = msgspec.structs.replace(
        config, execution=msgspec.structs.replace(config.execution, max_intent_age_seconds=0.5)
    )
    svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
    limiter_clock = JumpClock(start=0.0)  # a wait for a slot jumps this clock, never sleeps
    svc.limiter = RateLimiter(config.kite.rate_limits, clock=limiter_clock, sleep=limiter_clock.sleep)
    strategies = [f"s{n}" for n in range(4)]
    async with svc:
        seen = Collector(svc)
        await svc.on_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        for code in strategies:
            limiter_clock.now += 5.0  # the entries came far apart: each has a slot at once
            entry = OrderIntent(symbol="NSE:INFY", strategy_code=code, side="BUY", qty=5, intent_id=code)
            assert (await svc.execute_intent(entry)).status == "PLACED"
            await seen.until(code, "FILLED")
        limiter_clock.now += 5.0
        results = await asyncio.wait_for(svc.square_off(reason="end of day", by="test"), 10)
        assert [(r.status, r.reject_reason) for r in results] == [("PLACED", None)] * 4
        for result in results:
            await seen.until(result.intent_id, "FILLED")
        left = {(p.strategy_code, p.net_qty) for p in svc.positions()}
    assert left == {(code, 0) for code in strategies}
    assert limiter_clock.sleeps, "the closing orders queued within Kite's limits"
