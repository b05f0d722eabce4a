"""The Kite simulator refuses a delivery (CNC) SELL beyond the account's holdings, as Zerodha's RMS
does: the order is REJECTED (``RMS:Rule: Check holdings``). Before, a CNC position went short there,
so a live rehearsal against it never met the rejection the broker gives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kiteconnect.exceptions import GeneralException

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.sim import KiteSimulator
from tests.integration.test_kite_sim import NO_LIMITS, Kite
from tests.integration.test_live_kite import Collector, intent, live_config, tick

MONDAY = dt.date(2026, 11, 16)
TUESDAY = MONDAY + dt.timedelta(days=1)


@pytest.fixture
async def broker() -> AsyncIterator[tuple[KiteSimulator, ReplayClock]]:
    """A simulator whose clock the test moves across the date line, INFY at 1,500."""
    clock = ReplayClock(ist_ns(MONDAY, 10, 0))
    async with KiteSimulator(heartbeat_seconds=0.05, clock=clock, rate_limits=NO_LIMITS) as sim:
        sim.push_tick(tick(1500.0))
        yield sim, clock


async def place(kite: Kite, side: str, qty: int, product: str = "CNC", **kw: Any) -> dict[str, Any]:
    """Place an order on NSE:INFY; its last state in the order book."""
    kw.setdefault("order_type", "MARKET")
    if kw["order_type"] == "MARKET":
        kw.setdefault("market_protection", -1)
    order_id = await kite(
        "place_order", variety="regular", exchange="NSE", tradingsymbol="INFY", transaction_type=side,
        quantity=qty, product=product, **kw,
    )  # fmt: skip
    history: list[dict[str, Any]] = await kite("order_history", order_id)
    return history[-1]


def refused(order: dict[str, Any], qty: int, available: int) -> bool:
    return (
        order["status"] == "REJECTED"
        and order["status_message"].startswith(f"Insufficient holdings. Sell quantity {qty} of INFY ")
        and order["status_message_raw"]
        == f"RMS:Rule: Check holdings, INFY: required {qty}, available {available}"
        and order["filled_quantity"] == 0
    )


async def test_a_cnc_sell_without_holdings_is_rejected_and_mis_may_go_short(broker):
    sim, _ = broker
    kite = Kite(sim.url)
    short = await place(kite, "SELL", 5)
    mis = await place(kite, "SELL", 5, product="MIS")
    positions = [(p["product"], p["quantity"]) for p in (await kite("positions"))["net"]]
    assert refused(short, 5, 0), short
    assert mis["status"] == "COMPLETE"
    assert positions == [("MIS", -5)]


async def test_bought_today_sells_today_and_resting_sells_reserve_their_stock(broker):
    sim, _ = broker
    kite = Kite(sim.url)
    assert (await place(kite, "BUY", 10))["status"] == "COMPLETE"
    resting = await place(kite, "SELL", 6, order_type="LIMIT", price=1600.0)
    second = await place(kite, "SELL", 6, order_type="LIMIT", price=1600.0)
    rest = await place(kite, "SELL", 4)
    await kite("cancel_order", variety="regular", order_id=resting["order_id"])
    after = await place(kite, "SELL", 6)
    beyond = await place(kite, "SELL", 1)
    assert resting["status"] == "OPEN" and refused(second, 6, 4), second
    assert (rest["status"], after["status"]) == ("COMPLETE", "COMPLETE")
    assert refused(beyond, 1, 0), beyond


async def test_yesterdays_cnc_is_holdings_today(broker):
    sim, clock = broker
    kite = Kite(sim.url)
    assert (await place(kite, "BUY", 5))["status"] == "COMPLETE"
    clock.advance_to(ist_ns(TUESDAY, 9, 20))  # the day boundary: T1 in holdings
    sold = await place(kite, "SELL", 3)
    beyond = await place(kite, "SELL", 3)
    assert sold["status"] == "COMPLETE" and refused(beyond, 3, 2), beyond


async def test_a_live_rehearsal_meets_the_rejection_the_broker_gives(tmp_path, broker):
    sim, _ = broker
    config = live_config(tmp_path, sim)
    async with ExecutionService(
        config, clock=ReplayClock(ist_ns(MONDAY, 10, 0)), access_token="rehearsal-token"
    ) as svc:  # "t" would be redacted out of the message
        seen = Collector(svc)
        await svc.execute_intent(intent("cnc-short", side="SELL", qty=5, product="CNC"))
        result = await seen.until("cnc-short", "REJECTED")
    assert result.reject_reason == "broker:REJECTED"  # the order was placed, then rejected by the RMS
    assert (result.message or "").startswith("Insufficient holdings. Sell quantity 5 of INFY"), result.message


async def test_a_cnc_sell_cannot_be_raised_past_the_free_holdings(broker):
    # Zerodha's RMS checks a modification as it checks an order: placing 1 and raising it to
    # 1,000 must not get past the holdings rule
    sim, _ = broker
    kite = Kite(sim.url)
    assert (await place(kite, "BUY", 10))["status"] == "COMPLETE"
    small = await place(kite, "SELL", 1, order_type="LIMIT", price=1600.0)
    await place(kite, "SELL", 3, order_type="LIMIT", price=1600.0)
    oid = small["order_id"]
    with pytest.raises(GeneralException) as raised:  # kiteconnect's class for a HoldingException
        await kite("modify_order", variety="regular", order_id=oid, quantity=1000)
    after_refusal = (await kite("order_history", oid))[-1]
    await kite("modify_order", variety="regular", order_id=oid, quantity=7)  # its own 1 is free for it
    with pytest.raises(GeneralException) as beyond:
        await kite("modify_order", variety="regular", order_id=oid, quantity=8)
    last = (await kite("order_history", oid))[-1]
    assert raised.value.code == 400
    assert str(raised.value).startswith(
        "Insufficient holdings. Sell quantity 1000 of INFY is more than the 7 available"
    ), str(raised.value)
    terms = (after_refusal["status"], after_refusal["quantity"], after_refusal["modified"])
    assert terms == ("OPEN", 1, False)  # unchanged, still working
    assert str(beyond.value).startswith("Insufficient holdings. Sell quantity 8 of INFY "), str(beyond.value)
    assert (last["status"], last["quantity"], last["price"]) == ("OPEN", 7, 1600.0)


async def test_lowering_a_cnc_sell_or_repricing_it_still_passes_when_nothing_is_free(broker):
    sim, _ = broker
    kite = Kite(sim.url)
    assert (await place(kite, "BUY", 10))["status"] == "COMPLETE"
    sell = await place(kite, "SELL", 6, order_type="LIMIT", price=1600.0)
    await place(kite, "SELL", 4, order_type="LIMIT", price=1600.0)  # all 10 reserved
    oid = sell["order_id"]
    await kite("modify_order", variety="regular", order_id=oid, price=1590.0)
    await kite("modify_order", variety="regular", order_id=oid, quantity=5)
    await kite("modify_order", variety="regular", order_id=oid, quantity=5, price=1595.0)
    last = (await kite("order_history", oid))[-1]
    assert (last["status"], last["quantity"], last["price"]) == ("OPEN", 5, 1595.0)
