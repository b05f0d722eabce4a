"""What a live order's record says: its status, whether its placement was given up, and whether a
failed request to the broker may still have taken effect.

Pure functions of the service state, shared by the live executor, its order changes and
reconciliation.
"""

from __future__ import annotations

from execsvc.errors import BrokerDataError, BrokerError, BrokerUnavailableError
from execsvc.executors.kite.models import KiteOrder
from execsvc.state import OrderRecord, ServiceState

CLOSED = frozenset({"COMPLETE", "CANCELLED", "REJECTED"})
"""Kite statuses after which an order changes no more."""
AT_EXCHANGE = frozenset({"OPEN", "TRIGGER PENDING", "COMPLETE"})
"""Kite statuses that show an order at the exchange: an after-market order showing one went out."""

CANCELLABLE = frozenset({"OPEN", "TRIGGER PENDING", "AMO REQ RECEIVED", "UPDATE"})
"""Kite statuses of an order that is not being processed: a cancel the broker refused while it was
is sent again on one of these (``cancel_retry``; ``UPDATE``: an open order's postback, FACTS.md 2.3)."""
BEING_PROCESSED = frozenset(
    {"PUT ORDER REQ RECEIVED", "PUT ORDER REQUEST RECEIVED", "VALIDATION PENDING", "OPEN PENDING",
     "MODIFY VALIDATION PENDING", "MODIFY PENDING", "MODIFIED"}
)  # fmt: skip
"""Kite's interim statuses of an order being placed or modified (FACTS.md 2.3): a cancel is refused."""

MODIFY_PENDING = frozenset({"MODIFY VALIDATION PENDING", "MODIFY PENDING", "MODIFIED"})
"""Kite statuses of a modification not yet settled: its history shows the old terms through MODIFIED,
and the new ones from the entry after it (FACTS.md 2.2)."""


def record_for(state: ServiceState, order: KiteOrder) -> OrderRecord | None:
    """The journal's order a broker order is: by its broker order id, else by a tag of ours it carries.

    The tag may be in ``tags`` only: Kite leaves ``tag`` empty on orders whose ``tags`` carry system
    tags (``mktp``, ``autoslice``; FACTS.md 2.1), and the lookups by tag (an unknown placement,
    reconciliation) search ``tags`` too. Another broker order carrying the tag of an order the
    broker already acknowledged under its own id is not that order (None), unless ours is an
    iceberg, whose legs may be orders of their own under its tag (``meta.iceberg``, FACTS.md 5.2).
    """
    tag = state.broker_ids.get(order.order_id)
    if tag is not None:
        return state.orders.get(tag)
    for candidate in (order.tag, *(order.tags or ())):
        record = state.orders.get(candidate) if candidate else None
        if record is not None:
            return record if by_tag_only(record) or record.broker_order_id == order.order_id else None
    return None


def by_tag_only(record: OrderRecord) -> bool:
    """Whether any broker order carrying the record's tag is the record's (see :func:`record_for`)."""
    return record.broker_order_id is None or record.order.variety == "iceberg"


def quantity_proven(record: OrderRecord, order: KiteOrder) -> bool:
    """Whether the broker's quantity of a working order, other than the journal's, is its own.

    An update may be older than a modification we journaled, so another quantity alone proves
    nothing, nor does a fill within our quantity (an older view of an order we cut may show one).
    Fills beyond our quantity prove a larger one; COMPLETE, which no state follows, proves
    its quantity (a cut made on Kite web, or one whose answer is in flight or lost), except an
    iceberg's: parsed as the whole order (``models.whole_iceberg``), its quantity is the total of
    ``meta.iceberg``, but what that total reads after a change of it is UNCONFIRMED.
    """
    if not (record.working and order.quantity) or order.quantity == record.order.qty:
        return False
    if order.filled_quantity > record.order.qty:
        return True
    return order.status == "COMPLETE" and record.order.variety != "iceberg"


def outcome_unknown(exc: BrokerError) -> bool:
    """Whether a failed order request may still have taken effect at the broker.

    An answer we could not read, and network trouble, a 5xx or a timeout after the request was
    sent, prove nothing: such a request is never sent again, the broker's order book or the
    order's history decides. Any other error is a refusal (or a request that never left).
    """
    if isinstance(exc, BrokerDataError):
        return True
    return isinstance(exc, BrokerUnavailableError) and exc.maybe_sent


def was_given_up(state: ServiceState, record: OrderRecord) -> bool:
    """Whether an order was closed as not found at the broker (``broker:not_found``) and never seen there.

    A placement whose outcome was unknown may still reach the broker after we gave up on it: the
    poller and reconciliation keep looking for these orders by their tag.
    """
    if record.working or record.broker_order_id is not None:
        return False
    latest = state.latest_results.get(record.order.intent_id)
    return latest is not None and latest.reject_reason == "broker:not_found"


def given_up(state: ServiceState) -> list[OrderRecord]:
    """Every order :func:`was_given_up` says the broker may still show."""
    return [record for record in state.orders.values() if was_given_up(state, record)]


def unacknowledged(state: ServiceState, record: OrderRecord, *, dry_run: bool) -> str | None:
    """Why the broker cannot be asked to change a working live order yet, or None once it can.

    Changes go by the broker's order id, which only the placement's answer (or the order found in
    the broker's book by its tag) gives: until then the order is in flight (sent, or about to be,
    with no answer yet) or its placement's outcome is unknown (being looked up by its tag). In a
    dry run, an order is in flight until the simulator takes it (its first result).
    """
    if dry_run:
        if record.working and record.order.intent_id not in state.latest_results:
            return "the order has not reached the simulated broker yet (it waits for its rate-limit slot)"
        return None
    if not record.working or record.broker_order_id is not None:
        return None
    if record.unknown:
        return "the order's placement outcome is unknown (it is being looked up at the broker)"
    return "the broker has not answered the order's placement yet (or it waits for its rate-limit slot)"


def record_status(record: OrderRecord) -> str:
    """The execsvc status of a live order from what the state knows."""
    if not record.working:
        return "FILLED" if record.filled_qty >= record.order.qty else "CANCELLED"
    if record.unknown:
        return "UNKNOWN"
    return "PARTIAL" if record.filled_qty else "PLACED"


def modifications_made(state: ServiceState) -> dict[str, int]:
    """The modifications journaled of each working order, by the id they go to the broker by (the
    broker's; dry-run: ours): what a restarted rate limiter counts toward Kite's 25 an order."""
    return {
        r.broker_order_id or r.order.order_id: r.modifications
        for r in state.working_orders()
        if r.modifications
    }
