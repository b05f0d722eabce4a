"""A journal write that fails stops the service, and leaves a file that still restarts.

The disk fills up (ENOSPC) under a running service. Whatever policy and whoever wrote, the failure
is fatal (the writer task fails the service's task group) and nothing is written after it: a
record written after a lost one breaks the hash chain, and a journal that no longer reads back
keeps the service from starting at all.
"""

from __future__ import annotations

import asyncio
import errno
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
