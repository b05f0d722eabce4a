"""Live order lifecycles against the Kite simulator: sequences of updates, cancels and modifications.

Each test drives one sequence (an AMO or iceberg order changed, trades that lag a cancel, a
modification racing a fill or losing its answer) through the real service and checks the results,
the journal's view of the order and the position. Waiting is on results and on requests seen,
never on time.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import msgspec
import pytest
from aiohttp import web

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from execsvc.sim import KiteSimulator
from tests.hostile_kite import TOKEN, HostileKite, Results, buy, hostile_config, kite_error, ok
from tests.integration.test_live_kite import Collector, live_config, placements_per_tag, tick
from tests.integration.test_live_regressions import via
from tests.kite_proxy import Forward, Proxy, response


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


@pytest.mark.parametrize("final", ["CANCELLED", "REJECTED"])
async def test_a_cancel_after_a_partial_fill_waits_for_the_fills_trades(tmp_path, final):
    """The broker's CANCELLED (or REJECTED) says 4 filled before its trades show: the fills are
    booked when they show, and the order's last result carries them (a REJECTED rest after fills
    ends PARTIAL: REJECTED is kept for orders nothing of which filled)."""
    ended = "PARTIAL" if final == "REJECTED" else final
    async with (
        HostileKite() as kite,
        ExecutionService(hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN) as svc,
    ):
        seen = Results(svc)
        placed = await svc.execute_intent(buy("c1", qty=10, order_type="LIMIT", price=1400.0))
        oid = placed.order_id
        assert oid is not None
        kite.fill(oid, 4, 1400.0)
        lagging = kite.trades.pop()  # the trade is not visible yet
        kite.orders[oid].update(status=final, pending_quantity=6, cancelled_quantity=6)
        # the poller saw the order, not its trade (and goes on polling: the order is not settled)
        await kite.seen("GET", "/orders", more=2, timeout=2.0)
        kite.trades.append(lagging)
        closed = await seen.until(
            "c1",
            lambda r: r.status == ended and (final == "CANCELLED" or "rest rejected" in (r.message or "")),
        )
        state = svc.engine.state
        position = state.position("adv", "NSE:INFY", "MIS")
        record = state.orders[tag_for("c1")]
    assert closed.filled_qty == 4, [(r.status, r.filled_qty) for r in seen.results if r.intent_id == "c1"]
    assert position is not None and position.net_qty == 4
    assert not record.working and state.latest_results["c1"] == closed


async def test_a_quantity_cut_whose_answer_comes_after_the_fill_it_allowed_completes_the_order(tmp_path, sim):
    """Modify 10 -> 5 at a marketable price: the broker fills 5 (COMPLETE) and an update books it
    before the modify's answer lands (COMPLETE at 5 proves the cut: FILLED at once); then the
    journal's order is 5 of 5, no longer working."""
    async with Proxy(sim.url) as proxy:
        booked = asyncio.Event()

        async def slow_answer(request: web.Request, forward: Forward) -> web.StreamResponse:
            status, ctype, raw = await forward()  # the broker takes the change and the order fills
            await asyncio.wait_for(booked.wait(), 4)  # an update books the fill before this answer
            return response(status, ctype, raw)

        proxy.hook("PUT", "/orders/", slow_answer)
        async with ExecutionService(
            live_config(tmp_path, via(proxy)), clock=LiveClock(), access_token="token123"
        ) as svc:
            seen = Collector(svc)
            resting = await svc.execute_intent(intent("cut1", qty=10, order_type="LIMIT", price=1400.0))
            waiter = asyncio.ensure_future(svc.modify_order(resting.order_id or "", qty=5, price=1500.0))
            await seen.until("cut1", "FILLED")
            booked.set()
            await asyncio.wait_for(waiter, 4)
            await asyncio.wait(set(svc._inflight), timeout=4)  # the modify has its answer now
            state = svc.engine.state
            record = state.orders[tag_for("cut1")]
            working = state.working_qty("lc", "NSE:INFY", "MIS", "BUY")
    assert broker_order(sim, "cut1")["status"] == "COMPLETE"
    latest = state.latest_results["cut1"]
    assert (latest.status, latest.qty, latest.filled_qty) == ("FILLED", 5, 5)
    assert not record.working and working == 0


async def test_a_quantity_cut_the_broker_took_but_whose_answer_was_lost_is_journaled_and_completes(
    tmp_path, sim
):
    """Modify 10 -> 5 is applied at the broker but answered 503: the outcome is unknown, not a
    refusal; the broker's order shows the cut, so it is journaled, and 5 filled completes the order."""
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        seen = Collector(svc)
        resting = await svc.execute_intent(intent("lost1", qty=10, order_type="LIMIT", price=1400.0))
        sim.set_faults(
            {
                "http_5xx": [
                    {"pattern": "/orders/*", "method": "PUT", "status": 503, "count": 1, "placed": True}
                ]
            }
        )
        answer = await asyncio.wait_for(svc.modify_order(resting.order_id or "", qty=5), 5)
        assert answer.qty == 5 and "unknown" in (answer.message or ""), answer.message
        sim.push_tick(tick(1390.0))
        filled = await seen.until("lost1", "FILLED")
        state = svc.engine.state
        record = state.orders[tag_for("lost1")]
        working = state.working_qty("lc", "NSE:INFY", "MIS", "BUY")
    assert broker_order(sim, "lost1")["quantity"] == 5
    assert (filled.qty, filled.filled_qty) == (5, 5)
    assert not record.working and working == 0


class LateBroker:
    """A proxy hook holding every placement until ``gave_up`` is set: the broker's queue takes the
    order after the service gave up on it; ``forwarded`` is set once the broker has it."""

    def __init__(self) -> None:
        self.gave_up = asyncio.Event()
        self.forwarded = asyncio.Event()

    async def __call__(self, request: web.Request, forward: Forward) -> web.StreamResponse:
        await self.gave_up.wait()
        status, ctype, raw = await forward()
        self.forwarded.set()
        return response(status, ctype, raw)


async def test_an_order_that_reaches_the_broker_after_we_gave_up_on_it_is_followed_and_cancellable(
    tmp_path, sim
):
    """The placement timed out and was not found (REJECTED broker:not_found); then the broker takes
    it after all and it rests OPEN. It is applied by its tag (README), stays ours to cancel, and is
    not reported CANCELLED while it is live at the broker."""
    async with Proxy(sim.url) as proxy:
        late = LateBroker()
        proxy.hook("POST", "/orders/", late)
        config = live_config(tmp_path, via(proxy), timeout_seconds=0.3)
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            seen = Collector(svc)
            await svc.execute_intent(intent("late1", order_type="LIMIT", price=1400.0))
            await seen.until("late1", "REJECTED")
            late.gave_up.set()
            await asyncio.wait_for(late.forwarded.wait(), 4)
            placed = await seen.until("late1", "PLACED")
            cancelled = await asyncio.wait_for(svc.cancel_order(intent_id="late1"), 4)
            statuses = [r.status for r in seen.results if r.intent_id == "late1"]
    assert placed.order_id == broker_order(sim, "late1")["order_id"]
    assert cancelled.status == "CANCELLED", cancelled.message
    assert broker_order(sim, "late1")["status"] == "CANCELLED"
    assert statuses == ["UNKNOWN", "REJECTED", "PLACED", "CANCELLED"], statuses
    assert placements_per_tag(sim) == {tag_for("late1"): 1}


async def test_an_order_given_up_before_a_restart_is_applied_by_the_next_reconciliation(tmp_path, sim):
    """As above, but the broker takes the order while the service is down: the next start's
    reconciliation finds it by its tag, applies it and leaves it working, with no position mismatch."""
    async with Proxy(sim.url) as proxy:
        late = LateBroker()
        proxy.hook("POST", "/orders/", late)
        config = live_config(tmp_path, via(proxy), timeout_seconds=0.3)
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            seen = Collector(svc)
            await svc.execute_intent(intent("late2", order_type="LIMIT", price=1400.0))
            await seen.until("late2", "REJECTED")
        late.gave_up.set()
        await asyncio.wait_for(late.forwarded.wait(), 4)
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc2:
            report = svc2.reconciliation
            record = svc2.engine.state.orders[tag_for("late2")]
            latest = svc2.engine.state.latest_results["late2"]
    assert report is not None and tag_for("late2") in report.orders_updated
    assert record.working and record.broker_order_id == broker_order(sim, "late2")["order_id"]
    assert latest.status == "PLACED" and report.position_mismatches == []


async def test_a_cancel_the_broker_took_but_whose_answer_was_lost_reports_the_cancel(tmp_path, sim):
    """DELETE is carried out at the broker but answered 503: that is not a refusal. The broker's
    order shows CANCELLED, so the answer to the cancel is CANCELLED, not "cancel refused"."""
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        resting = await svc.execute_intent(intent("gone1", qty=10, order_type="LIMIT", price=1400.0))
        sim.set_faults(
            {
                "http_5xx": [
                    {"pattern": "/orders/*", "method": "DELETE", "status": 503, "count": 1, "placed": True}
                ]
            }
        )
        answer = await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)
        working = svc.engine.state.orders[tag_for("gone1")].working
    assert broker_order(sim, "gone1")["status"] == "CANCELLED"
    assert answer.status == "CANCELLED", answer.message
    assert not working


async def test_a_cancel_answered_503_that_the_broker_did_not_carry_out_says_so(tmp_path, sim):
    """The same 503, but the order is still OPEN at the broker: the answer says the outcome was
    unknown and what the broker shows, and the order stays working (a cancel may be sent again)."""
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        resting = await svc.execute_intent(intent("kept1", qty=10, order_type="LIMIT", price=1400.0))
        sim.set_faults(
            {"http_5xx": [{"pattern": "/orders/*", "method": "DELETE", "status": 503, "count": 1}]}
        )
        answer = await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)
        again = await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)
    assert answer.status == "PLACED"
    assert "cancel outcome unknown" in answer.message and "the broker's order is OPEN" in answer.message
    assert again.status == "CANCELLED"


async def test_a_lost_modify_answer_with_the_broker_at_modified_is_not_read_as_not_taken(tmp_path):
    """Kite's history shows a modification's old terms up to MODIFIED (FACTS.md 2.2); only the OPEN
    after it has the new ones. A lost modify answer whose order stands at MODIFIED is still open."""
    async with (
        HostileKite() as kite,
        ExecutionService(hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN) as svc,
    ):
        placed = await svc.execute_intent(buy("m1", qty=10, order_type="LIMIT", price=1400.0))
        oid = placed.order_id
        assert oid is not None

        async def lost(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
            kite.orders[oid]["status"] = "MODIFIED"  # taken, old terms still shown
            return kite_error(503, "NetworkException", "gateway")

        kite.hooks["PUT /orders/*"] = lost
        answer = await asyncio.wait_for(svc.modify_order(tag_for("m1"), price=1401.0), 5)
    assert "modify outcome unknown" in answer.message
    assert "the broker's order is MODIFIED" in answer.message, answer.message


async def test_an_order_acknowledged_while_its_unknown_outcome_was_being_looked_up_is_not_given_up(tmp_path):
    """The placement's answer is lost. While the resolver's order-book lookup is on its way, the
    order reaches the broker and the poller acknowledges it; the lookup then answers with the book
    as it was (empty), past the deadline. The order used to be closed REJECTED broker:not_found
    while OPEN at the broker, and a cancel was refused ("not cancellable: the order is REJECTED")."""
    async with HostileKite() as kite:
        sent: dict[str, str] = {}

        async def lost(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
            sent.update(form)  # the broker has not taken it yet
            return kite_error(503, "NetworkException", "gw")

        kite.hooks["POST /orders/*"] = lost
        config = hostile_config(tmp_path, kite.url, unknown_give_up_seconds=0.001)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            live = svc.engine.executor
            real_orders = live.client.orders
            held, release = asyncio.Event(), asyncio.Event()

            def orders() -> Any:
                # only the resolver's first lookup is held (the poller's go through): by caller name,
                # as both call the same client method
                if sys._getframe(1).f_code.co_name != "resolve_unknown" or held.is_set():
                    return real_orders()

                async def stale() -> list[Any]:
                    await real_orders()
                    held.set()
                    await release.wait()
                    return []  # the book as it was before the order reached the broker

                return stale()

            live.client.orders = orders
            await svc.execute_intent(buy("r1", qty=5, order_type="LIMIT", price=1400.0))
            await asyncio.wait_for(held.wait(), 3)
            order = kite.new_order(sent)  # the broker takes it now; the poller acknowledges it
            await seen.until("r1", lambda r: r.status == "PLACED")
            release.set()  # the resolver gets its stale book, past the deadline
            cancel = await asyncio.wait_for(svc.cancel_order(intent_id="r1"), 3)
    assert [r.reject_reason for r in seen.results if r.status == "REJECTED"] == []
    assert cancel.status == "CANCELLED", cancel.message
    assert kite.orders[order["order_id"]]["status"] == "CANCELLED"


async def test_a_lost_modify_that_settles_later_is_journaled_while_running_as_after_a_restart(tmp_path):
    """Modify 10 -> 5, answer lost at MODIFIED ("its updates will tell"); the broker then shows 5
    and fills them (COMPLETE). The running service must end where a restart's reconciliation ends:
    FILLED 5 of 5, nothing working (it kept 5 phantom lots working)."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            placed = await svc.execute_intent(buy("m2", qty=10, order_type="LIMIT", price=1400.0))
            oid = placed.order_id
            assert oid is not None

            async def lost(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
                kite.orders[oid]["status"] = "MODIFIED"  # taken, old terms still shown
                return kite_error(503, "NetworkException", "gateway")

            kite.hooks["PUT /orders/*"] = lost
            answer = await asyncio.wait_for(svc.modify_order(tag_for("m2"), qty=5), 5)
            assert "MODIFIED" in answer.message, answer.message
            del kite.hooks["PUT /orders/*"]
            kite.orders[oid].update(status="OPEN", quantity=5, pending_quantity=5)
            kite.fill(oid, 5, 1400.0)
            await seen.until("m2", lambda r: r.status == "FILLED")

            def figures(state: Any) -> tuple[Any, ...]:
                record = state.orders[tag_for("m2")]
                return (
                    record.working,
                    record.order.qty,
                    state.latest_results["m2"].status,
                    state.working_qty("adv", "NSE:INFY", "MIS", "BUY"),
                )

            running = figures(svc.engine.state)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as again:
            restarted = figures(again.engine.state)
    assert running == restarted == (False, 5, "FILLED", 0)


async def test_two_modifications_in_flight_journal_the_brokers_terms(tmp_path, sim):
    """A (qty 10 -> 5) and B (price 1400 -> 1401) in flight together, A answered last: A's record
    was built from the terms read before its request, so it put the price back to 1400."""
    async with Proxy(sim.url) as proxy:
        a_sent, b_answered = asyncio.Event(), asyncio.Event()

        async def hook(request: web.Request, forward: Forward) -> web.StreamResponse:
            form = await request.post()
            status, ctype, raw = await forward()
            if "quantity" in form:
                a_sent.set()
                await asyncio.wait_for(b_answered.wait(), 4)  # A's answer comes after B's
            else:
                b_answered.set()
            return response(status, ctype, raw)

        proxy.hook("PUT", "/orders/", hook)
        async with ExecutionService(
            live_config(tmp_path, via(proxy)), clock=LiveClock(), access_token="token123"
        ) as svc:
            placed = await svc.execute_intent(intent("mm1", qty=10, order_type="LIMIT", price=1400.0))
            oid = placed.order_id or ""
            first = asyncio.ensure_future(svc.modify_order(oid, qty=5))
            await asyncio.wait_for(a_sent.wait(), 4)  # the broker took A
            second = svc.modify_order(oid, price=1401.0)
            await asyncio.wait_for(asyncio.gather(first, second), 5)
            await asyncio.wait_for(svc.settle(), 5)
            ours = svc.engine.state.orders[tag_for("mm1")].order
    assert broker_order(sim, "mm1")["quantity"] == 5 and broker_order(sim, "mm1")["price"] == 1401.0
    assert (ours.qty, ours.price) == (5, 1401.0)


def sell_limit(intent_id: str, price: float, qty: int = 10) -> OrderIntent:
    return msgspec.structs.replace(buy(intent_id, qty=qty, order_type="LIMIT", price=price), side="SELL")


async def test_two_exits_made_market_while_latched_cannot_open_a_position(tmp_path):
    """Long 10 with two working SELL 10 LIMIT exits, then max_trades_per_day latches. Making A
    MARKET is refused while B also works (both would fill: short 10, opened while latched); once B
    is cancelled, A may go MARKET."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        breakers = msgspec.structs.replace(config.execution.circuit_breakers, max_trades_per_day=3)
        config = msgspec.structs.replace(
            config, execution=msgspec.structs.replace(config.execution, circuit_breakers=breakers)
        )

        async def put(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
            oid = request.path.rsplit("/", 1)[1]
            kite.orders[oid]["order_type"] = form.get("order_type", kite.orders[oid]["order_type"])
            return ok({"order_id": oid})

        kite.hooks["PUT /orders/*"] = put
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            await svc.execute_intent(buy("long", qty=10))  # MARKET: the fake fills it
            await seen.until("long", lambda r: r.status == "FILLED")
            exit_a = await svc.execute_intent(sell_limit("a", 1600.0))
            exit_b = await svc.execute_intent(sell_limit("b", 1600.0))
            tripped = await svc.execute_intent(buy("more", qty=1, order_type="LIMIT", price=1400.0))
            assert tripped.reject_reason == "breaker:max_trades_per_day", tripped.message
            both = await asyncio.wait_for(svc.modify_order(tag_for("a"), order_type="MARKET"), 5)
            await asyncio.wait_for(svc.cancel_order(tag_for("b")), 5)
            alone = await asyncio.wait_for(svc.modify_order(tag_for("a"), order_type="MARKET"), 5)
    assert exit_a.status == exit_b.status == "PLACED"
    assert "modify refused: max_trades_per_day" in (both.message or ""), both.message
    assert "refused" not in (alone.message or ""), alone.message


async def test_a_refused_change_before_the_placement_is_answered_publishes_nothing(tmp_path):
    """A modification refused while the placement's POST is still on its way has no result of the
    order to answer with: its caller gets the acceptance, and nothing is published (subscribers
    used to see an invented PLACED before the broker's REJECTED)."""
    async with HostileKite() as kite:
        posted, release = asyncio.Event(), asyncio.Event()

        async def slow_reject(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
            posted.set()
            await asyncio.wait_for(release.wait(), 4)
            return kite_error(400, "InputException", "margin")

        kite.hooks["POST /orders/*"] = slow_reject
        async with ExecutionService(
            hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN
        ) as svc:
            seen = Results(svc)
            placing = asyncio.ensure_future(svc.execute_intent(buy("p1", order_type="LIMIT", price=1400.0)))
            await asyncio.wait_for(posted.wait(), 4)
            refused = await asyncio.wait_for(svc.modify_order(tag_for("p1"), qty=0), 3)
            release.set()
            first = await asyncio.wait_for(placing, 4)
            await svc.settle()
    assert "modify refused" in (refused.message or "") and refused.status == "PLACED"
    assert first.status == "REJECTED"
    assert [r.status for r in seen.results if r.intent_id == "p1"] == ["REJECTED"]
