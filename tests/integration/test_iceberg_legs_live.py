"""The live path reads an iceberg order as Kite reports it: ``quantity`` and fills are one leg's.

Kite's own sample (``tests/kite_mocks/orders.json``, order 220524001859672) shows an iceberg of 1000
in 5 legs as ``"quantity": 200`` with ``meta.iceberg`` carrying ``total_quantity`` 1000 and
``remaining_quantity`` 800 (FACTS.md 2.1, 5.2). Read as the order, that leg would be its quantity:
adopted as 200, or cut to 200 by reconciliation's ``broker_terms``, and a leg's COMPLETE would end
it while four more legs fill at the exchange. Each test stages the broker's rows in that shape on a
loopback fake broker and checks what the journal's order becomes, across a restart too.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from aiohttp import web

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from tests.hostile_kite import TOKEN, HostileKite, Results, buy, hostile_config, kite_error

TOTAL, LEGS, LEG = 1000, 5, 200


def stage_leg(kite: HostileKite, oid: str, *, leg: int, filled: int, status: str) -> None:
    """Show broker order ``oid`` as Kite's sample shows an iceberg: leg ``leg`` of 1000 in 5 legs of
    200, ``filled`` of that leg filled (earlier legs filled in full), a trade for each leg's fills."""
    order = kite.orders[oid]
    booked = sum(t["quantity"] for t in kite.trades if t["order_id"] == oid)
    earlier = (leg - 1) * LEG
    order.update(
        variety="iceberg",
        status=status,
        quantity=LEG,
        filled_quantity=filled,
        pending_quantity=LEG - filled,
        meta={
            "iceberg": {
                "leg": leg,
                "legs": LEGS,
                "leg_quantity": LEG,
                "total_quantity": TOTAL,
                "remaining_quantity": TOTAL - earlier - LEG,
            }
        },
    )
    if earlier + filled > booked:
        kite.trades.append(
            {
                "trade_id": f"T{oid}-{leg}-{filled}",
                "order_id": oid,
                "quantity": earlier + filled - booked,
                "average_price": 1400.0,
                "exchange": order["exchange"],
                "tradingsymbol": order["tradingsymbol"],
                "product": order["product"],
                "transaction_type": order["transaction_type"],
            }
        )


def stray_iceberg(kite: HostileKite, tag: str) -> str:
    """A broker iceberg under our tag ``tag`` that the journal lacks; its broker order id."""
    order = kite.new_order(
        {
            "exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY", "quantity": str(LEG),
            "product": "CNC", "order_type": "LIMIT", "price": "1400", "tag": tag,
        }
    )  # fmt: skip
    return str(order["order_id"])


def journal_order(svc: ExecutionService, order_id: str) -> tuple[int, int, bool, Any]:
    """``(qty, filled, working, legs)`` of the journal's order."""
    state = svc.engine.state
    record = state.orders[order_id]
    legs = state.iceberg_legs.get(record.order.intent_id)
    return record.order.qty, record.filled_qty, record.working, legs


async def place_iceberg(svc: ExecutionService) -> str:
    """Intent ``ice``: an iceberg BUY of 1000 INFY in 5 legs, resting at 1400; its broker order id."""
    placed = await svc.execute_intent(
        buy(
            "ice",
            qty=TOTAL,
            order_type="LIMIT",
            price=1400.0,
            variety="iceberg",
            metadata={"iceberg_legs": LEGS},
        )
    )
    assert placed.order_id is not None
    return placed.order_id


async def test_an_adopted_iceberg_is_its_total_with_its_legs_and_a_restart_keeps_it(tmp_path: Path) -> None:
    tag = tag_for("ghost")
    async with HostileKite() as kite:
        oid = stray_iceberg(kite, tag)
        stage_leg(kite, oid, leg=2, filled=50, status="OPEN")
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            report = svc.reconciliation
            adopted = journal_order(svc, tag)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as again:
            restored = journal_order(again, tag)

    assert report is not None and report.orders_adopted == [f"{tag}={oid}"]
    assert adopted == restored == (TOTAL, 250, True, LEGS)


async def test_a_legs_complete_leaves_the_order_working_and_the_last_legs_completes_it(
    tmp_path: Path,
) -> None:
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            oid = await place_iceberg(svc)
            stage_leg(kite, oid, leg=1, filled=LEG, status="COMPLETE")
            first = await seen.until("ice", lambda r: r.filled_qty == LEG)
            await kite.seen("GET", "/orders", more=2)  # polled again: still the leg's COMPLETE
            after_first_leg = journal_order(svc, tag_for("ice"))
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as again:
            restored = journal_order(again, tag_for("ice"))
            seen = Results(again)
            stage_leg(kite, oid, leg=3, filled=120, status="OPEN")  # leg 2 filled, leg 3 partly
            partial = await seen.until("ice", lambda r: r.filled_qty == 2 * LEG + 120)
            stage_leg(kite, oid, leg=LEGS, filled=LEG, status="COMPLETE")
            done = await seen.until("ice", lambda r: r.status == "FILLED")
            final = journal_order(again, tag_for("ice"))

    assert (first.status, first.qty) == ("PARTIAL", TOTAL)
    assert after_first_leg == restored == (TOTAL, LEG, True, LEGS)
    assert (partial.status, partial.qty) == ("PARTIAL", TOTAL)
    assert (done.filled_qty, done.qty) == (TOTAL, TOTAL)
    assert final == (TOTAL, TOTAL, False, LEGS)
    assert sum(kite.posts.values()) == 1  # never twice: nothing re-sent for a leg that looked done


async def test_a_cancel_held_for_a_working_iceberg_is_not_given_up_on_a_legs_complete(tmp_path: Path) -> None:
    """A cancel whose answer was lost is held and sent again once the order shows CANCELLABLE; a
    leg's COMPLETE is no final state that would make it "too late" while the next legs fill."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            oid = await place_iceberg(svc)
            stage_leg(kite, oid, leg=1, filled=LEG, status="COMPLETE")
            await seen.until("ice", lambda r: r.filled_qty == LEG)
            deletes = 0

            async def first_answer_lost(request: web.Request, form: dict[str, str]) -> web.Response | None:
                nonlocal deletes
                deletes += 1
                return kite_error(503, "NetworkException", "gateway timeout") if deletes == 1 else None

            kite.hooks["DELETE /orders/*"] = first_answer_lost
            await asyncio.wait_for(svc.cancel_order(tag_for("ice")), 5)
            await kite.until(lambda: kite.orders[oid]["status"] == "CANCELLED")

    assert deletes == 2
    assert sum(kite.posts.values()) == 1


async def test_a_leg_rejected_after_legs_filled_ends_the_order_partial_not_rejected(tmp_path: Path) -> None:
    """Kite margins an iceberg leg by leg (its sample's leg 1 is REJECTED for margin): a later leg
    refused after earlier legs filled ends the order with those fills. REJECTED says nothing was
    done, and a strategy that sends again on REJECTED would trade the filled part twice."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            oid = await place_iceberg(svc)
            stage_leg(kite, oid, leg=2, filled=0, status="REJECTED")
            kite.orders[oid]["status_message"] = "Insufficient funds. Required margin is 95417.84"
            ended = await seen.until("ice", lambda r: "Insufficient funds" in (r.message or ""))
            final = journal_order(svc, tag_for("ice"))

    assert (ended.status, ended.filled_qty, ended.qty) == ("PARTIAL", LEG, TOTAL)
    assert ended.message is not None and ended.message.startswith("part filled, the rest rejected: ")
    assert final == (TOTAL, LEG, False, LEGS)
    assert sum(kite.posts.values()) == 1
