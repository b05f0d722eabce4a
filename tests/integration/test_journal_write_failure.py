"""A journal write that fails stops the service, and leaves a file that still restarts.

The disk fills up (ENOSPC) under a running service. Whatever policy and whoever wrote, the failure
is fatal (the writer task fails the service's task group) and nothing is written after it: a
record written after a lost one breaks the hash chain, and a journal that no longer reads back
keeps the service from starting at all.
"""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock
from execsvc.errors import JournalError, ServiceError
from execsvc.events import TradingHalted
from execsvc.journal import store
from execsvc.journal.reader import read_journal
from execsvc.journal.store import JournalWriter
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick


def fail_first_write(monkeypatch: pytest.MonkeyPatch) -> None:
    """The next write of the journal fails with ENOSPC; later ones succeed (space was freed)."""
    real = store._write_all
    calls = 0

    def write_all(fd: int, data: bytes | bytearray) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        real(fd, data)

    monkeypatch.setattr(store, "_write_all", write_all)


def buy(intent_id: str) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, intent_id=intent_id)


async def test_a_failed_write_under_fsync_always_stops_the_service_and_the_journal_restarts(
    journal_dir, monkeypatch
):
    config = make_config(journal_dir, journal={"fsync": "always"})
    svc = ExecutionService(config, clock=ReplayClock(OPEN_NS))
    ready = asyncio.Event()

    async def owner() -> None:
        async with svc:
            await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
            ready.set()
            await asyncio.Event().wait()  # until the service's task group takes this task down

    runner = asyncio.create_task(owner())
    try:
        await asyncio.wait_for(ready.wait(), 5)
        fail_first_write(monkeypatch)
        with pytest.raises(ServiceError, match="No space left"):
            await asyncio.wait_for(svc.execute_intent(buy("lost")), 5)
        with pytest.raises(ServiceError):  # never traded on a journal that lost a record
            await asyncio.wait_for(svc.execute_intent(buy("after")), 5)
        with pytest.raises(BaseExceptionGroup) as failed:
            await asyncio.wait_for(runner, 5)
        assert failed.group_contains(JournalError, match="No space left")
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)

    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as again:
        assert again.engine.state.orders == {}


async def test_after_a_failed_batch_nothing_more_is_written_nor_reported_durable(
    journal_dir: Path, monkeypatch
):
    writer = JournalWriter(journal_dir, "batch")
    writer.open(DAY.isoformat())
    durable: list[int] = []

    async def on_durable(seq: int) -> None:
        durable.append(seq)

    writer.on_durable = on_durable
    fail_first_write(monkeypatch)
    writer.append(TradingHalted(reason="lost", ts_event=OPEN_NS), OPEN_NS)
    with pytest.raises(JournalError, match="No space left"):
        await writer.commit()
    with pytest.raises(JournalError, match="No space left"):
        writer.append(TradingHalted(reason="after", ts_event=OPEN_NS), OPEN_NS)
        await writer.flush()
    writer.close()
    assert durable == []  # the lost record was never reported durable
    assert read_journal(journal_dir / f"{DAY.isoformat()}.jsonl").records == []


async def test_a_stalled_disk_holds_producers_back_within_the_journals_bound(journal_dir, monkeypatch):
    """The engine handled batch after batch while the writer's fsync hung: every submitted intent
    was filled and its records piled up in memory (5000 intents, 8.6 MB, with nothing durable),
    however many a fire-and-forget producer sent. Past ``journal.max_unsynced_bytes`` the engine
    now waits for the disk, its bus queue fills, and ``submit`` waits."""
    config = make_config(journal_dir, bus={"queue_size": 16}, journal={"max_unsynced_bytes": 65536})
    gate = threading.Event()
    real = os.fdatasync

    def stalled(fd: int) -> None:
        gate.wait(30)
        real(fd)

    async def produce(svc: ExecutionService) -> None:
        for n in range(2000):
            await svc.submit(buy(f"p{n}"))

    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        monkeypatch.setattr(os, "fdatasync", stalled)
        svc.journal.inline_sync_bytes = 0  # every batch is synced by the writer, in its worker thread
        waits_for_disk = asyncio.Event()  # the engine asks the journal for room: it waits for the disk
        flush = svc.journal.flush

        async def noted_flush() -> None:
            waits_for_disk.set()
            await flush()

        monkeypatch.setattr(svc.journal, "flush", noted_flush)
        producer = asyncio.create_task(produce(svc))
        held = asyncio.create_task(waits_for_disk.wait())
        try:
            await asyncio.wait([producer, held], timeout=30, return_when=asyncio.FIRST_COMPLETED)
            assert not producer.done(), "all 2000 intents were filled with the disk stalled"
            filled_ahead, buffered = svc.engine.state.fills, len(svc.journal._buffer)
        finally:
            gate.set()
            held.cancel()
            await asyncio.gather(producer, held, return_exceptions=True)
        assert filled_ahead < 200 and buffered < 2 * 65536
        await svc.settle()
        assert svc.engine.state.fills == 2000  # nothing lost: the producer went on once the disk did
