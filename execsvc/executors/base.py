"""The executor protocol: what the engine asks of paper, live and dry-run executors.

An executor turns orders that passed the breakers into journal events through the engine's ``emit``
(so everything it does is journaled and folded at once). ``place`` and ``cancel`` are synchronous:
an executor that must wait for a broker starts that work in the service's task group and emits the
outcome when it arrives; the engine answers the caller with the intent's first result whenever it
comes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from execsvc.calendar import MarketCalendar
from execsvc.clock import iso_ist
from execsvc.errors import ExecsvcError
from execsvc.events import (
    ExecutionResult,
    ModifyIntent,
    OrderAccepted,
    OrderCancelled,
    OrderIntent,
    OrderModified,
)
from execsvc.market.multipliers import multiplier_field
from execsvc.market.ticks import Tick
from execsvc.positions import Position
from execsvc.rounding import round_dp

if TYPE_CHECKING:
    from execsvc.market.auction_months import AuctionMonths
    from execsvc.state import OrderRecord

Emit = Callable[[Any], int]
"""The engine's ``emit``: journal an event and fold it into the state; returns its journal ``seq``."""


class SessionGate(Protocol):
    """The market calendar's say on whether an order may go out now (see ``execsvc.calendar``)."""

    def may_place(
        self,
        exchange: str,
        ts_ns: int,
        *,
        variety: str,
        instrument_type: str | None = None,
        order_type: str | None = None,
        validity: str | None = None,
        symbol: str | None = None,
        months: AuctionMonths | None = None,
    ) -> tuple[bool, str]:
        """(allowed, reason); the keywords but ``variety`` matter only for an F&O future in the
        pre-open (``months``: which contract months its call auction takes, for ``symbol``)."""
        ...


def accepted(
    intent: OrderIntent,
    order_id: str,
    reducing: bool,
    now_ns: int,
    multiplier: float = 1.0,
    *,
    at_open: bool = False,
) -> OrderAccepted:
    """The ``OrderAccepted`` event of an order an executor takes for ``intent``, valued with the
    contract's ``multiplier`` (``execsvc.market.multipliers``); ``at_open``: a future taken in the
    F&O pre-open, held for the open (``BrokerCutoffs.waits_for_auction``)."""
    return OrderAccepted(
        order_id=order_id,
        intent_id=intent.intent_id,
        strategy_code=intent.strategy_code,
        symbol=intent.symbol,
        side=intent.side,
        qty=intent.qty,
        order_type=intent.order_type,
        product=intent.product,
        validity=intent.validity,
        price=intent.price,
        trigger_price=intent.trigger_price,
        reducing=reducing,
        ts_event=now_ns,
        variety=intent.variety,
        **multiplier_field(multiplier),
        **({"at_open": True} if at_open else {}),
    )


def order_result(
    record: OrderRecord,
    status: str,
    now_ns: int,
    mode: str,
    *,
    order_id: str | None = None,
    message: str | None = None,
    reject_reason: str | None = None,
    raw: dict[str, Any] | None = None,
) -> ExecutionResult:
    """An order's result as it stands: cumulative fills, average price and charges."""
    order = record.order
    avg = record.avg_price
    return ExecutionResult(
        intent_id=order.intent_id,
        strategy_code=order.strategy_code,
        status=status,
        symbol=order.symbol,
        side=order.side,
        qty=order.qty,
        order_id=order_id or order.order_id,
        filled_qty=record.filled_qty,
        avg_price=round_dp(avg, 6) if avg is not None else None,
        message=message,
        reject_reason=reject_reason,
        raw=raw,
        timestamp=iso_ist(now_ns),
        ts_event=now_ns,
        mode=mode,
        charges=round_dp(record.charges, 4),
    )


def cancelled(record: OrderRecord, reason: str, now_ns: int) -> OrderCancelled:
    """The ``OrderCancelled`` event for the rest of a working order."""
    order = record.order
    return OrderCancelled(
        order_id=order.order_id,
        intent_id=order.intent_id,
        strategy_code=order.strategy_code,
        symbol=order.symbol,
        cancelled_qty=record.remaining,
        reason=reason,
        ts_event=now_ns,
    )


def modified(order: OrderAccepted, change: ModifyIntent, now_ns: int) -> OrderModified:
    """The ``OrderModified`` event for ``order`` under ``change`` (a term left None stays as it was)."""
    return OrderModified(
        order_id=order.order_id,
        intent_id=order.intent_id,
        qty=change.qty if change.qty is not None else order.qty,
        order_type=change.order_type or order.order_type,
        price=change.price if change.price is not None else order.price,
        trigger_price=change.trigger_price if change.trigger_price is not None else order.trigger_price,
        ts_event=now_ns,
    )


def rejected(intent: OrderIntent, reason: str, message: str, now_ns: int, mode: str) -> ExecutionResult:
    """A REJECTED result for ``intent``: ``reason`` is machine-readable, ``message`` for people."""
    return ExecutionResult(
        intent_id=intent.intent_id,
        strategy_code=intent.strategy_code,
        status="REJECTED",
        symbol=intent.symbol,
        side=intent.side,
        qty=intent.qty,
        message=message,
        reject_reason=reason,
        timestamp=iso_ist(now_ns),
        ts_event=now_ns,
        mode=mode,
    )


class Executor(Protocol):
    """Paper, live or dry-run order handling."""

    mode: str
    result_mode: str

    def place(
        self,
        intent: OrderIntent,
        order_id: str,
        reducing: bool,
        now_ns: int,
        *,
        not_after_ns: int | None = None,
    ) -> object:
        """Take an order that passed the breakers (its first result is emitted now or later).

        ``not_after_ns``: the latest it may still be sent (``base.placement_deadline``); None: any time.
        """
        ...

    def cancel(self, order_id: str, reason: str, now_ns: int) -> object:
        """Cancel a working order (the outcome is emitted now or later)."""
        ...

    def modify(self, order_id: str, change: ModifyIntent, now_ns: int) -> object:
        """Change a working order's terms (validated already; the outcome is emitted now or later)."""
        ...

    def cancel_waits(self, record: OrderRecord) -> str | None:
        """Why a cancel of ``record``'s working order must be held, or None to cancel it now.

        A held cancel is journaled as deferred and answered at once; the executor sends it once the
        broker knows the order (``order_changes.handle_cancel``).
        """
        ...

    def modify_waits(self, record: OrderRecord) -> str | None:
        """Why ``record``'s working order cannot be modified yet (the request is refused), or None."""
        ...

    def on_tick(self, tick: Tick, now_ns: int) -> None:
        """Market data: update prices, fill what a simulated book crosses."""
        ...

    def last_price(self, symbol: str) -> float | None:
        """The last traded price, for breakers that value orders."""
        ...

    def restore(self) -> None:
        """After the journal was folded at start-up: take over the working orders."""
        ...

    def expire_all(self, now_ns: int, reason: str) -> None:
        """At the end of the trading day: working DAY orders end."""
        ...


def closing_intent(position: Position, intent_id: str, reason: str, now_ns: int) -> OrderIntent:
    """The MARKET order that closes ``position`` (a square-off's), as validation would normalise it."""
    return OrderIntent(
        symbol=position.symbol,
        strategy_code=position.strategy_code,
        side="SELL" if position.net_qty > 0 else "BUY",
        qty=abs(position.net_qty),
        order_type="MARKET",
        product=position.product,
        reason=reason,
        intent_id=intent_id,
        exchange=position.symbol.partition(":")[0],
        ts_init=now_ns,
    )


def awaited_open(calendar: object, intent: OrderIntent) -> int | None:
    """The open an after-market order sent while its exchange was not open waits for, or None.

    Until that open it is as good as new: the exchange takes it then, whether it was placed as it
    was sent (20:00) or hours later (an executor restarted overnight). None for any other order,
    an AMO sent during the session (it trades at once), or without a session calendar.
    """
    if intent.variety != "amo" or not isinstance(calendar, MarketCalendar):
        return None
    exchange = intent.exchange or "NSE"
    try:
        if calendar.phase(exchange, intent.ts_init) == "open":
            return None
        return calendar.next_open(exchange, intent.ts_init)
    except (ExecsvcError, ValueError, OverflowError):  # no session ahead, a date past the calendar
        return None


def placement_deadline(
    max_age_seconds: float | None, intent: OrderIntent, calendar: object, *, square_off: bool = False
) -> int | None:
    """The latest time (ns) an order may still be sent: ``ts_init`` plus the age limit, or for an
    after-market order the open it waits for if later (``awaited_open``); None for any time (no
    limit, or the service's own square-off). Live, the rate limiter refuses a slot past it."""
    if max_age_seconds is None or square_off:
        return None
    deadline = intent.ts_init + round(max_age_seconds * 1e9)
    if intent.variety != "amo":
        return deadline
    opens = awaited_open(calendar, intent)
    return deadline if opens is None else max(deadline, opens)
