"""The trading day's journal: opening it at start-up, and rolling over to the next at the IST date line.

A day's journal starts with ``JournalOpened``; a new day also carries in the open overnight (CNC,
NRML, MTF) positions of the last journaled day (``PositionsCarried``) and a halt nobody lifted (a
halt lasts until someone resumes, across days and restarts). An intraday (MIS) position the last
day left open is not carried: the broker squares it off before the close (its auto square-off) and
starts the next day without it, so carrying it would leave a phantom (in live, a reconciliation
mismatch that halts trading); on paper the simulated broker closes it in its own day first
(``PaperExecutor.expire_all``, also when the service was down at the date line: ``last_day``), and
one it could not price is recorded in ``PositionsCarried.expired`` and logged as a warning. On
paper (and live, whose executor takes them at the line alike) the carried positions'
marks go with them (``PositionsCarried.marks``: ticks are not journaled), so a start on the new
day marks them as the service that met the line did. An
after-market order (AMO) still waiting goes on into the new day (``OrdersCarried``): it reaches
the exchange at the new day's open, so its updates (live) or its first tick (paper) must find it
there. Breaker figures and latches start afresh with the day (the fold of ``JournalOpened``
resets them). Restarting on a day that has a journal folds it instead, and first writes whatever of
the opening a crash cut off (the opening is several writes).

Idempotency reaches across the date line: the first results of the last journaled day are kept
(``Engine.previous_day_results``), so an intent sent before midnight and sent again after it (a
retry of an after-market order, a restart) gets its first result back instead of a second order;
one that day journaled without a result (in flight when the service stopped) is refused, never
placed again (``Engine.previous_day_unanswered``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

from execsvc.clock import ist_ns, trading_day
from execsvc.errors import ConfigError
from execsvc.events import (
    CarriedOrder,
    ExecutionResult,
    Fill,
    JournalOpened,
    OrderAccepted,
    OrderCancelled,
    OrderIntent,
    OrderModified,
    OrderReleased,
    OrdersCarried,
    OrderTriggered,
    PositionsCarried,
    TradingHalted,
)
from execsvc.executors.kite.mapping import tag_for
from execsvc.executors.paper.day_closes import marks_to_carry, restore_closes
from execsvc.executors.paper.session_closes import restore as restore_session_closes
from execsvc.interrupted import settle_intents, settle_paper_orders, unanswered
from execsvc.last_day import (
    SIMULATED_BROKER,
    has_records,
    journal_marks,
    missed_day,
    previous_day,
    readable_previous_day,
)
from execsvc.market.multipliers import multiplier_field
from execsvc.market.ticks import Tick
from execsvc.positions import Position
from execsvc.state import ServiceState

if TYPE_CHECKING:
    from execsvc.engine import Engine

log = logging.getLogger("execsvc.engine")

_DAY_NS = 86_400 * 1_000_000_000

_ORDER_CHANGES = (OrderAccepted, Fill, OrderCancelled, OrderTriggered, OrderReleased, OrderModified)


def open_today(engine: Engine) -> None:
    """Open today's journal and fold it; a new day carries positions in from the last journaled day.

    A paper day whose date line passed while the service was down is opened instead, to be rolled
    over before intake starts (``execsvc.last_day``): its end is then the engine's day end.
    """
    now = engine.clock.now_ns()
    day = trading_day(now).isoformat()
    previous: ServiceState | None = None
    missed: str | None = None
    if not has_records(engine.journal.directory, day):
        previous = previous_day(engine, day)
        missed = missed_day(engine.executor.result_mode, day, previous, engine.instruments.expiry)
        day = missed or day
    existing = engine.journal.open(day)
    if existing.records:
        _refuse_another_mode(engine, day, existing.records[0].ev)
        answers = engine.answers
        intents: list[OrderIntent] = []
        last_change: dict[str, int] = {}
        for record in existing.records:
            event = record.ev
            engine.state.apply(event, record.ts)
            if type(event) is ExecutionResult:
                answers.first_seq.setdefault(event.intent_id, record.seq)
                answers.latest_seq[event.intent_id] = record.seq
            elif type(event) is OrderIntent:
                intents.append(event)
            elif isinstance(event, _ORDER_CHANGES):
                last_change[event.order_id] = record.seq
        before = readable_previous_day(engine, day)
        _complete_opening(engine, day, [r.ev for r in existing.records], before, now)
        _settle_interrupted(engine, unanswered(intents, engine.state), last_change, now)
        _remember_previous_day(engine, before)
        if engine.executor.result_mode in SIMULATED_BROKER:
            # ticks are not journaled: a position whose instrument does not tick again before the
            # date line (a restart after its last tick, or after the line itself) closes at the
            # day's last price the journal knows, as it would at a start after the line
            engine.paper.journal_marks = journal_marks(existing.records, engine.state)
            restore_session_closes(engine.paper, existing.records)  # and its prices past the closes
        log.info(
            "folded %d journal records of %s: %d positions, %d working orders",
            len(existing.records),
            day,
            len(engine.state.positions),
            len(engine.state.working_orders()),
        )
    else:
        _remember_previous_day(engine, previous)
        _start_day(engine, day, previous, now)
    restore_closes(engine.paper, engine.state.carried_marks)  # the carried marks still standing
    engine.executor.restore()
    engine._day_end_ns = ist_ns(date.fromisoformat(day), 0, 0) + _DAY_NS


def _refuse_another_mode(engine: Engine, day: str, first: Any) -> None:
    """A day's journal is one mode's (paper, live or dry-run): folding a paper or dry-run day into
    a live service would trade on positions and orders that are not there, and the reverse would
    simulate fills of the broker's orders."""
    if type(first) is not JournalOpened:
        return
    theirs, ours = first.result_mode, engine.executor.result_mode
    if theirs != ours:
        engine.journal.close()
        raise ConfigError(
            f"journal.dir={str(engine.journal.directory)!r}: today's journal ({day}) is a {theirs} "
            f"day's; a {ours} service needs a journal directory of its own"
        )


def _settle_interrupted(
    engine: Engine, intents: list[OrderIntent], last_change: dict[str, int], now: int
) -> None:
    """Answer what a crash left half-journaled (see ``execsvc.interrupted``).

    Paper settles intents and its orders now; dry-run only intents (it cannot ask the broker about
    orders, and its journal may hold live ones); live leaves its orders to reconciliation, and its
    unanswered intents to :func:`settle_live_intents` after it (the broker may have adopted them).
    """
    mode = engine.executor.result_mode
    if mode == "live":
        engine.unanswered_intents = intents
        return
    events: list[OrderCancelled | ExecutionResult] = [*settle_intents(intents, now, mode)]
    if mode == "paper":
        events += settle_paper_orders(engine.state, last_change, engine.answers.latest_seq, now, mode)
    for event in events:
        engine.emit(event)
    if events:
        log.warning("settled %d records a crash left half-journaled: %s", len(events), _summary(events))


def settle_live_intents(engine: Engine, now: int) -> None:
    """After reconciliation: reject the live intents that neither the journal nor the broker placed."""
    placed = engine.state.orders  # keyed by tag: an order the broker had is there, adopted
    left = [i for i in engine.unanswered_intents if tag_for(i.intent_id) not in placed]
    engine.unanswered_intents = []
    for result in settle_intents(left, now, engine.executor.result_mode):
        engine.emit(result)
    if left:
        log.warning("rejected %d intents the service stopped before handling: %s", len(left),
                    ", ".join(i.intent_id for i in left))  # fmt: skip


def _summary(events: list[OrderCancelled | ExecutionResult]) -> str:
    return ", ".join(f"{e.intent_id} {e.status}" for e in events if isinstance(e, ExecutionResult))


async def roll_over(engine: Engine, now: int) -> None:
    """Expire working orders, then close the old day's file and open the new one.

    One roll at a time: a tick and an intent crossing midnight together must not roll twice; the
    old file is closed only once everything written to it was released.
    """
    async with engine._rolling:
        if now < engine._day_end_ns:
            return  # someone else rolled while we waited
        engine.executor.expire_all(now, "expired at the end of the trading day")
        journal = engine.journal
        answers = engine.answers
        journal.stop_holding()  # a roll inside the engine's batch: appends from now on wake the writer
        # Other tasks (a live order's outcome, the poller) may append while this waits: loop until a
        # pass finds nothing unreleased, so no record of the old day goes unreported and no answer
        # is left behind when seqs start again at 0 (nothing awaits between the check and close).
        while True:
            await journal.flush()
            await answers.published()
            if not (journal.pending() or answers.pending_release()):
                break
        day = trading_day(now).isoformat()
        opening = _opening(engine, day, engine.state, now, engine.paper.closes)
        _remember_previous_day(engine, engine.state)  # before the fold of the new day clears it
        journal.close()
        answers.new_day()
        journal.open(day)
        _write_opening(engine, opening)
        engine._day_end_ns = day_end_ns(now)
    log.info("new trading day %s: journal %s", day, journal.path)


def day_end_ns(now: int) -> int:
    """The first nanosecond of the IST day after the one ``now`` falls in."""
    return ist_ns(trading_day(now), 0, 0) + _DAY_NS


def open_positions(state: ServiceState) -> list[Position]:
    """The positions that are not flat, as fresh ``Position`` values (what a new day may carry)."""
    return [
        Position(
            strategy_code=p.strategy_code,
            symbol=p.symbol,
            product=p.product,
            net_qty=p.net_qty,
            avg_price=p.avg_price,
            open_charges=p.open_charges,
            **multiplier_field(p.multiplier),
        )
        for p in state.positions.values()
        if p.net_qty != 0
    ]


def carried_and_expired(
    state: ServiceState, expiry_of: Callable[[str], date | None], day: str
) -> tuple[list[Position], list[Position]]:
    """A day's open positions split into those the next day (``day``) carries and those that end:
    the MIS ones (the broker squares them off) and those in a contract that expired before ``day``
    (the exchange settled it: live, the broker shows it no more; on paper, one the simulated
    broker could not price, ``executors/paper/expiry``)."""
    new_day = date.fromisoformat(day)
    carried: list[Position] = []
    ended: list[Position] = []
    for p in open_positions(state):
        expiry = expiry_of(p.symbol)
        gone = p.product == "MIS" or (expiry is not None and expiry < new_day)
        (ended if gone else carried).append(p)
    return carried, ended


def _remember_previous_day(engine: Engine, previous: ServiceState | None) -> None:
    """Keep what idempotency across the date line needs of a day: its first results, and its
    intents that never got one (a copy: a rolled-over state is cleared by the new day's fold);
    and its realized net P&L as it closed, the auto square-off included (a replay's equity curve)."""
    if previous is None:
        engine.previous_day_results, engine.previous_day_unanswered = {}, set()
        engine.previous_day_realized_net = 0.0
        return
    engine.previous_day_results = dict(previous.first_results)
    engine.previous_day_unanswered = previous.intent_ids - previous.first_results.keys()
    engine.previous_day_realized_net = previous.breakers.realized_net


_CARRIED_HALT = "carried from the previous day"
Opening = JournalOpened | PositionsCarried | OrdersCarried | TradingHalted


def _opening(
    engine: Engine, day: str, previous: ServiceState | None, now: int, closes: dict[str, Tick] | None = None
) -> list[Opening]:
    """The records a day's journal starts with: what the day carries in from ``previous``.

    The carried positions' marks (every mode) are the running executor's ``closes`` when it
    met the date line itself (``expire_all`` left them there), else, at a start, the last prices
    of ticks ``previous``'s journal holds (``ServiceState.marks``).
    """
    dry_run = engine.executor.result_mode == "dry-run"
    capital = engine.limits.capital_rupees
    events: list[Opening] = [
        JournalOpened(day=day, mode=engine.mode, ts_event=now, dry_run=dry_run, capital=capital)
    ]
    if previous is None:
        return events
    carried, expired = carried_and_expired(previous, engine.instruments.expiry, day)
    if carried or expired:
        # every mode: live takes the marks at the line as paper does (``kite.date_line``)
        marks = marks_to_carry(carried, previous.marks() if closes is None else closes)
        events.append(
            PositionsCarried(
                positions=carried, from_day=previous.day, expired=expired, ts_event=now, marks=marks
            )
        )
    orders = carried_orders(previous)
    if orders:
        events.append(OrdersCarried(orders=orders, from_day=previous.day, ts_event=now))
    halted = previous.breakers.halted_reason
    if halted is not None:
        events.append(TradingHalted(reason=halted, by=_CARRIED_HALT, ts_event=now))
    return events


def carried_orders(state: ServiceState) -> list[CarriedOrder]:
    """The after-market orders still waiting for the exchange: they go out at the next day's open.

    Every other order of a day has ended by its date line (the last session, MCX's, closes before
    midnight, and the exchange ends DAY orders at the close); an AMO placed after the close waits
    for the next open (``OrderRecord.amo_waiting``), live even while its placement's answer is
    on its way or was lost (the broker may hold it). Its intent's answers go with it, and the keys
    of its cancels and modifications (a redelivered one is answered on the new day, not done again),
    and its cancel held or journaled as sent (a restart on the new day sends one a crash cut off).
    """
    first, latest, keys = state.first_results, state.latest_results, state.change_keys_by_order()
    live = state.result_mode == "live"
    return [
        CarriedOrder(
            order=r.order,
            broker_order_id=r.broker_order_id,
            filled_qty=r.filled_qty,
            filled_value=r.filled_value,
            triggered=r.triggered,
            unknown=r.unknown,
            fill_ids=list(r.fill_ids),
            first_result=first.get(r.order.intent_id),
            latest_result=latest.get(r.order.intent_id),
            change_keys=keys.get(r.order.order_id, []),
            pending_cancel=r.pending_cancel,
            cancel_sent=r.cancel_sent,
        )
        for r in state.working_orders()
        # paper and dry-run: one a crash cut before its first answer was never taken (its intent
        # is refused as unanswered); live: the broker may hold it, reconciliation will tell
        if r.amo_waiting and (live or r.order.intent_id in first)
    ]


def _start_day(engine: Engine, day: str, previous: ServiceState | None, now: int) -> None:
    _write_opening(engine, _opening(engine, day, previous, now))


def _write_opening(engine: Engine, opening: list[Opening]) -> None:
    for event in opening:
        engine.emit(event)
        if type(event) is PositionsCarried and event.expired:
            mis = [p for p in event.expired if p.product == "MIS"]
            settled = [p for p in event.expired if p.product != "MIS"]
            if mis:
                log.warning("%d MIS positions the day %s left open are not carried: the broker squares "
                            "intraday positions off itself (auto square-off, charged per order): %s",
                            len(mis), event.from_day, _listed(mis))  # fmt: skip
            if settled:
                log.warning("%d positions the day %s left open in expired contracts are not carried: "
                            "the exchange settled them (their P&L is not in this journal): %s",
                            len(settled), event.from_day, _listed(settled))  # fmt: skip


def _listed(positions: list[Position]) -> str:
    return ", ".join(f"{p.strategy_code} {p.symbol} {p.net_qty:+d} @ {p.avg_price:g}" for p in positions)


def _complete_opening(
    engine: Engine, day: str, journaled: list[Any], previous: ServiceState | None, now: int
) -> None:
    """Write what a crash cut from the day's opening: the positions and the halt carried in.

    The opening's records reach the file one write (under ``always``, one fdatasync) at a time, so
    a kill -9 can leave ``journal_opened`` without the ``positions_carried`` or the carried halt
    after it; folded as it is, the day would start flat and unhalted. A journal that holds nothing
    but a strict prefix of the opening the last journaled day calls for gets the rest, now.
    """
    if previous is None:
        return
    expected = _opening(engine, day, previous, now)
    if len(journaled) >= len(expected) or not all(
        _same_kind(a, b) for a, b in zip(journaled, expected, strict=False)
    ):
        return
    missing = expected[len(journaled) :]
    log.warning("the opening of %s was cut short by a crash: writing its %d missing records now",
                day, len(missing))  # fmt: skip
    for event in missing:
        engine.emit(event)


def _same_kind(journaled: Any, expected: Any) -> bool:
    if type(journaled) is not type(expected):
        return False
    return type(journaled) is not TradingHalted or journaled.by == _CARRIED_HALT
