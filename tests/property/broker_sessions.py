"""Random paper sessions with the session calendar, for the broker's auto square-off properties.

A session runs over one or two trading days (Thursday 19 and Friday 20 November 2026): three
strategies trade NSE equity (the broker's cut-off 15:20) and an NFO future (15:25) in MIS and the
overnight products with MARKET, LIMIT, SL and SL-M orders and after-market orders, cancel and
modify them, and the instruments tick before and after the cut-offs. Every step has a time slot
of its day (a day's steps run in slot order, a second apart at least); a day may open with a tick
of every instrument at 09:15, and the date line is crossed by a tick of an instrument no order
names at 00:00:01, or by the next day's first input. After the last day comes its date line.

Ticks are not journaled: a restarted service knows no price until its feed sends one (Kite's
ticker sends each instrument's last tick on connecting). So after every restart the last tick of
each instrument is fed again, and a run compared with a restarted one is fed them at the same
points (``feeds``): the two get the same inputs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from execsvc import ExecutionService, OrderIntent
from execsvc.calendar import Holidays, MarketCalendar
from execsvc.clock import ReplayClock, ist_ns, trading_day
from execsvc.journal.reader import journal_days, journal_path
from execsvc.market.ticks import Depth, DepthLevel
from tests.conftest import SECOND, cnc_sale_qty, make_config, tick

DAYS = (dt.date(2026, 11, 19), dt.date(2026, 11, 20))  # a Thursday and a Friday
FUTURE = "NFO:NIFTY26DECFUT"
SYMBOLS = {"NSE:INFY": (1500.0, 0.5), "NSE:TCS": (4000.0, 1.0), FUTURE: (26_000.0, 5.0)}  # price, step
CUTOFFS = {"NSE": (15, 20), "NFO": (15, 25)}  # the broker's auto square-off (FACTS section 6)
MARKER = "NSE:SBIN"  # ticks only at the date line: no order names it, so its tick moves nothing
TICK_SLOTS = [(9, 15, 0), (11, 0, 0), (15, 10, 0), (15, 19, 59), (15, 20, 0), (15, 21, 0),
              (15, 24, 59), (15, 25, 0), (15, 27, 0), (15, 29, 59), (15, 35, 0)]  # fmt: skip
# orders mostly in the session before the cut-offs, also out of the session (AMOs) and after them
ORDER_SLOTS = [*TICK_SLOTS[:3] * 4, (8, 30, 0), (19, 0, 0), *TICK_SLOTS[3:]]

_ORDER = st.tuples(
    st.just("order"),
    st.sampled_from(["s1", "s2", "s1", "s2", "s3"]),
    st.sampled_from(["NSE:INFY", FUTURE, "NSE:INFY", "NSE:TCS", FUTURE, "NSE:INFY"]),
    st.sampled_from(["BUY", "SELL"]),
    st.integers(1, 3),
    st.sampled_from(["MIS", "MIS", "overnight"]),
    st.sampled_from(["MARKET", "LIMIT", "MARKET", "SL", "MARKET", "SL-M", "MARKET", "LIMIT"]),
    st.integers(-6, 6),  # ticks from the last price: a LIMIT's price, a stop's trigger
    st.sampled_from([False, False, False, True]),  # an after-market order
)
_TICK = st.tuples(st.just("tick"), st.sampled_from(sorted(SYMBOLS)), st.integers(-20, 20))
_CANCEL = st.tuples(st.just("cancel"), st.integers(0, 30))  # the n-th order placed (modulo)
_MODIFY = st.tuples(st.just("modify"), st.integers(0, 30), st.integers(-6, 6))
_STEP = st.one_of(  # an order four times in eight, a tick twice (distinct objects: one_of merges the same)
    *[st.tuples(st.sampled_from(ORDER_SLOTS), _ORDER) for _ in range(4)],
    *[st.tuples(st.sampled_from(TICK_SLOTS), _TICK) for _ in range(2)],
    st.tuples(st.sampled_from(ORDER_SLOTS), _CANCEL),
    st.tuples(st.sampled_from(ORDER_SLOTS), _MODIFY),
)
Day = tuple[list[Any], bool, bool]  # its steps, a tick of every instrument at 09:15, a MARKER tick
_OPENING = st.sampled_from([True, True, True, False])
_DAY = st.tuples(st.lists(_STEP, min_size=6, max_size=24), _OPENING, st.booleans())
Session = tuple[list[Day], bool]  # its days, and whether fills take only what a tick's depth shows
SESSIONS = st.tuples(st.lists(_DAY, min_size=1, max_size=2), st.booleans())
Steps = list[tuple[dt.date, tuple[int, int, int], tuple[Any, ...]]]

_calendars: list[MarketCalendar] = []


def steps_of(days: list[Day]) -> tuple[Steps, dict[int, dt.date]]:
    """The steps in time order, and the days whose date line a MARKER tick crosses (by the step
    it comes before)."""
    steps: Steps = []
    markers: dict[int, dt.date] = {}
    for day, (day_steps, opening, marker) in zip(DAYS, days, strict=False):
        if marker and steps:
            markers[len(steps)] = day
        ticks = [((9, 15, 0), ("tick", symbol, 0)) for symbol in SYMBOLS] if opening else []
        steps += [(day, slot, op) for slot, op in sorted(ticks + day_steps, key=lambda s: s[0])]
    return steps, markers


def cutoff_ns(symbol: str, day: dt.date) -> int:
    """The broker's auto square-off time of ``symbol``'s exchange on ``day``."""
    return ist_ns(day, *CUTOFFS[symbol.partition(":")[0]])


def open_mis(svc: ExecutionService, symbol: str | None = None) -> list[Any]:
    return [p for p in svc.positions() if p.product == "MIS" and p.net_qty and symbol in (None, p.symbol)]


class Driver:
    """Runs a session's steps against a paper service with the session calendar."""

    def __init__(self, journal_dir: Path, depth: bool) -> None:
        self.config = make_config(journal_dir, execution={"use_depth": depth})
        self.depth = depth
        self.clock = ReplayClock(ist_ns(DAYS[0], 8, 0))
        self.now = self.clock.now_ns()
        self.last: dict[str, float] = {}
        self.placed: list[tuple[str, str, str]] = []  # order id, order type, symbol
        self.svc: ExecutionService | None = None

    async def start(self) -> ExecutionService:
        self.svc = svc = ExecutionService(self.config, clock=self.clock)
        await svc.start()
        if not _calendars:
            session = self.config.session
            _calendars.append(MarketCalendar(session, Holidays.load(session.holidays_file)))
        svc.engine.calendar = _calendars[0]  # what the daemon and ``execsvc replay`` give it
        return svc

    async def tick(self, symbol: str, price: float, at: int | None = None) -> None:
        assert self.svc is not None
        self.now = max(self.now, at or 0)
        quote = None
        if self.depth and symbol in SYMBOLS:  # two to take each side, a step away from the last price
            step = SYMBOLS[symbol][1]
            quote = Depth(buy=(DepthLevel(2, price - step, 1),), sell=(DepthLevel(2, price + step, 1),))
        await self.svc.on_tick(tick(symbol, price, self.now, depth=quote))

    async def feed_last(self) -> None:
        """The feed's last tick of each instrument again (a restarted service's first prices)."""
        for symbol, price in sorted(self.last.items()):
            await self.tick(symbol, price)

    async def step(self, day: dt.date, slot: tuple[int, int, int], op: tuple[Any, ...], n: int) -> None:
        svc = self.svc
        assert svc is not None
        kind = op[0]
        if kind in ("cancel", "modify") and not self.placed:
            return  # no input: the clock reads the time of the last one (a restart's time too)
        self.now = max(self.now + SECOND, ist_ns(day, *slot))
        self.clock.advance_to(self.now)
        if kind == "tick":
            price, step = SYMBOLS[op[1]]
            self.last[op[1]] = price + op[2] * step
            await self.tick(op[1], self.last[op[1]])
            if self.now >= cutoff_ns(op[1], day):  # its first tick from the cut-off closed it all
                assert open_mis(svc, op[1]) == [], f"MIS open past the cut-off at a tick of {op[1]}"
        elif kind == "order":
            await self.order(op, n)
        else:
            order_id, order_type, symbol = self.placed[op[1] % len(self.placed)]
            if kind == "cancel":
                await svc.cancel_order(order_id)
                return
            price = self.last.get(symbol, SYMBOLS[symbol][0]) + op[2] * SYMBOLS[symbol][1]
            if order_type == "SL-M":
                await svc.modify_order(order_id, trigger_price=price)
            else:  # a waiting MARKET AMO becomes a LIMIT
                limit = order_type.replace("MARKET", "LIMIT")
                await svc.modify_order(order_id, price=price, order_type=limit)

    async def order(self, op: tuple[Any, ...], n: int) -> None:
        assert self.svc is not None
        _, strategy, symbol, side, qty, product, order_type, steps, amo = op
        base, step = SYMBOLS[symbol]
        ref = self.last.get(symbol, base)
        sign = 1 if side == "BUY" else -1
        terms: dict[str, Any] = {}
        if order_type == "LIMIT":
            terms["price"] = ref + steps * step
        elif order_type in ("SL", "SL-M"):
            terms["trigger_price"] = trigger = ref + sign * (abs(steps) + 1) * step
            if order_type == "SL":
                terms["price"] = trigger + sign * step
        if product == "overnight":
            product = "NRML" if symbol == FUTURE else "CNC"
        if product == "CNC" and side == "SELL":
            qty = cnc_sale_qty(self.svc.engine.state, symbol, qty)
        intent = OrderIntent(
            symbol=symbol, strategy_code=strategy, side=side, qty=qty, product=product,
            order_type=order_type, variety="amo" if amo else "regular", intent_id=f"i{n}", **terms,
        )  # fmt: skip
        result = await self.svc.execute_intent(intent)
        if result.order_id:
            self.placed.append((result.order_id, order_type, symbol))


async def run_session(
    journal_dir: Path,
    session: Session,
    *,
    restarts: frozenset[int] = frozenset(),
    feeds: frozenset[int] = frozenset(),
    kill: tuple[int, int] | None = None,
    counts: list[int] | None = None,
) -> dt.date | None:
    """Run the session over its points: 0 is the start, ``n + 1`` follows step ``n``, the last one
    follows the date line after the last day (taken modulo their number).

    At a point in ``restarts`` the service stops and starts again on its journal (at the same
    clock reading); at ``kill = (point, keep)`` its journal is cut to its first ``keep`` records
    (a kill -9 that lost the rest) before it starts again; the last ticks are fed again after each
    restart and at the points in ``feeds`` (not after the last date line). ``counts`` is given the
    number of journal records at each point.

    Returns:
        The day whose square-off the kill may have left undone: the last day the cut journal
        holds, if the service started again on a later day (its positions expire unpriced).
    """
    days, depth = session
    driver = Driver(journal_dir, depth)
    steps, markers = steps_of(days)
    points = len(steps) + 2
    restarts, feeds = frozenset(n % points for n in restarts), frozenset(n % points for n in feeds)
    undone: dt.date | None = None
    svc = await driver.start()
    try:
        for point in range(points):
            if 0 < point < points - 1:
                n = point - 1
                if n in markers and ist_ns(markers[n], 0, 0, 1) > driver.now:
                    await driver.tick(MARKER, 800.0, ist_ns(markers[n], 0, 0, 1))
                await driver.step(*steps[n], n)
            elif point:  # the date line after the last day
                await driver.tick(MARKER, 800.0, ist_ns(DAYS[len(days) - 1], 0, 0, 1) + 86_400 * SECOND)
                assert open_mis(svc) == [], "MIS open after the session"
            if counts is not None:
                await svc.settle()
                counts.append(len(records_of(journal_dir)))
            killed = kill is not None and kill[0] % points == point
            if point in restarts or killed:
                await svc.stop()
                if kill is not None and killed:
                    cut_journal(journal_dir, kill[1])
                    cut_day = dt.date.fromisoformat(journal_days(journal_dir)[-1])
                    undone = cut_day if trading_day(driver.now) > cut_day else None
                svc = await driver.start()
            if (point in restarts or point in feeds or killed) and point < points - 1:
                await driver.feed_last()
        assert open_mis(svc) == [], "MIS open after the session"
    finally:
        await svc.stop()
    return undone


def records_of(journal_dir: Path) -> list[tuple[Path, bytes]]:
    """Every line of the journal, all days in order, with its file."""
    paths = [journal_path(journal_dir, d) for d in journal_days(journal_dir)]
    return [(p, line) for p in paths for line in p.read_bytes().splitlines(keepends=True)]


def cut_journal(journal_dir: Path, keep: int) -> None:
    """Keep the journal's first ``keep`` records (all days in order): the rest never reached the
    disk. A day's file left with none is removed (a start that wrote none of it is not left empty)."""
    lines = records_of(journal_dir)
    for path in dict.fromkeys(p for p, _ in lines):
        kept = b"".join(line for p, line in lines[:keep] if p == path)
        if kept or path == lines[0][0]:
            path.write_bytes(kept)
        else:
            path.unlink()
