"""An iceberg whose legs each show in the order book as an order of their own, under its tag.

Kite's sample shows one leg of an iceberg (``meta.iceberg``, FACTS.md 2.1, 5.2); whether each leg
keeps the first leg's order id is UNCONFIRMED, and the live path follows any broker order under an
iceberg's tag as that iceberg (``order_state.record_for``). Reconciliation read one row per tag,
the last listed, and that row's trades only: the earlier legs' trades were not booked at start-up,
and the polls after could not book them either once the later legs' trades had booked as much as
an earlier row reports (its ``filled_quantity``, read as the whole order's, is no more than what
was booked): the order stayed working, short of what the broker filled. Every row under the tag,
with its trades, counts; each trade once.
"""

from __future__ import annotations

from pathlib import Path

from execsvc import ExecutionService
from execsvc.clock import LiveClock
from execsvc.executors.kite.mapping import tag_for
from tests.hostile_kite import TOKEN, HostileKite, Results, hostile_config
from tests.integration.test_iceberg_legs_live import LEG, LEGS, TOTAL, journal_order, place_iceberg, stage_leg


def leg_row(kite: HostileKite, tag: str, *, leg: int, status: str = "COMPLETE") -> str:
    """Leg ``leg`` of an iceberg of 1000 in 5 legs of 200 under ``tag`` as an order of its own,
    filled in full (a trade of 200 under its own order id); its broker order id."""
    form = {
        "exchange": "NSE", "tradingsymbol": "INFY", "transaction_type": "BUY", "quantity": str(LEG),
        "product": "CNC", "order_type": "LIMIT", "price": "1400", "tag": tag,
    }  # fmt: skip
    oid = str(kite.new_order(form)["order_id"])
    kite.fill(oid, LEG, 1400.0)
    kite.orders[oid].update(
        variety="iceberg",
        status=status,
        meta={
            "iceberg": {
                "leg": leg,
                "legs": LEGS,
                "leg_quantity": LEG,
                "total_quantity": TOTAL,
                "remaining_quantity": TOTAL - leg * LEG,
            }
        },
    )
    return oid


async def test_an_adopted_iceberg_books_the_trades_of_every_legs_row(tmp_path: Path) -> None:
    tag = tag_for("ghost")
    async with HostileKite() as kite:
        for leg in range(1, LEGS + 1):
            leg_row(kite, tag, leg=leg)
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            report = svc.reconciliation
            adopted = journal_order(svc, tag)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as again:
            restored = journal_order(again, tag)

    assert report is not None and len(report.orders_adopted) == 1
    assert adopted == restored == (TOTAL, TOTAL, False, LEGS)
    assert sum(kite.posts.values()) == 0


async def test_a_restart_books_the_legs_that_filled_as_orders_of_their_own_while_down(
    tmp_path: Path,
) -> None:
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            stage_leg(kite, await place_iceberg(svc), leg=1, filled=LEG, status="COMPLETE")
            await seen.until("ice", lambda r: r.filled_qty == LEG)
        for leg in range(2, LEGS + 1):  # while down: legs 2 to 5, each an order of its own
            leg_row(kite, tag_for("ice"), leg=leg)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as again:
            reconciled = journal_order(again, tag_for("ice"))
            fills = sorted(again.engine.state.orders[tag_for("ice")].fill_ids)

    assert reconciled == (TOTAL, TOTAL, False, LEGS)
    assert fills == sorted(t["trade_id"] for t in kite.trades)  # each trade once
    assert sum(kite.posts.values()) == 1


async def test_a_poll_books_an_earlier_legs_row_listed_after_a_later_legs(tmp_path: Path) -> None:
    """Leg 3's row applied before leg 2's (listed first here; live, leg 3's update may come by
    WebSocket while leg 2's was missed) books as much as leg 2's row reads as the whole's fills."""
    async with HostileKite() as kite:
        config = hostile_config(tmp_path, kite.url)
        async with ExecutionService(config, clock=LiveClock(), access_token=TOKEN) as svc:
            seen = Results(svc)
            stage_leg(kite, await place_iceberg(svc), leg=1, filled=LEG, status="COMPLETE")
            await seen.until("ice", lambda r: r.filled_qty == LEG)
            for leg in (3, 2, 4, 5):
                leg_row(kite, tag_for("ice"), leg=leg)
            done = await seen.until("ice", lambda r: r.status == "FILLED")
            final = journal_order(svc, tag_for("ice"))
            fills = sorted(svc.engine.state.orders[tag_for("ice")].fill_ids)

    assert (done.filled_qty, final) == (TOTAL, (TOTAL, TOTAL, False, LEGS))
    assert fills == sorted(t["trade_id"] for t in kite.trades)  # each trade once
    assert sum(kite.posts.values()) == 1
