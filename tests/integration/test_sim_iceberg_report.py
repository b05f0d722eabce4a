"""The simulator reports an iceberg leg by leg, as Kite's sample does, and the live path follows it.

Kite's sample (``tests/kite_mocks/orders.json``, order 220524001859672) shows an iceberg's current
leg as its ``quantity``, the total in ``meta.iceberg`` (FACTS.md 2.1, 5.2). The simulator used to
show the total there, so the end-to-end tests never met the shape the live path reads at Kite.
Read here with the official ``kiteconnect`` client: the order book, the order's history (a leg
that filled in full is COMPLETE on its own) and the trades (one per leg). Then the service, live on
the simulator, keeps such an order working through its first leg's COMPLETE, across a restart,
and completes it with its last leg.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from execsvc.sim import KiteSimulator
from tests.hostile_kite import Results
from tests.integration.test_live_kite import intent, live_config, placements_per_tag, tick
from tests.official_kite import official_client


def infy_berg(sim: KiteSimulator) -> Any:
    """Place 10 INFY in 2 legs of 5 at the market price (1,500 in the ``sim`` fixture) through the
    official client; its order id."""
    return official_client(sim).place_order(
        variety="iceberg", exchange="NSE", tradingsymbol="INFY", transaction_type="BUY", quantity=10,
        product="CNC", order_type="LIMIT", price=1_500.0, iceberg_legs=2, iceberg_quantity=5,
    )  # fmt: skip


def leg_shown(order: dict[str, Any]) -> tuple[str, int, int, int, dict[str, int]]:
    """``(status, quantity, filled, pending, meta.iceberg)`` of an order JSON."""
    shown = (order["quantity"], order["filled_quantity"], order["pending_quantity"])
    return order["status"], *shown, order["meta"]["iceberg"]


async def test_the_simulator_reports_an_iceberg_leg_by_leg_as_kites_sample_does(sim: KiteSimulator) -> None:
    kite = official_client(sim)
    sim.set_faults(partial_fill={"count": 1, "fraction": 0.7})  # 7 of 10: leg 1, and 2 of leg 2
    order_id = await asyncio.to_thread(infy_berg, sim)
    [working] = await asyncio.to_thread(kite.orders)
    sim.push_tick(tick(1499.0))
    [done] = await asyncio.to_thread(kite.orders)
    history = await asyncio.to_thread(kite.order_history, order_id)
    trades = await asyncio.to_thread(kite.order_trades, order_id)

    legs = {"legs": 2, "leg_quantity": 5, "total_quantity": 10}
    assert leg_shown(working) == ("OPEN", 5, 2, 3, {"leg": 2, **legs, "remaining_quantity": 0})
    assert leg_shown(done) == ("COMPLETE", 5, 5, 0, {"leg": 2, **legs, "remaining_quantity": 0})
    first_leg = [leg_shown(entry) for entry in history if entry["meta"]["iceberg"]["leg"] == 1]
    assert first_leg[-1] == ("COMPLETE", 5, 5, 0, {"leg": 1, **legs, "remaining_quantity": 5})
    assert [t["quantity"] for t in trades] == [5, 2, 3]  # a trade is one leg's


async def test_a_live_iceberg_completes_with_its_last_leg_and_a_restart_between_keeps_it(
    tmp_path: Path, sim: KiteSimulator
) -> None:
    config = live_config(tmp_path, sim)
    legs = {"iceberg_legs": 2}
    ice = intent("ice", qty=10, order_type="LIMIT", price=1500.0, variety="iceberg", metadata=legs)
    sim.set_faults(partial_fill={"count": 1, "fraction": 0.7})
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        seen = Results(svc)
        await svc.execute_intent(ice)
        partial = await seen.until("ice", lambda r: r.filled_qty == 7)
        record = svc.engine.state.orders[tag_for("ice")]
        before = (record.order.qty, record.filled_qty, record.working)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as again:
        record = again.engine.state.orders[tag_for("ice")]
        restored = (record.order.qty, record.filled_qty, record.working)
        seen = Results(again)
        sim.push_tick(tick(1499.0))
        done = await seen.until("ice", lambda r: r.status == "FILLED")
        record = again.engine.state.orders[tag_for("ice")]
        after = (record.order.qty, record.filled_qty, record.working)

    assert (partial.status, partial.qty) == ("PARTIAL", 10)
    assert before == restored == (10, 7, True)
    assert (done.filled_qty, after) == (10, (10, 10, False))
    assert placements_per_tag(sim) == {tag_for("ice"): 1}
    assert again.positions()[0].net_qty == 10
