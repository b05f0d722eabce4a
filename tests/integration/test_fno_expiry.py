"""F&O contracts held past their expiry on paper: a multi-day service with an NFO future and option.

Before, an NRML position in a contract that had expired was carried into every later day, its
profit or loss never booked, and an after-market order for it waited for a tick that never came.
Now the simulated broker settles it at the date line after the expiry day, in the expiry day's
journal: its orders end, and each position closes at the contract's last price (no charges), so
the next day starts without it. A contract that has not expired is carried as before.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.executors.paper.expiry import SETTLEMENT
from execsvc.journal.inspect import fold_file, verify_file
from tests.conftest import journal_records, make_config, tick

MON, TUE, WED = dt.date(2026, 11, 23), dt.date(2026, 11, 24), dt.date(2026, 11, 25)  # TUE: expiry
FUT, CALL, DEC = "NFO:NIFTY26NOVFUT", "NFO:NIFTY26NOV26000CE", "NFO:NIFTY26DECFUT"
TUE_FILE, WED_FILE = f"{TUE.isoformat()}.jsonl", f"{WED.isoformat()}.jsonl"
INSTRUMENTS = """\
instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
13238786,51714,NIFTY26NOVFUT,NIFTY,0,2026-11-24,0,0.05,65,FUT,NFO-FUT,NFO
13239042,51715,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.05,65,FUT,NFO-FUT,NFO
10690306,41759,NIFTY26NOV26000CE,NIFTY,0,2026-11-24,26000,0.05,65,CE,NFO-OPT,NFO
"""


def expiry_config(tmp_path: Path, journal_dir: Path) -> Config:
    """Paper, no slippage (a fill trades at the last price), with the three contracts above."""
    path = tmp_path / "instruments.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(INSTRUMENTS)
    return make_config(journal_dir, market={"instruments_file": str(path)}, execution={"slippage_bps": 0})


def order(strategy: str, symbol: str, side: str, qty: int, intent_id: str, **kw: Any) -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code=strategy, side=side, qty=qty, product="NRML", intent_id=intent_id, **kw
    )


async def monday_and_tuesday(svc: ExecutionService) -> None:
    """s1 long 130 of the future and 65 calls, s2 short 65 calls, s1 long 65 December futures;
    on the expiry day s1 sells 65 futures at 26,200 and buys 65 more calls at 310 (the call's last
    price), the future's last tick is 26,250, and s3 leaves an after-market order for it after that."""
    await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 16)))
    await svc.on_tick(tick(CALL, 150.0, ist_ns(MON, 9, 16, 1)))
    await svc.on_tick(tick(DEC, 26_100.0, ist_ns(MON, 9, 16, 2)))
    for intent in (
        order("s1", FUT, "BUY", 130, "f1"),
        order("s1", CALL, "BUY", 65, "c1"),
        order("s2", CALL, "SELL", 65, "c2"),
        order("s1", DEC, "BUY", 65, "d1"),
    ):
        assert (await svc.execute_intent(intent)).status == "FILLED"
    await svc.on_tick(tick(FUT, 26_200.0, ist_ns(TUE, 15, 29)))
    await svc.on_tick(tick(CALL, 310.0, ist_ns(TUE, 15, 29, 1)))
    assert (await svc.execute_intent(order("s1", FUT, "SELL", 65, "f2"))).status == "FILLED"
    assert (await svc.execute_intent(order("s1", CALL, "BUY", 65, "c3"))).status == "FILLED"
    await svc.on_tick(tick(FUT, 26_250.0, ist_ns(TUE, 15, 29, 59)))  # the last price: no fill at it
    amo = await svc.execute_intent(order("s3", FUT, "BUY", 65, "amo1", variety="amo"))
    assert amo.status == "PLACED"


async def through_the_expiry(tmp_path: Path, journal_dir: Path) -> list[tuple[str, str, int]]:
    """Monday to Wednesday in one running service; Wednesday's first tick meets the date line."""
    config = expiry_config(tmp_path, journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await monday_and_tuesday(svc)
        await svc.on_tick(tick(DEC, 26_300.0, ist_ns(WED, 9, 15)))
        return [(p.strategy_code, p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]


def settlements(path: Path) -> dict[str, list[dict[str, Any]]]:
    """The settlement records of a day's journal, by intent id."""
    out: dict[str, list[dict[str, Any]]] = {}
    for event in journal_records(path):
        if event.get("intent_id", "").startswith("expiry-"):
            out.setdefault(event["intent_id"], []).append(event)
    return out


async def test_positions_in_an_expired_contract_are_settled_at_its_last_price_in_the_expiry_day(
    tmp_path, journal_dir
):
    positions = await through_the_expiry(tmp_path, journal_dir)

    assert positions == [("s1", DEC, 65)]
    settled = settlements(journal_dir / TUE_FILE)
    assert list(settled) == ["expiry-20261124-1", "expiry-20261124-2", "expiry-20261124-3"]
    assert [[e["type"] for e in records] for records in settled.values()] == [
        ["intent", "order_accepted", "fill", "result"]
    ] * 3
    fills = [records[2] for records in settled.values()]
    assert [(f["strategy_code"], f["symbol"], f["side"], f["qty"], f["price"]) for f in fills] == [
        ("s1", FUT, "SELL", 65, 26_250.0),
        ("s1", CALL, "SELL", 130, 310.0),
        ("s2", CALL, "BUY", 65, 310.0),
    ]
    assert all(f["liquidity"] == SETTLEMENT and f.get("charges", {}) == {} for f in fills)  # none
    assert all(f["ts_event"] == ist_ns(WED, 9, 15) for f in fills)
    result = settled["expiry-20261124-1"][3]
    assert result["status"] == "FILLED"
    assert result["message"].startswith(f"expiry settlement: {FUT} expired on 2026-11-24")
    intent = settled["expiry-20261124-1"][0]
    assert intent["product"] == "NRML"
    assert intent["metadata"] == {"expiry": "2026-11-24", "last_price": 26_250.0}

    tuesday = fold_file(journal_dir / TUE_FILE)
    future = tuesday.position("s1", FUT, "NRML")
    assert future is not None and future.net_qty == 0
    assert future.realized_gross == (26_200.0 - 26_000.0) * 65 + (26_250.0 - 26_000.0) * 65  # that day
    short_call = tuesday.position("s2", CALL, "NRML")
    assert short_call is not None and short_call.net_qty == 0
    assert short_call.realized_gross == (150.0 - 310.0) * 65
    verify_file(journal_dir / TUE_FILE)


async def test_an_order_for_the_contract_ends_at_its_expiry_day(tmp_path, journal_dir):
    await through_the_expiry(tmp_path, journal_dir)

    amo = [e for e in journal_records(journal_dir / TUE_FILE) if e.get("intent_id") == "amo1"]
    assert [e["type"] for e in amo] == ["intent", "order_accepted", "result", "order_cancelled", "result"]
    assert (amo[-1]["status"], amo[-1]["message"]) == (
        "CANCELLED",
        f"{FUT} expired on 2026-11-24: its orders end with the contract",
    )
    assert fold_file(journal_dir / TUE_FILE).working_orders() == []
    opening = journal_records(journal_dir / WED_FILE)
    assert [e["type"] for e in opening] == ["journal_opened", "positions_carried"]  # no orders carried
    assert [(p["symbol"], p["net_qty"]) for p in opening[1]["positions"]] == [(DEC, 65)]
    assert "expired" not in opening[1]


async def test_the_next_day_refuses_an_order_for_the_expired_contract(tmp_path, journal_dir):
    await through_the_expiry(tmp_path, journal_dir)

    config = expiry_config(tmp_path, journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(WED, 9, 16))) as svc:
        await svc.on_tick(tick(FUT, 26_210.0, ist_ns(WED, 9, 16, 1)))  # a stray tick fills nothing
        result = await svc.execute_intent(order("s1", FUT, "BUY", 65, "late"))

    assert (result.status, result.reject_reason) == ("REJECTED", "validation")
    assert f"{FUT} expired on 2026-11-24" in (result.message or "")
    assert not [e for e in journal_records(journal_dir / WED_FILE) if e["type"] == "order_accepted"]


async def test_the_same_days_give_the_same_bytes(tmp_path):
    for run in ("a", "b"):
        await through_the_expiry(tmp_path / run, tmp_path / run / "journal")
    for name in (TUE_FILE, WED_FILE):
        a, b = (tmp_path / run / "journal" / name for run in ("a", "b"))
        assert a.read_bytes() == b.read_bytes()
