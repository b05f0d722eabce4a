"""When the journal's writer task takes a turn: only for records nobody else commits.

A live order's acknowledgement and result, or an operator's halt, are appended and then committed
by the task that appended them (``flush`` commits inline when the writer is idle). Woken for them,
the writer would take a turn of the loop before that task's caller hears its answer, only to find
nothing left to write.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from execsvc.events import TradingHalted
from execsvc.journal.reader import read_journal
from execsvc.journal.store import JournalWriter


def _event(n: int) -> TradingHalted:
    return TradingHalted(reason=f"r{n}", by="test", ts_event=n)


async def _parked(journal: JournalWriter) -> asyncio.Task[None]:
    writer = asyncio.create_task(journal.run())
    for _ in range(3):
        await asyncio.sleep(0)
        if journal._wakeup is not None:
            return writer
    raise AssertionError("the writer task did not park")


async def _stop(writer: asyncio.Task[None], journal: JournalWriter) -> None:
    writer.cancel()
    await asyncio.gather(writer, return_exceptions=True)
    journal.close()


@pytest.mark.parametrize("policy", ["never", "batch"])
async def test_records_their_own_task_commits_give_the_writer_no_turn(tmp_path: Path, policy: str) -> None:
    journal = JournalWriter(tmp_path, policy)
    journal.open("2026-11-20")
    writer = await _parked(journal)
    try:
        parked = journal._wakeup
        journal.append(_event(1), 1)
        journal.append(_event(2), 2)
        await journal.flush()  # the writer is idle: committed here
        for _ in range(3):
            await asyncio.sleep(0)
        assert journal._wakeup is parked and not parked.done(), "the writer was woken for nothing"
        assert journal.durable_seq == 1
    finally:
        await _stop(writer, journal)
    assert [r.seq for r in read_journal(journal.path).records] == [0, 1]


@pytest.mark.parametrize("policy", ["never", "batch", "always"])
async def test_records_nobody_commits_are_committed_by_the_writer(tmp_path: Path, policy: str) -> None:
    journal = JournalWriter(tmp_path, policy)
    journal.open("2026-11-20")
    durable: asyncio.Queue[int] = asyncio.Queue()

    async def on_durable(seq: int) -> None:
        durable.put_nowait(seq)

    journal.on_durable = on_durable
    writer = await _parked(journal)
    try:
        journal.append(_event(1), 1)  # a fill from a tick, say: no task of its own commits it
        assert await asyncio.wait_for(durable.get(), 5.0) == 0
        journal.append(_event(2), 2)
        journal.append(_event(3), 3)
        assert await asyncio.wait_for(durable.get(), 5.0) == 2
    finally:
        await _stop(writer, journal)
    assert [r.seq for r in read_journal(journal.path).records] == [0, 1, 2]
