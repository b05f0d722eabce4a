"""Intents per second and intent-to-result latency from remote producers over NATS JetStream.

A real nats-server (JetStream, file storage, loopback) and a paper ``ExecutionService`` with
``bus.backend: nats`` (breakers off, ``journal.fsync: batch``, MARKET orders filled by the paper
simulator). Producers are ``RemoteExecution`` clients, each on its own NATS connection, in this
process (so they share the Python thread with the service; nats-server has the other core):

- latency: one producer, 2,000 sequential intents, p50/p99 of intent to result. A remote call is a
  JetStream publish (acked once stored), a look-up of an earlier result (``get_msg``), then the
  wait for the result, which the service publishes to the results stream after its intake fetched
  the intent, executed it and made its journal record durable;
- throughput: 8 producers, 10,000 intents in all, 8 in flight each (64 in all).

Measured in the same run, with the same shapes (sequential, then 64 in flight):

- in-process, NATS bus: the same service's ``execute_intent`` (the intent still goes through
  JetStream, the result comes back in process);
- in-process, memory bus: a second service, identical but for ``bus.backend: memory``;
- the floor: bare ``js.publish`` with a ``Nats-Msg-Id`` header into a stream configured like the
  intents stream, waiting for JetStream's ack (the least one remote intent costs before anything
  executes it).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.common import BREAKERS_OFF
from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.clock import LiveClock
from execsvc.config import config_from_dict
from execsvc.remote import RemoteExecution

ACCOUNT = "bench"
LATENCY_INTENTS = 2000
THROUGHPUT_INTENTS = 10_000
PRODUCERS = 8
IN_FLIGHT = 64
WARMUP = 200


@dataclass(frozen=True)
class Figures:
    rate: float  # intents (or publishes) per second
    p50: float  # microseconds
    p99: float

    @classmethod
    def of(cls, samples: list[int], elapsed: float) -> Figures:
        samples = sorted(samples)
        return cls(
            len(samples) / elapsed,
            statistics.median(samples) / 1000,
            samples[int(len(samples) * 0.99)] / 1000,
        )


def _config(journal_dir: Path, backend: str, url: str) -> Any:
    return config_from_dict(
        {
            "journal": {"dir": str(journal_dir), "fsync": "batch"},
            "market": {"instruments_file": None},
            "execution": {"circuit_breakers": BREAKERS_OFF},
            "bus": {
                "backend": backend,
                "nats": {
                    "servers": [url],
                    "account": ACCOUNT,
                    "instance_id": "bench",
                    "lease_ttl_seconds": 5.0,
                },
            },
        }
    )


def _prime(svc: ExecutionService) -> None:
    """A tick for the paper simulator, before intake starts (as tests/integration/test_nats.py)."""
    svc.engine.paper.on_tick(Tick(symbol="NSE:INFY", last_price=1500.0), 0)


def _intent(prefix: str, n: int) -> OrderIntent:
    return OrderIntent(
        symbol="NSE:INFY",
        strategy_code="bench",
        side="BUY" if n % 2 else "SELL",
        qty=1,
        intent_id=f"{prefix}-{n}",
    )


Call = Callable[[int], Awaitable[Any]]


async def _sequential(call: Call, count: int) -> Figures:
    samples = []
    t_start = time.perf_counter()
    for n in range(count):
        t0 = time.perf_counter_ns()
        await call(n)
        samples.append(time.perf_counter_ns() - t0)
    return Figures.of(samples, time.perf_counter() - t_start)


async def _concurrent(calls: list[Call], total: int, in_flight: int) -> Figures:
    """``total`` calls spread over ``calls`` (one per producer), ``in_flight`` at a time in all."""
    numbers = iter(range(total))  # shared: each worker takes the next number when it is free
    samples: list[int] = []

    async def worker(call: Call) -> None:
        for n in numbers:
            t0 = time.perf_counter_ns()
            await call(n)
            samples.append(time.perf_counter_ns() - t0)

    t_start = time.perf_counter()
    async with asyncio.TaskGroup() as group:
        for w in range(in_flight):
            group.create_task(worker(calls[w % len(calls)]))
    return Figures.of(samples, time.perf_counter() - t_start)


def _checked(prefix: str, execute: Callable[[OrderIntent], Awaitable[Any]]) -> Call:
    async def call(n: int) -> None:
        result = await execute(_intent(prefix, n))
        if result.status != "FILLED":
            raise RuntimeError(f"intent {prefix}-{n}: {result.status} ({result.message})")

    return call


async def _measure(
    name: str, make: Callable[[str], Call], workers: list[Call] | None = None
) -> tuple[Figures, Figures]:
    """Warm up, then the sequential latency run, then the 64-in-flight throughput run."""
    await _sequential(make(f"{name}-warm"), WARMUP)
    latency = await _sequential(make(f"{name}-seq"), LATENCY_INTENTS)
    throughput = await _concurrent(workers or [make(f"{name}-load")], THROUGHPUT_INTENTS, IN_FLIGHT)
    return latency, throughput


async def _floor(url: str) -> tuple[Figures, Figures]:
    import nats
    from nats.js.api import StorageType, StreamConfig

    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await js.add_stream(
            StreamConfig(
                name="BENCH_FLOOR",
                subjects=["bench.floor.>"],
                max_age=7 * 86_400.0,
                duplicate_window=120.0,
                storage=StorageType.FILE,
            )
        )
        payload = _encoded_intent()

        def make(prefix: str) -> Call:
            async def call(n: int) -> None:
                await js.publish("bench.floor.bench", payload, headers={"Nats-Msg-Id": f"{prefix}-{n}"})

            return call

        return await _measure("floor", make)
    finally:
        await nc.drain()


def _encoded_intent() -> bytes:
    from execsvc.journal.codec import encode_event

    return encode_event(_intent("floor", 0))


async def _run() -> None:
    from tests.nats_support import NatsServer

    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    print(
        f"== nats: paper intents over NATS JetStream (nats-server on loopback, file storage, "
        f"journal.fsync batch), on {loop_name}"
    )
    rows: dict[str, tuple[Figures, Figures]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        server = NatsServer(Path(tmp) / "nats")
        await server.start()
        try:
            rows["floor: bare js.publish + ack"] = await _floor(server.url)

            svc = ExecutionService(_config(Path(tmp) / "j-nats", "nats", server.url), clock=LiveClock())
            _prime(svc)
            async with svc:
                remotes = [RemoteExecution(server.url, ACCOUNT, timeout=30) for _ in range(PRODUCERS)]
                for remote in remotes:
                    await remote.__aenter__()
                try:
                    workers = [_checked("remote-load", r.execute_intent) for r in remotes]
                    rows[f"remote: RemoteExecution ({PRODUCERS} producers)"] = await _measure(
                        "remote", lambda p: _checked(p, remotes[0].execute_intent), workers
                    )
                finally:
                    for remote in remotes:
                        await remote.__aexit__(None, None, None)
                rows["in-process execute_intent, NATS bus"] = await _measure(
                    "local", lambda p: _checked(p, svc.execute_intent)
                )

            mem = ExecutionService(_config(Path(tmp) / "j-mem", "memory", server.url), clock=LiveClock())
            _prime(mem)
            async with mem:
                rows["in-process execute_intent, memory bus"] = await _measure(
                    "mem", lambda p: _checked(p, mem.execute_intent)
                )
        finally:
            await server.stop()

    floor_lat, floor_tput = rows["floor: bare js.publish + ack"]
    print(
        f"latency: {LATENCY_INTENTS:,} sequential; throughput: {THROUGHPUT_INTENTS:,} with "
        f"{IN_FLIGHT} in flight (p50 under load beside it)"
    )
    print(
        f"{'':<42}{'seq p50 us':>11}{'seq p99 us':>11}{'seq /s':>9}"
        f"{'tput /s':>10}{'load p50 us':>12}{'p50 / floor':>12}{'tput / floor':>13}"
    )
    for name, (lat, tput) in rows.items():
        print(
            f"{name:<42}{lat.p50:>11,.0f}{lat.p99:>11,.0f}{lat.rate:>9,.0f}"
            f"{tput.rate:>10,.0f}{tput.p50:>12,.0f}{lat.p50 / floor_lat.p50:>11.1f}x"
            f"{tput.rate / floor_tput.rate:>12.2f}x"
        )


def main() -> None:
    """Run the NATS benchmark on uvloop when available."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(_run())
    else:
        uvloop.run(_run())
