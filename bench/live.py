"""Intent to broker acknowledgement through the live path, against the Kite simulator on loopback.

2,000 sequential ``execute_intent`` calls of a LIMIT BUY a third below the market (so every order
rests and the answer is the PLACED acknowledgement), through a live ``ExecutionService`` pointed at
one ``KiteSimulator`` (rate limits raised on both sides so neither throttles; breakers off; the
order-book polling fallback pushed out of the window: it is a background pass, not on the path).
Our path is: validation, breakers, the write-ahead journal record (``OrderAccepted``), *waiting
until it is durable* (with ``journal.fsync: batch`` that is an fsync per order when they come one
at a time), the rate limiter, the POST on the client's pooled session, the acknowledgement
journaled, and the PLACED result, durable too before the caller hears it (a second fsync under
``batch``). Our figures are printed with ``journal.fsync`` batch and never: the difference is the
two fsyncs' share. The service runs as a library here with its Kite WebSocket off
(``kite.websocket: false``; a live service opens one by default): the order update it would apply
for each order is not in these figures, which stay those of the path to the acknowledgement.

Every case runs twice: first against a simulator in a process of its own (as a broker is: its
work for each order, and for each WebSocket update it sends, is not on our clock), then against one
on the same event loop (its work counts on both sides, which flatters every ratio to the bare POST).

Measured in the same run, against the same simulator (its book reset between cases):

- the floor: a bare aiohttp POST of the same form (``mapping.order_params``, body encoded
  beforehand) with the same headers on one pooled ``ClientSession``, the answer read and decoded;
- the official sync client, ``KiteConnect.place_order`` with the same fields, called in a worker
  thread (``asyncio.to_thread``) so the simulator keeps running (the thread hop is part of it).

The target: our overhead adds at most 15 % to the bare round trip (p50).

Under each of our cases a line says where the time of a call goes, stage by stage (the p50 of each,
so they need not add up to the p50 of the whole), from the times the journal stamps on an intent's
records (``ts_init``, then the intent, ``OrderAccepted``, ``OrderAcknowledged`` and the PLACED
result as each is emitted) and the wall clock read just outside each timed call.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import statistics
import tempfile
import time
from dataclasses import dataclass, replace
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import aiohttp
import msgspec

from bench.common import BREAKERS_OFF
from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.clock import LiveClock
from execsvc.config import config_from_dict
from execsvc.executors.kite.client import USER_AGENT
from execsvc.executors.kite.mapping import order_params, tag_for
from execsvc.journal.reader import read_journal
from execsvc.sim import KiteSimulator
from execsvc.sim.config import RateLimits

try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is installed wherever it builds
    uvloop = None  # type: ignore[assignment]

N = 2000
WARMUP = 100
API_KEY = "benchkey"
ACCESS_TOKEN = "bench-token-123"
SYMBOL, TOKEN, LAST_PRICE = "NSE:INFY", 408065, 1500.0
LIMIT_PRICE = 1000.0  # a third below the market: the order rests, the answer is PLACED
HIGH = 100_000
INSTRUMENTS = Path(__file__).resolve().parents[1] / "data" / "sample" / "instruments.csv"
TARGET_OVERHEAD_PCT = 15.0


@dataclass(frozen=True)
class Figures:
    p50: float  # microseconds
    p99: float
    rate: float  # calls per second, sequential
    stages: tuple[tuple[str, float], ...] = ()  # (stage, p50 in microseconds), ours only

    @classmethod
    def of(cls, samples: list[int], elapsed: float) -> Figures:
        samples = sorted(samples)
        return cls(
            statistics.median(samples) / 1000,
            samples[int(len(samples) * 0.99)] / 1000,
            len(samples) / elapsed,
        )


# (label, the mark it starts from, the mark it ends at); marks are wall-clock nanoseconds
STAGES = (
    ("call->ts_init", "call", "ts_init"),
    ("intake+validation", "ts_init", "OrderIntent"),
    ("breakers+accepted", "OrderIntent", "OrderAccepted"),
    ("write-ahead+POST", "OrderAccepted", "OrderAcknowledged"),
    ("ack->result", "OrderAcknowledged", "ExecutionResult"),
    ("result->caller", "ExecutionResult", "return"),
)


def _stages(journal_dir: str, calls: dict[str, tuple[int, int]]) -> tuple[tuple[str, float], ...]:
    """The p50 of each of ``STAGES`` over the timed ``calls`` (intent id -> wall clock before, after)."""
    marks: dict[str, dict[str, int]] = {}
    for path in Path(journal_dir).glob("*.jsonl"):
        for record in read_journal(path).records:
            event = record.ev
            intent_id = getattr(event, "intent_id", None)
            if intent_id not in calls:
                continue
            mine = marks.setdefault(intent_id, {})
            mine.setdefault(type(event).__name__, record.ts)  # the first of each: the placement's
            if isinstance(event, OrderIntent):
                mine["ts_init"] = event.ts_init
    for intent_id, (before, after) in calls.items():
        marks.setdefault(intent_id, {}).update(call=before, **{"return": after})
    return tuple(
        (label, statistics.median(m[end] - m[start] for m in marks.values()) / 1000)
        for label, start, end in STAGES
    )


def _intent(prefix: str, n: int) -> OrderIntent:
    return OrderIntent(
        symbol=SYMBOL,
        strategy_code="bench",
        side="BUY",
        qty=1,
        order_type="LIMIT",
        price=LIMIT_PRICE,
        intent_id=f"{prefix}-{n}",
    )


def _form(intent: OrderIntent) -> tuple[str, dict[str, str]]:
    return order_params(intent, tag_for(intent.intent_id), market_protection=-1)


def _config(journal_dir: str, sim: Venue, fsync: str) -> Any:
    return config_from_dict(
        {
            "mode": "live",
            "journal": {"dir": journal_dir, "fsync": fsync},
            "market": {"instruments_file": str(INSTRUMENTS)},
            "execution": {"circuit_breakers": BREAKERS_OFF},
            "kite": {
                "api_key": API_KEY,
                "root": sim.url,
                "ws_root": sim.ws_url,
                "poll_interval_seconds": 3600.0,
                "websocket": False,
                "rate_limits": {
                    "orders_per_second": HIGH,
                    "orders_per_minute": HIGH,
                    "orders_per_day": HIGH,
                    "quote_per_second": HIGH,
                    "other_per_second": HIGH,
                },
            },
        }
    )


_LIMITS = RateLimits(
    orders_per_second=HIGH,
    orders_per_minute=HIGH,
    orders_per_day=HIGH,
    quote_per_second=HIGH,
    other_per_second=HIGH,
)


class Venue(Protocol):
    """Where the orders go: the simulator in this process, or in a process of its own."""

    url: str
    ws_url: str

    async def fresh(self) -> None:
        """An empty book and fresh rate windows for the next case (the market stays)."""
        ...


class InProcessVenue:
    """The simulator on this event loop: its work for each order is on our clock too."""

    def __init__(self, sim: KiteSimulator) -> None:
        self.sim, self.url, self.ws_url = sim, sim.url, sim.ws_url

    async def fresh(self) -> None:
        self.sim.reset()
        self.sim.push_tick(Tick(symbol=SYMBOL, instrument_token=TOKEN, last_price=LAST_PRICE))


def _serve_simulator(conn: Connection) -> None:
    """The child process: a simulator on an ephemeral port until its parent closes the pipe."""

    async def serve() -> None:
        async with KiteSimulator(heartbeat_seconds=1.0, rate_limits=_LIMITS) as sim:
            conn.send((sim.url, sim.ws_url))
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, conn.recv_bytes)  # EOF when the parent is done

    with contextlib.suppress(EOFError):
        uvloop.run(serve()) if uvloop is not None else asyncio.run(serve())


class SubprocessVenue:
    """The simulator in a process of its own, as a broker is: its work is not on our clock."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_simulator, args=(child,), daemon=True)
        self._process.start()
        child.close()
        if not self._conn.poll(60):
            raise RuntimeError("the simulator process did not start")
        self.url, self.ws_url = self._conn.recv()
        self._admin: aiohttp.ClientSession | None = None

    async def fresh(self) -> None:
        if self._admin is None:
            self._admin = aiohttp.ClientSession()
        tick = {"symbol": SYMBOL, "instrument_token": TOKEN, "last_price": LAST_PRICE}
        for path, body in (("/_admin/reset", {}), ("/_admin/tick", tick)):
            async with self._admin.post(self.url + path, json=body) as resp:
                resp.raise_for_status()

    async def close(self) -> None:
        if self._admin is not None:
            await self._admin.close()
        self._conn.close()
        await asyncio.to_thread(self._process.join, 30)


async def _ours(sim: Venue, fsync: str) -> Figures:
    await sim.fresh()
    with tempfile.TemporaryDirectory() as tmp:
        svc = ExecutionService(_config(tmp, sim, fsync), clock=LiveClock(), access_token=ACCESS_TOKEN)
        async with svc:
            execute = svc.execute_intent
            for n in range(WARMUP):
                await execute(_intent(f"warm-{fsync}", n))
            intents = [_intent(f"ours-{fsync}", n) for n in range(N)]
            samples = []
            calls: dict[str, tuple[int, int]] = {}
            wall = time.time_ns  # the journal's clock, read outside the timed interval
            t_start = time.perf_counter()
            for intent in intents:
                before = wall()
                t0 = time.perf_counter_ns()
                result = await execute(intent)
                samples.append(time.perf_counter_ns() - t0)
                calls[result.intent_id] = (before, wall())
                if result.status != "PLACED":
                    raise RuntimeError(f"expected PLACED, got {result.status}: {result.message}")
            elapsed = time.perf_counter() - t_start
        stages = _stages(tmp, calls)
    return replace(Figures.of(samples, elapsed), stages=stages)


async def _bare(sim: Venue) -> Figures:
    await sim.fresh()
    headers = {
        "X-Kite-Version": "3",
        "User-Agent": USER_AGENT,
        "Authorization": f"token {API_KEY}:{ACCESS_TOKEN}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
    decode = msgspec.json.Decoder().decode

    def requests(prefix: str, count: int) -> list[tuple[str, bytes]]:
        out = []
        for n in range(count):
            variety, form = _form(_intent(prefix, n))
            out.append((f"{sim.url}/orders/{variety}", urlencode(form).encode("ascii")))
        return out

    connector = aiohttp.TCPConnector(limit=32, keepalive_timeout=60.0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def post(url: str, body: bytes) -> None:
            async with session.post(url, data=body, headers=headers) as resp:
                answer = decode(await resp.read())
            if resp.status != 200 or not answer["data"]["order_id"]:
                raise RuntimeError(f"bare POST: HTTP {resp.status}: {answer}")

        for url, body in requests("warm-bare", WARMUP):
            await post(url, body)
        samples = []
        todo = requests("bare", N)
        t_start = time.perf_counter()
        for url, body in todo:
            t0 = time.perf_counter_ns()
            await post(url, body)
            samples.append(time.perf_counter_ns() - t0)
        elapsed = time.perf_counter() - t_start
    return Figures.of(samples, elapsed)


async def _kiteconnect(sim: Venue) -> Figures:
    from kiteconnect import KiteConnect

    await sim.fresh()
    kite = KiteConnect(API_KEY, access_token=ACCESS_TOKEN, root=sim.url)
    place = kite.place_order
    to_thread = asyncio.to_thread
    for n in range(WARMUP):
        await to_thread(place, **_form(_intent("warm-kc", n))[1])
    forms = [_form(_intent("kc", n))[1] for n in range(N)]
    samples = []
    t_start = time.perf_counter()
    for form in forms:
        t0 = time.perf_counter_ns()
        order_id = await to_thread(place, **form)
        samples.append(time.perf_counter_ns() - t0)
        if not order_id:
            raise RuntimeError("KiteConnect.place_order returned no order id")
    elapsed = time.perf_counter() - t_start
    kite.reqsession.close()
    return Figures.of(samples, elapsed)


def _line(label: str, f: Figures, floor: Figures | None = None) -> str:
    text = f"{label:<38} p50 {f.p50:7.1f} us  p99 {f.p99:7.1f} us  {f.rate:>7,.0f} /s"
    if floor is not None:
        text += f"   (x{f.p50 / floor.p50:.2f} / x{f.p99 / floor.p99:.2f} the bare POST)"
    return text


async def _cases(venue: Venue) -> tuple[Figures, Figures, dict[str, Figures]]:
    bare = await _bare(venue)
    kc = await _kiteconnect(venue)
    ours = {fsync: await _ours(venue, fsync) for fsync in ("batch", "never")}
    return bare, kc, ours


def _report(title: str, bare: Figures, kc: Figures, ours: dict[str, Figures]) -> None:
    print(f"-- {title}")
    print(_line("floor: bare aiohttp POST", bare))
    print(_line("KiteConnect.place_order (thread)", kc, bare))
    for fsync, f in ours.items():
        print(_line(f"execute_intent, journal.fsync: {fsync}", f, bare))
    for fsync, f in ours.items():
        over50 = (f.p50 / bare.p50 - 1) * 100
        over99 = (f.p99 / bare.p99 - 1) * 100
        verdict = "within" if over50 <= TARGET_OVERHEAD_PCT else "over"
        print(
            f"overhead, fsync {fsync:<5}: {f.p50 - bare.p50:+7.1f} us = {over50:+5.1f} % at p50 "
            f"({verdict} the {TARGET_OVERHEAD_PCT:.0f} % target), {over99:+5.1f} % at p99; "
            f"x{f.p50 / kc.p50:.2f} KiteConnect at p50"
        )
        print(f"  where it goes, p50 per stage (us): {'  '.join(f'{k} {v:.1f}' for k, v in f.stages)}")
    batch, never = ours["batch"], ours["never"]
    added = batch.p50 - bare.p50
    fsync_cost = batch.p50 - never.p50
    share = fsync_cost / added * 100 if added > 0 else float("nan")
    print(
        f"fsyncs (write-ahead, and the result's): {fsync_cost:+.1f} us at p50, {share:.0f} % of our "
        f"overhead over the bare POST (fsync batch vs never)"
    )
    print()


async def _run() -> None:
    loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
    print(
        f"== live: intent -> PLACED ack, {N:,} sequential LIMIT orders (resting) against the Kite "
        f"simulator on loopback, on {loop_name}"
    )
    venue = SubprocessVenue()
    try:
        _report("simulator in its own process (as a broker is)", *await _cases(venue))
    finally:
        await venue.close()
    async with KiteSimulator(heartbeat_seconds=1.0, rate_limits=_LIMITS) as sim:
        _report(
            "simulator on the same event loop (its work counts on both sides)",
            *await _cases(InProcessVenue(sim)),
        )


def main() -> None:
    """Run the live-path benchmark on uvloop when available."""
    if uvloop is None:
        asyncio.run(_run())
    else:
        uvloop.run(_run())
