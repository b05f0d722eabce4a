"""Paper and dry-run refuse a delivery (CNC) SELL beyond the account's holdings, as Zerodha does.

Before, the simulated broker let a CNC position go short: a strategy that shorted CNC on paper met
RMS rejections ("RMS:Rule: Check holdings") only once live. MIS may still go short.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.clock import LiveClock, ReplayClock, ist_ns
from tests.conftest import DAY, SECOND, journal_records, make_config, tick
from tests.integration.test_live_kite import live_config, placements_per_tag

INFY = "NSE:INFY"
MONDAY = DAY + dt.timedelta(days=3)  # DAY is Friday 2026-11-20
START = ist_ns(DAY, 10, 0)


def order(
    intent_id: str, side: str, qty: int, product: str = "CNC", strategy: str = "s1", **kw
) -> OrderIntent:
    return OrderIntent(
        symbol=INFY, strategy_code=strategy, side=side, qty=qty, product=product, intent_id=intent_id, **kw
    )


def events_of(journal: Path, intent_id: str) -> list[str]:
    day = journal_records(journal / f"{DAY.isoformat()}.jsonl")
    return [e["type"] for e in day if e.get("intent_id") == intent_id]


async def test_a_cnc_sell_without_holdings_is_rejected_and_nothing_is_placed(journal_dir):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(START)) as svc:
        await svc.on_tick(tick(INFY, 1500.0, START + SECOND))
        short = await svc.execute_intent(order("short", "SELL", 5))
        mis = await svc.execute_intent(order("mis-short", "SELL", 5, product="MIS"))
        positions = [(p.product, p.net_qty) for p in svc.positions()]
    assert (short.status, short.reject_reason, short.filled_qty) == ("REJECTED", "insufficient_holdings", 0)
    assert (short.message or "").startswith("NSE:INFY: CNC SELL of 5 exceeds the holdings available, 0 ")
    assert mis.status == "FILLED"  # intraday may go short
    assert positions == [("MIS", -5)]
    assert events_of(journal_dir, "short") == ["intent", "result"]  # journaled; no order, no fill


async def test_cnc_bought_today_can_be_sold_today_and_no_more(journal_dir):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(START)) as svc:
        await svc.on_tick(tick(INFY, 1500.0, START + SECOND))
        bought = await svc.execute_intent(order("buy", "BUY", 10))
        sold = await svc.execute_intent(order("sell", "SELL", 10))
        again = await svc.execute_intent(order("again", "SELL", 1))
    assert (bought.status, sold.status) == ("FILLED", "FILLED")
    assert (again.status, again.reject_reason) == ("REJECTED", "insufficient_holdings")
    assert "CNC SELL of 1 exceeds the holdings available, 0 (0 held, 0 reserved" in (again.message or "")


async def test_cnc_carried_from_yesterday_can_be_sold_by_any_strategy_of_the_account(journal_dir):
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(START)) as svc:
        await svc.on_tick(tick(INFY, 1500.0, START + SECOND))
        assert (await svc.execute_intent(order("buy", "BUY", 10))).status == "FILLED"
    monday = ist_ns(MONDAY, 9, 15)
    async with ExecutionService(config, clock=ReplayClock(monday)) as svc:  # a restart over the line
        carried = [(p.strategy_code, p.product, p.net_qty) for p in svc.positions()]
        await svc.on_tick(tick(INFY, 1510.0, monday + SECOND))
        other = await svc.execute_intent(order("s2-sell", "SELL", 4, strategy="s2"))
        own = await svc.execute_intent(order("s1-sell", "SELL", 6))
        beyond = await svc.execute_intent(order("beyond", "SELL", 1))
    assert carried == [("s1", "CNC", 10)]
    assert (other.status, own.status) == ("FILLED", "FILLED")
    assert (beyond.status, beyond.reject_reason) == ("REJECTED", "insufficient_holdings")


async def test_resting_cnc_sells_reserve_their_stock_and_together_cannot_exceed_it(journal_dir):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(START)) as svc:
        await svc.on_tick(tick(INFY, 1500.0, START + SECOND))
        await svc.execute_intent(order("buy", "BUY", 10))
        first = await svc.execute_intent(order("first", "SELL", 6, order_type="LIMIT", price=1600.0))
        second = await svc.execute_intent(order("second", "SELL", 6, order_type="LIMIT", price=1600.0))
        rest = await svc.execute_intent(order("rest", "SELL", 4, order_type="LIMIT", price=1600.0))
        await svc.cancel_order(first.order_id or "")
        after_cancel = await svc.execute_intent(order("after", "SELL", 6, order_type="LIMIT", price=1600.0))
        await svc.on_tick(tick(INFY, 1601.0, START + 2 * SECOND))  # both resting sells fill
        positions = [(p.product, p.net_qty) for p in svc.positions()]
    assert (first.status, rest.status, after_cancel.status) == ("PLACED", "PLACED", "PLACED")
    assert (second.status, second.reject_reason) == ("REJECTED", "insufficient_holdings")
    assert "available, 4 (10 held, 6 reserved by working CNC sells)" in (second.message or "")
    assert positions == [("CNC", 0)]  # never short


async def test_a_dry_run_rehearses_the_refusal_and_sends_nothing(tmp_path, sim):
    config = live_config(tmp_path, sim)
    config = msgspec.structs.replace(
        config, execution=msgspec.structs.replace(config.execution, dry_run=True)
    )
    async with ExecutionService(config, clock=LiveClock()) as svc:
        await svc.on_tick(Tick(symbol=INFY, instrument_token=408065, last_price=1500.0))
        short = await svc.execute_intent(order("short", "SELL", 5))
        bought = await svc.execute_intent(order("buy", "BUY", 5))
        sold = await svc.execute_intent(order("sell", "SELL", 5))
        working = [r.order.intent_id for r in svc.engine.state.orders.values() if r.working]
    assert (short.status, short.reject_reason, short.mode) == ("REJECTED", "insufficient_holdings", "dry-run")
    assert "CNC SELL of 5 exceeds the holdings available, 0" in (short.message or "")
    assert (bought.status, sold.status) == ("FILLED", "FILLED")
    assert working == [] and placements_per_tag(sim) == {}


async def test_a_cnc_sell_cannot_be_raised_past_the_free_holdings(journal_dir):
    # Zerodha's RMS checks a modification as it checks an order: placing 1 and raising it to
    # 1,000 must not get past the holdings rule
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(START)) as svc:
        await svc.on_tick(tick(INFY, 1500.0, START + SECOND))
        await svc.execute_intent(order("buy", "BUY", 10))
        small = await svc.execute_intent(order("small", "SELL", 1, order_type="LIMIT", price=1600.0))
        await svc.execute_intent(order("other", "SELL", 3, order_type="LIMIT", price=1600.0))
        raised = await svc.modify_order(small.order_id or "", qty=1000)
        record = svc.engine.state.orders[small.order_id or ""]
        terms, working = (record.order.qty, record.order.price), record.working
        to_free = await svc.modify_order(small.order_id or "", qty=7)  # its own 1 is free for it
        beyond = await svc.modify_order(small.order_id or "", qty=8)
        await svc.on_tick(tick(INFY, 1601.0, START + 2 * SECOND))  # both resting sells fill
        positions = [(p.product, p.net_qty) for p in svc.positions()]
    assert (raised.status, raised.qty, raised.filled_qty) == ("PLACED", 1, 0)
    assert (raised.message or "").startswith(
        "modify refused: NSE:INFY: CNC SELL of 1000 exceeds the holdings available, 7 "
        "(10 held, 3 reserved by working CNC sells)"
    ), raised.message
    assert (terms, working) == ((1, 1600.0), True)  # unchanged, still resting
    assert (to_free.status, to_free.qty) == ("PLACED", 7)
    assert "refused" not in (to_free.message or ""), to_free.message
    assert beyond.qty == 7 and (beyond.message or "").startswith("modify refused: NSE:INFY: CNC SELL of 8 ")
    assert positions == [("CNC", 0)]  # never short


async def test_lowering_a_cnc_sell_or_repricing_it_still_passes_when_nothing_is_free(journal_dir):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(START)) as svc:
        await svc.on_tick(tick(INFY, 1500.0, START + SECOND))
        await svc.execute_intent(order("buy", "BUY", 10))
        sell = await svc.execute_intent(order("sell", "SELL", 6, order_type="LIMIT", price=1600.0))
        await svc.execute_intent(order("rest", "SELL", 4, order_type="LIMIT", price=1600.0))  # all reserved
        repriced = await svc.modify_order(sell.order_id or "", price=1590.0)
        lowered = await svc.modify_order(sell.order_id or "", qty=5)
        same = await svc.modify_order(sell.order_id or "", qty=5, price=1595.0)
        terms = [(r.order.qty, r.order.price) for r in svc.engine.state.working_orders()]
    answers = [(r.status, r.qty) for r in (repriced, lowered, same)]
    assert answers == [("PLACED", 6), ("PLACED", 5), ("PLACED", 5)]
    assert not any("refused" in (r.message or "") for r in (repriced, lowered, same))
    assert terms == [(5, 1595.0), (4, 1600.0)]


async def test_a_dry_run_refuses_raising_a_cnc_sell_past_the_holdings(tmp_path, sim):
    config = live_config(tmp_path, sim)
    config = msgspec.structs.replace(
        config, execution=msgspec.structs.replace(config.execution, dry_run=True)
    )
    async with ExecutionService(config, clock=LiveClock()) as svc:
        await svc.on_tick(Tick(symbol=INFY, instrument_token=408065, last_price=1500.0))
        await svc.execute_intent(order("buy", "BUY", 5))
        sell = await svc.execute_intent(order("sell", "SELL", 1, order_type="LIMIT", price=1600.0))
        raised = await svc.modify_order(sell.order_id or "", qty=6)
        allowed = await svc.modify_order(sell.order_id or "", qty=5)
    assert (raised.status, raised.qty, raised.mode) == ("PLACED", 1, "dry-run")
    assert (raised.message or "").startswith("modify refused: NSE:INFY: CNC SELL of 6 exceeds"), raised
    assert allowed.qty == 5 and "refused" not in (allowed.message or "")
    assert placements_per_tag(sim) == {}
