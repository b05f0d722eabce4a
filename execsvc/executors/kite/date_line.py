"""The live executor at the IST date line: what it ends of the day before the new one starts.

Every session has closed by midnight and the exchange ends DAY orders at its close, so a regular
order still working at the line only missed its last update (the poller reads the order book
while any order works, so this takes broker trouble). It is closed as expired with what it
filled; a fill it missed shows at the next reconciliation as a position mismatch. An after-market
order (AMO) goes on into the new day: the broker sends it at the next open. Kite's daily counts
(placements, modifications per order) start again. A dry run's broker is the paper simulator,
which meets the line as paper does (``PaperExecutor.expire_all``).

The feed's last prices stay at the line (paper forgets those of what it does not hold,
``PaperExecutor.forget_prices``): Kite's WebSocket, as the simulator, sends the last tick of each
instrument at once on a subscription, so a service restarted after the line has the last
session's price of everything it subscribes again, as one that went on kept it. Forgotten, an
order placed before its instrument's first tick of the day would be valued by the order-value cap
(``reference_price``) at that price in the restarted run and at none in the other (until a
reconnect subscribed again), and the two would decide differently. The last ticks of what the new
day holds become its marks (``carried_marks``), journaled in ``PositionsCarried.marks`` and
restored by a start on that day, so a held instrument nobody subscribes again is marked alike.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from execsvc.executors.paper.day_closes import carried_marks

if TYPE_CHECKING:
    from execsvc.executors.kite.live import LiveExecutor

log = logging.getLogger("execsvc.live")


def expire_at_date_line(live: LiveExecutor, now_ns: int, reason: str) -> None:
    """End the day at ``live``'s broker (see the module docstring); ``reason`` names the line."""
    live.limiter.reset_day()
    if live.dry_run:
        live.paper.expire_all(now_ns, reason)
        return
    for record in live.state.working_orders():
        if record.amo_waiting:
            continue  # an AMO: it goes out at the next open, carried into the new day
        log.warning("order %s (broker %s) was still working at the date line: closed as expired",
                    record.order.order_id, record.broker_order_id)  # fmt: skip
        live.close_order(record, "CANCELLED", f"{reason}: no update from the broker ended it", "expired")
    live.paper.closes = carried_marks(live.paper, now_ns)  # the feed's prices stay: see above
