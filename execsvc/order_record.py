"""One order of the day and how far it got, as the state's fold keeps it."""

from __future__ import annotations

import msgspec

from execsvc.events import CancelIntent, OrderAccepted


class OrderRecord(msgspec.Struct, gc=False):
    """One order of the day and how far it got.

    A mutable msgspec struct that the garbage collector does not track (``gc=False``; it holds no
    reference cycles, and ``fill_ids`` is a dict of strings, which CPython leaves untracked too). A
    day's state keeps every order it saw: as tracked objects they made each full collection scan
    the whole day, a stall that grew with the day (85 ms at 120k orders on the paper pipeline).
    """

    order: OrderAccepted
    fills: int = 0
    triggered: bool = False
    unknown: bool = False
    broker_order_id: str | None = None
    fill_ids: dict[str, None] = msgspec.field(default_factory=dict)
    filled_qty: int = 0
    filled_value: float = 0.0
    charges: float = 0.0
    realized_gross: float = 0.0
    # what the trades it closed cost: its charges but what of them opened a position, and the
    # charges that opened the quantity it closed (a closing order's net, for the loss streak)
    round_trip_charges: float = 0.0
    working: bool = True
    closing: bool = False  # a fill of it reduced an open position: it counts in the loss streak
    released: bool = False  # an after-market order that went to the exchange (OrderReleased)
    # a cancel asked for before the broker acknowledged the order (its placement in flight, or its
    # outcome unknown), or held to be sent again (refused, or its answer lost: ``cancel_retry``):
    # sent once the broker shows the order working (``changes.carry_out_pending_cancel``); a
    # journaled ``CancelIntent.deferred``
    pending_cancel: CancelIntent | None = None
    # the cancel journaled as sent (the write-ahead of its DELETE) and not refused: a restart that
    # finds the order working at the broker sends it again (``cancel_retry.hold_unanswered``)
    cancel_sent: CancelIntent | None = None
    # modifications journaled (``OrderModified``): Kite takes 25 an order, and a restart's limiter
    # starts from these (``RateLimiter.restore_modifications``)
    modifications: int = 0

    @property
    def remaining(self) -> int:
        """Quantity neither filled nor cancelled."""
        return self.order.qty - self.filled_qty if self.working else 0

    @property
    def waits_for_open(self) -> bool:
        """An order queued for its exchange's open, not matched yet (``OrderReleased`` marks when it
        goes to the book): an after-market order (AMO), or a future paper or dry-run took in the
        F&O pre-open (``OrderAccepted.at_open``). Only an AMO survives the date line
        (``amo_waiting``)."""
        order = self.order
        return self.working and (order.variety == "amo" or order.at_open) and not self.released

    @property
    def amo_waiting(self) -> bool:
        """An after-market order (AMO) that has not gone to the exchange yet: it survives the date
        line, as the broker keeps it for the next open (a pre-open future is a DAY order: it ends)."""
        return self.working and self.order.variety == "amo" and not self.released

    @property
    def avg_price(self) -> float | None:
        """Average fill price so far."""
        return self.filled_value / self.filled_qty if self.filled_qty else None
