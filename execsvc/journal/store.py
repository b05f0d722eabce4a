"""The append-only journal writer with group commit.

``append`` encodes and hash-chains a record into an in-memory buffer and returns its ``seq`` at
once. A background writer task (:meth:`JournalWriter.run`) writes what accumulated with one
``write`` and, under ``batch``, one ``fdatasync``: in a worker thread for a large batch, so the event
loop keeps working while the disk does (records appended meanwhile go out in the next batch), and
inline for a small one (up to ``inline_sync_bytes``), where the thread hop would cost more than it
saves. The engine appends a batch of intents with ``holding`` set (no wake-up per append) and then
commits a small batch itself (:meth:`JournalWriter.release_held`), sparing the hop to the writer
task. Any other append wakes the writer from the loop's next turn, and only if its record still
waits then: a task that appends and then commits itself (:meth:`JournalWriter.flush`) costs the
writer no turn. When a batch is durable the writer calls ``on_durable(seq)``: the service
releases results only from there. What waits for the disk is bounded (``max_unsynced_bytes``):
past it the engine waits for the journal before its next batch (:meth:`JournalWriter.wait_for_room`).

Policies: ``always`` writes and syncs inside ``append`` (durable before it returns); ``batch``
group-commits as above; ``never`` writes without syncing (survives a process crash, not a power
cut). Under every policy a record reaches the file before ``on_durable`` reports it.

Resource handling: the file is opened by :meth:`open` (which recovers a torn tail by truncating
it) and closed by :meth:`close`; ``run`` belongs to the service's task group.
Error handling: a failed write or sync is fatal (``JournalError`` out of ``run``), under every
policy and whoever wrote: a service that cannot journal must not trade. Nothing is written after a
failure (not even by ``close``): a record after a lost one would break the hash chain, and the file
would no longer restart; a record cut short at the end is a torn tail that ``open`` truncates.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from execsvc.config import FsyncPolicy
from execsvc.errors import JournalError, JournalFencedError
from execsvc.events import JournalEvent
from execsvc.journal.codec import encode_record
from execsvc.journal.reader import ReadResult, journal_path, read_journal

log = logging.getLogger("execsvc.journal")

DurableCallback = Callable[[int], Awaitable[None]]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | bytearray) -> None:
    written = os.write(fd, data)
    if written == len(data):
        return
    view = memoryview(data)[written:]
    while view:
        written = os.write(fd, view)
        view = view[written:]


class JournalWriter:
    """Appends records to one day's file; see the module docstring for the durability contract."""

    def __init__(
        self, directory: str | Path, policy: FsyncPolicy = "batch", *, max_unsynced_bytes: int = 8 << 20
    ) -> None:
        self.directory = Path(directory)
        self.policy: FsyncPolicy = policy
        self.max_unsynced_bytes = max_unsynced_bytes
        self.day = ""
        self.path: Path | None = None
        self._fd: int | None = None
        self._next_seq = 0
        self._prev = ""
        self._buffer = bytearray()
        self._buffered_seq = -1
        self._written_seq = -1
        self.durable_seq = -1
        self._notified_seq = -1
        self._wakeup: asyncio.Future[None] | None = None
        self._wake_scheduled = False
        self._flushed: list[tuple[int, asyncio.Future[None]]] = []
        self._committing = asyncio.Lock()
        self._fatal: JournalError | None = None
        self.on_durable: DurableCallback | None = None
        self.guard: Callable[[], bool] | None = None
        self.inline_sync_bytes = 4096
        self.holding = False
        self.records_written = 0
        self.bytes_written = 0
        self.syncs = 0

    @property
    def next_seq(self) -> int:
        """The ``seq`` the next record will get."""
        return self._next_seq

    def open(self, day: str) -> ReadResult:
        """Open (or create) the file of ``day`` for appending, after reading and verifying it.

        Returns:
            What the file held: the records to fold into the service's state.

        Raises:
            JournalError: the file is corrupt (not merely torn) or cannot be opened.
        """
        if self._fd is not None:
            raise JournalError(f"journal already open on {self.path}")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file where the directory should be, no permission
            raise JournalError(
                f"journal directory {self.directory}: cannot create: {exc.strerror or exc}"
            ) from exc
        path = journal_path(self.directory, day)
        existing = read_journal(path)
        try:
            created = not path.exists()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            if existing.torn_tail:
                os.ftruncate(fd, existing.good_bytes)
                os.fsync(fd)
                log.warning("%s: truncated a torn tail of %d bytes", path, len(existing.torn_tail))
            if created:
                _fsync_dir(self.directory)
        except OSError as exc:
            raise JournalError(f"{path}: cannot open journal: {exc.strerror}") from exc
        self._fd = fd
        self.day = day
        self.path = path
        self._next_seq = existing.records[-1].seq + 1 if existing.records else 0
        self._prev = existing.last_hash
        self._buffered_seq = self._written_seq = self.durable_seq = self._next_seq - 1
        self._notified_seq = self.durable_seq
        return existing

    def append(self, event: JournalEvent, ts: int) -> int:
        """Add a record; returns its ``seq``. Durable now under ``always``, else after the next batch.

        Raises:
            JournalFencedError: the guard (the account's lease) says this instance may not write.
        """
        if self._fatal is not None:
            raise self._fatal
        guard = self.guard
        if guard is not None and not guard():
            raise JournalFencedError(f"{self.path}: not written: this instance does not hold the lease")
        seq = self._next_seq
        line, digest = encode_record(seq, ts, self._prev, event)
        self._next_seq = seq + 1
        self._prev = digest
        if self.policy == "always":
            try:
                self._write(line, sync=True)
            except JournalError as exc:
                self._failed(exc)
                raise
            self._written_seq = self.durable_seq = seq
        else:
            self._buffer += line
        self._buffered_seq = seq
        if not self.holding:
            self._wake_soon()
        return seq

    def _wake_soon(self) -> None:
        # the writer task is woken from the loop's next turn, and only if the records are still
        # waiting then: appends that their own task commits before it yields (a flush after an
        # operator's event, a live order's acknowledgement and result) take no turn of the writer's,
        # which would otherwise run before the caller that waits for those records
        waiter = self._wakeup
        if waiter is not None and not waiter.done() and not self._wake_scheduled:
            self._wake_scheduled = True
            waiter.get_loop().call_soon(self._wake_if_pending)

    def _wake_if_pending(self) -> None:
        self._wake_scheduled = False
        if self.pending():
            self._wake_writer()

    def _wake_writer(self) -> None:
        waiter = self._wakeup
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _write(self, data: bytes | bytearray, *, sync: bool) -> None:
        if self._fd is None:
            raise JournalError("journal is not open")
        try:
            _write_all(self._fd, data)
            if sync:
                os.fdatasync(self._fd)
                self.syncs += 1
        except OSError as exc:
            raise JournalError(f"{self.path}: write failed: {exc.strerror}") from exc
        self.bytes_written += len(data)

    async def _sync_in_thread(self) -> None:
        fd = self._fd
        if fd is None:
            raise JournalError("journal is not open")
        try:
            await asyncio.get_running_loop().run_in_executor(None, os.fdatasync, fd)
        except OSError as exc:
            raise JournalError(f"{self.path}: fdatasync failed: {exc.strerror}") from exc
        self.syncs += 1

    async def commit(self) -> None:
        """Write (and, per policy, sync) everything appended so far, then report it durable.

        One commit at a time: the writer task's and a ``flush`` that commits inline take turns.
        """
        async with self._committing:
            if self._fatal is not None:
                raise self._fatal
            try:
                await self._commit()
            except JournalError as exc:
                self._failed(exc)
                raise

    def _failed(self, exc: JournalError) -> None:
        # whoever wrote, the writer task fails too: the service must stop, not trade on
        if self._fatal is None:
            self._fatal = exc
        self._wake_writer()

    async def _commit(self) -> None:
        last = self._buffered_seq
        if self._buffer:
            guard = self.guard
            if guard is not None and not guard():
                # the lease expired since these were appended: another instance may own the file now
                self._buffer.clear()
                raise JournalFencedError(
                    f"{self.path}: buffered records dropped: the lease is no longer ours"
                )
            data, self._buffer = self._buffer, bytearray()  # handed over whole: no copy
            inline = self._syncs_inline(len(data))
            self._write(data, sync=inline and self.policy == "batch")
            self._written_seq = last
            if not inline:
                await self._sync_in_thread()
        if last > self.durable_seq:
            self.durable_seq = last
        if self.durable_seq > self._notified_seq:
            self.records_written += self.durable_seq - self._notified_seq
            self._notified_seq = self.durable_seq
            if self.on_durable is not None:
                await self.on_durable(self.durable_seq)
        self._release_flushed()

    def _release_flushed(self) -> None:
        remaining = []
        for seq, fut in self._flushed:
            if seq <= self._notified_seq:
                if not fut.done():
                    fut.set_result(None)
            else:
                remaining.append((seq, fut))
        self._flushed = remaining

    def _syncs_inline(self, size: int) -> bool:
        """Whether ``size`` buffered bytes are written (and synced, per policy) on the loop itself.

        A small batch (a trickle of live orders) is: the worker-thread hop costs more than it saves.
        A large one (a burst) under ``batch`` is synced in the thread while the loop works on.
        """
        return self.policy != "batch" or size <= self.inline_sync_bytes

    def pending(self) -> bool:
        """Whether anything appended is not yet reported durable."""
        return self._buffered_seq > self._notified_seq or bool(self._buffer)

    async def run(self) -> None:
        """The writer loop: commit whenever something was appended. Runs until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            if self._fatal is not None:
                raise self._fatal
            if not self.pending():
                self._wakeup = loop.create_future()
                try:
                    await self._wakeup
                finally:
                    self._wakeup = None
                continue
            await self.commit()

    async def flush(self) -> None:
        """Wait until everything appended before the call is durable (under the policy).

        When no commit is under way the caller commits itself, rather than waking the writer task
        and waiting for its turn on the loop (a live order's write-ahead is on its critical path).
        """
        target = self._buffered_seq
        if target <= self._notified_seq:
            return
        if not self._committing.locked():
            await self.commit()
            if target <= self._notified_seq:
                return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._flushed.append((target, fut))
        self._wake_writer()
        await fut

    def stop_holding(self) -> None:
        """End a stretch of held appends without committing here: the writer task is woken for them."""
        self.holding = False
        if self.pending():
            self._wake_writer()

    async def release_held(self) -> None:
        """End a stretch of appends made with ``holding`` set: commit them here or wake the writer.

        An engine that appends a whole batch of intents sets ``holding`` so that each append does not
        wake the writer task, then calls this. When the batch is small enough to sync inline (or
        there is nothing to sync) and no commit is under way, the caller commits it itself: the hop
        to the writer task and back would cost more than the write. Otherwise the writer takes it,
        and its sync overlaps the caller's next batch.
        """
        self.holding = False
        if not self.pending():
            return
        if self._syncs_inline(len(self._buffer)) and not self._committing.locked() and self._fatal is None:
            await self.commit()
        else:
            self._wake_writer()

    async def wait_for_room(self) -> None:
        """Wait, when more than ``max_unsynced_bytes`` wait for the disk, until they are durable.

        The engine calls this after each batch: a slow disk then holds producers back (through the
        bounded bus queues) instead of the buffer growing with the load.
        """
        if len(self._buffer) > self.max_unsynced_bytes:
            await self.flush()

    def sync_now(self) -> None:
        """Write and fsync everything buffered, synchronously (shutdown and day rollover)."""
        if self._buffer:
            data = bytes(self._buffer)
            self._buffer.clear()
            self._write(data, sync=False)
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                raise JournalError(f"{self.path}: fsync failed: {exc.strerror}") from exc
        self._written_seq = self._buffered_seq

    @property
    def is_open(self) -> bool:
        """Whether the day's file is open (between ``open`` and ``close``)."""
        return self._fd is not None

    def close(self) -> None:
        """Write and fsync what is buffered and close the file (after a failed write: only close it).

        A ``flush`` still waiting (for a writer task that a kill cancelled) returns once the records
        are synced here, or raises the error that kept them from it: nobody else would wake it.
        """
        if self._fd is None:
            return
        error: JournalError | None = self._fatal
        try:
            if error is None:
                self.sync_now()
        except JournalError as exc:
            error = exc
            raise
        finally:
            os.close(self._fd)
            self._fd = None
            flushed, self._flushed = self._flushed, []
            for _, fut in flushed:
                if fut.done():
                    continue
                if error is None:
                    fut.set_result(None)
                else:
                    fut.set_exception(error)
