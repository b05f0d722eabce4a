"""Live order lifecycles against the Kite simulator: sequences of updates, cancels and modifications.

Each test drives one sequence (an AMO or iceberg order changed, trades that lag a cancel, a
modification racing a fill or losing its answer) through the real service and checks the results,
the journal's view of the order and the position. Waiting is on results and on requests seen,
never on time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from execsvc.sim import KiteSimulator
from tests.integration.test_live_kite import live_config, tick


@pytest.fixture
async def sim() -> AsyncIterator[KiteSimulator]:
    async with KiteSimulator(heartbeat_seconds=0.05) as simulator:
        simulator.push_tick(tick(1500.0))
        yield simulator


def intent(intent_id: str, qty: int = 5, **kw: Any) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="lc", side="BUY", qty=qty, intent_id=intent_id, **kw)


def broker_order(sim: KiteSimulator, intent_id: str) -> dict[str, Any]:
    (order,) = [o for o in sim.orders() if o.get("tag") == tag_for(intent_id)]
    return order


async def test_amo_and_iceberg_orders_are_cancelled_and_modified_under_their_own_variety(tmp_path, sim):
    """Kite's cancel and modify paths name the order's variety: an AMO is not a regular order."""
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        amo = await svc.execute_intent(intent("amo1", order_type="LIMIT", price=1400.0, variety="amo"))
        ice = await svc.execute_intent(
            intent(
                "ice1",
                qty=10,
                order_type="LIMIT",
                price=1400.0,
                variety="iceberg",
                metadata={"iceberg_legs": 2},
            )
        )
        assert amo.status == ice.status == "PLACED"
        modified = await asyncio.wait_for(svc.modify_order(ice.order_id or "", price=1401.0), 5)
        cancelled = await asyncio.wait_for(svc.cancel_order(amo.order_id or ""), 5)
    assert modified.message == "modified", modified.message
    assert cancelled.status == "CANCELLED", cancelled.message
    assert broker_order(sim, "amo1")["status"] == "CANCELLED"
    assert broker_order(sim, "ice1")["price"] == 1401.0
