"""A cancel of a live order whose placement is in flight (sent, not answered) is held, and sent once.

A proxy in front of the simulator holds the placement's POST (before the broker has the order, or
after it took it with the answer held back) until the cancel is in; not speaking WebSocket, it also
keeps order updates away, so the placement's answer, the poller or the reconciliation after a
restart is what shows the order.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from execsvc.executors.kite.ratelimit import RateLimiter
from tests.conftest import journal_records
from tests.integration.test_live_cancel_unknown import (
    broker_order,
    cancels_sent,
    final_results,
    hold_order_book,
)
from tests.integration.test_live_kite import Collector, intent, live_config, placements_per_tag
from tests.integration.test_live_regressions import via
from tests.kite_proxy import Forward, Proxy, response
from tests.unit.test_kite_ratelimit import ManualClock, eventually


def hold_placement(proxy: Proxy, *, forwarded: bool) -> tuple[asyncio.Event, asyncio.Event]:
    """Hold the next placement: before the broker sees it, or (``forwarded``) with its answer held.

    Returns:
        (held: set once the POST is being held, release: set it to let the POST go on).
    """
    held, release = asyncio.Event(), asyncio.Event()

    async def hook(request: web.Request, forward: Forward) -> web.StreamResponse:
        if forwarded:
            status, ctype, raw = await forward()
            held.set()
            await release.wait()
            return response(status, ctype, raw)
        held.set()
        await release.wait()
        return response(*(await forward()))

    proxy.hook("POST", "/orders/", hook)
    return held, release


async def test_a_cancel_while_the_placement_is_in_flight_is_sent_once_it_is_answered(tmp_path, sim):
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            seen = Collector(svc)
            held, release = hold_placement(proxy, forwarded=False)
            await svc.submit(intent("if1", order_type="LIMIT", price=1400.0))
            await asyncio.wait_for(held.wait(), 5)

            answer = await asyncio.wait_for(svc.cancel_order(intent_id="if1"), 5)
            assert "cancel pending" in (answer.message or ""), answer
            assert "not answered" in (answer.message or ""), answer
            assert cancels_sent(proxy) == 0

            release.set()
            placed = await seen.until("if1", "PLACED")
            assert "cancel" in (placed.message or "")
            cancelled = await seen.until("if1", "CANCELLED")
            assert cancelled.order_id == broker_order(sim, "if1")["order_id"]
            statuses = [r.status for r in seen.results if r.intent_id == "if1"]
    assert broker_order(sim, "if1")["status"] == "CANCELLED"
    assert placements_per_tag(sim) == {tag_for("if1"): 1}
    assert cancels_sent(proxy) == 1
    assert statuses == ["PLACED", "CANCELLED"], statuses
    assert final_results(tmp_path, "if1") == ["PLACED", "CANCELLED"]


async def test_a_held_cancel_goes_out_when_the_poller_finds_the_order_before_the_answer(tmp_path, sim):
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            seen = Collector(svc)
            books = hold_order_book(proxy)
            held, release = hold_placement(proxy, forwarded=True)  # the broker has it; no answer
            await svc.submit(intent("if2", order_type="LIMIT", price=1400.0))
            await asyncio.wait_for(held.wait(), 5)
            answer = await asyncio.wait_for(svc.cancel_order(intent_id="if2"), 5)
            assert "cancel pending" in (answer.message or ""), answer

            books.set()  # the poller reads the book: the order is there, working
            await seen.until("if2", "CANCELLED")
            release.set()  # the placement's answer, late: nothing more is sent
            await asyncio.wait(set(svc._inflight), timeout=4)
            await svc.journal.flush()
    assert broker_order(sim, "if2")["status"] == "CANCELLED"
    assert cancels_sent(proxy) == 1
    assert final_results(tmp_path, "if2")[-1] == "CANCELLED"


async def test_a_held_cancel_of_an_order_the_broker_filled_at_once_says_it_came_too_late(tmp_path, sim):
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            seen = Collector(svc)
            held, release = hold_placement(proxy, forwarded=False)
            await svc.submit(intent("if3"))  # MARKET: filled at once when it reaches the broker
            await asyncio.wait_for(held.wait(), 5)
            answer = await asyncio.wait_for(svc.cancel_order(intent_id="if3"), 5)
            assert "cancel pending" in (answer.message or ""), answer

            release.set()
            filled = await seen.until("if3", "FILLED")
    assert "too late" in (filled.message or "") and "COMPLETE" in (filled.message or ""), filled
    assert broker_order(sim, "if3")["status"] == "COMPLETE"
    assert cancels_sent(proxy) == 0
    assert final_results(tmp_path, "if3")[-1] == "FILLED"


async def test_a_held_cancel_of_a_placement_the_broker_refuses_is_settled(tmp_path, sim):
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            seen = Collector(svc)
            held, release = hold_placement(proxy, forwarded=False)
            await svc.submit(intent("if4", order_type="LIMIT", price=1400.0))
            await asyncio.wait_for(held.wait(), 5)
            answer = await asyncio.wait_for(svc.cancel_order(intent_id="if4"), 5)
            assert "cancel pending" in (answer.message or ""), answer

            sim.set_faults(reject_next={"count": 1})
            release.set()
            rejected = await seen.until("if4", "REJECTED")
    assert "nothing left to cancel" in (rejected.message or ""), rejected
    assert cancels_sent(proxy) == 0
    assert final_results(tmp_path, "if4")[-1] == "REJECTED"


async def test_a_restart_between_the_held_cancel_and_the_answer_cancels_once(tmp_path, sim):
    async with Proxy(sim.url) as proxy:
        config = live_config(tmp_path, via(proxy))
        svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
        await svc.start()
        books = hold_order_book(proxy)
        held, release = hold_placement(proxy, forwarded=True)  # the broker has it
        await svc.submit(intent("if5", order_type="LIMIT", price=1400.0))
        await asyncio.wait_for(held.wait(), 5)
        answer = await asyncio.wait_for(svc.cancel_order(intent_id="if5"), 5)
        assert "cancel pending" in (answer.message or ""), answer
        await svc.kill()  # kill -9: the held cancel is journaled, the answer never came
        release.set()
        books.set()
        proxy.hooks.clear()
        assert cancels_sent(proxy) == 0

        svc2 = ExecutionService(config, clock=LiveClock(), access_token="token123")
        seen = Collector(svc2)  # before start: the reconciliation finds the order and cancels it
        async with svc2:
            await seen.until("if5", "CANCELLED")
        async with ExecutionService(config, clock=LiveClock(), access_token="token123"):
            pass  # a third start: the cancel is settled, nothing is sent again
    assert broker_order(sim, "if5")["status"] == "CANCELLED"
    assert placements_per_tag(sim) == {tag_for("if5"): 1}
    assert cancels_sent(proxy) == 1
    assert final_results(tmp_path, "if5")[-1] == "CANCELLED"


async def test_a_cancel_while_the_order_waits_for_its_rate_limit_slot_keeps_it_from_being_sent(tmp_path, sim):
    """A MARKET order sent after the cancel came would fill before the cancel could reach it."""
    config = live_config(tmp_path, sim, rate_limits={"orders_per_second": 1, "margin_seconds": 0.0})
    svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
    slots = ManualClock()  # the second order's slot waits until the test moves this clock
    svc.limiter = RateLimiter(config.kite.rate_limits, clock=slots, sleep=slots.sleep)
    async with svc:
        seen = Collector(svc)
        first = await asyncio.wait_for(svc.execute_intent(intent("q1")), 5)
        assert first.status == "PLACED"
        await svc.submit(intent("q2"))  # MARKET
        await eventually(lambda: bool(slots.sleepers))

        answer = await asyncio.wait_for(svc.cancel_order(intent_id="q2"), 5)
        assert "cancel pending" in (answer.message or ""), answer
        slots.advance(2.0)
        cancelled = await seen.until("q2", "CANCELLED")
    assert cancelled.message == "cancelled before it was sent", cancelled
    assert placements_per_tag(sim) == {tag_for("q1"): 1}
    events = [e for path in sorted(tmp_path.glob("*.jsonl")) for e in journal_records(path)]
    assert not [e for e in events if e["type"] == "fill" and e.get("order_id") == tag_for("q2")]
    assert final_results(tmp_path, "q2") == ["CANCELLED"]
