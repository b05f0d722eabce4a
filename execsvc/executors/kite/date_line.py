"""The live executor at the IST date line: what it ends of the day before the new one starts.

Every session has closed by midnight and the exchange ends DAY orders at its close, so a regular
order still working at the line only missed its last update (the poller reads the order book
while any order works, so this takes broker trouble). It is closed as expired with what it
filled; a fill it missed shows at the next reconciliation as a position mismatch. An after-market
order (AMO) goes on into the new day: the broker sends it at the next open. Kite's daily counts
(placements, modifications per order) start again. A dry run's broker is the paper simulator,
which meets the line as paper does (``PaperExecutor.expire_all``).

The feed's last prices are forgotten at the line as paper forgets them (``forget_prices``): the
last ticks of what the new day holds become its marks, journaled in ``PositionsCarried.marks``
and restored by a start on that day; the rest are gone. Ticks are not journaled, so a service
restarted after the line knows no other price: kept, yesterday's last price would value an order
placed before its instrument's first tick of the day (the order-value cap, ``reference_price``)
in a run that went on and not in a restarted one, and the two would decide differently.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

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
    live.paper.forget_prices(now_ns)
