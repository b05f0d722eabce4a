"""Live at the IST date line: a run restarted after it decides as one that went on.

Ticks are not journaled. Paper forgets, at the date line, the last prices of instruments it does
not hold and carries those of what it holds as marks (``PaperExecutor.closes``, journaled in
``PositionsCarried.marks``), so that a run restarted after the line decides as one that went on
(``test_restart_carried_prices``; dry-run meets the line as paper does). Live carries and
journals the marks of what it holds alike, so a held instrument nobody subscribes again is marked
after a restart. But live's prices are the feed's, and Kite's WebSocket (the simulator's too)
sends each instrument's last tick at once on a subscription: a restarted service subscribing
again has the last session's prices back. So live keeps the feed's prices over the line: forgotten
(as 9cb5a31 had it), an order placed before its instrument's first tick of the day was valued
(``reference_price``: the order-value cap) at nothing by a run that went on and at the last
session's price by one restarted after the line: one refused what the other sent.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config, config_from_dict
from execsvc.events import DayClose, PositionsCarried
from execsvc.journal.reader import journal_path, read_journal
from execsvc.market.instruments import Instruments
from execsvc.sim import KiteSimulator
from tests.conftest import tick
from tests.integration.test_embedded_websocket import Ticks
from tests.integration.test_live_kite import Collector, _as_dict, live_config

UNHELD_TOKEN = 408065

MON, TUE = dt.date(2026, 11, 23), dt.date(2026, 11, 24)
HELD, UNHELD, MARKER = "NFO:NIFTY26DECFUT", "NSE:INFY", "NSE:SBIN"  # MARKER's ticks move the clock
INSTRUMENTS = """\
instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
13239042,51715,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.05,65,FUT,NFO-FUT,NFO
408065,1594,INFY,INFOSYS,0,,0,0.05,1,EQ,NSE,NSE
779521,3045,SBIN,STATE BANK OF INDIA,0,,0,0.05,1,EQ,NSE,NSE
"""
CAP = 1_000_000.0
LINE = ist_ns(TUE, 9, 15)  # the date line meets the first tick after it
MONDAY_CLOSE = ist_ns(MON, 15, 29)


def config(journal_dir: Path, sim: KiteSimulator, instruments_csv: Path) -> Config:
    data = _as_dict(live_config(journal_dir, sim))
    data["market"]["instruments_file"] = str(instruments_csv)
    data["execution"]["circuit_breakers"]["max_order_value_rupees"] = CAP
    return config_from_dict(data)


def feed_tick(price: float, stamped_ns: int) -> Tick:
    """A full-mode tick of UNHELD as Kite sends it: the exchange's time in unix seconds."""
    return Tick(
        symbol=UNHELD, instrument_token=UNHELD_TOKEN, last_price=price, ts_event=stamped_ns,
        exchange_timestamp=stamped_ns // 1_000_000_000,
    )  # fmt: skip


async def subscribed(svc: ExecutionService) -> Ticks:
    """UNHELD's ticks over ``svc``'s WebSocket, as they come (the market path has taken each)."""
    ticks = Ticks()
    svc.feed.on_tick(ticks)
    await svc.feed.subscribe([UNHELD_TOKEN], "full")
    return ticks


async def came(ticks: Ticks, price: float) -> None:
    await ticks.until(lambda: price in [t.last_price for t in ticks.ticks])


def order(symbol: str, qty: int, intent_id: str) -> OrderIntent:
    product = "NRML" if symbol == HELD else "CNC"
    return OrderIntent(
        symbol=symbol, strategy_code="s1", side="BUY", qty=qty, product=product, intent_id=intent_id
    )


async def run(tmp_path: Path, restart: bool) -> dict[str, Any]:
    """Monday: a lot of the NIFTY future bought and held (at 10,000), INFY only ticking, over the
    service's WebSocket (``svc.feed``, subscribed at every start as the daemon subscribes
    ``feed.tokens``). Tuesday, before either's first tick: orders valued at Monday's last prices
    (NIFTY's 10,010: 650,650 a lot; INFY's 1,500: 150,000 for 100). ``restart``: the service stops
    just after it met the date line and starts again on its journal."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    csv = tmp_path / "instruments.csv"
    csv.write_text(INSTRUMENTS)
    # the broker's day ends with the same date line (its order book forgets Monday's orders)
    broker_clock = ReplayClock(ist_ns(MON, 9, 15))
    async with KiteSimulator(
        heartbeat_seconds=0.05, instruments=Instruments.from_csv(csv), clock=broker_clock
    ) as sim:
        sim.push_tick(tick(HELD, 10_000.0, ist_ns(MON, 9, 30)))
        cfg = config(tmp_path / "journal", sim, csv)
        svc = ExecutionService(cfg, clock=ReplayClock(ist_ns(MON, 9, 15)), access_token="t")
        await svc.start()
        out: dict[str, Any] = {}
        try:
            seen = Collector(svc)
            ticks = await subscribed(svc)
            await svc.on_tick(tick(HELD, 10_000.0, ist_ns(MON, 10, 0)))
            await svc.execute_intent(order(HELD, 65, "held"))
            await seen.until("held", "FILLED")
            sim.push_tick(feed_tick(1_500.0, MONDAY_CLOSE))
            await came(ticks, 1_500.0)
            await svc.on_tick(tick(HELD, 10_010.0, ist_ns(MON, 15, 29, 30)))
            sim.push_tick(tick(MARKER, 800.0, LINE))
            await svc.on_tick(tick(MARKER, 800.0, LINE))  # meets the date line
            if restart:
                await svc.stop()
                svc = ExecutionService(cfg, clock=ReplayClock(LINE), access_token="t")
                await svc.start()
                await came(await subscribed(svc), 1_500.0)  # Monday's last tick: the snapshot
            out["marks"] = {s: svc.engine.executor.last_price(s) for s in (HELD, UNHELD)}
            out["halted"] = svc.halted
            answers = {
                "held": await svc.execute_intent(order(HELD, 65, "held_more")),  # 650,650 at the mark
                "held_dear": await svc.execute_intent(order(HELD, 130, "held_dear")),  # 1,301,300
                "cheap": await svc.execute_intent(order(UNHELD, 100, "cheap")),  # 150,000 at Monday's
                "dear": await svc.execute_intent(order(UNHELD, 1_000, "dear")),  # 1,500,000
            }
            out["answers"] = {k: (r.status, r.reject_reason, r.message) for k, r in answers.items()}
        finally:
            await svc.stop()
    tuesday = [r.ev for r in read_journal(journal_path(tmp_path / "journal", TUE.isoformat())).records]
    out["carried_marks"] = [e.marks for e in tuesday if type(e) is PositionsCarried]
    return out


async def test_a_live_restart_after_the_date_line_decides_as_a_run_that_went_on(tmp_path: Path) -> None:
    straight = await run(tmp_path / "straight", restart=False)
    restarted = await run(tmp_path / "restarted", restart=True)

    assert restarted == straight
    assert straight["marks"] == {HELD: 10_010.0, UNHELD: 1_500.0}  # what is held keeps its mark
    assert straight["halted"] is False
    assert straight["answers"] == {
        "held": ("PLACED", None, "accepted by the broker"),
        "held_dear": (
            "REJECTED",
            "breaker:max_order_value",
            "max_order_value: 1,301,300.00 > 1,000,000.00",
        ),
        "cheap": ("PLACED", None, "accepted by the broker"),
        "dear": ("REJECTED", "breaker:max_order_value", "max_order_value: 1,500,000.00 > 1,000,000.00"),
    }
    assert straight["carried_marks"] == [[DayClose(symbol=HELD, last_price=10_010.0)]]
