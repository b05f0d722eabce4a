"""Intents per second and submit-to-result latency through the whole paper pipeline.

Breakers, paper fill, charges, journal (hash-chained, written by the group-commit writer) and
state, on uvloop, for ``journal.fsync`` never and batch. Printed beside two floors measured in
the same run: a bare asyncio future round trip between two tasks (the least an in-process
request/response can cost), a bare JSON-lines append (encode + write, no hashing, no fsync) and,
for ``fsync=batch``, a bare append of an intent's 1.8 KB of records and its fdatasync.

Beside the ``fsync=never`` latency it prints a peer for its tail: a round trip of plain Python
work calibrated to the same p50, measured in the same run. On a virtual machine the host takes the
CPU away at a fixed rate (on this one about every 4 ms, for some tens of microseconds); the
share of round trips such a stall hits grows with their length, and the peer's p99 shows how
much of ours that accounts for.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import statistics
import tempfile
import time
from pathlib import Path

import msgspec

from execsvc import ExecutionService, OrderIntent, ReplayClock, Tick
from execsvc.clock import ist_ns
from execsvc.config import config_from_dict
from execsvc.journal.codec import GENESIS, encode_record
from execsvc.journal.reader import read_journal

THROUGHPUT_INTENTS = 100_000
PRODUCERS = 200
LATENCY_INTENTS = 20_000
OPEN = ist_ns(dt.date(2026, 11, 20), 9, 15)


def _config(journal_dir: str, fsync: str):
    return config_from_dict(
        {
            "journal": {"dir": journal_dir, "fsync": fsync},
            "market": {"instruments_file": None},
            "execution": {
                "circuit_breakers": {
                    "max_daily_loss_rupees": 10_000_000.0,
                    "max_daily_drawdown_pct": 1.0,
                    "max_trades_per_day": None,
                    "max_trades_per_strategy_per_day": None,
                    "max_loss_streak": None,
                    "max_orders_per_second": None,
                    "max_orders_per_second_per_strategy": None,
                    "max_order_value_rupees": 10_000_000.0,
                    "max_position_per_symbol": 1_000_000,
                }
            },
        }
    )


def _intent(n: int) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="bench", side="BUY" if n % 2 else "SELL", qty=1)


async def _pipeline(fsync: str) -> tuple[float, float, float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        clock = ReplayClock(OPEN)
        async with ExecutionService(_config(tmp, fsync), clock=clock) as svc:
            await svc.on_tick(Tick(symbol="NSE:INFY", last_price=1500.0, ts_event=OPEN + 1))
            execute = svc.execute_intent

            # latency: one producer, one intent at a time
            samples = []
            for n in range(LATENCY_INTENTS):
                intent = _intent(n)
                t0 = time.perf_counter_ns()
                await execute(intent)
                samples.append(time.perf_counter_ns() - t0)
            # a cost that grows with the day's orders (a scan of them per intent) shows here
            drift = statistics.median(samples[-2000:]) / statistics.median(samples[:2000])
            samples.sort()
            p50 = samples[len(samples) // 2] / 1000
            p99 = samples[int(len(samples) * 0.99)] / 1000
            p999 = samples[int(len(samples) * 0.999)] / 1000

            # throughput: many producers
            per_producer = THROUGHPUT_INTENTS // PRODUCERS

            async def producer(k: int) -> None:
                for n in range(per_producer):
                    await execute(_intent(n + k))

            t0 = time.perf_counter()
            async with asyncio.TaskGroup() as group:
                for k in range(PRODUCERS):
                    group.create_task(producer(k))
            elapsed = time.perf_counter() - t0
            rate = per_producer * PRODUCERS / elapsed
        return rate, p50, p99, p999, drift


async def _future_round_trip(n: int = 100_000) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    queue: list = []
    wake: list = [None]

    async def server() -> None:
        while True:
            if not queue:
                wake[0] = loop.create_future()
                await wake[0]
                continue
            while queue:
                queue.pop().set_result(None)

    task = asyncio.create_task(server())
    samples = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fut = loop.create_future()
        queue.append(fut)
        if wake[0] is not None and not wake[0].done():
            wake[0].set_result(None)
        await fut
        samples.append(time.perf_counter_ns() - t0)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    samples.sort()
    return statistics.median(samples) / 1000, samples[int(n * 0.99)] / 1000


async def _same_p50_peer(p50_us: float, n: int = LATENCY_INTENTS) -> tuple[float, float]:
    """p50 and p99 of a round trip (future, callback, busy loop) calibrated to ``p50_us``."""
    loop = asyncio.get_running_loop()

    def work(count: int) -> int:
        total = 0
        for i in range(count):
            total += i
        return total

    async def round_trips(count: int, times: int) -> list[int]:
        samples = []
        for _ in range(times):
            t0 = time.perf_counter_ns()
            fut = loop.create_future()
            loop.call_soon(lambda f=fut: (work(count), f.set_result(None)))
            await fut
            samples.append(time.perf_counter_ns() - t0)
        return sorted(samples)

    count = 1000
    for _ in range(3):  # calibrate on the median: the loop's own cost is part of it
        probe = await round_trips(count, 2000)
        count = max(1, int(count * p50_us * 1000 / probe[len(probe) // 2]))
    samples = await round_trips(count, n)
    return samples[n // 2] / 1000, samples[int(n * 0.99)] / 1000


def _jsonl_append(n: int = 200_000) -> float:
    encode = msgspec.json.Encoder().encode
    record = {
        "seq": 0,
        "ts": OPEN,
        "ev": {"type": "fill", "order_id": "20261120P0000001", "qty": 1, "price": 1500.75},
    }
    with tempfile.TemporaryDirectory() as tmp:
        fd = os.open(Path(tmp) / "floor.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        t0 = time.perf_counter()
        buf = bytearray()
        for i in range(n):
            record["seq"] = i
            buf += encode(record)
            buf += b"\n"
            if len(buf) > 65536:
                os.write(fd, buf)
                buf.clear()
        os.write(fd, buf)
        elapsed = time.perf_counter() - t0
        os.close(fd)
    return n / elapsed


async def _journal_floor(n: int = 50_000) -> float:
    """Microseconds to encode and hash-chain one intent's records, no pipeline and no I/O.

    The records are the ones the pipeline journals for a filled MARKET intent (intent, accepted,
    fill, result), read back from a short run. The rate a core can sustain is at most its inverse,
    whatever else the pipeline does."""
    with tempfile.TemporaryDirectory() as tmp:
        clock = ReplayClock(OPEN)
        async with ExecutionService(_config(tmp, "never"), clock=clock) as svc:
            await svc.on_tick(Tick(symbol="NSE:INFY", last_price=1500.0, ts_event=OPEN + 1))
            intent_id = (await svc.execute_intent(_intent(0))).intent_id
        records = read_journal(Path(tmp) / f"{dt.date(2026, 11, 20)}.jsonl").records
    events = [record.ev for record in records if getattr(record.ev, "intent_id", None) == intent_id]
    assert len(events) == 4, events  # intent, order_accepted, fill, result
    prev = GENESIS
    t0 = time.perf_counter()
    for seq in range(n):
        for event in events:
            _, prev = encode_record(seq, OPEN, prev, event)
    return (time.perf_counter() - t0) / n * 1e6


def _fdatasync_floor(n: int = 3000, size: int = 1840, *, prewritten: bool = False) -> tuple[float, float]:
    """p50 and p99 of appending one intent's records (about 1.8 KB) and syncing them: the least a
    durable answer costs on this disk, which the fsync=batch latency sits on.

    With ``prewritten`` the same writes land in a region of the file written (zeros) and synced
    beforehand, so the file's size does not change and ``fdatasync`` has no metadata to commit: what
    a journal that preallocates its file would pay (execsvc's does not; its file is plain JSON lines)."""
    with tempfile.TemporaryDirectory() as tmp:
        fd = os.open(Path(tmp) / "floor.jsonl", os.O_RDWR | os.O_CREAT)
        if prewritten:
            os.write(fd, bytes(size * n))
            os.fsync(fd)
            os.lseek(fd, 0, os.SEEK_SET)
        line = b"x" * (size - 1) + b"\n"
        samples = []
        for _ in range(n):
            t0 = time.perf_counter_ns()
            os.write(fd, line)
            os.fdatasync(fd)
            samples.append(time.perf_counter_ns() - t0)
        os.close(fd)
    samples.sort()
    return samples[n // 2] / 1000, samples[int(n * 0.99)] / 1000


async def _run() -> None:
    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    print(f"== pipeline (paper: breakers, fill, charges, journal, state) on {loop_name}")
    floor_p50, floor_p99 = await _future_round_trip()
    append_rate = _jsonl_append()
    print(f"floor: bare future round trip  p50 {floor_p50:6.1f} us  p99 {floor_p99:6.1f} us")
    print(f"floor: bare JSON-lines append  {append_rate:,.0f} records/s (about 4 records per intent)")
    journal_us = await _journal_floor()
    print(
        f"floor: the journal alone       {journal_us:6.1f} us an intent (its 4 records encoded and "
        f"hash-chained, no I/O): at most {1e6 / journal_us:,.0f} intents/s on one core"
    )
    sync_p50, sync_p99 = _fdatasync_floor()
    print(f"floor: bare append + fdatasync p50 {sync_p50:6.1f} us  p99 {sync_p99:6.1f} us (1.8 KB)")
    pre_p50, pre_p99 = _fdatasync_floor(prewritten=True)
    print(f"       the same, prewritten file p50 {pre_p50:6.1f} us  p99 {pre_p99:6.1f} us (size unchanged)")
    for fsync in ("never", "batch"):
        rate, p50, p99, p999, drift = await _pipeline(fsync)
        print(
            f"fsync={fsync:<5}  {rate:>9,.0f} intents/s ({PRODUCERS} producers)   "
            f"latency p50 {p50:6.1f} us  p99 {p99:6.1f} us  p99.9 {p999:6.1f} us  "
            f"(x{p50 / floor_p50:.1f} / x{p99 / floor_p99:.1f} the floor); "
            f"the last 2,000 of {LATENCY_INTENTS:,} x{drift:.2f} the first (p50: 1.00 is flat)"
        )
        if fsync == "never":
            peer_p50, peer_p99 = await _same_p50_peer(p50)
            print(
                f"peer: plain Python round trip   latency p50 {peer_p50:6.1f} us  p99 {peer_p99:6.1f} us"
                f"  (this machine's tail at our p50; ours is x{p99 / peer_p99:.2f})"
            )


def main() -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(_run())
    else:
        uvloop.run(_run())
