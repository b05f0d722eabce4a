"""What the exchange's settlement at expiry costs on paper, as Zerodha levies it (UNCONFIRMED rates).

Before, only the long side of an option exercised in the money paid anything: STT at the exercise
rate on its intrinsic value, stock options included. Now (``configs/charges.yaml``, sources in the
README's Charges section):

- an index option settled in the money pays Rs 20 brokerage an order for its exit, the orders
  counted by the freeze quantity, plus GST, long and short; the long side still pays the exercise
  STT;
- stock F&O is physically settled: a stock option in the money and every stock future pay STT
  0.1 % and brokerage 0.25 % (+ GST) of the contract value (strike x qty for an option, settlement
  price x qty for a future), buyer and seller, and no exercise STT; an option out of the money
  pays nothing. The position closes in cash at its settlement price, and the shares move in CNC
  holdings (``test_fno_delivery.py``); the result says where they went;
- a rate table written before these rates charges as before.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.journal.inspect import fold_file, verify_file
from tests.conftest import journal_records, make_config, tick
from tests.integration.test_fno_exercise import (  # the same days and contracts (TUE: the expiry)
    CALL,
    INFY,
    INFY_CALL,
    JAN,
    MON,
    NIFTY,
    PUT,
    REPO,
    TUE,
    TUE_FILE,
    WED,
)
from tests.pnl_audit import check_days

INFY_OTM, INFY_FUT = "NFO:INFY26DEC1700CE", "NFO:INFY26DECFUT"
INSTRUMENTS = """\
instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
13240066,51719,NIFTY27JANFUT,NIFTY,0,2027-01-26,0,0.05,65,FUT,NFO-FUT,NFO
10690306,41759,NIFTY26DEC26000CE,NIFTY,0,2026-12-29,26000,0.05,65,CE,NFO-OPT,NFO
10690562,41760,NIFTY26DEC26600PE,NIFTY,0,2026-12-29,26600,0.05,65,PE,NFO-OPT,NFO
10691074,41762,INFY26DEC1500CE,INFY,0,2026-12-29,1500,0.05,400,CE,NFO-OPT,NFO
10691330,41763,INFY26DEC1700CE,INFY,0,2026-12-29,1700,0.05,400,CE,NFO-OPT,NFO
13241090,51720,INFY26DECFUT,INFY,0,2026-12-29,0,0.1,400,FUT,NFO-FUT,NFO
"""
# the expiry day's last ticks: NIFTY 50 at 26,400, INFY at 1,560, its future's last trade 1,562
CLOSES = [
    tick(CALL, 402.5, ist_ns(TUE, 15, 29)),
    tick(PUT, 199.0, ist_ns(TUE, 15, 29, 1)),
    tick(INFY_CALL, 61.0, ist_ns(TUE, 15, 29, 2)),
    tick(INFY_OTM, 0.05, ist_ns(TUE, 15, 29, 3)),
    tick(INFY_FUT, 1_562.0, ist_ns(TUE, 15, 29, 4)),
    tick(NIFTY, 26_400.0, ist_ns(TUE, 15, 29, 30)),
    tick(INFY, 1_560.0, ist_ns(TUE, 15, 29, 31)),
]
# nobody holds INFY: what the account gives is a short delivery (``paper.delivery``)
SHORT_DELIVERY = (
    "physically settled, charged as a delivery: short delivery of 400 shares of NSE:INFY not held, "
    "booked as given at {price}, holdings unchanged: auction not modelled"
)


def config(tmp_path: Path, journal_dir: Path, rates_file: Path | None = None) -> Config:
    """Paper, no slippage, with the contracts above; charges at ``rates_file`` (the shipped table)."""
    path = tmp_path / "instruments.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(INSTRUMENTS)
    charges = {"rates_file": str(rates_file or REPO / "configs" / "charges.yaml")}
    return make_config(
        journal_dir, market={"instruments_file": str(path)}, execution={"slippage_bps": 0}, charges=charges
    )


def order(strategy: str, symbol: str, side: str, qty: int, intent_id: str) -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code=strategy, side=side, qty=qty, product="NRML", intent_id=intent_id
    )


async def through_the_expiry(tmp_path: Path, journal_dir: Path, rates_file: Path | None = None) -> None:
    """Monday: s1 long 1,820 of the NIFTY 26000 CE (28 lots, two orders: the freeze is 1,800), s2
    short 65 of the 26600 PE, s3 long 400 and s4 short 800 of the INFY 1500 CE (the account is net
    short 400: s3's long crosses with half of s4's short), s5 long 400 of the INFY
    1700 CE, s6 short 400 INFY futures, s7 long 65 NIFTY January futures (not expiring). Tuesday's
    last ticks; Wednesday's first tick meets the date line."""
    async with ExecutionService(
        config(tmp_path, journal_dir, rates_file), clock=ReplayClock(ist_ns(MON, 9, 15))
    ) as svc:
        monday = (
            (CALL, 150.0),
            (PUT, 180.0),
            (INFY_CALL, 30.0),
            (INFY_OTM, 5.0),
            (INFY_FUT, 1_540.0),
            (JAN, 26_100.0),
        )
        intents = (
            order("s1", CALL, "BUY", 1755, "c1"),
            order("s1", CALL, "BUY", 65, "c2"),
            order("s2", PUT, "SELL", 65, "p1"),
            order("s3", INFY_CALL, "BUY", 400, "i1"),
            order("s4", INFY_CALL, "SELL", 800, "i2"),
            order("s5", INFY_OTM, "BUY", 400, "o1"),
            order("s6", INFY_FUT, "SELL", 400, "f1"),
            order("s7", JAN, "BUY", 65, "j1"),
        )
        await trade_to_the_line(svc, monday, intents)


async def trade_to_the_line(
    svc: ExecutionService,
    monday: tuple[tuple[str, float], ...],
    intents: tuple[OrderIntent, ...],
    *,
    meet_it: bool = True,
) -> None:
    """Monday's ticks at ``monday``'s prices, each of ``intents`` FILLED, Tuesday's last ticks
    (``CLOSES``) and, with ``meet_it``, Wednesday's first tick, which meets the date line."""
    for symbol, price in monday:
        await svc.on_tick(tick(symbol, price, ist_ns(MON, 9, 16)))
    for intent in intents:
        assert (await svc.execute_intent(intent)).status == "FILLED"
    for last in CLOSES:
        await svc.on_tick(last)
    if meet_it:
        await svc.on_tick(tick(JAN, 26_300.0, ist_ns(WED, 9, 15)))


def settled(path: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """The settlements of a day's journal by the strategy of the position, then by record type."""
    by_intent: dict[str, dict[str, dict[str, Any]]] = {}
    for event in journal_records(path):
        if event.get("intent_id", "").startswith("expiry-"):
            by_intent.setdefault(event["intent_id"], {})[event["type"]] = event
    return {records["intent"]["strategy_code"]: records for records in by_intent.values()}


async def test_an_index_option_long_in_the_money_pays_brokerage_per_freeze_sliced_order_and_gst(
    tmp_path, journal_dir
):
    await through_the_expiry(tmp_path, journal_dir)

    fill = settled(journal_dir / TUE_FILE)["s1"]["fill"]

    assert (fill["side"], fill["qty"], fill["price"]) == ("SELL", 1820, 400.0)
    # 1,820 above the 1,800 freeze: 2 orders at Rs 20; GST 18 % of 40; STT 0.15 % of 400 x 1,820
    assert fill["charges"] == {"brokerage": 40.0, "stt": 1092.0, "gst": 7.2, "total": 1139.2}


async def test_an_index_option_short_in_the_money_pays_brokerage_and_gst_without_stt(tmp_path, journal_dir):
    await through_the_expiry(tmp_path, journal_dir)

    fill = settled(journal_dir / TUE_FILE)["s2"]["fill"]

    assert (fill["side"], fill["qty"], fill["price"]) == ("BUY", 65, 200.0)
    assert fill["charges"] == {"brokerage": 20.0, "gst": 3.6, "total": 23.6}


async def test_a_stock_call_in_the_money_is_charged_as_a_delivery_on_the_accounts_net_side(
    tmp_path, journal_dir
):
    await through_the_expiry(tmp_path, journal_dir)
    records = settled(journal_dir / TUE_FILE)

    # the account's net short 400 is assigned: 400 shares at the strike 1,500 = 600,000: STT 0.1 %
    # = 600, brokerage 0.25 % = 1,500, GST 270; no exercise STT (0.15 % of 60 x 400 = 36 before)
    delivery = {"brokerage": 1500.0, "stt": 600.0, "gst": 270.0, "total": 2370.0}
    short = records["s4"]["fill"]
    assert (short["side"], short["qty"], short["price"], short["charges"]) == ("BUY", 800, 60.0, delivery)
    assert records["s4"]["result"]["message"] == (
        f"expiry settlement: {INFY_CALL} expired on 2026-12-29; exercised at its intrinsic value 60 "
        f"({INFY} at 1560, strike 1500); {SHORT_DELIVERY.format(price=1560)}"
    )
    long = records["s3"]["fill"]  # crossed within the account: nothing delivered
    assert (long["side"], long["qty"], long["price"], long.get("charges", {})) == ("SELL", 400, 60.0, {})
    tuesday = fold_file(journal_dir / TUE_FILE)
    long_call = tuesday.position("s3", INFY_CALL, "NRML")
    assert long_call is not None and (long_call.net_qty, long_call.realized_gross) == (0, (60.0 - 30.0) * 400)
    assert long_call.charges == 0.0
    short_call = tuesday.position("s4", INFY_CALL, "NRML")
    assert short_call is not None and short_call.charges == 2370.0
    verify_file(journal_dir / TUE_FILE)


async def test_a_stock_future_at_expiry_is_charged_as_a_delivery_at_its_settlement_price(
    tmp_path, journal_dir
):
    await through_the_expiry(tmp_path, journal_dir)
    records = settled(journal_dir / TUE_FILE)["s6"]

    fill = records["fill"]
    assert (fill["side"], fill["qty"], fill["price"]) == ("BUY", 400, 1562.0)
    # 1,562 x 400 = 624,800: STT 624.8 rounds to 625, brokerage 0.25 % = 1,562, GST 281.16
    assert fill["charges"] == {"brokerage": 1562.0, "stt": 625.0, "gst": 281.16, "total": 2468.16}
    assert records["result"]["message"].endswith(f"; {SHORT_DELIVERY.format(price=1562)}")


async def test_a_stock_option_out_of_the_money_is_charged_nothing(tmp_path, journal_dir):
    await through_the_expiry(tmp_path, journal_dir)
    records = settled(journal_dir / TUE_FILE)["s5"]

    assert (records["fill"]["price"], records["fill"].get("charges", {})) == (0.0, {})
    assert records["result"]["message"] == (
        f"expiry settlement: {INFY_OTM} expired on 2026-12-29; worthless: out of the money "
        f"({INFY} at 1560, strike 1700)"
    )


async def test_the_independent_model_agrees_with_the_settlement_charges(tmp_path, journal_dir):
    await through_the_expiry(tmp_path, journal_dir)

    days = check_days(
        [journal_dir / f"{d.isoformat()}.jsonl" for d in (MON, TUE, WED)], tmp_path / "instruments.csv"
    )

    tuesday = days[1]
    totals = {o.strategy: tuesday.model_charges[o.order_id]["total"] for o in tuesday.orders.values()}
    assert {s: float(t) for s, t in totals.items()} == {
        "s1": 1139.2,
        "s2": 23.6,
        "s3": 0.0,
        "s4": 2370.0,
        "s5": 0.0,
        "s6": 2468.16,
    }


async def test_an_old_rate_table_without_the_settlement_rates_charges_as_before(tmp_path, journal_dir):
    data = yaml.safe_load((REPO / "configs" / "charges.yaml").read_text(encoding="utf-8"))
    for version in data["versions"]:
        for segment in ("options", "futures"):
            for name in ("exercise_brokerage_per_order", "physical_stt_pct", "physical_brokerage_pct"):
                version[segment].pop(name, None)
    old = tmp_path / "old-charges.yaml"
    old.write_text(yaml.safe_dump(data), encoding="utf-8")

    await through_the_expiry(tmp_path, journal_dir, rates_file=old)

    records = settled(journal_dir / TUE_FILE)
    charged = {s: r["fill"].get("charges", {}) for s, r in records.items()}
    assert charged == {
        "s1": {"stt": 1092.0, "total": 1092.0},
        "s2": {},
        "s3": {},  # crossed with s4's short: the account is net short, which pays no exercise STT
        "s4": {},
        "s5": {},
        "s6": {},
    }
    assert all("physically settled" not in r["result"]["message"] for r in records.values())


@pytest.mark.parametrize("cut_after", ["day_closes", "intent", "order_accepted"])
async def test_a_kill_in_the_middle_of_the_date_line_charges_the_delivery_the_same(
    tmp_path, journal_dir, cut_after
):
    """Cut after the line's ``DayCloses`` or after the stock future's settlement began: the restart
    settles it at the same price with the same charges, journaled once in its fill."""
    await through_the_expiry(tmp_path, journal_dir)
    path = journal_dir / TUE_FILE
    ran = settled(path)["s6"]["fill"]
    (journal_dir / f"{WED.isoformat()}.jsonl").unlink()  # the kill came before the new day's file
    lines = path.read_bytes().splitlines(keepends=True)
    marker = f'"type":"{cut_after}"'.encode()
    named = b"" if cut_after == "day_closes" else INFY_FUT.encode()
    last = max(i for i, line in enumerate(lines) if marker in line and named in line)
    path.write_bytes(b"".join(lines[: last + 1]))

    async with ExecutionService(config(tmp_path, journal_dir), clock=ReplayClock(ist_ns(WED, 9, 16))):
        pass

    fills = [e for e in journal_records(path) if e["type"] == "fill" and e["symbol"] == INFY_FUT]
    assert [(f["price"], f["charges"]) for f in fills] == [(ran["price"], ran["charges"])]
    position = fold_file(path).position("s6", INFY_FUT, "NRML")
    assert position is not None and position.charges == ran["charges"]["total"]
    verify_file(path)


async def crossed_through_the_expiry(tmp_path: Path, journal_dir: Path, journal_wed: bool = True) -> None:
    """Monday, one account: a long 130 and b short 65 of the NIFTY 26000 CE (net long 65); c long
    and d short 400 of the INFY 1500 CE, e long and f short 400 INFY futures (each netting to
    flat). Tuesday's last ticks; Wednesday's first tick meets the date line."""
    async with ExecutionService(config(tmp_path, journal_dir), clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        monday = ((CALL, 150.0), (INFY_CALL, 30.0), (INFY_FUT, 1_540.0), (JAN, 26_100.0))
        intents = (
            order("a", CALL, "BUY", 130, "a1"),
            order("b", CALL, "SELL", 65, "b1"),
            order("c", INFY_CALL, "BUY", 400, "c1"),
            order("d", INFY_CALL, "SELL", 400, "d1"),
            order("e", INFY_FUT, "BUY", 400, "e1"),
            order("f", INFY_FUT, "SELL", 400, "f1"),
        )
        await trade_to_the_line(svc, monday, intents, meet_it=journal_wed)


async def test_positions_crossed_within_the_account_settle_nothing_at_the_exchange(tmp_path, journal_dir):
    """Zerodha settles the account's net position in a contract, as its square-off does
    (``netting.py``): long and short strategies cross without an exercise or a delivery, and only
    the net's side pays for what the exchange settles."""
    await crossed_through_the_expiry(tmp_path, journal_dir)
    records = settled(journal_dir / TUE_FILE)

    charged = {s: (r["fill"]["price"], r["fill"].get("charges", {})) for s, r in records.items()}
    assert charged == {
        # the account's net long 65 is exercised: STT 0.15 % of 400 x 65 = 39, one order's Rs 20 + GST
        "a": (400.0, {"brokerage": 20.0, "stt": 39.0, "gst": 3.6, "total": 62.6}),
        "b": (400.0, {}),
        "c": (60.0, {}),  # long 400 and short 400 of the INFY call: nothing delivered
        "d": (60.0, {}),
        "e": (1562.0, {}),  # long 400 and short 400 INFY futures: nothing delivered
        "f": (1562.0, {}),
    }
    assert all("delivery" not in r["result"]["message"] for r in records.values())
    check_days(
        [journal_dir / f"{d.isoformat()}.jsonl" for d in (MON, TUE, WED)], tmp_path / "instruments.csv"
    )


@pytest.mark.parametrize("cut_after", ["a", "c", "e"])
async def test_a_kill_after_one_crossed_settlement_charges_the_rest_as_the_account_net(
    tmp_path, journal_dir, cut_after
):
    """Cut after the first position of a contract settled: the restart still sees the account's
    net as the line began (the settled position counts back in), so the other side pays nothing."""
    await crossed_through_the_expiry(tmp_path, journal_dir)
    path = journal_dir / TUE_FILE
    ran = {s: r["fill"].get("charges", {}) for s, r in settled(path).items()}
    (journal_dir / f"{WED.isoformat()}.jsonl").unlink()  # the kill came before the new day's file
    lines = path.read_bytes().splitlines(keepends=True)
    fill = max(i for i, line in enumerate(lines) if b'"type":"fill"' in line and b'"expiry-' in line
               and f'"strategy_code":"{cut_after}"'.encode() in line)  # fmt: skip
    path.write_bytes(b"".join(lines[: fill + 1]))

    async with ExecutionService(config(tmp_path, journal_dir), clock=ReplayClock(ist_ns(WED, 9, 16))):
        pass

    assert {s: r["fill"].get("charges", {}) for s, r in settled(path).items()} == ran
    verify_file(path)
