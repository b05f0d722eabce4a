"""Hypothesis: a journal cut at any record boundary, with AMOs and the IST date line, restarts with
every intent answered once, on the same day or the next.

A random paper session over date lines (AMOs placed in the evening, rollovers with and without a
tick of their instrument, MARKET and LIMIT orders in MIS and CNC, cancels and modifications) is
journaled; the last day's file is then cut after a random record (a kill -9 between two writes).
The service restarts on the cut journal, on that day or the next, and must answer every intent of
the cut day (and, the next day, of the day before) again at once without executing any a second
time, hold the positions the journal's fills make, and restart once more without writing a byte.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns, trading_day
from execsvc.journal.reader import journal_days, journal_path
from tests.conftest import DAY, OPEN_NS, SECOND, cnc_sale_qty, make_config, tick

PRICES = st.integers(-20, 20).map(lambda steps: 1500.0 + steps * 0.5)
SIDES = st.sampled_from(["BUY", "SELL"])
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("market"), SIDES, st.integers(1, 5), st.sampled_from(["MIS", "CNC"])),
        st.tuples(st.just("limit"), SIDES, PRICES, st.sampled_from(["MIS", "CNC"])),
        st.tuples(st.just("amo"), SIDES, st.sampled_from(["MARKET", "LIMIT", "SL-M"]), PRICES),
        st.tuples(st.just("tick"), PRICES),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("modify"), st.integers(0, 50), PRICES),
        st.tuples(st.just("evening")),
        st.tuples(st.just("midnight")),
        st.tuples(st.just("next_open")),
    ),
    min_size=1,
    max_size=25,
)


async def _session(journal_dir: Path, ops: list[tuple[Any, ...]]) -> tuple[dict[str, OrderIntent], int]:
    clock = ReplayClock(OPEN_NS)
    intents: dict[str, OrderIntent] = {}
    day = DAY
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        now = OPEN_NS + SECOND
        last = 1500.0
        await svc.on_tick(tick("NSE:INFY", last, now))
        placed: list[str] = []
        for n, op in enumerate(ops):
            now += SECOND
            kind = op[0]
            if kind == "tick":
                last = op[1]
                await svc.on_tick(tick("NSE:INFY", last, now))
                continue
            if kind == "evening":
                now = max(now, ist_ns(day, 20, 0))
                await svc.on_tick(tick("NSE:SBIN", 800.0, now))
                continue
            if kind == "midnight":
                day += dt.timedelta(days=1)
                now = max(now, ist_ns(day, 0, 0, 1))
                await svc.on_tick(tick("NSE:SBIN", 800.0, now))
                continue
            if kind == "next_open":
                if now >= ist_ns(day, 9, 15):
                    day += dt.timedelta(days=1)
                now = ist_ns(day, 9, 15)
                await svc.on_tick(tick("NSE:INFY", last, now))
                continue
            if kind in ("cancel", "modify"):
                if placed:
                    order_id = placed[op[1] % len(placed)]
                    if kind == "cancel":
                        await svc.cancel_order(order_id)
                    else:
                        await svc.modify_order(order_id, price=op[2], order_type="LIMIT")
                continue
            terms: dict[str, Any] = {}
            qty = 2
            if kind == "market":
                qty, terms = op[2], {"product": op[3]}
            elif kind == "limit":
                terms = {"order_type": "LIMIT", "price": op[2], "product": op[3]}
            else:
                terms = {"variety": "amo", "order_type": op[2], "product": "CNC"}
                if op[2] == "LIMIT":
                    terms["price"] = op[3]
                elif op[2] == "SL-M":
                    terms["trigger_price"] = op[3] + (10.0 if op[1] == "BUY" else -10.0)
            if terms["product"] == "CNC" and op[1] == "SELL":
                qty = cnc_sale_qty(svc.engine.state, "NSE:INFY", qty)
            intent = OrderIntent(
                symbol="NSE:INFY", strategy_code="p", side=op[1], qty=qty, intent_id=f"i{n}", **terms
            )
            intents[intent.intent_id] = intent
            result = await svc.execute_intent(intent)
            if result.order_id:
                placed.append(result.order_id)
        end = clock.now_ns()
    return intents, end


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line)["ev"] for line in path.read_text().splitlines() if line.strip()]


async def _restart_and_check(journal_dir: Path, intents: dict[str, OrderIntent], at: int) -> None:
    cut_day = journal_days(journal_dir)[-1]
    window = {cut_day}  # same day: today's intents; next day: the last journaled day's (its reach)
    probes = [
        i for i in intents.values()
        if any(e.get("intent_id") == i.intent_id and e["type"] == "intent"
               for d in window for e in _events(journal_path(journal_dir, d)))
    ]  # fmt: skip
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(at)) as svc:
        for probe in probes:
            await asyncio.wait_for(svc.execute_intent(probe), 5)  # a hang guard only
        positions = {(p.strategy_code, p.symbol, p.product): p.net_qty for p in svc.positions() if p.net_qty}
        today = svc.engine.state.day
    accepted: dict[str, int] = {}
    for d in journal_days(journal_dir):
        for e in _events(journal_path(journal_dir, d)):
            if e["type"] == "order_accepted":
                accepted[e["intent_id"]] = accepted.get(e["intent_id"], 0) + 1
    twice = {i: n for i, n in accepted.items() if n > 1}
    assert twice == {}, twice
    net: dict[tuple[str, str, str], int] = {}
    for e in _events(journal_path(journal_dir, today)):
        if e["type"] == "positions_carried":
            for p in e["positions"]:
                net[(p["strategy_code"], p["symbol"], p.get("product", "MIS"))] = p.get("net_qty", 0)
        elif e["type"] == "fill":
            key = (e["strategy_code"], e["symbol"], e.get("product", "MIS"))
            net[key] = net.get(key, 0) + (e["qty"] if e["side"] == "BUY" else -e["qty"])
    assert positions == {k: v for k, v in net.items() if v}
    path = journal_path(journal_dir, today)
    size = path.stat().st_size
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(at + 1000 * SECOND)):
        pass
    assert path.stat().st_size == size


@settings(max_examples=60, deadline=None)
@given(OPS, st.floats(0.0, 1.0), st.booleans())
def test_a_cut_journal_with_amos_restarts_with_every_intent_answered_once(
    ops: list[tuple[Any, ...]], where: float, next_day: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        journal_dir = Path(tmp) / "journal"
        intents, end = asyncio.run(_session(journal_dir, ops))
        path = journal_path(journal_dir, journal_days(journal_dir)[-1])
        lines = path.read_bytes().splitlines(keepends=True)
        keep = 1 + int(where * (len(lines) - 1))
        path.write_bytes(b"".join(lines[:keep]))
        day = trading_day(end)
        at = ist_ns(day + dt.timedelta(days=1), 9, 0) if next_day else end + 100 * SECOND
        asyncio.run(_restart_and_check(journal_dir, intents, at))
