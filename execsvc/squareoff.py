"""Square-off: get flat in MIS before the broker's own (charged) auto square-off.

Working MIS orders are cancelled first, then every MIS position is closed with a MARKET order. All
of it goes through the pipeline and the journal, the request first. The closing orders are marked
as square-off: they only reduce, so they pass a halt, the throttles and the order-value cap (a
burst of closing orders must all go out); the session calendar still applies. A position above its
F&O freeze quantity is closed in slices the exchange takes (``market.freeze.freeze_slices``):
validation would refuse the whole, and leave the position to the broker's charged square-off.

The session clock squares off each group of exchanges at its own time (:data:`SESSION_GROUPS`): MCX
trades until 23:30 or 23:55 (the day's close by US daylight saving, ``session_hours``), so closing
its MIS at NSE's 15:15 would end a commodity trader's day hours early, and leave the evening's MIS
to the broker's charged square-off; F&O keeps its own ``session.square_off_fo`` (15:20, before
Zerodha's 15:25) rather than equity's 15:15.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import TYPE_CHECKING

from execsvc.clock import ist_hhmm, trading_day
from execsvc.engine import INTENTS_TOPIC, Submission
from execsvc.events import ExecutionResult, SquareOffRequested
from execsvc.executors.base import closing_intent
from execsvc.market.freeze import freeze_slices

if TYPE_CHECKING:
    from execsvc.calendar import MarketCalendar
    from execsvc.service import ExecutionService

log = logging.getLogger("execsvc.squareoff")

SESSION_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("NSE", ("NSE", "BSE")),  # session.square_off_equity
    ("NFO", ("NFO", "BFO")),  # session.square_off_fo: Zerodha squares F&O off 5 minutes after equity
    ("CDS", ("CDS", "BCD")),
    ("MCX", ("MCX",)),
)
"""The session clock's square-offs: the exchange whose calendar sets the time, and the exchanges
whose MIS it closes then (one segment each, so each follows its own ``session.square_off_*``)."""


def mis_entry_cutoff(calendar: MarketCalendar) -> Callable[[str, int], str | None]:
    """The engine's refusal of a fresh MIS order on an exchange past its group's session square-off
    time (``Engine.mis_entry_cutoff``): getting flat there and opening again before the broker's own
    square-off a few minutes later would leave the position to it, and to its fee. Exits pass."""
    leads = {exchange: lead for lead, exchanges in SESSION_GROUPS for exchange in exchanges}

    def refusal(exchange: str, now_ns: int) -> str | None:
        lead = leads.get(exchange)
        at = calendar.square_off_ns(lead, trading_day(now_ns)) if lead is not None else None
        if at is None or now_ns < at:
            return None
        when = ist_hhmm(at)
        return (
            f"{lead} MIS square-off time {when} IST has passed: no fresh MIS order on {exchange} (exits pass)"
        )

    return refusal


def _on(symbol: str, exchanges: Collection[str]) -> bool:
    return not exchanges or symbol.partition(":")[0] in exchanges


def holds_mis(svc: ExecutionService, exchanges: Collection[str]) -> bool:
    """Whether any MIS position is open, or MIS order working, on ``exchanges``: the session clock
    journals a square-off only then, so a day without currency or commodity trades has no record of
    one at 16:40 and in the evening."""
    state = svc.engine.state
    return any(
        p.product == "MIS" and p.net_qty and _on(p.symbol, exchanges) for p in state.positions.values()
    ) or any(r.order.product == "MIS" and _on(r.order.symbol, exchanges) for r in state.working_orders())


async def square_off(
    svc: ExecutionService,
    strategy: str | None,
    *,
    reason: str,
    by: str,
    round_no: int,
    exchanges: Collection[str] = (),
) -> list[ExecutionResult]:
    """Square off one strategy's MIS positions, or everyone's.

    Args:
        svc: a running service.
        strategy: one strategy, or None for all.
        reason: journaled with the request.
        by: who asked (the control API, the session clock, an operator).
        round_no: this service's square-off count (keeps the closing intents' ids unique).
        exchanges: only the MIS orders and positions of these exchanges (the session clock's
            groups); none named: every exchange.

    Returns:
        The results of the cancels and of the closing orders.
    """
    engine = svc.engine
    now = svc.clock.now_ns()
    engine.emit(SquareOffRequested(strategy_code=strategy, reason=reason, by=by, ts_event=now))
    log.warning("square-off of %s requested by %s: %s", strategy or "all strategies", by, reason)
    results: list[ExecutionResult] = []
    for record in engine.state.working_orders():
        order = record.order
        if (
            order.product == "MIS"
            and strategy in (None, order.strategy_code)
            and _on(order.symbol, exchanges)
        ):
            results.append(await svc.cancel_order(order.order_id, reason=f"square-off: {reason}"))
    day = engine.state.day.replace("-", "")
    closing = [
        p
        for p in engine.state.positions.values()
        if p.product == "MIS"
        and p.net_qty
        and strategy in (None, p.strategy_code)
        and _on(p.symbol, exchanges)
    ]
    waiters = []
    intents = [
        piece
        for n, position in enumerate(closing, start=1)
        for piece in freeze_slices(
            closing_intent(position, f"sqoff-{day}-{now}-{round_no}-{n}", f"square-off: {reason}", now),
            engine.instruments.by_key(position.symbol),
            engine.freeze,
        )
    ]
    for intent in intents:
        waiters.append(engine.wait_for(intent.intent_id))
        engine.square_off_ids.add(intent.intent_id)
        try:
            await svc.bus.publish(INTENTS_TOPIC, Submission(intent, intent.intent_id, square_off=True))
        except BaseException:
            for waiter in waiters:  # nobody will await them now
                waiter.cancel()
            raise
    # gather, not one await after another: when the service stops first, every waiter is failed,
    # and gather retrieves each failure instead of leaving the later ones unretrieved
    results.extend(await asyncio.gather(*waiters))
    return results
