"""Square-off: get flat in MIS before the broker's own (charged) auto square-off.

Working MIS orders are cancelled first, then every MIS position is closed with a MARKET order. All
of it goes through the pipeline and the journal, the request first. The closing orders are marked
as square-off: they only reduce, so they pass a halt, the throttles and the order-value cap (a
burst of closing orders must all go out); the session calendar still applies.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from execsvc.engine import INTENTS_TOPIC, Submission
from execsvc.events import ExecutionResult, SquareOffRequested
from execsvc.executors.base import closing_intent

if TYPE_CHECKING:
    from execsvc.service import ExecutionService

log = logging.getLogger("execsvc.squareoff")


async def square_off(
    svc: ExecutionService, strategy: str | None, *, reason: str, by: str, round_no: int
) -> list[ExecutionResult]:
    """Square off one strategy's MIS positions, or everyone's.

    Args:
        svc: a running service.
        strategy: one strategy, or None for all.
        reason: journaled with the request.
        by: who asked (the control API, the session clock, an operator).
        round_no: this service's square-off count (keeps the closing intents' ids unique).

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
        if order.product == "MIS" and strategy in (None, order.strategy_code):
            results.append(await svc.cancel_order(order.order_id, reason=f"square-off: {reason}"))
    day = engine.state.day.replace("-", "")
    closing = [
        p
        for p in engine.state.positions.values()
        if p.product == "MIS" and p.net_qty and strategy in (None, p.strategy_code)
    ]
    waiters = []
    for n, position in enumerate(closing, start=1):
        intent = closing_intent(position, f"sqoff-{day}-{now}-{round_no}-{n}", f"square-off: {reason}", now)
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
