"""An iceberg order adopted by reconciliation keeps its legs: a change of its total is checked.

A broker order with our tag that the journal lacks is adopted as ``adopted-<broker order id>``,
with no journaled intent, so the legs that ``ServiceState.iceberg_legs`` keeps for a change of an
iceberg's total (``order_changes``) were unknown: the change went out unchecked. The broker's order
carries them (``meta.iceberg.legs``, FACTS.md 5.2); adoption journals them on its
``OrderAccepted``, so the change is refused before it is sent, as for any iceberg, and a restart
folds them back.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.client import KiteRestClient
from execsvc.executors.kite.mapping import tag_for
from execsvc.sim import KiteSimulator
from tests.integration.test_live_kite import live_config
from tests.official_kite import order_total

EMPTY_LEGS = (
    "modify refused: qty=60: as an iceberg of 50 legs: legs of 2, which fill it in 30: 20 legs "
    "would be empty (Kite's leg is qty / legs)"
)


async def place_stray_iceberg(sim: KiteSimulator) -> str:
    """Place 100 INFY in 50 legs of 2 at the broker under our tag ``ghost``; its broker order id."""
    async with KiteRestClient(api_key="testkey", access_token="token123", root=sim.url) as client:
        return await client.place_order(
            "iceberg",
            {
                "exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY", "quantity": "100",
                "product": "CNC", "order_type": "LIMIT", "price": "1490", "iceberg_legs": "50",
                "iceberg_quantity": "2", "tag": tag_for("ghost"),
            },
        )  # fmt: skip


async def test_a_change_of_an_adopted_icebergs_total_is_checked_against_the_brokers_legs(
    tmp_path: Path, sim: KiteSimulator
) -> None:
    broker_id = await place_stray_iceberg(sim)
    config = live_config(tmp_path, sim)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        report = svc.reconciliation
        refused = await asyncio.wait_for(svc.modify_order(tag_for("ghost"), qty=60), 5)
        legs = dict(svc.engine.state.iceberg_legs)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as again:
        refolded = dict(again.engine.state.iceberg_legs)
        refused_again = await asyncio.wait_for(again.modify_order(tag_for("ghost"), qty=60), 5)

    assert report is not None and report.orders_adopted == [f"{tag_for('ghost')}={broker_id}"]
    assert legs == refolded == {f"adopted-{broker_id}": 50}
    assert (refused.qty, refused.message) == (100, EMPTY_LEGS)
    assert (refused_again.qty, refused_again.message) == (100, EMPTY_LEGS)
    assert sim.stats()["modifications"] == 0
    assert [(o["order_id"], order_total(o)) for o in sim.orders()] == [(broker_id, 100)]
