"""Which journal order a broker order update belongs to, and what a final update proves.

Each test stages what a real account can show (another order carrying our tag, our tag only in
``tags``, a quantity cut made on Kite web) on the loopback hostile broker and checks the journal's
order, its results and the position. Waiting is on requests and results, never on time.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from tests.hostile_kite import TOKEN, HostileKite, Results, buy, hostile_config, kite_error, ok


def _form(tag: str, qty: int = 5) -> dict[str, str]:
    return {
        "exchange": "NSE",
        "tradingsymbol": "INFY",
        "transaction_type": "BUY",
        "quantity": str(qty),
        "product": "MIS",
        "order_type": "LIMIT",
        "price": "1400",
        "tag": tag,
    }


async def test_another_broker_order_with_our_tag_never_fills_ours(tmp_path):
    """A second broker order carries the tag of an order we placed (another app or instance on the
    account tagging alike): its fills are not ours, and our own order's fills still are."""
    async with (
        HostileKite() as kite,
        ExecutionService(hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN) as svc,
    ):
        seen = Results(svc)
        placed = await svc.execute_intent(buy("same1", qty=5, order_type="LIMIT", price=1400.0))
        ours = placed.order_id
        assert ours is not None
        record = svc.engine.state.orders[tag_for("same1")]
        other = kite.new_order(_form(tag_for("same1")))["order_id"]
        kite.fill(other, 5, 1400.0)
        # the poller reads the book twice more, or (wrongly) books the other order's fill
        polled = asyncio.ensure_future(kite.seen("GET", "/orders", more=2))
        moved = asyncio.ensure_future(seen.until("same1", lambda r: r.status != "PLACED"))
        done, pending = await asyncio.wait({polled, moved}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*done, *pending, return_exceptions=True)
        assert record.working and record.filled_qty == 0, record
        assert svc.engine.state.position("adv", "NSE:INFY", "MIS") is None
        kite.fill(ours, 5, 1401.0)
        filled = await seen.until("same1", lambda r: r.status == "FILLED")
        position = svc.engine.state.position("adv", "NSE:INFY", "MIS")
    assert (filled.filled_qty, filled.avg_price) == (5, 1401.0)
    assert position is not None and position.net_qty == 5


async def test_a_placement_found_by_a_tag_kite_lists_only_in_tags_is_followed(tmp_path):
    """The placement's answer is lost; the broker's order shows our tag in ``tags`` only, with
    ``tag`` empty (as Kite's order book does for orders with system tags, FACTS.md 2.1): the lookup
    by tag finds it, and it is acknowledged and followed, not left UNKNOWN."""
    async with HostileKite() as kite:

        async def lost(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
            order: dict[str, Any] = kite.new_order(form)
            order.update(tag=None, tags=[form["tag"], "mktp", "mktp:2.00"])
            return kite_error(503, "NetworkException", "Gateway timed out")

        kite.hooks["POST /orders/*"] = lost
        async with ExecutionService(
            hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN
        ) as svc:
            seen = Results(svc)
            first = await svc.execute_intent(buy("tags1", qty=5, order_type="LIMIT", price=1400.0))
            assert first.status == "UNKNOWN"
            placed = await seen.until("tags1", lambda r: r.status == "PLACED")
            (oid,) = kite.orders
            kite.fill(oid, 5, 1400.0)
            filled = await seen.until("tags1", lambda r: r.status == "FILLED")
            record = svc.engine.state.orders[tag_for("tags1")]
    assert placed.order_id == oid and record.broker_order_id == oid
    assert filled.filled_qty == 5 and kite.posts[tag_for("tags1")] == 1


async def test_a_quantity_cut_made_on_kite_web_then_complete_closes_the_order(tmp_path):
    """The trader cuts the order from 10 to 5 on Kite web (not through execsvc) and 5 fill: Kite says
    COMPLETE, so the journal takes the broker's quantity and the order is FILLED, not left PARTIAL
    and working (inflating the working quantity and polled until the date line)."""
    async with (
        HostileKite() as kite,
        ExecutionService(hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN) as svc,
    ):
        seen = Results(svc)
        placed = await svc.execute_intent(buy("cut1", qty=10, order_type="LIMIT", price=1400.0))
        oid = placed.order_id
        assert oid is not None
        kite.orders[oid]["quantity"] = 5
        kite.fill(oid, 5, 1400.0)
        assert kite.orders[oid]["status"] == "COMPLETE"
        filled = await seen.until("cut1", lambda r: r.status == "FILLED")
        state = svc.engine.state
        record = state.orders[tag_for("cut1")]
        working = state.working_qty("adv", "NSE:INFY", "MIS", "BUY")
    assert (filled.qty, filled.filled_qty) == (5, 5)
    assert not record.working and working == 0


async def test_an_older_view_with_a_fill_does_not_undo_a_journaled_cut(tmp_path):
    """The cut 10 -> 5 is answered (journaled); a view of the order from before it, with 3 filled,
    is applied after (a poll read the book while the PUT was on its way): the fill is booked, and
    the journal keeps the cut rather than taking the old quantity back."""
    async with HostileKite() as kite:

        async def taken(request: web.Request, form: dict[str, str]) -> web.StreamResponse:
            return ok({"order_id": request.path.rsplit("/", 1)[-1]})  # the book shows it later

        kite.hooks["PUT /orders/*"] = taken
        async with ExecutionService(
            hostile_config(tmp_path, kite.url), clock=LiveClock(), access_token=TOKEN
        ) as svc:
            seen = Results(svc)
            placed = await svc.execute_intent(buy("old1", qty=10, order_type="LIMIT", price=1400.0))
            oid = placed.order_id
            assert oid is not None
            cut = await asyncio.wait_for(svc.modify_order(oid, qty=5), 5)
            assert cut.message == "modified" and cut.qty == 5
            kite.fill(oid, 3, 1400.0)  # the book still shows quantity 10: the older view
            partial = await seen.until("old1", lambda r: r.status == "PARTIAL")
            record = svc.engine.state.orders[tag_for("old1")]
            working = svc.engine.state.working_qty("adv", "NSE:INFY", "MIS", "BUY")
    assert (partial.qty, partial.filled_qty) == (5, 3)
    assert record.order.qty == 5 and working == 2
