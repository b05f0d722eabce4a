"""A modification of an order the broker has not acknowledged is refused, saying why and what to do.

Live: the placement's POST held by a proxy (in flight), or its answer dropped (UNKNOWN, the order
book held). Dry-run: the placement waiting for its rate-limit slot (a limiter on a manual clock).
"""

from __future__ import annotations

import asyncio

import msgspec

from execsvc import ExecutionService, Tick
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from execsvc.executors.kite.ratelimit import RateLimiter
from tests.conftest import journal_records
from tests.integration.test_live_cancel_in_flight import hold_placement
from tests.integration.test_live_cancel_unknown import broker_order, final_results, hold_order_book
from tests.integration.test_live_kite import Collector, intent, live_config, placements_per_tag
from tests.integration.test_live_regressions import via
from tests.kite_proxy import Proxy
from tests.unit.test_kite_ratelimit import ManualClock, eventually


def modifies_sent(proxy: Proxy) -> int:
    return sum(1 for method, _ in proxy.seen if method == "PUT")


async def test_a_modify_while_the_placement_is_in_flight_is_refused_until_it_is_answered(tmp_path, sim):
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            seen = Collector(svc)
            held, release = hold_placement(proxy, forwarded=False)
            await svc.submit(intent("mf1", order_type="LIMIT", price=1400.0))
            await asyncio.wait_for(held.wait(), 5)

            refused = await asyncio.wait_for(svc.modify_order(tag_for("mf1"), price=1401.0), 5)
            assert "modify refused for now" in (refused.message or ""), refused
            assert "not answered" in (refused.message or "") and "again" in (refused.message or "")

            release.set()
            placed = await seen.until("mf1", "PLACED")
            assert placed.message == "accepted by the broker", placed
            assert modifies_sent(proxy) == 0
            assert broker_order(sim, "mf1")["price"] == 1400.0, "the refused terms went out"

            again = await asyncio.wait_for(svc.modify_order(tag_for("mf1"), price=1401.0), 5)
            assert again.message == "modified", again
            await asyncio.wait_for(svc.cancel_order(intent_id="mf1"), 5)
    assert broker_order(sim, "mf1")["price"] == 1401.0
    assert modifies_sent(proxy) == 1
    assert final_results(tmp_path, "mf1") == ["PLACED", "PLACED", "CANCELLED"]


async def test_a_modify_of_an_order_of_unknown_outcome_is_refused(tmp_path, sim):
    sim.set_faults(drop_after_accept={"count": 1})
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            seen = Collector(svc)
            release = hold_order_book(proxy)
            placed = await svc.execute_intent(intent("mf2", order_type="LIMIT", price=1400.0))
            assert placed.status == "UNKNOWN"

            refused = await asyncio.wait_for(svc.modify_order(tag_for("mf2"), qty=3), 5)
            assert refused.status == "UNKNOWN" and "modify refused for now" in (refused.message or "")
            assert "outcome is unknown" in (refused.message or ""), refused

            release.set()
            await seen.until("mf2", "PLACED")
    assert modifies_sent(proxy) == 0
    assert broker_order(sim, "mf2")["quantity"] == 5
    assert placements_per_tag(sim) == {tag_for("mf2"): 1}


async def test_dry_run_a_change_of_an_order_waiting_for_its_slot(tmp_path, sim):
    """Dry-run: a modification is refused as live would; a cancel ends the order before it is sent."""
    config = live_config(tmp_path, sim, rate_limits={"orders_per_second": 1, "margin_seconds": 0.0})
    config = msgspec.structs.replace(
        config, execution=msgspec.structs.replace(config.execution, dry_run=True)
    )
    svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
    slots = ManualClock()  # the second order's slot waits until the test moves this clock
    svc.limiter = RateLimiter(config.kite.rate_limits, clock=slots, sleep=slots.sleep)
    async with svc:
        await svc.on_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        first = await asyncio.wait_for(svc.execute_intent(intent("dr1")), 5)
        assert first.status == "FILLED"
        await svc.submit(intent("dr2"))  # MARKET: it would fill at once if it were taken
        await eventually(lambda: bool(slots.sleepers))

        refused = await asyncio.wait_for(svc.modify_order(tag_for("dr2"), qty=3), 5)
        assert "modify refused for now" in (refused.message or "") and "rate-limit slot" in (
            refused.message or ""
        )
        cancelled = await asyncio.wait_for(svc.cancel_order(intent_id="dr2"), 5)
        assert cancelled.status == "CANCELLED", cancelled

        slots.advance(2.0)
        await asyncio.wait(set(svc._inflight), timeout=4)  # the placement's task, to its end
        await svc.journal.flush()
    events = [e for path in sorted(tmp_path.glob("*.jsonl")) for e in journal_records(path)]
    dr2 = [e["type"] for e in events if e.get("intent_id") == "dr2" or e.get("order_id") == tag_for("dr2")]
    assert "fill" not in dr2 and "order_modified" not in dr2, dr2
    assert final_results(tmp_path, "dr2") == ["CANCELLED"]
