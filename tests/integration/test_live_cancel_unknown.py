"""A cancel of an order whose placement outcome is unknown is held, and carried out once it is found.

The simulator drops the placement's answer after accepting the order (UNKNOWN); a proxy holds the
order-book lookups (and, not speaking WebSocket, keeps order updates away) until the cancel is in.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from execsvc.sim import KiteSimulator
from tests.conftest import journal_records
from tests.integration.test_live_kite import Collector, intent, live_config, placements_per_tag
from tests.integration.test_live_regressions import via
from tests.kite_proxy import Forward, Proxy


def hold_order_book(proxy: Proxy) -> asyncio.Event:
    """Hold every read of the order book until the returned event is set."""
    release = asyncio.Event()

    async def held(request: web.Request, forward: Forward) -> web.StreamResponse | None:
        if request.path == "/orders":
            await release.wait()
        return None

    proxy.hook("GET", "/orders", held)
    return release


def broker_order(sim: KiteSimulator, intent_id: str) -> dict[str, Any]:
    [order] = [o for o in sim.orders() if o.get("tag") == tag_for(intent_id)]
    return order


def cancels_sent(proxy: Proxy) -> int:
    return sum(1 for method, _ in proxy.seen if method == "DELETE")


def final_results(tmp_path: Any, intent_id: str) -> list[str]:
    records = [r for path in sorted(tmp_path.glob("*.jsonl")) for r in journal_records(path)]
    return [r["status"] for r in records if r.get("type") == "result" and r.get("intent_id") == intent_id]


async def test_a_cancel_while_unknown_is_carried_out_once_the_order_is_found(tmp_path, sim):
    sim.set_faults(drop_after_accept={"count": 1})
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            seen = Collector(svc)
            release = hold_order_book(proxy)  # after the start-up reconciliation read it
            placed = await svc.execute_intent(intent("cu1", order_type="LIMIT", price=1400.0))
            assert placed.status == "UNKNOWN"

            answer = await asyncio.wait_for(svc.cancel_order(intent_id="cu1"), 5)
            assert answer.status == "UNKNOWN" and "cancel pending" in (answer.message or "")

            release.set()
            cancelled = await seen.until("cu1", "CANCELLED")
            assert cancelled.order_id == broker_order(sim, "cu1")["order_id"]
    assert broker_order(sim, "cu1")["status"] == "CANCELLED"
    assert placements_per_tag(sim) == {tag_for("cu1"): 1}
    assert cancels_sent(proxy) == 1
    assert final_results(tmp_path, "cu1")[-1] == "CANCELLED"


async def test_a_restart_keeps_the_pending_cancel(tmp_path, sim):
    sim.set_faults(drop_after_accept={"count": 1})
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
        await svc.start()
        release = hold_order_book(proxy)
        placed = await svc.execute_intent(intent("cu2", order_type="LIMIT", price=1400.0))
        assert placed.status == "UNKNOWN"
        answer = await asyncio.wait_for(svc.cancel_order(intent_id="cu2"), 5)
        assert "cancel pending" in (answer.message or "")
        await svc.kill()  # a crash while the order is still being looked up
        release.set()
        proxy.hooks.clear()

        svc2 = ExecutionService(config, clock=LiveClock(), access_token="token123")
        seen = Collector(svc2)  # before start: the reconciliation finds the order and cancels it
        async with svc2:
            await seen.until("cu2", "CANCELLED")
    assert broker_order(sim, "cu2")["status"] == "CANCELLED"
    assert placements_per_tag(sim) == {tag_for("cu2"): 1}
    assert cancels_sent(proxy) == 1
    assert final_results(tmp_path, "cu2")[-1] == "CANCELLED"


async def test_a_pending_cancel_of_an_order_found_filled_says_so(tmp_path, sim):
    sim.set_faults(drop_after_accept={"count": 1})
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            seen = Collector(svc)
            release = hold_order_book(proxy)  # after the start-up reconciliation read it
            placed = await svc.execute_intent(intent("cu3"))  # MARKET: filled at once at the broker
            assert placed.status == "UNKNOWN"
            answer = await asyncio.wait_for(svc.cancel_order(intent_id="cu3"), 5)
            assert "cancel pending" in (answer.message or "")

            release.set()
            filled = await seen.until("cu3", "FILLED")
    assert "cancel" in (filled.message or "") and "COMPLETE" in (filled.message or "")
    assert broker_order(sim, "cu3")["status"] == "COMPLETE"
    assert cancels_sent(proxy) == 0
    assert final_results(tmp_path, "cu3")[-1] == "FILLED"
