"""A dry run answers what the broker would: the simulator's entry refusals, as in paper mode.

Before, a dry-run order with no market data came back CANCELLED (paper: REJECTED
``no_market_data``), and a stop whose trigger the last price had already crossed was put on the
book and filled at the next tick, where Kite (and paper mode) reject it.
"""

from __future__ import annotations

import asyncio

import msgspec

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.clock import LiveClock
from tests.integration.test_live_kite import live_config, placements_per_tag


def order(intent_id: str, **kw: object) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=5, intent_id=intent_id, **kw)  # type: ignore[arg-type]


async def test_dry_run_refuses_what_the_broker_would(tmp_path, sim):
    config = live_config(tmp_path, sim)
    config = msgspec.structs.replace(
        config, execution=msgspec.structs.replace(config.execution, dry_run=True)
    )
    async with ExecutionService(config, clock=LiveClock()) as svc:
        blind = await svc.execute_intent(order("blind"))
        await svc.on_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        crossed = await svc.execute_intent(order("crossed", order_type="SL-M", trigger_price=1490.0))
        await svc.on_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1501.0))
        positions = svc.positions()
        working = [r.order.intent_id for r in svc.engine.state.orders.values() if r.working]
    assert (blind.status, blind.reject_reason, blind.mode) == ("REJECTED", "no_market_data", "dry-run")
    assert (crossed.status, crossed.reject_reason, crossed.filled_qty) == ("REJECTED", "trigger_crossed", 0)
    assert "trigger_price 1490.0 is at or below the last price 1500.0" in (crossed.message or "")
    assert positions == [] and working == []
    assert placements_per_tag(sim) == {}


async def test_dry_run_past_the_days_placements_is_rejected_as_live_would_be(tmp_path, sim):
    config = live_config(tmp_path, sim, rate_limits={"orders_per_day": 1})
    config = msgspec.structs.replace(
        config, execution=msgspec.structs.replace(config.execution, dry_run=True)
    )
    async with ExecutionService(config, clock=LiveClock()) as svc:
        await svc.on_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        first = await svc.execute_intent(order("first"))
        second = await asyncio.wait_for(svc.execute_intent(order("second")), 5)
        working = [r.order.intent_id for r in svc.engine.state.orders.values() if r.working]
        halted = svc.engine.state.breakers.halted_reason
    assert first.status == "FILLED"
    assert (second.status, second.reject_reason) == ("REJECTED", "broker:error")  # as live answers
    assert "Kite allows 1 order placements a day" in (second.message or "")
    assert working == [] and halted is None
