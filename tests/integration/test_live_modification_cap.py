"""Kite's cap on modifications per order (25; ``kite.rate_limits.modifications_per_order``) holds
across a restart: the count is rebuilt from the journal, so the modification past the cap is
refused by the service instead of going to the broker.

The cap is set to 3 here (the simulator keeps Kite's 25, so an extra modification that got out
would be taken there and counted).
"""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from execsvc import ExecutionService, Tick
from execsvc.clock import LiveClock
from execsvc.config import Config
from execsvc.executors.kite.mapping import tag_for
from tests.integration.test_live_day_modes import dry_run_config
from tests.integration.test_live_kite import intent, live_config


def _with_cap(config: Config, cap: int) -> Config:
    limits = msgspec.structs.replace(config.kite.rate_limits, modifications_per_order=cap)
    return msgspec.structs.replace(config, kite=msgspec.structs.replace(config.kite, rate_limits=limits))


@pytest.mark.parametrize("dry_run", [False, True])
async def test_a_restart_does_not_reset_the_count_of_an_orders_modifications(tmp_path, sim, dry_run):
    config = _with_cap(dry_run_config(tmp_path, sim) if dry_run else live_config(tmp_path, sim), 3)
    the_tick = Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        await svc.on_tick(the_tick)
        placed = await asyncio.wait_for(
            svc.execute_intent(intent("cap1", order_type="LIMIT", price=1400.0)), 5
        )
        assert placed.status == "PLACED", placed
        for price in (1401.0, 1402.0):
            done = await asyncio.wait_for(svc.modify_order(tag_for("cap1"), price=price), 5)
            assert done.status == "PLACED" and "allows" not in (done.message or ""), done
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        await svc.on_tick(the_tick)
        third = await asyncio.wait_for(svc.modify_order(tag_for("cap1"), price=1403.0), 5)
        fourth = await asyncio.wait_for(svc.modify_order(tag_for("cap1"), price=1404.0), 5)
        await svc.settle()
        price = svc.engine.state.orders[tag_for("cap1")].order.price
    assert third.status == "PLACED" and "allows" not in (third.message or ""), third
    assert "allows 3 modifications per order" in (fourth.message or ""), fourth
    assert price == 1403.0
    if not dry_run:
        assert sim.stats()["modifications"] == 3, "a modification past the cap went to the broker"
