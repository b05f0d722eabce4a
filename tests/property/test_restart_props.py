"""Hypothesis: a restart changes nothing; the state folded from the journal is the state that ran.

A random paper session over several days (MARKET, LIMIT and stop intents of two strategies in
MIS and NRML, a moving market, cancels, modifications, halts, resumes, breaker resets, the IST
date line) runs with every breaker armed tight enough to trip. At random points the service is
stopped and started again on its journal; every field of the state, the breakers (figures,
latches, trip counts, throttle windows, the halt), the paper book and the idempotency records of
the last journaled day must be what they were just before the stop.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import msgspec
from hypothesis import example, given, settings
from hypothesis import strategies as st

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick

PRICES = st.integers(-20, 20).map(lambda steps: 1500.0 + steps * 2.5)
SIDES = st.sampled_from(["BUY", "SELL"])
Snapshots = list[tuple[dict[str, Any], dict[str, Any]]]
OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("market"),
            st.sampled_from(["s1", "s2"]),
            SIDES,
            st.integers(1, 5),
        ),
        st.tuples(st.just("limit"), SIDES, PRICES, st.sampled_from(["MIS", "NRML"])),
        st.tuples(st.just("stop"), SIDES, PRICES),
        st.tuples(st.just("tick"), PRICES),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("modify"), st.integers(0, 50), PRICES),
        st.tuples(st.just("control"), st.sampled_from(["halt", "resume", "reset"])),
        st.tuples(st.just("next_day"), st.integers(1, 3)),
        st.tuples(st.just("restart")),
    ),
    min_size=1,
    max_size=30,
)
BREAKERS = {
    "max_daily_loss_rupees": 40.0,
    "max_daily_drawdown_pct": 0.0001,
    "max_trades_per_day": 9,
    "max_trades_per_strategy_per_day": 6,
    "max_loss_streak": 2,
    "capital_rupees": 500_000.0,
    "max_orders_per_second": 3,
    "max_orders_per_second_per_strategy": 2,
    "max_position_per_symbol": 12,
}


def _book(svc: ExecutionService) -> set[tuple[str, int, float, str]]:
    book = svc.engine.paper.book
    alive = book._alive
    return {
        (symbol, index, key, order_id)
        for symbol, per_symbol in book.books.items()
        for index, heap in enumerate(per_symbol.heaps)
        for key, seq, order_id in heap
        if alive.get(order_id) == seq
    }


def _waiting(svc: ExecutionService) -> dict[str, list[str]]:
    """The paper executor's after-market orders still queued for their instrument's next tick."""
    orders = svc.engine.state.orders
    queued = {
        symbol: [o for o in ids if (r := orders.get(o)) is not None and r.waits_for_open]
        for symbol, ids in svc.engine.paper.waiting.items()
    }
    return {symbol: ids for symbol, ids in queued.items() if ids}


def snapshot(svc: ExecutionService) -> dict[str, Any]:
    """Every figure a restart must rebuild, in comparable form."""
    engine = svc.engine
    state = engine.state
    b = state.breakers
    cutoff = svc.clock.now_ns() - SECOND
    return {
        "day": state.day,
        "positions": {k: msgspec.to_builtins(p) for k, p in state.positions.items()},
        "orders": {k: msgspec.to_builtins(r) for k, r in state.orders.items()},
        "first_results": dict(state.first_results),
        "latest_results": dict(state.latest_results),
        "intent_ids": set(state.intent_ids),
        "broker_ids": dict(state.broker_ids),
        "working_qty": dict(state._working_qty),
        "symbol_net": {k: v for k, v in state._symbol_net.items() if v},
        "counters": (state.intents_seen, dict(state.status_counts), dict(state.reject_reasons), state.fills),
        "breakers": {
            "day": b.day,
            "capital": b.capital,
            "trades_today": b.trades_today,
            "trades_by_strategy": dict(b.trades_by_strategy),
            "realized_gross": b.realized_gross,
            "charges": b.charges,
            "peak_equity": b.peak_equity,
            "loss_streak": b.loss_streak,
            "latched": dict(b.latched),
            "trips_today": b.trips_today,
            "halted_reason": b.halted_reason,
            "window": [t for t in b._orders if t > cutoff],
            "windows": {s: [t for t in w if t > cutoff] for s, w in b._orders_by_strategy.items()},
        },
        "book": _book(svc),
        "waiting": _waiting(svc),
        "previous_day_results": dict(engine.previous_day_results),
        "previous_day_unanswered": set(engine.previous_day_unanswered),
    }


async def _session(journal_dir: Path, ops: list[tuple[Any, ...]]) -> Snapshots:
    config = make_config(journal_dir, execution={"circuit_breakers": BREAKERS})
    clock = ReplayClock(OPEN_NS)
    day = DAY
    now = OPEN_NS + SECOND
    last = 1500.0
    placed: list[str] = []
    compared: Snapshots = []
    svc = ExecutionService(config, clock=clock)
    await svc.start()
    try:
        await svc.on_tick(tick("NSE:INFY", last, now))
        for n, op in enumerate(ops):
            now += SECOND // 4  # four a second: the throttles come into play
            kind = op[0]
            if kind == "tick":
                last = op[1]
                await svc.on_tick(tick("NSE:INFY", last, now))
            elif kind == "next_day":
                day += dt.timedelta(days=op[1])
                now = ist_ns(day, 9, 15)
                await svc.on_tick(tick("NSE:INFY", last, now))
            elif kind == "restart":
                await svc.settle()
                before = snapshot(svc)
                await svc.stop()
                svc = ExecutionService(config, clock=clock)
                await svc.start()
                compared.append((before, snapshot(svc)))
                await svc.on_tick(tick("NSE:INFY", last, now))  # ticks are not journaled
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
            else:
                strategy, terms = "s1", {}
                if kind == "market":
                    strategy, side, qty = op[1], op[2], op[3]
                elif kind == "limit":
                    side, qty = op[1], 2
                    terms = {"order_type": "LIMIT", "price": op[2], "product": op[3]}
                else:
                    side, qty = op[1], 2
                    trigger = max(op[2], last + 5.0) if side == "BUY" else min(op[2], last - 5.0)
                    terms = {"order_type": "SL-M", "trigger_price": trigger}
                result = await svc.execute_intent(
                    OrderIntent(
                        symbol="NSE:INFY",
                        strategy_code=strategy,
                        side=side,
                        qty=qty,
                        intent_id=f"i{n}",
                        **terms,
                    )
                )
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
@example([("market", "s1", "BUY", 1), ("next_day", 1)])  # the day's counters after a roll
def test_a_restart_rebuilds_exactly_the_state_that_ran(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        compared = asyncio.run(_session(Path(tmp) / "journal", ops))
    for before, after in compared:
        assert after == before
