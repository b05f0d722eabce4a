"""Hypothesis: a restart changes nothing, with after-market orders (AMO) and the IST date line.

Extends ``test_restart_props`` with AMOs (MARKET, LIMIT, SL; CNC and MIS) placed in the evening,
date lines crossed with and without a tick of the AMO's instrument (a tick of another symbol rolls
the day over without releasing them), repeats of earlier intents, and cancels and modifications
of waiting AMOs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from tests.conftest import DAY, OPEN_NS, SECOND, cnc_sale_qty, make_config, tick
from tests.property.test_restart_props import BREAKERS, PRICES, SIDES, snapshot

OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("market"),
            st.sampled_from(["s1", "s2"]),
            SIDES,
            st.integers(1, 5),
            st.sampled_from(["MIS", "CNC"]),
        ),
        st.tuples(
            st.just("amo"),
            SIDES,
            st.sampled_from(["MARKET", "LIMIT", "SL"]),
            PRICES,
            st.sampled_from(["MIS", "CNC"]),
            st.integers(1, 5),
        ),
        st.tuples(st.just("tick"), PRICES),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("modify"), st.integers(0, 50), PRICES),
        st.tuples(st.just("repeat"), st.integers(0, 50)),
        st.tuples(st.just("control"), st.sampled_from(["halt", "resume", "reset"])),
        st.tuples(st.just("evening")),
        st.tuples(st.just("midnight")),
        st.tuples(st.just("next_open")),
        st.tuples(st.just("restart")),
    ),
    min_size=1,
    max_size=30,
)


async def _session(journal_dir: Path, ops: list[tuple[Any, ...]]) -> list[tuple[Any, Any]]:
    config = make_config(journal_dir, execution={"circuit_breakers": BREAKERS})
    clock = ReplayClock(OPEN_NS)
    day = DAY
    now = OPEN_NS + SECOND
    last = 1500.0
    placed: list[str] = []
    intents: dict[str, OrderIntent] = {}
    answers: dict[str, Any] = {}
    placed_on: dict[str, dt.date] = {}
    compared: list[tuple[Any, Any]] = []
    svc = ExecutionService(config, clock=clock)
    await svc.start()
    try:
        await svc.on_tick(tick("NSE:INFY", last, now))
        for n, op in enumerate(ops):
            now += SECOND // 4
            kind = op[0]
            if kind == "tick":
                last = op[1]
                await svc.on_tick(tick("NSE:INFY", last, now))
            elif kind == "evening":
                now = max(now, ist_ns(day, 20, 0))
                await svc.on_tick(tick("NSE:SBIN", 800.0, now))
            elif kind == "midnight":
                day += dt.timedelta(days=1)
                now = max(now, ist_ns(day, 0, 0, 1))
                await svc.on_tick(tick("NSE:SBIN", 800.0, now))  # rolls over; INFY's AMOs wait
            elif kind == "next_open":
                if now >= ist_ns(day, 9, 15):
                    day += dt.timedelta(days=1)
                now = ist_ns(day, 9, 15)
                await svc.on_tick(tick("NSE:INFY", last, now))
            elif kind == "restart":
                await svc.settle()
                before = snapshot(svc)
                await svc.stop()
                svc = ExecutionService(config, clock=clock)
                await svc.start()
                compared.append((before, snapshot(svc)))
            elif kind == "control":
                action = {"halt": svc.halt, "resume": svc.resume, "reset": svc.reset_breakers}[op[1]]
                await action(f"{op[1]} {n}")
            elif kind in ("cancel", "modify"):
                if placed:
                    order_id = placed[op[1] % len(placed)]
                    if kind == "cancel":
                        await svc.cancel_order(order_id)
                    else:
                        await svc.modify_order(order_id, price=op[2])
            elif kind == "repeat":
                if intents:
                    iid = sorted(intents)[op[1] % len(intents)]
                    # idempotency reaches the last journaled day, and a carried order's intent
                    engine = svc.engine
                    known = iid in engine.state.intent_ids or iid in engine.previous_day_results
                    again = await svc.execute_intent(intents[iid])
                    if known and iid in answers:
                        compared.append((("repeat", iid, answers[iid]), ("repeat", iid, again)))
                    elif not known:  # a new intent that reuses the id (out of idempotency's reach)
                        answers[iid], placed_on[iid] = again, day
            else:
                if kind == "market":
                    strategy, side, qty, product = op[1], op[2], op[3], op[4]
                    terms: dict[str, Any] = {"product": product}
                else:
                    strategy, side, qty = "s1", op[1], op[5]
                    terms = {"variety": "amo", "order_type": op[2], "product": op[4]}
                    if op[2] in ("LIMIT", "SL"):
                        terms["price"] = op[3]
                    if op[2] == "SL":
                        terms["trigger_price"] = op[3]
                if terms["product"] == "CNC" and side == "SELL":
                    qty = cnc_sale_qty(svc.engine.state, "NSE:INFY", qty)
                intent = OrderIntent(
                    symbol="NSE:INFY", strategy_code=strategy, side=side, qty=qty,
                    intent_id=f"i{n}", **terms,
                )  # fmt: skip
                result = await svc.execute_intent(intent)
                intents[intent.intent_id] = intent
                placed_on[intent.intent_id] = day
                answers[intent.intent_id] = result
                if result.order_id:
                    placed.append(result.order_id)
        await svc.settle()
        before = snapshot(svc)
    finally:
        await svc.stop()
    async with ExecutionService(config, clock=clock) as again:
        compared.append((before, snapshot(again)))
    return compared


@settings(max_examples=60, deadline=None)
@given(OPS)
def test_a_restart_rebuilds_the_state_that_ran_with_amos_across_date_lines(
    ops: list[tuple[Any, ...]],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        compared = asyncio.run(_session(Path(tmp) / "journal", ops))
    for before, after in compared:
        assert after == before
