"""Start-up reconciliation with the broker, and the polling fallback for order updates.

At start-up, after the journal was folded: every order the journal has working is looked up by its
tag in the broker's order book. Found: what changed while we were down is applied (its terms, when a
modification the broker took was not journaled; fills from the broker's trades, de-duplicated by
trade id). Not found: the order never reached the broker (the process stopped between the
write-ahead and the POST), so it is closed as not placed; or, if the broker had acknowledged it,
the book (a day's orders) no longer holds it, so it is closed as gone. Broker orders
that carry one of our tags but are missing from the journal are adopted and reported: under the
intent they were placed for when the journal has that intent (its write-ahead record was lost with a
torn tail), else as ``adopted-<broker order id>``. An order given up as not found (its placement's
outcome was unknown) that the broker shows after all is applied and works again. A cancel journaled
as sent with no refusal journaled, of an order the broker still shows working, is sent again
(``cancel_retry``: a crash may have come before its DELETE). Positions are
compared per (symbol, product) with the broker's positions, and delivery (CNC) stock carried in
from earlier days with its holdings (:mod:`execsvc.executors.kite.portfolio`); a mismatch halts
trading (``kite.halt_on_position_mismatch``). The report is journaled as a ``reconciled`` event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from execsvc.errors import BrokerAuthError, BrokerError, JournalError
from execsvc.events import (
    EXCHANGES,
    ORDER_TYPES,
    PRODUCTS,
    SIDES,
    OrderAccepted,
    OrderIntent,
    Reconciled,
)
from execsvc.executors.kite.cancel_retry import hold_unanswered
from execsvc.executors.kite.changes import carry_out_pending_cancel
from execsvc.executors.kite.iceberg_rows import apply_other_legs
from execsvc.executors.kite.live import LiveExecutor
from execsvc.executors.kite.mapping import KiteOrder, KiteTrade, broker_terms, is_our_tag, parse_order
from execsvc.executors.kite.models import KitePosition
from execsvc.executors.kite.order_state import MODIFY_PENDING, by_tag_only, given_up, record_for
from execsvc.executors.kite.portfolio import (
    DELIVERY,
    booked_at_other_multipliers,
    broker_holdings,
    broker_multipliers,
    broker_positions,
    day_bookings,
    journal_positions,
    multiplier_mismatches,
    position_mismatches,
)
from execsvc.market.iceberg import broker_iceberg_legs
from execsvc.market.multipliers import multiplier_field

log = logging.getLogger("execsvc.reconcile")


def _adopted_multiplier(live: LiveExecutor, order: KiteOrder, rows: Iterable[KitePosition]) -> float:
    """An adopted order's multiplier: the config's, else the broker's positions' (it traded there:
    the broker's figure values it; reconciliation reports the config's lack), else 1."""
    symbol = f"{order.exchange}:{order.tradingsymbol}"
    found = live.paper.multipliers.of(symbol)
    if found is None:
        found = broker_multipliers(rows).get(symbol)
    if found is None:
        log.error("adopted broker order %s: no multiplier known for %s: valued at 1", order.order_id, symbol)
    return found or 1.0


async def reconcile(
    live: LiveExecutor,
    *,
    halt: Callable[[str], None],
    intents: Mapping[str, OrderIntent] | None = None,
    running: bool = False,
) -> Reconciled:
    """Reconcile the folded journal with the broker; returns (and journals) the report.

    Args:
        live: the live executor, over the folded state.
        halt: halts trading with a reason (a position mismatch).
        intents: journaled intents without an order, by their tag: a broker order with one of
            these tags is adopted under that intent.
        running: the service runs on (a new Kite session, ``relogin``): an order of unknown
            outcome the book does not show is left to its own lookups (``unknown``), which give
            it up only after ``kite.unknown_give_up_seconds``; at start-up nothing looks it up.

    Raises:
        BrokerError: the broker's order book, trades, positions or holdings could not be read;
            the caller must not trade on an unreconciled state.
    """
    client = live.client
    assert client is not None, "reconciliation needs a Kite client"
    state = live.state
    orders = await client.orders()
    trades = await client.trades()
    positions = await client.positions()
    trades_by_order: dict[str, list[KiteTrade]] = {}
    for trade in trades:
        trades_by_order.setdefault(trade.order_id, []).append(trade)
    by_tag: dict[str, KiteOrder] = {}
    rows: dict[str, list[KiteOrder]] = {}  # every row under a tag: an iceberg's legs may be orders
    by_id = {order.order_id: order for order in orders}
    for order in orders:
        for tag in dict.fromkeys((order.tag, *(order.tags or ()))):
            if tag and is_our_tag(tag):
                by_tag[tag] = order
                rows.setdefault(tag, []).append(order)

    updated: list[str] = []
    not_placed: list[str] = []
    gone: list[str] = []
    failed: list[str] = []
    resent: list[str] = []
    working = state.working_orders()
    for record in working:
        tag = record.order.order_id
        # by the broker's id once it acknowledged the order: another order may carry its tag
        found = by_tag.get(tag) if by_tag_only(record) else by_id.get(record.broker_order_id or "")
        if found is None and record.broker_order_id is not None:
            # the broker took it, but its book (a day's orders) no longer has it: a carried AMO
            # the broker dropped, or a DAY order of an earlier day; it works no more
            live.close_order(
                record,
                "CANCELLED",
                f"broker order {record.broker_order_id} is no longer in the broker's order book",
                "gone",
            )
            gone.append(tag)
            continue
        if found is None and running and record.unknown:
            continue  # its lookups go on (``unknown.resolve_unknown``)
        if found is None:
            live.close_order(
                record,
                "REJECTED",
                "not placed: the service stopped before the order reached the broker",
                "not_placed",
            )
            not_placed.append(tag)
            continue
        before = (record.filled_qty, record.working)
        unanswered = record.cancel_sent  # as the journal left it: applying may send a held cancel
        try:
            changed = broker_terms(record.order, found, live.now_ns())
            if changed is not None:  # a modification the broker took whose record was lost: its terms
                live.emit(changed)
            if found.status in MODIFY_PENDING:  # its new terms come with a later update
                live.unsettled_modifies.add(tag)
            if record.order.variety == "iceberg":
                await apply_other_legs(live, rows.get(tag, ()), found, trades_by_order)
            await live.apply_order(found, trades_by_order.get(found.order_id, []))
            if hold_unanswered(live, record, found.status, unanswered):  # its DELETE may not have left
                carry_out_pending_cancel(live, record, found.status)
                resent.append(tag)
        except JournalError:
            raise
        except Exception:  # one order's trouble must not keep the service from starting
            log.exception("reconciling order %s (tag %s) failed", found.order_id, tag)
            failed.append(f"{tag}={found.order_id}")
            continue
        moved = (record.filled_qty, record.working) != before or changed is not None
        if moved or record.broker_order_id == found.order_id:
            updated.append(tag)

    for record in given_up(state):  # given up as not found, and at the broker after all
        tag = record.order.order_id
        found = by_tag.get(tag)
        if found is None:
            continue
        if await _applied(live, found, trades_by_order, tag, failed, "broker order", rows[tag]):
            updated.append(tag)

    adopted: list[str] = []
    for tag, order in sorted(by_tag.items()):
        if tag in state.orders:
            continue
        problem = adoption_problem(order)
        if problem is not None:  # adopted, its fills would be booked on terms it never had
            log.error("broker order %s (tag %s) not adopted: %s", order.order_id, tag, problem)
            failed.append(f"{tag}={order.order_id}")
            continue
        adopted.append(f"{tag}={order.order_id}")
        intent = (intents or {}).get(tag)
        live.emit(
            OrderAccepted(
                order_id=tag,
                intent_id=intent.intent_id if intent is not None else f"adopted-{order.order_id}",
                strategy_code=intent.strategy_code if intent is not None else "adopted",
                symbol=f"{order.exchange}:{order.tradingsymbol}",
                side=order.transaction_type,
                qty=order.quantity,
                order_type=order.order_type,
                product=order.product,
                validity=order.validity,
                price=order.price or None,
                trigger_price=order.trigger_price or None,
                ts_event=live.now_ns(),
                variety=order.variety or "regular",
                iceberg_legs=broker_iceberg_legs(order.meta) if order.variety == "iceberg" else None,
                **multiplier_field(_adopted_multiplier(live, order, positions.get("net", ()))),
            )
        )
        live._acknowledge(state.orders[tag], order.order_id, adopted=True)
        await _applied(live, order, trades_by_order, tag, failed, "adopted broker order", rows[tag])
        log.warning("adopted broker order %s (tag %s) that the journal did not have", order.order_id, tag)

    # a contract the next order would value at another multiplier than the broker's: P&L, charges
    # and the money breakers would be off by the ratio. Halt, whatever halt_on_position_mismatch
    # says: only a person can tell the config is wrong (the broker's value would hide it for this
    # contract while the config still values its siblings wrongly). Fills booked at an old
    # multiplier before the config was fixed are only reported: the journal keeps them, so halting
    # on them would halt every restart of the day after the fix.
    theirs = broker_multipliers(positions.get("net", ()))
    configured = live.paper.multipliers.configured
    multipliers = multiplier_mismatches(configured, state.positions.values(), theirs)
    booked = booked_at_other_multipliers(
        configured, day_bookings(state.positions.values(), state.orders.values()), theirs
    )
    ours = journal_positions(state.positions.values(), state.carried)
    # delivery stock carried in is in the broker's holdings, no longer under its positions
    delivery = any(key[1] == DELIVERY and qty > 0 for key, qty in state.carried.items())
    held = broker_holdings(await client.holdings()) if delivery else None
    mismatches = position_mismatches(ours, broker_positions(positions.get("net", ())), held)
    halted = bool(mismatches) and live.config.halt_on_position_mismatch
    report = Reconciled(
        orders_checked=len(working),
        orders_updated=updated,
        orders_not_placed=not_placed,
        orders_adopted=adopted,
        position_mismatches=mismatches,
        orders_failed=failed,
        orders_gone=gone,
        halted=halted or bool(failed) or bool(multipliers),
        multiplier_mismatches=multipliers,
        ts_event=live.now_ns(),
        cancels_resent=resent,
        **({"multipliers_booked": booked} if booked else {}),
    )
    live.emit(report)
    for line in booked:
        log.warning("%s", line)
    if mismatches:
        message = "position mismatch with the broker: " + "; ".join(mismatches)
        log.error(message)
        if halted:
            halt(message)
    if multipliers:
        message = "contract multiplier differs from the broker's: " + "; ".join(multipliers)
        log.error("%s: fix market.multipliers (the journal keeps what it booked) and resume", message)
        halt(message)
    if failed:
        # the journal may now disagree with the broker on these: trade only after someone looked
        halt("reconciliation could not apply broker orders " + ", ".join(failed) + "; see the log")
    return report


def adoption_problem(order: KiteOrder) -> str | None:
    """Why a broker order of ours that the journal lacks cannot be adopted (``field=value: reason``).

    Its terms become the journal's order, and the Kite Structs read a missing field as its default:
    side ``""`` (no fill of it can be booked), quantity 0 (adopted without a word) or symbol
    ``"NSE:"`` (its fills booked on an instrument that does not exist). An iceberg's ``quantity``
    is one leg's: one whose ``meta.iceberg`` names no total would be adopted as that leg.
    """
    for field, value, allowed in (
        ("transaction_type", order.transaction_type, SIDES),
        ("exchange", order.exchange, EXCHANGES),
        ("product", order.product, PRODUCTS),
        ("order_type", order.order_type, ORDER_TYPES),
    ):
        if value not in allowed:
            return f"{field}={value!r}: expected one of {', '.join(allowed)}"
    if not order.tradingsymbol:
        return f"tradingsymbol={order.tradingsymbol!r}: expected a trading symbol"
    if order.variety == "iceberg" and order.quantity <= 0:  # its quantity is a leg's (``whole_iceberg``)
        return f"meta={order.meta!r:.120}: an iceberg's total_quantity, expected in meta.iceberg"
    if order.quantity <= 0:
        return f"quantity={order.quantity!r}: expected a positive quantity"
    return None


async def poll_orders(live: LiveExecutor) -> int:
    """One polling pass: apply the broker's view of every order we have working; returns how many.

    An order whose update fails to apply is logged with its order id and skipped; the others are
    still applied (it is tried again on the next pass).
    """
    client = live.client
    if client is None or not (live.state.working_orders() or given_up(live.state)):
        return 0
    if not client.auth.valid:  # nothing to read with a dead token; ``relogin`` reconciles after
        return 0
    try:
        orders = await client.orders()
    except BrokerAuthError:
        return 0  # the session expired: said once, by the session
    except BrokerError as exc:
        log.warning("order poll failed: %s", exc)
        return 0
    applied = 0
    for order in orders:
        if record_for(live.state, order) is not None:
            try:
                await live.apply_order(order)
            except JournalError:
                raise  # the journal refused: nothing may be written any more, so stop polling
            except Exception:  # one order's trouble must not keep the others from being applied
                log.exception(
                    "applying broker order %s (tag %s) failed; the other orders are applied",
                    order.order_id,
                    order.tag,
                )
                continue
            applied += 1
    return applied


_POSTBACKS_REMEMBERED = 10_000


async def apply_postback(live: LiveExecutor, payload: dict[str, Any]) -> None:
    """Apply the broker's own view of a postback's order, when the order is (or claims to be) ours.

    The checksum proves the postback's order id and timestamp only (FACTS.md 3.1): a captured
    postback keeps verifying whatever else is changed in it. So its body decides only whether to
    look (its broker id is ours, or it names a tag of ours); the order's last state in its history
    at the broker is what is applied, with the tags the broker gave it.

    Raises:
        BrokerDataError: the body is no order (logged by the bus with the reason; nothing changes).
    """
    claimed = parse_order(payload)
    if live.client is None or record_for(live.state, claimed) is None:
        return
    # the same postback again (a replay of a captured one, or Kite's retry) reads nothing more:
    # every read comes out of the rate limit that polling needs too
    seen = live.seen_postbacks
    key = (claimed.order_id, claimed.order_timestamp, claimed.status, claimed.filled_quantity)
    if key in seen:
        return
    seen[key] = None
    if len(seen) > _POSTBACKS_REMEMBERED:
        del seen[next(iter(seen))]
    try:
        history = await live.client.order_history(claimed.order_id)
    except BrokerError as exc:
        log.warning("postback of order %s: the order could not be read (%s); polling applies it",
                    claimed.order_id, exc)  # fmt: skip
        return
    if history:
        await live.apply_order(history[-1])


async def poll_forever(live: LiveExecutor) -> None:
    """The polling fallback: every ``kite.poll_interval_seconds``, until cancelled.

    A pass that fails (a broker answer that does not parse, a bug) is logged; polling goes on. A
    journal that refuses to write (fenced: another instance holds the account's lease) ends it:
    nothing polled could be journaled any more, and a deposed instance never resumes. (A failed
    write ends the service itself, through the journal writer task.)
    """
    while True:
        await live.sleep(live.config.poll_interval_seconds)
        try:
            await poll_orders(live)
        except JournalError as exc:
            log.error("order polling stopped: %s", exc)
            return
        except Exception:
            log.exception("order poll pass failed; polling goes on")


async def _applied(
    live: LiveExecutor,
    order: KiteOrder,
    trades_by_order: dict[str, list[KiteTrade]],
    tag: str,
    failed: list[str],
    what: str,
    rows: Iterable[KiteOrder] = (),
) -> bool:
    """Apply one broker order (an iceberg's other ``rows`` under its tag first); a failure is
    logged and named in ``failed`` (a journal error raises)."""
    try:
        if order.variety == "iceberg":
            await apply_other_legs(live, rows, order, trades_by_order)
        await live.apply_order(order, trades_by_order.get(order.order_id, []))
    except JournalError:
        raise
    except Exception:  # one order's trouble must not keep the service from starting
        log.exception("applying %s %s (tag %s) failed", what, order.order_id, tag)
        failed.append(f"{tag}={order.order_id}")
        return False
    return True
