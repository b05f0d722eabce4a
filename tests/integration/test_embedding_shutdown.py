"""The service embedded in a strategy runner, at the edges of its life: stop, kill and what follows.

A runner has more than one task: one feeds ticks and awaits ``settle``, another watches risk and
may ``kill``; a result callback may be the one that pulls the plug. Whatever the interleaving,
every call returns or raises :class:`ServiceNotRunningError`; none waits forever.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from execsvc import ExecutionResult, ExecutionService, OrderIntent
from execsvc.clock import ReplayClock
from execsvc.errors import ServiceError, ServiceNotRunningError
from tests.conftest import OPEN_NS, SECOND, make_config, tick


def buy(intent_id: str, **kw: object) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, intent_id=intent_id, **kw)


async def started(journal_dir: Path, clock: ReplayClock) -> ExecutionService:
    svc = ExecutionService(make_config(journal_dir), clock=clock)
    await svc.start()
    await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
    return svc


async def test_a_settle_waiting_on_a_slow_subscriber_is_told_when_a_kill_closes_the_service(
    journal_dir, clock
):
    svc = await started(journal_dir, clock)
    handling, never = asyncio.Event(), asyncio.Event()

    async def slow(result: ExecutionResult) -> None:
        handling.set()
        await never.wait()

    svc.on_result(slow)
    settling: asyncio.Task[None] | None = None
    try:
        await svc.execute_intent(buy("k1"))
        await asyncio.wait_for(handling.wait(), 5)  # the subscriber holds the result ...
        settling = asyncio.create_task(svc.settle())  # ... so settle waits for it
        await asyncio.sleep(0)
        assert not settling.done()
    finally:
        await svc.kill()
    assert settling is not None
    with pytest.raises(ServiceNotRunningError, match="settle"):
        await asyncio.wait_for(settling, 5)


async def test_settle_after_a_kill_raises_and_after_a_stop_returns(journal_dir, clock, tmp_path):
    killed = await started(journal_dir, clock)
    killed.on_result(lambda result: None)
    await killed.execute_intent(buy("k1"))
    await killed.kill()
    with pytest.raises(ServiceNotRunningError, match="settle"):
        await asyncio.wait_for(killed.settle(), 5)

    stopped = await started(tmp_path / "other", ReplayClock(OPEN_NS))
    stopped.on_result(lambda result: None)
    await stopped.execute_intent(buy("s1"))
    await stopped.stop()
    await asyncio.wait_for(stopped.settle(), 5)  # stop settled everything already


async def test_settle_concurrent_with_stop_returns(journal_dir, clock):
    svc = await started(journal_dir, clock)
    svc.on_result(lambda result: None)
    await svc.submit(buy("c1"))
    await asyncio.wait_for(asyncio.gather(svc.settle(), svc.stop()), 5)
    assert svc.engine.state.first_results["c1"].status == "FILLED"


@pytest.mark.parametrize("how", ["kill", "stop"])
async def test_a_result_callback_may_kill_or_stop_the_service(journal_dir, clock, how):
    """A kill switch in a result callback: the callback runs in one of the service's own tasks,
    which a kill cancels and awaits and a stop drains; it recursed until the interpreter gave up
    (kill) or waited for itself for ever (stop), and the journal was never closed."""
    svc = await started(journal_dir, clock)
    asked = asyncio.Event()

    async def kill_switch(result: ExecutionResult) -> None:
        if result.intent_id == "k1":
            await (svc.kill() if how == "kill" else svc.stop())
            asked.set()

    svc.on_result(kill_switch)
    try:
        await svc.execute_intent(buy("k1"))
        await asyncio.wait_for(asked.wait(), 5)  # the callback is not left waiting for itself
    finally:
        await asyncio.wait_for(svc.stop(), 5)  # the runner's own stop waits for that one
    with pytest.raises(ServiceNotRunningError):
        await svc.execute_intent(buy("k2"))
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as again:
        assert (await again.execute_intent(buy("k1"))).status == "FILLED"  # journaled once
    assert [p.net_qty for p in again.positions()] == [1]


async def test_a_kill_whose_caller_is_cancelled_still_closes_the_service(journal_dir, clock):
    svc = await started(journal_dir, clock)
    await svc.execute_intent(buy("c1"))
    killing = asyncio.create_task(svc.kill())
    await asyncio.sleep(0)  # the close is under way ...
    killing.cancel()  # ... when the caller gives up on it
    await asyncio.gather(killing, return_exceptions=True)
    await asyncio.wait_for(svc.stop(), 5)  # waits for that close, not a second one
    assert all(sub.closed for sub in svc.bus.subscriptions())  # the engine takes nothing more
    assert not svc.journal.pending()


async def test_a_second_start_is_refused_and_leaves_the_running_service_alone(journal_dir, clock):
    """A second start reopened the journal, failed, and in cleaning up closed the service that ran."""
    svc = await started(journal_dir, clock)
    try:
        with pytest.raises(ServiceError, match="started already"):
            await svc.start()
        assert (await svc.execute_intent(buy("a1"))).status == "FILLED"
    finally:
        await svc.stop()
    with pytest.raises(ServiceError, match="started already"):  # a restart is a new service
        await svc.start()


async def test_a_stopped_service_refuses_ticks_callbacks_and_ends_iterators_at_once(journal_dir, clock):
    svc = await started(journal_dir, clock)
    resting = await svc.execute_intent(buy("r1", order_type="LIMIT", price=1490.0))
    await svc.stop()
    with pytest.raises(ServiceNotRunningError, match="on_tick"):  # it would fill r1 off the journal
        await svc.on_tick(tick("NSE:INFY", 1480.0, OPEN_NS + 2 * SECOND))
    assert resting.status == "PLACED" and svc.positions() == []
    with pytest.raises(ServiceNotRunningError, match="on_result"):
        svc.on_result(lambda result: None)
    assert [r async for r in svc.results()] == []  # ends, rather than a RuntimeError or a hang
