"""Stock F&O held to expiry delivers its shares into (or out of) CNC holdings, on paper.

Before, a stock future or an in-the-money stock option closed in cash at its settlement price and
its result said "delivery of N shares not modelled": the next day's holdings lacked the shares a
real account receives (a CNC sell of them was refused), or still showed the shares it gave. Now the
account's net delivery of each stock moves the shares at the contract's price per share
(``executors/paper/delivery.py``): received into the strategy's CNC holding, given from the
account's, and what it gives without holding them is a short delivery (auction not modelled:
holdings unchanged, said in the result and a WARNING). Index contracts still settle in cash.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config, config_from_dict
from execsvc.journal.inspect import fold_file, verify_file
from execsvc.market.instruments import Instruments
from execsvc.sim import KiteSimulator
from tests.conftest import journal_records, make_config, tick
from tests.integration.test_journal_hostile import chain
from tests.integration.test_live_kite import _as_dict, live_config, placements_per_tag
from tests.pnl_audit import check_days

MON, TUE, WED = dt.date(2026, 12, 28), dt.date(2026, 12, 29), dt.date(2026, 12, 30)  # TUE: the expiry
DAYS = (MON, TUE, WED)
TUE_FILE, WED_FILE = f"{TUE.isoformat()}.jsonl", f"{WED.isoformat()}.jsonl"
INFY, INFY_FUT, INFY_PUT = "NSE:INFY", "NFO:INFY26DECFUT", "NFO:INFY26DEC1600PE"
TCS, TCS_FUT = "NSE:TCS", "NFO:TCS26DECFUT"
NIFTY, NIFTY_FUT, NIFTY_CALL = "NSE:NIFTY 50", "NFO:NIFTY26DECFUT", "NFO:NIFTY26DEC26000CE"
INSTRUMENTS = """\
instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
408065,1594,INFY,INFOSYS,0,,0,0.05,1,EQ,NSE,NSE
2953217,11536,TCS,TATA CONSULTANCY SERV LT,0,,0,0.1,1,EQ,NSE,NSE
256265,0,NIFTY 50,NIFTY 50,0,,0,0,0,EQ,INDICES,NSE
13241090,51720,INFY26DECFUT,INFY,0,2026-12-29,0,0.1,400,FUT,NFO-FUT,NFO
10691586,41764,INFY26DEC1600PE,INFY,0,2026-12-29,1600,0.05,400,PE,NFO-OPT,NFO
13241346,51721,TCS26DECFUT,TCS,0,2026-12-29,0,0.1,175,FUT,NFO-FUT,NFO
13239042,51715,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.05,65,FUT,NFO-FUT,NFO
10690306,41759,NIFTY26DEC26000CE,NIFTY,0,2026-12-29,26000,0.05,65,CE,NFO-OPT,NFO
"""
MONDAY_PRICES = {
    INFY: 1_500.0, INFY_FUT: 1_540.0, INFY_PUT: 60.0, TCS: 4_000.0, TCS_FUT: 4_020.0,
    NIFTY: 26_100.0, NIFTY_FUT: 26_150.0, NIFTY_CALL: 150.0,
}  # fmt: skip
# the expiry day's last ticks: the futures' last trades are their settlement prices; the put is
# in the money against INFY at 1,560 (intrinsic 40)
CLOSES = {
    INFY_FUT: 1_562.0, INFY_PUT: 41.0, TCS_FUT: 4_105.0, NIFTY_FUT: 26_410.0, NIFTY_CALL: 402.0,
    INFY: 1_560.0, TCS: 4_100.0, NIFTY: 26_400.0,
}  # fmt: skip
DELIVERY = "expiry-delivery-"


def config(tmp_path: Path, journal_dir: Path) -> Config:
    """Paper, no slippage, the rates of ``tmp_path/charges.yaml`` if a test wrote one (else the
    shipped ones), with the instruments above."""
    path = tmp_path / "instruments.csv"
    path.write_text(INSTRUMENTS)
    rates = tmp_path / "charges.yaml"
    charges = {"rates_file": str(rates)} if rates.exists() else {}
    return make_config(
        journal_dir, market={"instruments_file": str(path)}, execution={"slippage_bps": 0}, charges=charges
    )


def order(
    strategy: str, symbol: str, side: str, qty: int, intent_id: str, product: str = "NRML"
) -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code=strategy, side=side, qty=qty, product=product, intent_id=intent_id
    )


Wednesday = Callable[[ExecutionService], Awaitable[Any]]


async def through_the_expiry(
    tmp_path: Path, journal_dir: Path, monday: list[OrderIntent], wednesday: Wednesday | None = None
) -> Any:
    """Monday's orders (all filled), Tuesday's last ticks, then Wednesday's first tick (INFY at
    1,570) meets the date line; ``wednesday`` runs on in that service and its answer is returned."""
    async with ExecutionService(config(tmp_path, journal_dir), clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        for symbol, price in MONDAY_PRICES.items():
            await svc.on_tick(tick(symbol, price, ist_ns(MON, 9, 16)))
        for intent in monday:
            assert (await svc.execute_intent(intent)).status == "FILLED", intent
        for n, (symbol, price) in enumerate(CLOSES.items()):
            await svc.on_tick(tick(symbol, price, ist_ns(TUE, 15, 29, n)))
        await svc.on_tick(tick(INFY, 1_570.0, ist_ns(WED, 9, 15)))
        return await wednesday(svc) if wednesday is not None else None


def by_intent(path: Path, prefix: str) -> dict[str, dict[str, dict[str, Any]]]:
    """A day's records of the intents whose id begins ``prefix``, by intent id, then by type."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for event in journal_records(path):
        if event.get("intent_id", "").startswith(prefix):
            out.setdefault(event["intent_id"], {})[event["type"]] = event
    return out


def settlement_messages(path: Path) -> dict[tuple[str, str], str]:
    """Each settlement's result message by (strategy, contract)."""
    records = by_intent(path, f"expiry-{TUE.strftime('%Y%m%d')}-").values()
    return {(r["intent"]["strategy_code"], r["intent"]["symbol"]): r["result"]["message"] for r in records}


def holdings(svc: ExecutionService) -> dict[tuple[str, str], tuple[int, float]]:
    """Every open position's (net quantity, average price) by (strategy, symbol)."""
    return {(p.strategy_code, p.symbol): (p.net_qty, p.avg_price) for p in svc.positions() if p.net_qty}


def audit(tmp_path: Path, journal_dir: Path) -> None:
    check_days([journal_dir / f"{d.isoformat()}.jsonl" for d in DAYS], tmp_path / "instruments.csv")


async def test_a_long_stock_future_delivers_its_shares_into_holdings_and_a_cnc_sell_of_them_fills(
    tmp_path, journal_dir
):
    async def sell_them(svc: ExecutionService) -> tuple[Any, Any, Any]:
        held = holdings(svc)
        sold = await svc.execute_intent(order("s1", INFY, "SELL", 400, "sell-delivered", product="CNC"))
        return held, sold, next(p for p in svc.positions() if p.symbol == INFY)

    held, sold, after = await through_the_expiry(
        tmp_path, journal_dir, [order("s1", INFY_FUT, "BUY", 400, "f1")], sell_them
    )

    assert held == {("s1", INFY): (400, 1562.0)}  # at the future's settlement price
    [delivery] = by_intent(journal_dir / TUE_FILE, DELIVERY).values()
    fill = delivery["fill"]
    assert (fill["symbol"], fill["product"], fill["side"], fill["qty"], fill["price"], fill["liquidity"]) == (
        INFY, "CNC", "BUY", 400, 1562.0, "delivery",
    )  # fmt: skip
    # stamp duty 0.015 % of 1,562 x 400 = 624,800: 93.72; no STT (the future's settlement paid it)
    assert fill["charges"] == {"stamp": 93.72, "total": 93.72}
    assert delivery["intent"]["metadata"] == {
        "expiry": "2026-12-29",
        "contracts": [INFY_FUT],
        "delivery": "received",
    }
    assert delivery["result"]["status"] == "FILLED"
    assert settlement_messages(journal_dir / TUE_FILE)[("s1", INFY_FUT)].endswith(
        "; physically settled, charged as a delivery: 400 shares of NSE:INFY received into CNC "
        "holdings at 1562"
    )
    assert (sold.status, sold.filled_qty, sold.avg_price) == ("FILLED", 400, 1570.0)
    assert after is not None and (after.net_qty, after.realized_gross) == (0, (1570.0 - 1562.0) * 400)
    audit(tmp_path, journal_dir)
    verify_file(journal_dir / TUE_FILE)


async def test_a_short_stock_future_without_holdings_is_a_short_delivery_and_leaves_holdings_alone(
    tmp_path, journal_dir, caplog
):
    """Not negative holdings: Zerodha's CNC never goes short, and a negative holding would be
    carried and marked daily as a short the account never had (``delivery_plan``)."""

    async def sell_some(svc: ExecutionService) -> tuple[Any, Any]:
        return holdings(svc), await svc.execute_intent(order("s1", INFY, "SELL", 1, "sell", product="CNC"))

    with caplog.at_level(logging.WARNING, logger="execsvc.paper"):
        held, refused = await through_the_expiry(
            tmp_path, journal_dir, [order("s1", INFY_FUT, "SELL", 400, "f1")], sell_some
        )

    assert held == {}
    assert by_intent(journal_dir / TUE_FILE, DELIVERY) == {}  # nothing moved
    assert settlement_messages(journal_dir / TUE_FILE)[("s1", INFY_FUT)].endswith(
        "; physically settled, charged as a delivery: short delivery of 400 shares of NSE:INFY not held, "
        "booked as given at 1562, holdings unchanged: auction not modelled"
    )
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(m.startswith("short delivery: s1's NRML position in NFO:INFY26DECFUT gives 400 shares of "
                            "NSE:INFY the account does not hold") for m in warnings)  # fmt: skip
    assert (refused.status, refused.reject_reason) == ("REJECTED", "insufficient_holdings")
    audit(tmp_path, journal_dir)


async def test_a_short_stock_future_with_holdings_gives_them_at_the_settlement_price(tmp_path, journal_dir):
    monday = [order("s1", INFY, "BUY", 500, "cnc", product="CNC"), order("s1", INFY_FUT, "SELL", 400, "f1")]

    held = await through_the_expiry(tmp_path, journal_dir, monday, lambda svc: _now(holdings(svc)))

    assert held == {("s1", INFY): (100, 1500.0)}  # 400 of the 500 bought at 1,500 delivered
    [delivery] = by_intent(journal_dir / TUE_FILE, DELIVERY).values()
    fill = delivery["fill"]
    assert (fill["side"], fill["qty"], fill["price"]) == ("SELL", 400, 1562.0)
    assert fill["charges"] == {"gst": 2.43, "total": 15.93, "dp": 13.5}  # one DP charge + 18 % GST
    tuesday = fold_file(journal_dir / TUE_FILE).position("s1", INFY, "CNC")
    assert tuesday is not None and tuesday.realized_gross == (1562.0 - 1500.0) * 400
    assert settlement_messages(journal_dir / TUE_FILE)[("s1", INFY_FUT)].endswith(
        "; physically settled, charged as a delivery: 400 shares of NSE:INFY given from CNC holdings at 1562"
    )
    audit(tmp_path, journal_dir)


async def test_a_rate_table_written_before_the_dp_charge_loads_and_charges_the_given_shares_nothing(
    tmp_path, journal_dir
):
    shipped = (Path(__file__).resolve().parents[2] / "configs" / "charges.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(shipped)
    for version in data["versions"]:
        version["equity"]["delivery"].pop("dp_charge_per_scrip", None)  # an alias: one row, two versions
    (tmp_path / "charges.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    monday = [order("s1", INFY, "BUY", 500, "cnc", product="CNC"), order("s1", INFY_FUT, "SELL", 400, "f1")]

    held = await through_the_expiry(tmp_path, journal_dir, monday, lambda svc: _now(holdings(svc)))

    assert held == {("s1", INFY): (100, 1500.0)}
    [delivery] = by_intent(journal_dir / TUE_FILE, DELIVERY).values()
    assert (delivery["fill"]["qty"], delivery["fill"].get("charges", {})) == (400, {})


async def _now(value: Any) -> Any:
    return value


@pytest.mark.parametrize(
    "monday",
    [
        # long and short of one future: they cross within the account
        [order("s1", INFY_FUT, "BUY", 400, "f1"), order("s2", INFY_FUT, "SELL", 400, "f2")],
        # a long future receives 400, an in-the-money long put gives 400: the stock nets to nothing
        [order("s1", INFY_FUT, "BUY", 400, "f1"), order("s2", INFY_PUT, "BUY", 400, "p1")],
    ],
    ids=["one-contract", "across-contracts"],
)
async def test_strategies_whose_deliveries_net_to_zero_move_no_shares(tmp_path, journal_dir, monday):
    held = await through_the_expiry(tmp_path, journal_dir, monday, lambda svc: _now(holdings(svc)))

    assert held == {}
    assert by_intent(journal_dir / TUE_FILE, DELIVERY) == {}
    messages = settlement_messages(journal_dir / TUE_FILE)
    assert all("received" not in m and "given" not in m and "short" not in m for m in messages.values())
    if monday[1].symbol == INFY_PUT:  # each contract is delivered and charged; the stock nets out
        assert all(m.endswith("no shares of NSE:INFY move: the account's other positions in it net them out")
                   for m in messages.values())  # fmt: skip
    audit(tmp_path, journal_dir)


async def test_index_futures_and_options_settle_in_cash_without_any_delivery(tmp_path, journal_dir):
    monday = [order("s1", NIFTY_FUT, "BUY", 65, "n1"), order("s2", NIFTY_CALL, "BUY", 65, "c1")]

    held = await through_the_expiry(tmp_path, journal_dir, monday, lambda svc: _now(holdings(svc)))

    assert held == {}
    assert by_intent(journal_dir / TUE_FILE, DELIVERY) == {}
    assert all("physically" not in m for m in settlement_messages(journal_dir / TUE_FILE).values())
    audit(tmp_path, journal_dir)


# s1 long INFY futures (400 received); s2 holds 200 TCS and s3 is short 350 TCS futures: s2's 200
# are given (holdings are the account's), the other 150 are a short delivery
MIXED = [
    order("s1", INFY_FUT, "BUY", 400, "f1"),
    order("s2", TCS, "BUY", 200, "cnc", product="CNC"),
    order("s3", TCS_FUT, "SELL", 350, "f2"),
]


def carried(path: Path) -> dict[str, Any]:
    """A day's ``positions_carried``, without its time."""
    [event] = [e for e in journal_records(path) if e["type"] == "positions_carried"]
    return {k: v for k, v in event.items() if k != "ts_event"}


async def test_a_kill_at_each_step_of_the_date_line_delivers_the_same_holdings(tmp_path, journal_dir):
    """Cut Tuesday's journal after each record of the date line (from its ``DayCloses``: a kill -9
    there), delete Wednesday's file, restart on Wednesday: the restart finishes the line and
    carries the same holdings, marks and books as the service that ran on."""
    held = await through_the_expiry(tmp_path, journal_dir, MIXED, lambda svc: _now(holdings(svc)))
    assert held == {("s1", INFY): (400, 1562.0)}  # s2's 200 TCS were given
    ran_carried = carried(journal_dir / WED_FILE)
    ran_books = fold_file(journal_dir / TUE_FILE).positions
    deliveries = by_intent(journal_dir / TUE_FILE, DELIVERY)
    given = [r["fill"] for r in deliveries.values() if r["fill"]["side"] == "SELL"]
    assert [(f["strategy_code"], f["symbol"], f["qty"], f["price"]) for f in given] == [
        ("s2", TCS, 200, 4105.0)
    ]
    assert (
        "short delivery of 150 shares of NSE:TCS"
        in settlement_messages(journal_dir / TUE_FILE)[("s3", TCS_FUT)]
    )
    lines = (journal_dir / TUE_FILE).read_bytes().splitlines(keepends=True)
    line_starts = max(i for i, line in enumerate(lines) if b'"type":"day_closes"' in line)

    for cut in range(line_starts, len(lines)):
        restarted = tmp_path / f"cut-{cut}"
        shutil.copytree(journal_dir, restarted)
        (restarted / WED_FILE).unlink()
        (restarted / TUE_FILE).write_bytes(b"".join(lines[: cut + 1]))
        async with ExecutionService(
            config(tmp_path, restarted), clock=ReplayClock(ist_ns(WED, 9, 16))
        ) as svc:
            assert holdings(svc) == held, f"cut after line {cut}"

        assert carried(restarted / WED_FILE) == ran_carried, f"cut after line {cut}"
        assert fold_file(restarted / TUE_FILE).positions == ran_books, f"cut after line {cut}"
        verify_file(restarted / TUE_FILE)
    audit(tmp_path, journal_dir)


@pytest.mark.parametrize(
    ("tamper", "caught"),
    [
        ("drop", r"NSE:INFY: ours \(0, 0\), model"),  # the shares never arrived
        ("stamp", "NSE:INFY CNC BUY stamp"),  # a rupee too much stamp duty
    ],
)
async def test_the_independent_model_catches_a_delivery_that_is_not_the_rules(
    tmp_path, journal_dir, tamper, caught
):
    await through_the_expiry(tmp_path, journal_dir, [order("s1", INFY_FUT, "BUY", 400, "f1")])
    path = journal_dir / TUE_FILE
    lines = [json.loads(line) for line in path.read_bytes().splitlines()]
    ours = [r for r in lines if r["ev"].get("intent_id", "").startswith(DELIVERY)]
    assert ours
    if tamper == "drop":
        lines = [r for r in lines if r not in ours]
        for seq, record in enumerate(lines):
            record["seq"] = seq
    else:
        [fill] = [r for r in ours if r["ev"]["type"] == "fill"]
        fill["ev"]["charges"]["stamp"] += 1.0
        fill["ev"]["charges"]["total"] += 1.0
    path.write_bytes(chain(lines))

    with pytest.raises(AssertionError, match=caught):
        check_days([journal_dir / f"{d.isoformat()}.jsonl" for d in (MON, TUE)], tmp_path / "instruments.csv")


async def test_a_dry_run_delivers_the_shares_as_paper_does(tmp_path, journal_dir):
    """A dry run's broker is the paper simulator: the same delivery, and the CNC sell of the
    delivered shares next day is simulated as filled (nothing reaches the broker)."""
    csv = tmp_path / "instruments.csv"
    csv.write_text(INSTRUMENTS)
    async with KiteSimulator(heartbeat_seconds=0.05, instruments=Instruments.from_csv(csv)) as sim:
        data = _as_dict(live_config(journal_dir, sim))
        data["market"]["instruments_file"] = str(csv)
        data["execution"] |= {"dry_run": True, "slippage_bps": 0}
        data["execution"]["circuit_breakers"]["max_order_value_rupees"] = 10_000_000.0
        dry = config_from_dict(data)
        async with ExecutionService(dry, clock=ReplayClock(ist_ns(MON, 9, 15)), access_token="t") as svc:
            await svc.on_tick(tick(INFY_FUT, 1_540.0, ist_ns(MON, 9, 16)))
            bought = await svc.execute_intent(order("s1", INFY_FUT, "BUY", 400, "f1"))
            await svc.on_tick(tick(INFY_FUT, 1_562.0, ist_ns(TUE, 15, 29)))
            await svc.on_tick(tick(INFY, 1_570.0, ist_ns(WED, 9, 15)))  # meets the date line
            held = holdings(svc)
            sold = await svc.execute_intent(order("s1", INFY, "SELL", 400, "sell", product="CNC"))

    assert (bought.status, bought.mode) == ("FILLED", "dry-run")
    assert held == {("s1", INFY): (400, 1562.0)}
    [delivery] = by_intent(journal_dir / TUE_FILE, DELIVERY).values()
    assert (delivery["fill"]["qty"], delivery["fill"]["price"], delivery["result"]["mode"]) == (
        400, 1562.0, "dry-run",
    )  # fmt: skip
    assert (sold.status, sold.filled_qty, sold.avg_price) == ("FILLED", 400, 1570.0)
    assert placements_per_tag(sim) == {}


async def test_shares_another_strategy_sold_are_not_given_again_holdings_are_the_accounts_net(
    tmp_path, journal_dir
):
    """s2 bought 200 TCS and s3 sold them (CNC: holdings are the account's, so the broker took the
    sale): the account holds none, though s2's own book shows 200. A short TCS future then has
    nothing to give: a short delivery, not 175 shares taken from s2, which would leave the account
    short 175 shares CNC never lets it hold."""
    monday = [
        order("s2", TCS, "BUY", 200, "cnc-buy", product="CNC"),
        order("s3", TCS, "SELL", 200, "cnc-sell", product="CNC"),
        order("s1", TCS_FUT, "SELL", 175, "f1"),
    ]

    held = await through_the_expiry(tmp_path, journal_dir, monday, lambda svc: _now(holdings(svc)))

    assert sum(qty for (_, symbol), (qty, _) in held.items() if symbol == TCS) == 0
    assert by_intent(journal_dir / TUE_FILE, DELIVERY) == {}
    assert settlement_messages(journal_dir / TUE_FILE)[("s1", TCS_FUT)].endswith(
        "; physically settled, charged as a delivery: short delivery of 175 shares of NSE:TCS not "
        "held, booked as given at 4105, holdings unchanged: auction not modelled"
    )
    audit(tmp_path, journal_dir)


async def test_shares_an_after_market_sale_holds_back_are_not_given_so_the_sale_cannot_go_short(
    tmp_path, journal_dir
):
    """s1 holds 400 INFY, is short 400 INFY futures into the expiry and after the expiry day's close
    places an AMO CNC SELL of the 400 (the broker takes it: they are held, none reserved). Giving
    them at the date line as well would let the AMO sell them again at Wednesday's open: the account
    short 400 shares in CNC. They are held back: the future is a short delivery, the AMO sells."""
    async with ExecutionService(config(tmp_path, journal_dir), clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        for symbol, price in MONDAY_PRICES.items():
            await svc.on_tick(tick(symbol, price, ist_ns(MON, 9, 16)))
        for intent in [
            order("s1", INFY, "BUY", 400, "cnc", product="CNC"),
            order("s1", INFY_FUT, "SELL", 400, "f1"),
        ]:
            assert (await svc.execute_intent(intent)).status == "FILLED", intent
        for n, (symbol, price) in enumerate(CLOSES.items()):
            await svc.on_tick(tick(symbol, price, ist_ns(TUE, 15, 29, n)))
        await svc.on_tick(tick(TCS, 4_100.0, ist_ns(TUE, 17, 0)))  # the clock past the close
        amo = OrderIntent(
            symbol=INFY,
            strategy_code="s1",
            side="SELL",
            qty=400,
            product="CNC",
            variety="amo",
            intent_id="amo",
        )
        placed = await svc.execute_intent(amo)
        await svc.on_tick(tick(INFY, 1_570.0, ist_ns(WED, 9, 15)))  # the date line, then the open
        held = holdings(svc)

    assert placed.status == "PLACED"
    assert held == {}  # sold by the AMO at the open, not given and sold again
    assert by_intent(journal_dir / TUE_FILE, DELIVERY) == {}
    assert (
        "short delivery of 400 shares of NSE:INFY"
        in settlement_messages(journal_dir / TUE_FILE)[("s1", INFY_FUT)]
    )
    [sold] = [e for e in journal_records(journal_dir / WED_FILE) if e["type"] == "fill"]
    assert (sold["intent_id"], sold["qty"], sold["price"]) == ("amo", 400, 1570.0)
    # the model folds no order carried into a day (Wednesday's fill of Tuesday's AMO): to Tuesday
    check_days([journal_dir / f"{d.isoformat()}.jsonl" for d in (MON, TUE)], tmp_path / "instruments.csv")
