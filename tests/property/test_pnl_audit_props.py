"""Hypothesis: the money a trader reads agrees with an independent model built from the rules.

A random paper session over a few days (NSE equity MIS and CNC, an NFO future and option, an MCX
future and option at a multiplier of 100; three strategies; MARKET, LIMIT and SL-M buys and sells
against a thin book, so orders fill partly, over several fills and over several ticks, modified
and cancelled while they work; IST date lines where the
simulated broker squares MIS off with its fee and CNC and NRML positions are carried; CNC sold out
of the account's holdings, so a CNC buy and sale of INFY the same day is an intraday round trip for
charges, which a second property drives hard) is held to
``tests/pnl_model.py``, which folds the journal files itself in exact arithmetic from the rates of
FACTS.md section 7. Compared: every order's charges, component by component, and its result's
``charges`` and ``avg_price``; every position's quantity, average price, realized P&L, charges
and traded values (``svc.positions()``); the positions each day carried in; the breakers' day
figures (``/status``); ``execsvc state``'s summary of each day; the replay report's totals and
per-strategy gross, charges and net (what the daemon's summary prints too). The rounding rule
expected is ``tests/pnl_audit.py``'s.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
from fractions import Fraction
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.market.replay import ReplayStats
from execsvc.market.ticks import Depth, DepthLevel, Tick
from execsvc.report import build_report
from tests import pnl_audit as audit
from tests import pnl_model as model
from tests.conftest import DAY, SECOND, make_config

# symbol, lot, price step of the random walk, base price, products
SYMBOLS = (
    ("NSE:INFY", 1, Fraction("0.5"), Fraction(1500), ("MIS", "CNC")),
    ("NFO:NIFTY26DECFUT", 65, Fraction(5), Fraction(26000), ("MIS", "NRML")),
    ("NFO:NIFTY26DEC26000CE", 65, Fraction("0.5"), Fraction(150), ("MIS", "NRML")),
    ("MCX:CRUDEOIL26DECFUT", 1, Fraction(1), Fraction(6000), ("MIS", "NRML")),
    ("MCX:CRUDEOIL26DEC6000CE", 1, Fraction("0.5"), Fraction(200), ("MIS", "NRML")),
)
STRATEGIES = st.sampled_from(["s1", "s2", "s3"])
SIDES = st.sampled_from(["BUY", "SELL"])
SYMBOL = st.integers(0, len(SYMBOLS) - 1)
LOTS = st.integers(1, 4)
PRODUCT = st.integers(0, 1)  # the symbol's intraday or overnight product
BEFORE_BUDGET = dt.date(2026, 3, 30)  # F&O STT goes up two days later: days on either side of it
OPS = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), SYMBOL, st.integers(-12, 12), st.integers(1, 3)),
        st.tuples(st.just("market"), STRATEGIES, SYMBOL, SIDES, LOTS, PRODUCT),
        st.tuples(st.just("limit"), STRATEGIES, SYMBOL, SIDES, LOTS, PRODUCT, st.integers(-3, 3)),
        st.tuples(st.just("stop"), STRATEGIES, SYMBOL, SIDES, LOTS, PRODUCT, st.integers(1, 4)),
        st.tuples(st.just("modify"), st.integers(0, 20), st.integers(-3, 3)),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("next_day"), st.integers(1, 2)),
    ),
    min_size=1,
    max_size=40,
)


def book(price: Fraction, step: Fraction, lot: int, depth: int) -> Depth:
    """Two thin levels a side, ``depth`` lots each: bigger orders fill partly, or over ticks."""
    return Depth(
        buy=tuple(DepthLevel(depth * lot, float(price - k * step), 1) for k in (1, 2)),
        sell=tuple(DepthLevel(depth * lot, float(price + k * step), 1) for k in (1, 2)),
    )


class Session:
    """Drives a paper service from the ops; keeps what it needs to place only orders Zerodha takes."""

    def __init__(self, svc: ExecutionService, day: dt.date) -> None:
        self.svc = svc
        self.day = day
        self.now = ist_ns(day, 9, 15)
        self.last = [base for _, _, _, base, _ in SYMBOLS]
        self.depth = [2] * len(SYMBOLS)
        self.n = 0

    async def tick(self, i: int) -> None:
        symbol, lot, step, _, _ = SYMBOLS[i]
        self.now += SECOND
        price = self.last[i]
        await self.svc.on_tick(
            Tick(symbol=symbol, last_price=float(price), ts_event=self.now,
                 depth=book(price, step, lot, self.depth[i]))
        )  # fmt: skip

    async def run(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        if kind == "tick":
            _, i, steps, depth = op
            step, base = SYMBOLS[i][2], SYMBOLS[i][3]
            self.last[i] = max(base + steps * step, step * 4)
            self.depth[i] = depth
            await self.tick(i)
        elif kind in ("modify", "cancel"):
            # a working order, the partly filled ones too: its later fills keep its brokerage cap
            # and STT rounding per order
            working = self.svc.engine.state.working_orders()
            if not working:
                return
            record = working[op[1] % len(working)]
            self.now += SECOND
            if kind == "cancel":
                await self.svc.cancel_order(record.order.order_id)
            elif record.order.order_type == "LIMIT":
                i = next(n for n, s in enumerate(SYMBOLS) if s[0] == record.order.symbol)
                price = float(self.last[i] + op[2] * SYMBOLS[i][2])
                await self.svc.modify_order(record.order.order_id, price=price)
        elif kind == "next_day":
            self.day += dt.timedelta(days=op[1])
            self.now = ist_ns(self.day, 9, 15)
            for i in range(len(SYMBOLS)):  # the date line comes with the first; each needs a tick
                await self.tick(i)
        else:
            await self.order(op)

    async def order(self, op: tuple[Any, ...]) -> None:
        strategy, i, side, lots, product_i = op[1:6]
        symbol, lot, step, _, products = SYMBOLS[i]
        product = products[product_i]
        qty = lots * lot
        if product == "CNC" and side == "SELL":
            # Zerodha sells CNC only out of the account's holdings (any strategy's): a sale of what
            # was bought today, or of what was carried in, is a same-day round trip as a buy back is
            qty = min(qty, self.svc.engine.state.product_net_qty(symbol, "CNC"))
            if qty <= 0:
                return
        terms: dict[str, Any] = {}
        if op[0] == "limit":
            terms = {"order_type": "LIMIT", "price": float(self.last[i] + op[6] * step)}
        elif op[0] == "stop":  # an SL-M a few steps away, on the side it protects
            away = op[6] * step
            trigger = self.last[i] + away if side == "BUY" else self.last[i] - away
            terms = {"order_type": "SL-M", "trigger_price": float(trigger)}
        self.n += 1
        self.now += SECOND
        await self.svc.execute_intent(
            OrderIntent(symbol=symbol, strategy_code=strategy, side=side, qty=qty, product=product,
                        intent_id=f"i{self.n}", **terms)
        )  # fmt: skip


async def _session(tmp: Path, ops: list[tuple[Any, ...]], start: dt.date = DAY) -> dict[str, Any]:
    instruments = tmp / "instruments.csv"
    instruments.write_text(model.INSTRUMENTS_CSV)
    config = make_config(
        tmp / "journal",
        market={"instruments_file": str(instruments), "multipliers": {"MCX:CRUDEOIL": 100}},
        execution={"slippage_bps": 5.0, "use_depth": True},
    )
    async with ExecutionService(config, clock=ReplayClock(ist_ns(start, 9, 15))) as svc:
        session = Session(svc, start)
        for i in range(len(SYMBOLS)):
            await session.tick(i)
        for op in ops:
            await session.run(op)
        await svc.settle()
        return {
            "positions": svc.positions(),
            "breakers": svc.breaker_status(),
            "last": {SYMBOLS[i][0]: session.last[i] for i in range(len(SYMBOLS))},
        }


def check_session(ran: dict[str, Any], files: list[Path]) -> None:
    """Every day against the model, then the service's own figures at the end of the session."""
    days = audit.check_days(files)
    last = days[-1]
    # svc.positions(): the service's state at the end, field by field
    ours = {p.key: p for p in ran["positions"]}
    assert set(ours) == set(last.books)
    for key, b in last.books.items():
        p = ours[key]
        n = sum(len(o.fills) for o in last.orders.values() if o.key == key) + 1
        assert (p.net_qty, p.buy_qty, p.sell_qty) == (b.qty, b.buy_qty, b.sell_qty), key
        assert p.multiplier == b.multiplier
        audit.close(p.avg_price, b.avg, 1e-6, f"{key} avg_price")
        audit.close(p.realized_gross, b.realized, 1e-4, f"{key} realized_gross")
        audit.close(p.charges, b.charges, audit.per_fill(n), f"{key} charges")
        audit.close(p.buy_value, b.buy_value, 1e-4, f"{key} buy_value")
        audit.close(p.sell_value, b.sell_value, 1e-4, f"{key} sell_value")
        mark = ran["last"][key[1]]
        # Kite's P&L of the day: what was sold less what was bought plus the open quantity at the
        # mark, for a position opened today (a carried one's opening is not in today's values)
        kite_pnl = b.realized + (mark * b.qty - b.basis) * b.multiplier
        audit.close(p.realized_gross + p.unrealized(float(mark)), kite_pnl, 1e-3, f"{key} pnl")
    # /status: the breakers' figures of the day
    gross = sum((b.realized for b in last.books.values()), Fraction(0))
    charges = sum((b.charges for b in last.books.values()), Fraction(0))
    audit.shown(ran["breakers"]["realized_net"], gross - charges, "status realized_net")
    audit.shown(ran["breakers"]["charges"], charges, "status charges")
    # the replay report (and the daemon's summary, which prints it): totals and per strategy
    audit.check_report(build_report(ReplayStats(), files, inputs={}, capital=500_000.0), days)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS, st.sampled_from([DAY, BEFORE_BUDGET]))
@example(
    [  # s1 long a lot of crude over the line (NRML), s2 MIS in it left to the broker; s3 flips the
       # future; s1 holds INFY over the line into 1 Apr 2026 and sells it there
        ("market", "s1", 3, "BUY", 2, 1), ("market", "s2", 3, "SELL", 1, 0), ("tick", 3, 5, 1),
        ("market", "s3", 1, "BUY", 3, 0), ("market", "s3", 1, "SELL", 4, 0), ("next_day", 1),
        ("market", "s1", 3, "SELL", 1, 1), ("market", "s1", 0, "BUY", 3, 1), ("next_day", 1),
        ("market", "s1", 0, "SELL", 2, 1), ("market", "s3", 1, "SELL", 1, 1),
    ],
    BEFORE_BUDGET,
)  # fmt: skip
@example(  # 32 lots of the NIFTY future left MIS: the broker's square-off is two orders within its
    # freeze quantity of 1800 (27 lots and 5), each with its brokerage and its fee
    [op for _ in range(8) for op in (("market", "s1", 1, "BUY", 4, 0), ("tick", 1, 0, 3))]
    + [("next_day", 1)],
    DAY,
)
def test_the_money_figures_agree_with_the_model(ops: list[tuple[Any, ...]], start: dt.date) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ran = asyncio.run(_session(Path(tmp), ops, start))
        files = sorted((Path(tmp) / "journal").glob("*.jsonl"))
        check_session(ran, files)


INFY, CNC, MIS = 0, 1, 0  # SYMBOLS' index of INFY; its products' indices
CNC_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("tick"), st.just(INFY), st.integers(-12, 12), st.integers(1, 3)),
        st.tuples(st.just("market"), STRATEGIES, st.just(INFY), SIDES, st.integers(1, 6), st.just(CNC)),
        st.tuples(
            st.just("limit"), STRATEGIES, st.just(INFY), SIDES, st.integers(1, 6), st.just(CNC),
            st.integers(-3, 3),
        ),
        # an MIS trade in the same scrip is netted apart from CNC (and charged as intraday anyway)
        st.tuples(st.just("market"), STRATEGIES, st.just(INFY), SIDES, LOTS, st.just(MIS)),
        st.tuples(st.just("modify"), st.integers(0, 20), st.integers(-3, 3)),
        st.tuples(st.just("cancel"), st.integers(0, 20)),
        st.tuples(st.just("next_day"), st.integers(1, 2)),
    ),
    min_size=1,
    max_size=30,
)  # fmt: skip


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 6), CNC_OPS)
@example(  # bought on one day; sold, bought back and sold again by two strategies on the next
    4,
    [
        ("next_day", 1), ("market", "s2", INFY, "SELL", 3, CNC), ("tick", INFY, 4, 3),
        ("market", "s1", INFY, "BUY", 5, CNC), ("market", "s3", INFY, "SELL", 6, CNC),
    ],
)  # fmt: skip
def test_same_day_cnc_round_trips_agree_with_the_model(first_buy: int, ops: list[tuple[Any, ...]]) -> None:
    """CNC buys and sells of one scrip by three strategies, over thin books (orders fill over
    several fills, in part, or rest) and date lines (holdings carried in are sold and bought back):
    every fill that makes a match carries the change to the account's charges, and every order,
    position, day and report figure agrees with the model's same-day rule."""
    ops = [("market", "s1", INFY, "BUY", first_buy, CNC), *ops]  # every sale after it can match
    with tempfile.TemporaryDirectory() as tmp:
        ran = asyncio.run(_session(Path(tmp), ops))
        files = sorted((Path(tmp) / "journal").glob("*.jsonl"))
        check_session(ran, files)
