"""``python -m scripts.soak``: a kill -9 campaign against the invariants (``make soak``).

Each round starts a service in a child process, has four producers stream intents at it, kills it
with SIGKILL at a random point, and then checks what the crash left:

- every journal file verifies (a torn last line is allowed, nothing else);
- every intent the child saw answered is in the journal, and is answered the same way (status,
  filled quantity, average price) after a restart; every intent the journal holds (answered or not)
  gets an answer at once: nothing waits for ever;
- no intent was executed twice (one ``order_accepted`` per intent at most; live: one placement per
  tag at the broker); every fill belongs to an accepted order, is booked once, never takes an order
  past its quantity and (paper) never crosses its limit;
- positions after the restart are the sum of the journaled fills (live: and the broker's);
- a second restart journals nothing more (live: only its reconciliation report).

Paper rounds cycle through ``journal.fsync`` always, batch and never, with MARKET, resting LIMIT and
IOC intents, cancels and modifications of working orders, and a moving market. Live rounds run
against the Kite simulator (in this process) with a random fault per round: latency, a response
dropped after the order was accepted, a 5xx before or after placement, a 429, RMS rejections,
partial fills, WebSocket disconnects. Rounds continue on the same journal, so restarts pile up as
they would in a long day. The seed makes the plan repeatable; where a kill lands inside the child
is not.

Exit status 0 when every round held; the first broken invariant stops the campaign with status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from execsvc import ExecutionResult, ExecutionService, OrderIntent, Tick
from execsvc.clock import LiveClock
from execsvc.config import LOSS_COUNT_AND_RATE_BREAKERS, Config, config_from_dict
from execsvc.events import Fill, OrderAccepted, OrderModified, PositionsCarried, Reconciled
from execsvc.journal.inspect import verify_file
from execsvc.journal.reader import read_journal

REPO = Path(__file__).resolve().parents[1]
INSTRUMENTS = REPO / "data" / "sample" / "instruments.csv"
SYMBOL, TOKEN = "NSE:INFY", 408065
PRODUCERS = 4
POLICIES = ("always", "batch", "never")
FAULTS: tuple[dict[str, Any], ...] = (
    {"latency_ms": [{"pattern": "/orders*", "method": "POST", "ms": 40}]},
    {"drop_after_accept": {"count": 3}},
    {"http_5xx": [{"pattern": "/orders*", "method": "POST", "count": 2, "status": 503, "placed": True}]},
    {"http_5xx": [{"pattern": "/orders*", "method": "POST", "count": 2, "status": 502}]},
    {"http_429": {"count": 2}},
    {"reject_next": {"count": 3}},
    {"partial_fill": {"count": 3, "fraction": 0.5}},
    {"ws_disconnect": {"every_seconds": 0.3}},
)
ANSWER_TIMEOUT = 10.0


class Broken(Exception):
    """An invariant did not hold."""


def config(journal_dir: Path, policy: str, kite_root: str | None = None) -> Config:
    """The campaign's config: breakers off, the sample instruments, live when given a Kite root."""
    data: dict[str, Any] = {
        "journal": {"dir": str(journal_dir), "fsync": policy},
        "market": {"instruments_file": str(INSTRUMENTS)},
        "execution": {"circuit_breakers": dict.fromkeys(LOSS_COUNT_AND_RATE_BREAKERS)},
    }
    if kite_root is not None:
        data["mode"] = "live"
        data["kite"] = {
            "api_key": "soak",
            "root": kite_root,
            "ws_root": kite_root.replace("http", "ws", 1),
            "timeout_seconds": 0.5,
            "unknown_check_delays": [0.02, 0.05, 0.1],
            "unknown_give_up_seconds": 1.0,
            "poll_interval_seconds": 0.1,
        }
    return config_from_dict(data)


def intent_for(round_no: int, producer: int, n: int, rng: random.Random, price: float) -> OrderIntent:
    """One intent of the plan: mostly MARKET, some LIMIT resting off the market, some IOC."""
    side = "BUY" if rng.random() < 0.5 else "SELL"
    kind = rng.random()
    terms: dict[str, Any] = {}
    if kind < 0.2:
        offset = rng.choice((-0.5, 0.5)) * rng.randint(1, 6)
        terms = {"order_type": "LIMIT", "price": round(price + (offset if side == "BUY" else -offset), 1)}
    elif kind < 0.3:
        away = price * 0.9 if side == "BUY" else price * 1.1  # not marketable: cancelled at once
        terms = {"order_type": "LIMIT", "validity": "IOC", "price": round(away, 1)}
    return OrderIntent(
        symbol=SYMBOL, strategy_code=f"soak{producer}", side=side, qty=rng.randint(1, 5),
        intent_id=f"r{round_no}-p{producer}-{n}", **terms,
    )  # fmt: skip


# -- the child: a service under load until it is killed --------------------------------------------


async def child(journal_dir: Path, policy: str, round_no: int, seed: int, kite_root: str | None) -> None:
    """Serve four producers until killed; print ``intent_id status`` for every answer."""
    access = {"access_token": "soak-token"} if kite_root else {}
    async with ExecutionService(config(journal_dir, policy, kite_root), clock=LiveClock(), **access) as svc:
        price = 1500.0
        await svc.on_tick(Tick(symbol=SYMBOL, instrument_token=TOKEN, last_price=price))

        async def producer(k: int) -> None:
            nonlocal price
            rng = random.Random(f"{seed}-{round_no}-{k}")
            resting: list[str] = []
            for n in range(1, 1_000_000):
                if kite_root is None and n % 5 == 0:  # paper: the market moves, resting orders fill
                    price = round(
                        max(1400.0, min(1600.0, price + rng.choice((-0.5, 0.5)) * rng.randint(0, 4))), 1
                    )
                    await svc.on_tick(Tick(symbol=SYMBOL, instrument_token=TOKEN, last_price=price))
                if resting and rng.random() < 0.15:  # change or cancel one of our working orders
                    order_id = resting.pop(rng.randrange(len(resting)))
                    if rng.random() < 0.5:
                        await svc.cancel_order(order_id, reason="soak")
                    else:
                        order_type = rng.choice(("LIMIT", "MARKET"))
                        change = {"price": price} if order_type == "LIMIT" else {}
                        await svc.modify_order(order_id, order_type=order_type, **change)
                result = await svc.execute_intent(intent_for(round_no, k, n, rng, price))
                if result.status in ("PLACED", "PARTIAL") and result.order_id:
                    resting.append(result.order_id)
                print(result.intent_id, result.status, result.filled_qty, result.avg_price or 0.0, flush=True)

        await asyncio.gather(*(producer(k) for k in range(PRODUCERS)))


# -- the parent: kill, restart, check --------------------------------------------------------------


async def _spawn(journal_dir: Path, policy: str, round_no: int, seed: int, kite_root: str | None) -> Any:
    args = [str(journal_dir), policy, str(round_no), str(seed), kite_root or "-"]
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "scripts.soak", "--child", *args,
        stdout=asyncio.subprocess.PIPE, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip


Answer = tuple[str, int, float]
"""What the child was told: status, filled quantity, average price."""


async def _run_and_kill(proc: Any, kill_after: int) -> dict[str, Answer]:
    answered: dict[str, Answer] = {}
    assert proc.stdout is not None
    try:
        while len(answered) < kill_after:
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            if not line:
                raise Broken(f"the child died on its own after {len(answered)} answers")
            intent_id, status, filled, avg = line.decode().split()
            answered[intent_id] = (status, int(filled), float(avg))
    finally:
        proc.send_signal(signal.SIGKILL)  # at once, wherever it is: that is the test
        await proc.wait()
    return answered


def _journal(journal_dir: Path) -> tuple[list[Path], list[Any]]:
    files = sorted(journal_dir.glob("*.jsonl"))
    for path in files:
        verify_file(path)  # raises on anything but a torn last line
    return files, [r.ev for path in files for r in read_journal(path).records]


def _check_once(events: list[Any]) -> None:
    accepted = Counter(e.intent_id for e in events if type(e) is OrderAccepted)
    twice = [i for i, n in accepted.items() if n > 1]
    if twice:
        raise Broken(f"executed more than once: {twice[:5]}")


def _check_fills(events: list[Any], *, prices: bool) -> None:
    """Every fill belongs to an order, is booked once, and keeps within the order's terms then.

    ``prices``: check fill prices against the limit journaled before the fill. Only for paper: a
    paper fill is journaled when it happens, a live one when the broker's trade is learned, which
    can be after a modification journaled since (the trade was made under the earlier terms).
    """
    terms: dict[str, Any] = {}
    filled: Counter[str] = Counter()
    fill_ids: set[str] = set()
    for e in events:
        if type(e) is OrderAccepted or type(e) is OrderModified:
            terms[e.order_id] = e
        elif type(e) is Fill:
            order = terms.get(e.order_id)
            if order is None:
                raise Broken(f"fill {e.fill_id} of an order the journal never accepted")
            if e.fill_id in fill_ids:
                raise Broken(f"fill {e.fill_id} booked twice")
            fill_ids.add(e.fill_id)
            filled[e.order_id] += e.qty
            if filled[e.order_id] > order.qty:
                raise Broken(f"order {e.order_id} filled {filled[e.order_id]} of {order.qty}")
            if prices and order.order_type in ("LIMIT", "SL") and order.price is not None:
                worse = e.price > order.price if e.side == "BUY" else e.price < order.price
                if worse:
                    raise Broken(f"fill {e.fill_id} at {e.price} crosses its limit {order.price}")


def _fold_net(events: list[Any]) -> dict[tuple[str, str, str], int]:
    net: Counter[tuple[str, str, str]] = Counter()
    for e in events:
        if type(e) is PositionsCarried:
            net.clear()
            for pos in e.positions:
                net[(pos.strategy_code, pos.symbol, pos.product)] += pos.net_qty
        elif type(e) is Fill:
            net[(e.strategy_code, e.symbol, e.product)] += e.qty if e.side == "BUY" else -e.qty
    return {k: v for k, v in net.items() if v}


async def _restart_and_check(
    journal_dir: Path, policy: str, answered: dict[str, Answer], kite_root: str | None
) -> dict[str, int]:
    _, events = _journal(journal_dir)
    _check_once(events)
    _check_fills(events, prices=kite_root is None)
    journaled = [e.intent_id for e in events if type(e) is OrderIntent]
    lost = sorted(set(answered) - set(journaled))
    if lost:
        raise Broken(f"acknowledged but not in the journal: {lost[:5]}")
    access = {"access_token": "soak-token"} if kite_root else {}
    again: dict[str, ExecutionResult] = {}
    async with ExecutionService(config(journal_dir, policy, kite_root), clock=LiveClock(), **access) as svc:
        await svc.on_tick(Tick(symbol=SYMBOL, instrument_token=TOKEN, last_price=1500.0))
        for intent_id in journaled:
            probe = OrderIntent(symbol=SYMBOL, strategy_code="probe", side="BUY", qty=1, intent_id=intent_id)
            try:
                again[intent_id] = await asyncio.wait_for(svc.execute_intent(probe), ANSWER_TIMEOUT)
            except TimeoutError as exc:
                raise Broken(f"intent {intent_id} journaled before the kill is never answered") from exc
        await svc.settle()
        positions = {(p.strategy_code, p.symbol, p.product): p.net_qty for p in svc.positions() if p.net_qty}
        mismatch = svc.reconciliation.position_mismatches if svc.reconciliation else []
    changed = {
        i: (a, (r.status, r.filled_qty, r.avg_price or 0.0))
        for i, a in answered.items()
        if (r := again[i]) and (r.status, r.filled_qty, r.avg_price or 0.0) != a
    }
    if changed:
        raise Broken(f"answers changed across the restart: {dict(list(changed.items())[:5])}")
    _, events = _journal(journal_dir)
    _check_once(events)
    _check_fills(events, prices=kite_root is None)
    if positions != _fold_net(events):
        raise Broken(f"positions {positions} are not the fold of the fills {_fold_net(events)}")
    if mismatch:
        raise Broken(f"position mismatch with the broker after reconciliation: {mismatch}")
    async with ExecutionService(config(journal_dir, policy, kite_root), clock=LiveClock(), **access):
        pass
    _, after = _journal(journal_dir)
    # live journals a reconciliation report at every start; anything else was settled twice
    extra = [type(e).__name__ for e in after[len(events) :] if not isinstance(e, Reconciled)]
    if extra:
        raise Broken(f"a second restart journaled more: {extra[:5]}")
    settled = sum(
        1 for e in events if type(e).__name__ == "ExecutionResult" and e.reject_reason == "interrupted"
    )
    return {"journaled": len(journaled), "settled": settled}


async def campaign(rounds: int, live_rounds: int, seed: int, journal_dir: Path) -> None:
    """Run the rounds; raise :class:`Broken` at the first invariant that does not hold."""
    rng = random.Random(seed)
    started = time.monotonic()
    for round_no in range(1, rounds + 1):
        policy = POLICIES[(round_no - 1) % len(POLICIES)]
        kill_after = rng.randint(1, 400)
        proc = await _spawn(journal_dir / "paper", policy, round_no, seed, None)
        answered = await _run_and_kill(proc, kill_after)
        figures = await _restart_and_check(journal_dir / "paper", policy, answered, None)
        print(
            f"paper round {round_no:3d} fsync={policy:<6} killed after {len(answered):3d} answers: "
            f"{figures['journaled']} intents journaled, all answered; "
            f"{figures['settled']} interrupted intents settled so far",
            flush=True,
        )
    if live_rounds:
        from execsvc.sim import KiteSimulator

        async with KiteSimulator(heartbeat_seconds=0.2) as sim:
            sim.push_tick(Tick(symbol=SYMBOL, instrument_token=TOKEN, last_price=1500.0))
            for round_no in range(rounds + 1, rounds + live_rounds + 1):
                faults = rng.choice(FAULTS)
                sim.set_faults(faults)
                kill_after = rng.randint(1, 60)
                proc = await _spawn(journal_dir / "live", "batch", round_no, seed, sim.url)
                answered = await _run_and_kill(proc, kill_after)
                sim.set_faults(None)
                figures = await _restart_and_check(journal_dir / "live", "batch", answered, sim.url)
                per_tag = sim.stats()["placements_per_tag"]
                twice = {tag: n for tag, n in per_tag.items() if n > 1}
                if twice:
                    raise Broken(f"the broker got an order more than once: {twice}")
                print(
                    f"live  round {round_no:3d} {next(iter(faults)):<17} killed after "
                    f"{len(answered):3d} answers: {figures['journaled']} intents journaled, all "
                    f"answered; {sum(per_tag.values())} placements, none twice",
                    flush=True,
                )
    print(f"soak: {rounds} paper and {live_rounds} live rounds held every invariant "
          f"in {time.monotonic() - started:.0f} s (seed {seed})")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m scripts.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="paper rounds (default 30)")
    parser.add_argument("--live-rounds", type=int, default=10, help="live rounds against the simulator")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="keep the journals here (default: a temporary directory)")
    parser.add_argument("--child", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        journal_dir, policy, round_no, seed, root = args.child
        asyncio.run(child(Path(journal_dir), policy, int(round_no), int(seed), None if root == "-" else root))
        return 0
    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        try:
            asyncio.run(campaign(args.rounds, args.live_rounds, args.seed, args.dir or Path(tmp)))
        except Broken as exc:
            print(f"soak: BROKEN: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
