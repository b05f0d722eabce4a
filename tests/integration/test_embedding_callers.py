"""A strategy runner's callers: cancelled, timed out, racing on one intent id, two services, uvloop.

The intent id is the idempotency key: a caller that gives up (cancelled, or ``wait_for`` timed
out) does not withdraw the intent; a retry with the same id gets the original result and places
nothing new, and no waiter is left behind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock
from execsvc.journal.reader import read_journal
from tests.conftest import OPEN_NS, SECOND, make_config, tick


def buy(intent_id: str, qty: int = 1) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=qty, intent_id=intent_id)


def intents_journaled(svc: ExecutionService) -> int:
    assert svc.journal.path is not None
    return sum(type(r.ev).__name__ == "OrderIntent" for r in read_journal(svc.journal.path).records)


@pytest.mark.parametrize("gives_up", ["cancelled", "timed out"])
async def test_a_caller_that_gives_up_then_retries_gets_the_original_result(journal_dir, clock, gives_up):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        if gives_up == "cancelled":
            caller = asyncio.create_task(svc.execute_intent(buy("g1")))
            await asyncio.sleep(0)  # submitted, waiting for its answer
            caller.cancel()
            await asyncio.gather(caller, return_exceptions=True)
        else:
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(svc.execute_intent(buy("g1")), 0)
        retry = await asyncio.wait_for(svc.execute_intent(buy("g1")), 5)
        await svc.settle()
        assert svc.engine.answers._waiters == {}  # nobody's future is left behind
    assert retry.status == "FILLED"
    assert intents_journaled(svc) == 1
    assert [p.net_qty for p in svc.positions()] == [1]


async def test_many_tasks_sending_one_intent_id_place_one_order(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        results = await asyncio.wait_for(
            asyncio.gather(*(svc.execute_intent(buy("same", qty=1 + n % 3)) for n in range(100))), 10
        )
    assert {(r.status, r.order_id, r.qty) for r in results} == {("FILLED", results[0].order_id, 1)}
    assert intents_journaled(svc) == 1
    assert [p.net_qty for p in svc.positions()] == [1]


async def test_two_services_in_one_loop_keep_apart(tmp_path: Path):
    a = ExecutionService(make_config(tmp_path / "a"), clock=ReplayClock(OPEN_NS))
    b = ExecutionService(make_config(tmp_path / "b"), clock=ReplayClock(OPEN_NS))
    async with a, b:
        await a.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await b.on_tick(tick("NSE:INFY", 1600.0, OPEN_NS + SECOND))
        ra, rb = await asyncio.gather(a.execute_intent(buy("x", 2)), b.execute_intent(buy("x", 3)))
    assert (ra.qty, rb.qty) == (2, 3) and ra.avg_price < 1510 < rb.avg_price
    assert [p.net_qty for p in a.positions()] == [2] and [p.net_qty for p in b.positions()] == [3]


async def test_a_body_that_raises_kills_the_service_and_the_journal_restarts(journal_dir, clock):
    svc = ExecutionService(make_config(journal_dir), clock=clock)
    with pytest.raises(ValueError, match="strategy bug"):
        async with svc:
            await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
            first = await svc.execute_intent(buy("e1"))
            raise ValueError("strategy bug")
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as again:
        assert await again.execute_intent(buy("e1")) == first  # answered, not placed again


def test_it_runs_on_uvloop(journal_dir):
    uvloop = pytest.importorskip("uvloop")

    async def session() -> str:
        async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
            await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
            updates = svc.results()
            result = await svc.execute_intent(buy("u1"))
        assert [r.intent_id async for r in updates] == ["u1"]
        return result.status

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(session()) == "FILLED"
