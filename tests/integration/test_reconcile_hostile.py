"""Start-up reconciliation against a broker whose book holds what it should not trip over."""

from __future__ import annotations

from typing import Any

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.client import KiteRestClient
from execsvc.executors.kite.live import LiveExecutor
from execsvc.executors.kite.mapping import tag_for
from tests.integration.test_live_kite import intent, live_config

MARKET_BUY = {
    "exchange": "NSE",
    "tradingsymbol": "INFY",
    "transaction_type": "BUY",
    "product": "MIS",
    "order_type": "MARKET",
    "market_protection": "-1",
}


async def test_a_foreign_order_whose_tag_only_starts_like_ours_is_not_adopted(tmp_path, sim):
    async with KiteRestClient(api_key="testkey", access_token="token123", root=sim.url) as client:
        await client.place_order("regular", {**MARKET_BUY, "quantity": "2", "tag": "exitall"})
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        report = svc.reconciliation
        halted = svc.engine.state.breakers.halted_reason
    assert report is not None and report.orders_adopted == []
    assert report.position_mismatches == ["NSE:INFY MIS: journal 0, broker 2"]  # someone else's trade
    assert halted is not None


async def test_an_order_that_cannot_be_reconciled_halts_trading_but_the_service_starts(
    tmp_path,
    sim,
    monkeypatch,
):
    config = live_config(tmp_path, sim)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        placed = await svc.execute_intent(intent("w1", order_type="LIMIT", price=1400.0))
    assert placed.status == "PLACED"
    original = LiveExecutor.apply_order

    async def broken(self: LiveExecutor, order: Any, trades: Any = None) -> None:
        if order.tag == tag_for("w1"):  # fault injection: a bug applying this one order
            raise RuntimeError("a bug")
        await original(self, order, trades)

    monkeypatch.setattr(LiveExecutor, "apply_order", broken)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        report = svc.reconciliation
        halted = svc.engine.state.breakers.halted_reason
        refused = await svc.execute_intent(intent("w2"))
    assert report is not None and report.orders_failed == [f"{tag_for('w1')}={placed.order_id}"]
    assert report.halted and halted is not None and "reconciliation could not apply" in halted
    assert refused.status == "REJECTED" and refused.reject_reason == "breaker:halted"
