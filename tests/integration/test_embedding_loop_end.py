"""A runner whose result callback stops or kills the service, and whose own loop then ends.

The runner never awaits the service's stop: its ``main`` returns and ``asyncio.run`` cancels every
task left. The stop (or close) started from the callback ran in a task of its own that was cancelled
before it could close anything (or halfway through), and the journal was left open, its last
records unsynced. Whatever the moment, the service must end closed, with nothing left pending.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from pathlib import Path

import pytest

from execsvc import ExecutionResult, ExecutionService, OrderIntent
from execsvc.clock import ReplayClock
from tests.conftest import OPEN_NS, SECOND, make_config, tick


def buy(intent_id: str) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, intent_id=intent_id)


@pytest.mark.parametrize("how", ["stop", "kill"])
@pytest.mark.parametrize("waits_for_the_callback", [True, False])
def test_a_stop_asked_for_by_a_callback_completes_though_the_runner_loop_ends(
    journal_dir: Path, how: str, waits_for_the_callback: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="asyncio")
    services: list[ExecutionService] = []

    async def runner() -> None:
        svc = ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS))
        services.append(svc)
        await svc.start()
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        asked = asyncio.Event()

        async def kill_switch(result: ExecutionResult) -> None:
            if result.intent_id == "k1":
                await (svc.kill() if how == "kill" else svc.stop())
                asked.set()

        svc.on_result(kill_switch)
        await svc.execute_intent(buy("k1"))
        if waits_for_the_callback:
            await asyncio.wait_for(asked.wait(), 5)
        # ... and returns: no stop awaited, asyncio.run cancels what is left

    asyncio.run(runner())
    gc.collect()
    (svc,) = services
    assert not svc.journal.is_open  # closed: fsynced, and a restart folds it
    assert not [r for r in caplog.records if "destroyed but it is pending" in r.getMessage()]
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]

    async def restart() -> str:
        async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as again:
            return (await again.execute_intent(buy("k1"))).status

    assert asyncio.run(restart()) == "FILLED"  # journaled once, answered, not placed again


def test_a_cancelled_wait_for_a_callbacks_stop_waits_for_its_close(journal_dir: Path) -> None:
    """The runner's ``stop`` waits for the stop a callback began; cancelled (its own timeout), it
    turned that stop into nothing: the close was left to run unawaited."""

    async def runner() -> ExecutionService:
        svc = ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS))
        await svc.start()
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        never = asyncio.Event()

        async def stop_then_hang(result: ExecutionResult) -> None:
            await svc.stop()
            await never.wait()  # a callback that never returns: the drain waits for it

        svc.on_result(stop_then_hang)
        await svc.execute_intent(buy("h1"))
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(svc.stop(), 0.2)
        assert not svc.journal.is_open  # the cancelled wait became a close, and waited for it
        return svc

    asyncio.run(asyncio.wait_for(runner(), 10))
