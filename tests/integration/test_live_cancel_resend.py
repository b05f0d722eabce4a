"""A trader's cancel does not silently fail to happen: one whose answer was lost while the order
still works, and one the broker refused for its rate limit (HTTP 429), are sent again, a bounded
number of times (``cancel_retry``), never in a tight loop.

The simulator injects the faults (``http_5xx`` on DELETE, not carried out or carried out;
``http_429``) and counts every DELETE that arrived (``cancels_seen``, before any fault).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from execsvc import ExecutionService, Tick
from execsvc.clock import LiveClock
from execsvc.executors.kite.cancel_retry import CANCEL_SENDS
from execsvc.executors.kite.mapping import tag_for
from execsvc.executors.kite.ratelimit import RateLimiter
from execsvc.sim import KiteSimulator
from tests.integration.test_kite_sim import NO_LIMITS
from tests.integration.test_live_cancel_refused import cancel_records, story
from tests.integration.test_live_cancel_unknown import broker_order, final_results, hold_order_book
from tests.integration.test_live_kite import Collector, intent, live_config
from tests.integration.test_live_regressions import via
from tests.kite_proxy import Proxy
from tests.unit.test_kite_ratelimit import ManualClock, eventually

LOST_DELETE = {"pattern": "/orders/*", "method": "DELETE", "status": 503}


def seen(sim: KiteSimulator) -> int:
    """Every DELETE that arrived at the simulator, whatever it answered."""
    return int(sim.stats()["cancels_seen"])


async def polls(sim: KiteSimulator, passes: int) -> None:
    """Wait until the service has read the order book ``passes`` more times (its poller ran)."""
    reads = sim.stats()["requests"]["other"]
    await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["requests"]["other"] >= reads + passes), 5)


@pytest.fixture
async def unlimited_sim() -> AsyncIterator[KiteSimulator]:
    """The simulator without its own (wall-clock) limits: the service's limiter runs on a manual clock."""
    async with KiteSimulator(heartbeat_seconds=0.05, rate_limits=NO_LIMITS) as simulator:
        simulator.push_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1500.0))
        yield simulator


# -- a lost answer -------------------------------------------------------------------------------


async def test_a_cancel_whose_delete_never_reached_the_broker_is_sent_again(tmp_path, sim):
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        results = Collector(svc)
        resting = await svc.execute_intent(intent("lo1", order_type="LIMIT", price=1400.0))
        sim.set_faults(http_5xx=[{**LOST_DELETE, "count": 1}])  # answered 503, not carried out
        answer = await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)
        cancelled = await results.until("lo1", "CANCELLED")
    message = answer.message or ""
    assert answer.status == "PLACED", answer
    assert "cancel outcome unknown" in message and "the broker's order is OPEN" in message, answer
    assert "cancel pending" in message, answer
    assert "send 1 of 3" in message, answer
    assert cancelled.order_id == broker_order(sim, "lo1")["order_id"]
    assert broker_order(sim, "lo1")["status"] == "CANCELLED"
    assert seen(sim) == 2 and sim.stats()["cancel_requests"] == 1
    # sent; held again (its answer lost, the order working); sent again
    assert story(cancel_records(tmp_path, sim, "lo1")) == [
        (False, 0, False),
        (True, 1, False),
        (False, 1, False),
    ]
    assert final_results(tmp_path, "lo1")[-1] == "CANCELLED"


async def test_a_cancel_carried_out_whose_answer_was_lost_is_not_sent_again(tmp_path, sim):
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        results = Collector(svc)
        resting = await svc.execute_intent(intent("lo2", order_type="LIMIT", price=1400.0))
        sim.set_faults(http_5xx=[{**LOST_DELETE, "count": 1, "placed": True}])  # cancelled, then 503
        await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)
        await results.until("lo2", "CANCELLED")
    assert broker_order(sim, "lo2")["status"] == "CANCELLED"
    assert seen(sim) == 1
    assert story(cancel_records(tmp_path, sim, "lo2")) == [(False, 0, False)]


async def test_a_cancel_whose_answer_is_lost_on_every_send_is_sent_at_most_the_bound(tmp_path, sim):
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        results = Collector(svc)
        resting = await svc.execute_intent(intent("lo3", order_type="LIMIT", price=1400.0))
        sim.set_faults(http_5xx=[{**LOST_DELETE, "count": 100}])

        def given_up() -> bool:
            return any("not sent again" in (r.message or "") for r in results.results)

        await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)
        await asyncio.wait_for(sim.wait_until(given_up), 5)
        await polls(sim, 5)  # the poller goes on reading the order (still OPEN): nothing more is sent
        working = svc.engine.state.orders[tag_for("lo3")].working
    assert working and broker_order(sim, "lo3")["status"] == "OPEN"
    assert seen(sim) == CANCEL_SENDS == sim.stats()["http_5xx"]
    assert story(cancel_records(tmp_path, sim, "lo3")) == [
        (False, 0, False),
        (True, 1, False),
        (False, 1, False),
        (True, 2, False),
        (False, 2, False),
    ]


async def test_a_lost_cancel_of_an_order_that_filled_before_it_was_sent_again_says_so(tmp_path, sim):
    async with Proxy(sim.url) as proxy:  # no WebSocket through the proxy: the poller reads the book
        config = live_config(tmp_path, via(proxy))
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            results = Collector(svc)
            resting = await svc.execute_intent(intent("lo4", order_type="LIMIT", price=1400.0))
            release = hold_order_book(proxy)  # the next poll waits until the order has filled
            sim.set_faults(http_5xx=[{**LOST_DELETE, "count": 1}])
            answer = await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)
            assert "cancel pending" in (answer.message or ""), answer
            sim.push_tick(Tick(symbol="NSE:INFY", instrument_token=408065, last_price=1399.0))
            await asyncio.wait_for(
                sim.wait_until(lambda: broker_order(sim, "lo4")["status"] == "COMPLETE"), 5
            )
            release.set()
            filled = await results.until("lo4", "FILLED")
    assert "came too late" in (filled.message or "") and "COMPLETE" in (filled.message or ""), filled
    assert seen(sim) == 1
    assert final_results(tmp_path, "lo4")[-1] == "FILLED"


# -- the broker's rate limit -------------------------------------------------------------------------


def manual_limiter(svc: ExecutionService) -> ManualClock:
    """Give the service a limiter on a clock the test moves (a 429's penalty lasts until it does)."""
    slots = ManualClock()
    svc.limiter = RateLimiter(svc.config.kite.rate_limits, clock=slots, sleep=slots.sleep)
    return slots


async def test_a_cancel_refused_for_the_rate_limit_is_sent_once_the_gate_reopens(tmp_path, unlimited_sim):
    sim = unlimited_sim
    # reads are not what this test limits: the manual clock stands still while the poller reads
    config = live_config(tmp_path, sim, rate_limits={"other_per_second": 1_000_000})
    svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
    slots = manual_limiter(svc)
    async with svc:
        results = Collector(svc)
        resting = await svc.execute_intent(intent("rl1", order_type="LIMIT", price=1400.0))
        sim.set_faults(http_429={"count": 1})
        answer = await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)
        assert svc.limiter.closed_for("order") > 0  # the 429 closed the gate
        await eventually(lambda: bool(slots.sleepers))  # the held cancel waits for it to reopen
        await polls(sim, 3)  # updates and polls come meanwhile: nothing is sent through a closed gate
        held = (seen(sim), broker_order(sim, "rl1")["status"])
        slots.advance(config.kite.rate_limits.penalty_seconds)
        cancelled = await results.until("rl1", "CANCELLED")
    message = answer.message or ""
    assert answer.status == "PLACED" and "cancel pending" in message and "rate limit" in message, answer
    assert held == (1, "OPEN")
    assert cancelled.order_id == broker_order(sim, "rl1")["order_id"]
    assert broker_order(sim, "rl1")["status"] == "CANCELLED"
    assert seen(sim) == 2 and sim.stats()["forced_429"] == 1
    assert story(cancel_records(tmp_path, sim, "rl1")) == [
        (False, 0, False),
        (True, 1, True),
        (False, 1, False),
    ]
    assert final_results(tmp_path, "rl1")[-1] == "CANCELLED"


async def test_a_cancel_refused_for_the_rate_limit_on_every_send_is_given_up_after_the_bound(
    tmp_path, unlimited_sim
):
    sim = unlimited_sim
    config = live_config(tmp_path, sim, rate_limits={"other_per_second": 1_000_000})
    svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
    slots = manual_limiter(svc)
    async with svc:
        results = Collector(svc)
        resting = await svc.execute_intent(intent("rl2", order_type="LIMIT", price=1400.0))
        sim.set_faults(http_429={"count": 100})
        await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)

        def given_up() -> bool:
            return any("refused on each of its" in (r.message or "") for r in results.results)

        for sends in range(1, CANCEL_SENDS):  # each send waits for the gate the 429 before it closed
            await eventually(lambda: seen(sim) == sends and bool(slots.sleepers))  # noqa: B023
            slots.advance(config.kite.rate_limits.penalty_seconds)
        await asyncio.wait_for(sim.wait_until(given_up), 5)
        slots.advance(config.kite.rate_limits.penalty_seconds)
        await polls(sim, 5)
        working = svc.engine.state.orders[tag_for("rl2")].working
    assert working and broker_order(sim, "rl2")["status"] == "OPEN"
    assert seen(sim) == CANCEL_SENDS == sim.stats()["forced_429"]
    assert story(cancel_records(tmp_path, sim, "rl2"))[-1] == (False, CANCEL_SENDS - 1, True)


async def test_a_cancel_given_up_after_the_bound_is_not_sent_again_by_a_restart(tmp_path, sim):
    # the bound counts a restart's send too: the journal's last record of a cancel whose answer was
    # lost on each of its sends is "sent" (unanswered), which a restart must not take for a DELETE
    # cut off by a crash and send a fourth time (and once more on every later restart)
    config = live_config(tmp_path, sim)
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        results = Collector(svc)
        resting = await svc.execute_intent(intent("lo5", order_type="LIMIT", price=1400.0))
        sim.set_faults(http_5xx=[{**LOST_DELETE, "count": 100}])

        def given_up() -> bool:
            return any("not sent again" in (r.message or "") for r in results.results)

        await asyncio.wait_for(svc.cancel_order(resting.order_id or ""), 5)
        await asyncio.wait_for(sim.wait_until(given_up), 5)
    assert seen(sim) == CANCEL_SENDS

    for _ in range(2):  # two restarts: each reconciles, then the poller reads the (still OPEN) order
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as again:
            await polls(sim, 3)
            assert again.reconciliation is not None and again.reconciliation.cancels_resent == []
    assert broker_order(sim, "lo5")["status"] == "OPEN"
    assert seen(sim) == CANCEL_SENDS
