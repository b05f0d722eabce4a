"""``StrategyHost.follow``: the daemon's strategies on the service's own WebSocket.

``follow`` waits (``execsvc.aio.first_of``) for the first of a strategy's failure (a future its
tick callback fails) and the feed's end. When ``follow`` is cancelled while a tick is in the
strategies (the callback suspended in a submission that waits for room on the bus), ``first_of``
cancels that future; a strategy that then raised made the callback fail with ``InvalidStateError``
(``set_exception`` on a cancelled future), the strategy's own error only its context.

Driven without sleeps: the intents queue holds one (``bus.queue_size: 1``), so the first strategy's
second submission waits for the engine to take the first, and the strategy itself cancels
``follow`` before that: the cancel lands while the tick is still in the strategies.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec
import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import LiveClock
from execsvc.feeds import StrategyHost
from execsvc.market.ticks import Tick
from execsvc.sim import KiteSimulator
from execsvc.strategies.base import StrategyContext
from tests.integration.test_embedded_websocket import INFY, Ticks
from tests.integration.test_live_kite import Collector, live_config
from tests.integration.test_live_kite import tick as infy_tick


class CancelsItsHost:
    """On its first tick: cancels the task following the feed, then submits two intents (the
    second waits for room on a bus that holds one)."""

    strategy_code = "first"

    def __init__(self) -> None:
        self.follower: asyncio.Task[None] | None = None
        self.acted = False

    def on_tick(self, tick: Tick, ctx: StrategyContext) -> None:
        if self.acted or self.follower is None:
            return
        self.acted = True
        self.follower.cancel()
        for n in (1, 2):
            ctx.submit(
                OrderIntent(symbol="NSE:INFY", strategy_code="first", side="BUY", qty=1, intent_id=f"buy-{n}")
            )


class Broken:
    """Raises on its first tick (after the first strategy's submissions)."""

    strategy_code = "broken"

    def __init__(self) -> None:
        self.raised = False

    def on_tick(self, tick: Tick, ctx: StrategyContext) -> None:
        if not self.raised:
            self.raised = True
            raise RuntimeError("strategy broken on purpose")


async def test_a_strategy_failing_after_follow_was_cancelled_is_logged_as_itself(
    tmp_path: Any, sim: KiteSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    config = live_config(tmp_path, sim)
    config = msgspec.structs.replace(config, bus=msgspec.structs.replace(config.bus, queue_size=1))
    first, broken = CancelsItsHost(), Broken()
    caplog.set_level(logging.ERROR, logger="execsvc.feed")
    async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
        seen = Collector(svc)
        host = StrategyHost(svc, [first, broken])
        follower = first.follower = asyncio.create_task(host.follow())
        await svc.feed.subscribe([INFY], "full")  # follow() has added its callback meanwhile
        after = Ticks()
        svc.feed.on_tick(after)  # added after follow()'s: called once that callback has returned
        sim.push_tick(infy_tick(1_501.0))
        await after.until(lambda: broken.raised and after.ticks)
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(follower, 5)
        bought = [await seen.until(f"buy-{n}", "FILLED") for n in (1, 2)]
        failures = svc.feed.callback_failures

    assert failures == 1
    logged = [r.exc_info[1] for r in caplog.records if r.exc_info is not None]
    assert [type(e) for e in logged] == [RuntimeError], logged
    assert str(logged[0]) == "strategy broken on purpose"
    assert [r.filled_qty for r in bought] == [1, 1]  # the submissions before the failure stand


async def test_a_strategy_failing_while_followed_is_raised_by_follow_not_logged_by_the_feed(
    tmp_path: Any, sim: KiteSimulator
) -> None:
    broken = Broken()
    async with ExecutionService(
        live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
    ) as svc:
        follower = asyncio.create_task(StrategyHost(svc, [broken]).follow())
        await svc.feed.subscribe([INFY], "full")
        sim.push_tick(infy_tick(1_501.0))
        with pytest.raises(RuntimeError, match="strategy broken on purpose"):
            await asyncio.wait_for(follower, 5)
        failures = svc.feed.callback_failures

    assert failures == 0
