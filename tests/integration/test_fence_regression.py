"""The lease fences ``JournalWriter.append`` only: records buffered while the lease was valid are
written by ``commit`` after it expired (the writer may sit in ``on_durable`` for any length of time),
when a standby may already own the account's journal."""

from __future__ import annotations

import asyncio

import pytest

from execsvc.bus.lease import Lease
from execsvc.errors import JournalFencedError
from execsvc.events import TradingHalted
from execsvc.journal.store import JournalWriter


class _Bucket:  # a stand-in for the NATS key-value bucket (not our code)
    async def create(self, key, value):
        return 1


async def test_no_journal_write_after_the_lease_expired(tmp_path):
    now = [100.0]
    lease = Lease(_Bucket(), "executor.acct", ttl=4.0, instance_id="a", clock=lambda: now[0])
    assert await lease.try_acquire()
    journal = JournalWriter(tmp_path, "batch")
    journal.open("2026-11-20")
    journal.guard = lease.valid
    journal.append(TradingHalted(reason="r", by="t", ts_event=1), 1)  # lease valid: buffered
    size = journal.path.stat().st_size
    now[0] += lease.ttl  # no renewal: the lease is over, a standby may take the account
    assert not lease.valid()
    try:
        with pytest.raises(JournalFencedError):
            await journal.commit()
        assert journal.path.stat().st_size == size
    finally:
        journal._buffer.clear()
        journal.close()


async def test_a_fenced_inline_flush_also_stops_the_writer_task(tmp_path):
    """``flush`` commits inline when the writer is idle; a failure there must still end ``run``
    (a service that cannot journal stops), not only the task that happened to flush."""
    now = [100.0]
    lease = Lease(_Bucket(), "executor.acct", ttl=4.0, instance_id="a", clock=lambda: now[0])
    assert await lease.try_acquire()
    journal = JournalWriter(tmp_path, "never")
    journal.open("2026-11-20")
    journal.guard = lease.valid
    writer = asyncio.create_task(journal.run())
    try:
        await asyncio.sleep(0)  # the writer is parked, waiting for a record
        journal.append(TradingHalted(reason="r", by="t", ts_event=1), 1)
        now[0] += lease.ttl
        with pytest.raises(JournalFencedError):
            await journal.flush()
        with pytest.raises(JournalFencedError):
            await asyncio.wait_for(writer, 5.0)
    finally:
        writer.cancel()
        journal.close()
