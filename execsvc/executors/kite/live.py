"""The live executor: orders to Kite, never twice.

The sequence for one order:

1. The engine journals the intent; the breakers pass it.
2. ``place`` maps it to Kite's parameters, with a tag derived from the intent id, and emits
   ``OrderAccepted`` (our order id *is* the tag). Then, in the service's task group:
3. wait until that record is durable (write-ahead: nothing leaves before it is on disk);
4. wait for the rate limiter; POST the order (or, in dry-run, hand it to the paper simulator
   with the exact request it would have sent);
5. an order id back: ``OrderAcknowledged`` and a PLACED result. A definite refusal (4xx, 429,
   auth): the order is closed and the result is REJECTED. An unknown outcome (timeout, dropped
   connection, 5xx): ``OrderUnknown`` and an UNKNOWN result, then the tag is looked up in the
   order book until it is found, or until it has been absent long enough to be given up
   (REJECTED ``broker:not_found``). It is never sent again: an order that turns up later is
   followed after all.

Later changes come from ``apply_order`` (WebSocket order updates, postbacks, polling, start-up
reconciliation): fills are taken from the broker's trades and de-duplicated by trade id. The
lookups of an unknown outcome are in ``unknown.py``; cancels and modifications at the broker in
``changes.py``; what a record's status is, in ``order_state.py``.

Error handling: broker errors are mapped at the client's edge; here they become journaled
results. Resource handling: every background coroutine is started through ``spawn`` (the service's
task group) and ends with its order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from execsvc.config import KiteConfig
from execsvc.costs import CostModel
from execsvc.errors import BrokerError, ValidationError
from execsvc.events import (
    ExecutionResult,
    ModifyIntent,
    OrderAcknowledged,
    OrderIntent,
    OrderReleased,
)
from execsvc.executors.base import Emit, accepted, cancelled, order_result, rejected
from execsvc.executors.kite.changes import (
    cancel_at_broker,
    carry_out_pending_cancel,
    modify_at_broker,
    settle_modify,
    take_proven_quantity,
)
from execsvc.executors.kite.client import KiteRestClient
from execsvc.executors.kite.date_line import expire_at_date_line
from execsvc.executors.kite.iceberg_rows import leg_row_of_its_own
from execsvc.executors.kite.mapping import KiteOrder, KiteTrade, order_params, result_status, tag_for
from execsvc.executors.kite.order_state import (
    AT_EXCHANGE,
    MODIFY_PENDING,
    record_for,
    record_status,
    unacknowledged,
    was_given_up,
)
from execsvc.executors.kite.placement import send_placement
from execsvc.executors.kite.ratelimit import RateLimiter
from execsvc.executors.kite.trades import plan_fills
from execsvc.executors.paper.executor import PaperExecutor
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.state import OrderRecord, ServiceState

log = logging.getLogger("execsvc.live")

Spawn = Callable[[Coroutine[Any, Any, None]], object]


class LiveExecutor:
    """Kite orders with write-ahead, unknown-outcome resolution and dry-run; see the module docstring.

    Args:
        state: the service state (read-only here; changed through ``emit``).
        emit: the engine's journal-and-fold.
        flush: waits until everything emitted is durable.
        spawn: starts a coroutine in the service's task group.
        now_ns: the clock.
        config: the ``kite`` config section.
        paper: the paper executor: market state, and the fills of a dry run.
        client: the Kite REST client (None in dry-run).
        limiter: the process-wide rate limiter.
        dry_run: run everything up to the HTTP call, which is not made.
        max_intent_age_seconds: the age limit, named in a ``stale`` refusal's message (the engine
            works out each placement's deadline: ``base.placement_deadline``).
        sleep: the sleep used between order-book checks (tests pass a fast one).
    """

    mode = "live"

    def __init__(
        self,
        *,
        state: ServiceState,
        emit: Emit,
        flush: Callable[[], Awaitable[None]],
        spawn: Spawn,
        now_ns: Callable[[], int],
        config: KiteConfig,
        paper: PaperExecutor,
        client: KiteRestClient | None,
        limiter: RateLimiter,
        costs: CostModel,
        instruments: Instruments,
        dry_run: bool,
        on_unresolved: Callable[[str], None] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_intent_age_seconds: float | None = None,
    ) -> None:
        if client is None and not dry_run:
            raise ValidationError("a live executor without dry_run needs a Kite client")
        self.state = state
        self.emit = emit
        self.flush = flush
        self.spawn = spawn
        self.now_ns = now_ns
        self.config = config
        self.paper = paper
        self.client = client
        self.limiter = limiter
        self.costs = costs
        self.instruments = instruments
        self.dry_run = dry_run
        self.result_mode = "dry-run" if dry_run else "live"
        self.on_unresolved = on_unresolved
        self.sleep = sleep
        self.max_intent_age_seconds = max_intent_age_seconds
        self._seen_updates: set[tuple[Any, ...]] = set()
        self.seen_postbacks: dict[tuple[Any, ...], None] = {}  # bounded: see reconcile.apply_postback
        # orders with a modification whose answer was lost: their updates past the modify statuses
        # carry the broker's terms (FACTS.md 2.2), journaled until the order closes (settle_modify)
        self.unsettled_modifies: set[str] = set()
        self._reported: set[str] = set()
        self.unknown_resolved = 0
        self.not_found = 0

    # -- market data ------------------------------------------------------------------------------

    def on_tick(self, tick: Tick, now_ns: int) -> None:
        """Keep market state (and, in dry-run, fill the simulated resting orders)."""
        self.paper.on_tick(tick, now_ns)

    def last_price(self, symbol: str) -> float | None:
        """The last traded price seen on the feed."""
        return self.paper.last_price(symbol)

    # -- placing ----------------------------------------------------------------------------------

    def place(
        self,
        intent: OrderIntent,
        order_id: str,
        reducing: bool,
        now_ns: int,
        *,
        not_after_ns: int | None = None,
    ) -> None:
        """Map, write ahead, and send in the background (the result follows).

        An order whose rate-limit slot would come after ``not_after_ns`` (the engine's clock) is not
        sent (REJECTED ``stale``); None (the service's own square-off, no age limit) waits however long.
        """
        why = self.client.auth.refusal() if self.client is not None else None
        if why is not None:  # the Kite session expired: no point sending it (``session``)
            self.emit(rejected(intent, "session_expired", why, now_ns, self.result_mode))
            return
        tag = tag_for(intent.intent_id)
        try:
            variety, params = order_params(intent, tag, market_protection=self.config.market_protection)
        except ValidationError as exc:
            self.emit(rejected(intent, "mapping", str(exc), now_ns, self.result_mode))
            return
        # a dry run's simulated exchange holds a pre-open future for the open; live, Kite's does
        at_open = self.dry_run and self.paper.cutoffs.waits_for_auction(intent, now_ns)
        multiplier = self.paper.multipliers.for_order(intent.symbol)
        self.emit(accepted(intent, tag, reducing, now_ns, multiplier, at_open=at_open))
        not_after = None
        if not_after_ns is not None:  # on the limiter's clock
            not_after = self.limiter.now() + (not_after_ns - now_ns) / 1e9
        self.spawn(send_placement(self, tag, variety, params, not_after))

    def current(self, record: OrderRecord) -> OrderRecord:
        """An order's record after a wait: past midnight it is the new day's carried record."""
        return self.state.orders.get(record.order.order_id, record)

    def _acknowledge(
        self, record: OrderRecord, broker_id: str, adopted: bool = False, reopened: bool = False
    ) -> None:
        self.emit(
            OrderAcknowledged(
                order_id=record.order.order_id,
                intent_id=record.order.intent_id,
                broker_order_id=broker_id,
                adopted=adopted,
                reopened=reopened,
                ts_event=self.now_ns(),
            )
        )

    def emit_result(
        self, record: OrderRecord, status: str, message: str | None = None, reject_reason: str | None = None
    ) -> ExecutionResult:
        """Journal the order's result now (REJECTED carries ``reject_reason``, by default ``broker``)."""
        result = order_result(
            record,
            status,
            self.now_ns(),
            self.result_mode,
            order_id=record.broker_order_id,
            message=message,
            reject_reason=(reject_reason or "broker") if status == "REJECTED" else None,
        )
        self.emit(result)
        return result

    def close_order(self, record: OrderRecord, status: str, message: str, reason: str) -> None:
        """Close a working order (cancel its rest) and journal its final result."""
        order = record.order
        now = self.now_ns()
        held = record.pending_cancel is not None and record.working  # a REJECTED one ends it too
        if held and status == "REJECTED" and reason != "broker:not_found":
            message += "; the cancel pending for it has nothing left to cancel"
        if record.working:
            self.emit(cancelled(record, message, now))
        if status == "REJECTED" or reason == "broker:REJECTED":  # the rest of a part-filled one too
            log.warning("order %s rejected (%s): %s", order.order_id, reason, message)
        self.emit_result(record, status, message, reason)

    # -- cancelling -------------------------------------------------------------------------------

    def cancel(self, order_id: str, reason: str, now_ns: int) -> None:
        """Ask the broker to cancel (dry-run: cancel in the simulator)."""
        record = self.state.orders.get(order_id)
        if record is None or not record.working:
            return
        if self.dry_run:
            self.paper.cancel(order_id, reason, now_ns)
            return
        self.spawn(cancel_at_broker(self, record, reason))

    def cancel_waits(self, record: OrderRecord) -> str | None:
        """Why a cancel must be held: the broker has not acknowledged the order (dry-run: never,
        an order waiting for its slot is cancelled before it reaches the simulator)."""
        return None if self.dry_run else unacknowledged(self.state, record, dry_run=False)

    # -- modifying -------------------------------------------------------------------------------

    def modify_waits(self, record: OrderRecord) -> str | None:
        """Why a modification is refused for now: its terms would go to an order the broker has not
        acknowledged (dry-run: one not yet taken by the simulator), and could be stale by then."""
        return unacknowledged(self.state, record, dry_run=self.dry_run)

    def modify(self, order_id: str, change: ModifyIntent, now_ns: int) -> None:
        """Ask the broker to change a working order (dry-run: change it in the simulator)."""
        record = self.state.orders.get(order_id)
        if record is None or not record.working:
            return
        if self.dry_run:  # Kite's cap on an order's modifications, rehearsed
            try:
                self.limiter.note_modification(order_id)
            except BrokerError as exc:
                self.emit_result(record, record_status(record), f"modify refused: {exc}")
                return
            self.paper.modify(order_id, change, now_ns)
            return
        self.spawn(modify_at_broker(self, record, change))

    # -- updates from the broker ------------------------------------------------------------------

    async def apply_order(self, order: KiteOrder, trades: list[KiteTrade] | None = None) -> None:
        """Apply one state of a broker order (WebSocket, postback, poll, reconciliation), once.

        Fills come only from the broker's trades, each booked once by its trade id; an update whose
        trades are not visible yet is applied again by the next update or poll.
        """
        key = (
            order.order_id,
            order.status,
            order.filled_quantity,
            order.exchange_update_timestamp or "",
            (order.quantity, order.price, order.trigger_price, order.order_type),  # other terms: news
        )
        record = record_for(self.state, order)
        if record is None:
            return  # not ours: placed elsewhere, or another broker order carrying one of our tags
        if key in self._seen_updates and record.pending_cancel is None:
            return  # (the same state again may be what a cancel held after a refusal waits for)
        if record.broker_order_id is None:
            # an order given up as not found that turns up after all (live, or with fills) is ours
            # again: followed, cancellable, and not reported closed while it works at the broker
            late = was_given_up(self.state, record) and not (
                order.status in ("CANCELLED", "REJECTED") and order.filled_quantity == 0
            )
            if late:
                log.warning(
                    "order %s, given up as not found, is at the broker as %s (%s): followed again",
                    record.order.order_id,
                    order.order_id,
                    order.status,
                )
            self._acknowledge(record, order.order_id, reopened=late)
        too_late = carry_out_pending_cancel(self, record, order.status)
        if record.waits_for_open and (order.status in AT_EXCHANGE or order.filled_quantity):
            self.emit(  # an AMO that went out: from here it is a DAY order, ended at the close
                OrderReleased(
                    order_id=record.order.order_id, intent_id=record.order.intent_id, ts_event=self.now_ns()
                )
            )
        if record.order.order_id in self.unsettled_modifies and order.status not in MODIFY_PENDING:
            settle_modify(self, record, order)
        if not self.dry_run:
            take_proven_quantity(self, record, order)
        trades_lag = False
        # a leg's own row reads the whole order's fills, which later legs' trades may have booked
        news = order.filled_quantity > record.filled_qty or leg_row_of_its_own(record, order)
        if news and not self.dry_run:
            if trades is None and self.client is not None:
                try:
                    trades = await self.client.order_trades(order.order_id)
                except BrokerError as exc:
                    log.warning("trades of %s unavailable (%s); applied later", order.order_id, exc)
            plan = plan_fills(
                order.order_id, trades or (), record.fill_ids, record.filled_qty, record.order.qty
            )
            for level, message in plan.problems:
                self._report(level, message)
            for trade_id, qty, price in plan.book:
                self._fill(record, trade_id, qty, price)
            # fills the broker reports whose trades are not visible (or readable) yet, as opposed
            # to trades it showed that cannot be booked (reported above)
            trades_lag = not plan.problems and record.filled_qty < min(
                order.filled_quantity, record.order.qty
            )
        if record.filled_qty >= min(order.filled_quantity, record.order.qty):
            self._seen_updates.add(key)  # fully applied: the same update again changes nothing
        if order.status in ("CANCELLED", "REJECTED") and record.working and trades_lag:
            # closing now would lose those fills: nothing polls a closed order again
            self._report(
                logging.WARNING,
                f"order {order.order_id} is {order.status} at the broker with {order.filled_quantity} "
                f"filled and {record.filled_qty} booked: it is closed once its trades show",
            )
        elif order.status in ("CANCELLED", "REJECTED"):
            if record.working:
                status = result_status(order.status, record.filled_qty, record.order.qty)
                message = self._redact(order.status_message or order.status.lower())
                if status == "PARTIAL":  # the rest refused after fills (``result_status``)
                    message = f"part filled, the rest rejected: {message}"
                self.close_order(record, status, message, f"broker:{order.status}")
            return
        status = "FILLED" if record.remaining == 0 and record.filled_qty else record_status(record)
        latest = self.state.latest_results.get(record.order.intent_id)
        if latest is None or (latest.status, latest.filled_qty) != (status, record.filled_qty):
            note = too_late or (order.status_message and self._redact(order.status_message))
            self.emit_result(record, status, note)

    def _redact(self, text: str) -> str:
        # broker text (a status message) goes to results and the journal: no credential in it
        return text if self.client is None else self.client.redact(text)

    def _report(self, level: int, message: str) -> None:
        # a broker view that is wrong stays wrong for a while: say so once, not on every poll
        if message not in self._reported:
            self._reported.add(message)
            log.log(level, "%s", self._redact(message))

    def _fill(self, record: OrderRecord, fill_id: str, qty: int, price: float) -> None:
        self.paper.book_fill(record, qty, price, self.now_ns(), "broker", fill_id)

    # -- lifecycle --------------------------------------------------------------------------------

    def restore(self) -> None:
        """Working orders after a restart are reconciled with the broker (see ``reconcile``);
        dry-run rests its own again (a day's journal is one mode's: ``day_rollover``)."""
        if self.dry_run:
            self.paper.restore()

    def expire_all(self, now_ns: int, reason: str) -> None:
        """At the date line: close the DAY orders no update closed; an AMO goes on into the new day
        (``date_line``)."""
        expire_at_date_line(self, now_ns, reason)
