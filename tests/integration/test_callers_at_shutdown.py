"""Callers waiting on the service when it stops or is killed are told, never left waiting forever.

``kill`` cancels and ``stop`` gives live orders ``settle_timeout`` to settle; a caller awaiting the
answer to a submission that was cut short, or a publisher waiting for room in a queue whose
consumer was cancelled, gets :class:`ServiceNotRunningError` instead of a future nobody will
resolve.
"""

from __future__ import annotations

import asyncio
import gc
import os
import threading

import pytest

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.bus.memory import MemoryBus
from execsvc.clock import LiveClock, ReplayClock
from execsvc.errors import ServiceNotRunningError
from execsvc.events import TradingHalted
from execsvc.journal.reader import read_journal
from tests.conftest import OPEN_NS, SECOND, make_config, tick
from tests.integration.test_live_kite import Collector, live_config


@pytest.mark.parametrize("how", ["kill", "stop"])
async def test_a_caller_awaiting_a_live_orders_answer_is_told_the_service_stopped(tmp_path, sim, how):
    # the broker holds every placement far longer than the service waits for it
    sim.set_faults(latency_ms=[{"pattern": "/orders*", "method": "POST", "ms": 30000}])
    config = live_config(tmp_path, sim, timeout_seconds=60.0)
    svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
    svc.settle_timeout = 0.05
    await svc.start()
    intent = OrderIntent(symbol="NSE:INFY", strategy_code="s", side="BUY", qty=1, intent_id="held1")
    caller = asyncio.create_task(svc.execute_intent(intent))
    try:
        await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["held_by_latency"] >= 1), 5)
        await (svc.kill() if how == "kill" else svc.stop())
        with pytest.raises(ServiceNotRunningError, match="held1"):
            await asyncio.wait_for(caller, 5)
    finally:
        caller.cancel()
        await asyncio.gather(caller, return_exceptions=True)


async def test_a_publisher_waiting_for_room_is_told_when_the_bus_closes():
    bus = MemoryBus(default_maxsize=1)
    taken, never = asyncio.Event(), asyncio.Event()

    async def stuck(event: object) -> None:
        taken.set()
        await never.wait()

    bus.subscribe("t", stuck, name="stuck")
    async with asyncio.TaskGroup() as group:
        bus.start(group)
        await bus.publish("t", 1)
        await asyncio.wait_for(taken.wait(), 5)  # the consumer holds 1 ...
        await bus.publish("t", 2)  # ... 2 fills the queue ...
        blocked = asyncio.create_task(bus.publish("t", 3))  # ... and 3 waits for room
        await asyncio.sleep(0)
        assert not blocked.done()
        await bus.close()
        with pytest.raises(ServiceNotRunningError, match="stuck"):
            await asyncio.wait_for(blocked, 5)


async def test_a_square_off_cut_short_by_a_kill_raises_and_leaves_no_unretrieved_failure(
    tmp_path, sim, caplog
):
    sim.push_tick(Tick(symbol="NSE:SBIN", instrument_token=779521, last_price=800.0))
    config = live_config(tmp_path, sim, timeout_seconds=60.0)
    svc = ExecutionService(config, clock=LiveClock(), access_token="token123")
    await svc.start()
    try:
        seen = Collector(svc)
        for n, symbol in enumerate(("NSE:INFY", "NSE:SBIN")):
            buy = OrderIntent(symbol=symbol, strategy_code="s", side="BUY", qty=1, intent_id=f"b{n}")
            await asyncio.wait_for(svc.execute_intent(buy), 5)
            await seen.until(f"b{n}", "FILLED")
        # the two closing orders are held at the broker when the service is killed
        sim.set_faults(latency_ms=[{"pattern": "/orders*", "method": "POST", "ms": 30000}])
        squaring = asyncio.create_task(svc.square_off(reason="test", by="test"))
        await asyncio.wait_for(sim.wait_until(lambda: sim.stats()["held_by_latency"] >= 2), 5)
    finally:
        await svc.kill()
    with pytest.raises(ServiceNotRunningError):
        await asyncio.wait_for(squaring, 5)
    del squaring
    gc.collect()  # an unretrieved failure is reported when its future is collected
    assert "exception was never retrieved" not in caplog.text


async def test_a_flush_waiting_on_the_writer_task_returns_when_a_kill_closes_the_journal(
    tmp_path, monkeypatch
):
    """svc.halt() journals the halt and waits for a flush; while the writer task syncs a batch in
    its worker thread, that flush waits for the writer. A kill cancelled the writer and close()
    wrote and synced everything itself, but nobody told the waiting flush: the halt never returned."""
    svc = ExecutionService(make_config(tmp_path / "journal"), clock=ReplayClock(OPEN_NS))
    await svc.start()
    gate, syncing = threading.Event(), threading.Event()
    real = os.fdatasync

    def slow_sync(fd: int) -> None:  # the disk takes its time
        syncing.set()
        gate.wait(10)
        real(fd)

    monkeypatch.setattr(os, "fdatasync", slow_sync)
    svc.journal.inline_sync_bytes = 0  # every batch is synced by the writer, in its worker thread
    halting = None
    try:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.submit(OrderIntent(symbol="NSE:INFY", strategy_code="s", side="BUY", qty=1, intent_id="w1"))
        await asyncio.wait_for(asyncio.to_thread(syncing.wait, 5), 6)
        halting = asyncio.create_task(svc.halt("by hand"))
        await asyncio.sleep(0)  # the halt is journaled and its flush waits for the writer
        await svc.kill()
        await asyncio.wait_for(halting, 5)
    finally:
        gate.set()
        if halting is not None:
            halting.cancel()
            await asyncio.gather(halting, return_exceptions=True)
    [path] = (tmp_path / "journal").glob("*.jsonl")
    assert [r.ev.reason for r in read_journal(path).records if isinstance(r.ev, TradingHalted)] == ["by hand"]


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_a_results_iterator_ends_when_the_service_stops(tmp_path, how):
    """``async for result in svc.results()`` waited on its queue for good once the service had
    stopped: the task reading it never ended."""
    svc = ExecutionService(make_config(tmp_path / "journal"), clock=ReplayClock(OPEN_NS))
    await svc.start()
    seen: list[str] = []

    async def read() -> None:
        async for result in svc.results():
            seen.append(result.intent_id)

    reader = asyncio.create_task(read())
    try:
        await asyncio.sleep(0)  # the iterator subscribes
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(
            OrderIntent(symbol="NSE:INFY", strategy_code="s", side="BUY", qty=1, intent_id="r1")
        )
        await svc.settle()
    finally:
        await (svc.stop() if how == "stop" else svc.kill())
    await asyncio.wait_for(reader, 5)
    assert seen == ["r1"]  # what came before the stop is read first
