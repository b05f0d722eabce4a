"""A modification whose answer was lost, settled from what the broker shows later (review findings)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from tests.hostile_kite import TOKEN, HostileKite, Results, buy, hostile_config, kite_error, ok


def _figures(state: Any, iid: str) -> tuple[Any, ...]:
    record = state.orders[tag_for(iid)]
    return (
        record.working,
        record.order.qty,
        record.order.price,
        state.latest_results[iid].status,
        state.working_qty("adv", "NSE:INFY", "MIS", "BUY"),
    )


async def test_a_later_successful_modify_forgets_an_unsettled_lost_one(tmp_path):
    """A: qty 10 -> 5, answer lost, the broker does not show it yet (unsettled). B: price 1401,
    answered OK. The broker had taken A too (5 @ 1401). B's success discards the order from
    unsettled_modifies, so A's cut is never journaled while running; the broker fills 5 (COMPLETE)
    and the running service keeps 5 phantom lots working, a restart closes it FILLED."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            placed = await svc.execute_intent(buy("m3", qty=10, order_type="LIMIT", price=1400.0))
            oid = placed.order_id
            assert oid is not None
            calls = {"n": 0}

            async def put(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
                calls["n"] += 1
                if calls["n"] == 1:  # A reaches the OMS, its answer is lost, not shown yet
                    return kite_error(503, "NetworkException", "gw")
                # B: the broker has applied A by now, then B
                kite.orders[oid].update(quantity=5, pending_quantity=5, price=float(form["price"]))
                return ok({"order_id": oid})

            kite.hooks["PUT /orders/*"] = put
            a = await asyncio.wait_for(svc.modify_order(tag_for("m3"), qty=5), 5)
            assert "does not show it" in a.message, a.message
            assert tag_for("m3") in svc.engine.executor.unsettled_modifies
            b = await asyncio.wait_for(svc.modify_order(tag_for("m3"), price=1401.0), 5)
            assert b.message == "modified", b.message
            kite.fill(oid, 5, 1401.0)  # COMPLETE at the broker
            await seen.until("m3", lambda r: r.status == "FILLED")  # closed while running
            running = _figures(svc.engine.state, "m3")
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as again:
            restarted = _figures(again.engine.state, "m3")
    assert running == restarted, (running, restarted)


async def test_a_lost_modify_whose_history_cannot_be_read_is_never_settled_while_running(tmp_path):
    """Modify 10 -> 5: the PUT's answer is lost and so is the history read right after it (the same
    outage). _modify_unknown returns before remembering the order in unsettled_modifies; the broker
    then shows 5 and fills them: the running service keeps 5 phantom lots (bug (2) of e183da1)."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            placed = await svc.execute_intent(buy("m4", qty=10, order_type="LIMIT", price=1400.0))
            oid = placed.order_id
            assert oid is not None
            down = {"history": 3}  # the client retries a GET twice

            async def put(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
                return kite_error(503, "NetworkException", "gw")

            async def history(request: web.Request, form: dict[str, str]) -> web.StreamResponse | None:
                if request.path == f"/orders/{oid}" and down["history"] > 0:
                    down["history"] -= 1
                    return kite_error(503, "NetworkException", "gw")
                return None

            kite.hooks["PUT /orders/*"] = put
            kite.hooks["GET /orders/*"] = history
            a = await asyncio.wait_for(svc.modify_order(tag_for("m4"), qty=5), 5)
            assert "could not be read" in a.message, a.message
            kite.orders[oid].update(quantity=5, pending_quantity=5)  # the broker took it
            kite.fill(oid, 5, 1400.0)
            await seen.until("m4", lambda r: r.status == "FILLED")  # closed while running
            running = _figures(svc.engine.state, "m4")
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as again:
            restarted = _figures(again.engine.state, "m4")
    assert running == restarted, (running, restarted)


async def test_a_lost_modify_settled_by_another_modifications_terms(tmp_path):
    """B (price 1401) is taken by the broker, its answer slow. C (qty 10 -> 5) is sent, its answer
    lost; the history read shows 10 @ 1401 (B's terms; C not applied yet). _modify_unknown takes
    'differs from ours' as 'C was taken', journals 10 @ 1401 and does not remember C; the broker then
    applies C and fills 5: C's cut is never journaled while running."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            placed = await svc.execute_intent(buy("m5", qty=10, order_type="LIMIT", price=1400.0))
            oid = placed.order_id
            assert oid is not None
            c_done, b_at_broker = asyncio.Event(), asyncio.Event()

            async def put(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
                if "price" in form and "quantity" not in form:  # B: taken now, answered later
                    kite.orders[oid]["price"] = float(form["price"])
                    b_at_broker.set()
                    await asyncio.wait_for(c_done.wait(), 4)
                    return ok({"order_id": oid})
                return kite_error(503, "NetworkException", "gw")  # C: reaches the OMS, answer lost

            kite.hooks["PUT /orders/*"] = put
            b = asyncio.ensure_future(svc.modify_order(tag_for("m5"), price=1401.0))
            await asyncio.wait_for(b_at_broker.wait(), 4)
            c = await asyncio.wait_for(svc.modify_order(tag_for("m5"), qty=5), 5)
            c_done.set()
            await asyncio.wait_for(b, 5)
            assert "modify outcome unknown" in c.message, c.message
            kite.orders[oid].update(quantity=5, pending_quantity=5)  # the broker applies C
            kite.fill(oid, 5, 1401.0)
            await seen.until("m5", lambda r: r.status == "FILLED")  # closed while running
            running = _figures(svc.engine.state, "m5")
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as again:
            restarted = _figures(again.engine.state, "m5")
    assert running == restarted, (running, restarted)


async def test_a_restart_while_the_broker_is_at_modified_never_settles_the_modification(tmp_path):
    """The service stops with a modification (10 -> 5) at the broker still MODIFIED (old terms shown).
    Reconciliation sees equal terms and does not remember the order; the broker then shows 5 and
    fills them: the restarted service keeps 5 phantom lots, a further restart closes it FILLED."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            placed = await svc.execute_intent(buy("m6", qty=10, order_type="LIMIT", price=1400.0))
            oid = placed.order_id
            assert oid is not None
        kite.orders[oid]["status"] = "MODIFIED"  # the modify sent just before the stop, not done yet
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            kite.orders[oid].update(status="OPEN", quantity=5, pending_quantity=5)
            kite.fill(oid, 5, 1400.0)
            await seen.until("m6", lambda r: r.status == "FILLED")  # closed while running
            running = _figures(svc.engine.state, "m6")
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as again:
            restarted = _figures(again.engine.state, "m6")
    assert running == restarted, (running, restarted)
