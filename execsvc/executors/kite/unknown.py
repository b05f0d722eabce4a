"""A placement whose outcome is unknown: looked up by its tag at the broker, never sent again.

The order book is read after each of ``kite.unknown_check_delays``, then every
``kite.poll_interval_seconds``, until it shows the tag (the order is applied), the order is settled
by another path, or the book is read without it past ``kite.unknown_give_up_seconds`` (REJECTED
``broker:not_found``; an order that turns up later is followed after all). While the Kite session
is expired the lookups wait for a new token (``session``): a book that cannot be read with a dead
token neither gives the order up nor halts trading.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from execsvc.errors import BrokerAuthError, BrokerError

if TYPE_CHECKING:
    from execsvc.executors.kite.live import LiveExecutor

log = logging.getLogger("execsvc.live")

_MIN_RECHECK_SECONDS = 0.01
"""The shortest pause between two order-book lookups, whatever ``kite.poll_interval_seconds`` says."""


async def resolve_unknown(live: LiveExecutor, tag: str) -> None:
    """Look the tag up until the order is found, or give up without ever sending it again.

    A request that timed out may still reach the broker later, so absence is never proof: the
    order is not resent. After ``kite.unknown_give_up_seconds`` it is reported REJECTED (not
    found), but only when the order book was read and did not show the tag; if it appears after
    all, the poller and reconciliation still apply it by tag. A lookup that failed proves
    nothing: when the last one before the deadline failed, the order stays UNKNOWN, trading is
    halted (``on_unresolved``, once) and the lookups go on every ``kite.poll_interval_seconds``
    until the book shows the order, or is read again without it, or the order is closed by
    another path. Cancellation (the service stopping) ends the lookups; it is never caught.
    """
    assert live.client is not None
    record = live.state.orders[tag]
    delays = iter(live.config.unknown_check_delays)
    interval = max(live.config.poll_interval_seconds, _MIN_RECHECK_SECONDS)  # never a tight loop
    give_up_at = time.monotonic() + live.config.unknown_give_up_seconds
    halted = False
    while True:
        await live.sleep(next(delays, interval))
        if not live.client.auth.valid:  # a dead token reads nothing: look again once a new one works
            await live.client.auth.wait_valid()
        looked = True
        try:
            orders = await live.client.orders()
        except BrokerAuthError:
            continue  # the session just expired (logged once there): this lookup proves nothing
        except BrokerError as exc:
            log.warning("order book lookup for %s failed (%s); trying again", tag, exc)
            looked, orders = False, []
        found = [o for o in orders if o.tag == tag or tag in (o.tags or ())]
        if found:
            live.unknown_resolved += 1
            log.warning("order %s of unknown outcome found at the broker as %s", tag, found[0].order_id)
            await live.apply_order(found[0])
            return
        record = live.current(record)
        if not record.working or record.broker_order_id is not None:
            return  # settled by another path (an update, the poller) while we looked
        verdict = unknown_verdict(looked=looked, past_deadline=time.monotonic() >= give_up_at)
        if verdict == "not_found":
            break
        if verdict == "unresolved" and not halted:
            halted = True
            reason = (
                f"order {tag}: outcome unknown and the broker's order book could not be read "
                f"within {live.config.unknown_give_up_seconds:g} s; still looking it up"
            )
            log.error("%s; halting trading", reason)
            if live.on_unresolved is not None:
                live.on_unresolved(reason)
    live.not_found += 1
    live.close_order(
        record,
        "REJECTED",
        f"not found at the broker after {live.config.unknown_give_up_seconds:.0f} s; not resent "
        "(if it appears later it is applied from the order book"
        + ("; the pending cancel is then sent)" if record.pending_cancel is not None else ")"),
        "broker:not_found",
    )


def unknown_verdict(*, looked: bool, past_deadline: bool) -> str:
    """What one order-book lookup that did not show the tag means for an order of unknown outcome.

    Args:
        looked: the order book was read (False: the lookup failed, which proves nothing).
        past_deadline: ``kite.unknown_give_up_seconds`` have passed since the lookups began.

    Returns:
        ``"keep"`` (look again), ``"not_found"`` (the book was read after the deadline and the
        order is not in it) or ``"unresolved"`` (past the deadline without a readable book: keep
        looking, and halt trading).
    """
    if not past_deadline:
        return "keep"
    return "not_found" if looked else "unresolved"
