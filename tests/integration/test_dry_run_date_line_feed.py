"""A dry run at the IST date line: the last session's ticks the feed sends again fill nothing.

A dry run's broker is the paper simulator, which forgets at the date line the prices of what it
does not hold: a new day's order waits for its instrument's first tick of the day. But Kite's
WebSocket (the simulator's too) sends the latest tick of each instrument at once on a
subscription, so a dry run subscribing again after the line (restarted, or reconnected) had
Monday's last ticks back as Tuesday's market: a MARKET order sent before the instrument's first
tick of Tuesday was refused (``no_market_data``) by the run that went on and filled at Monday's
close by the restarted or reconnected one. A full-mode tick carries the exchange's time: one
stamped before the current IST day is the last session's and moves no price of the new one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent, Tick
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config, config_from_dict
from execsvc.market.instruments import Instruments
from execsvc.sim import KiteSimulator
from tests.conftest import tick
from tests.integration.test_embedded_websocket import Ticks
from tests.integration.test_live_kite import Collector, _as_dict, live_config

MON, TUE = dt.date(2026, 11, 23), dt.date(2026, 11, 24)
HELD, UNHELD, MARKER = "NFO:NIFTY26DECFUT", "NSE:INFY", "NSE:SBIN"  # MARKER's tick moves the clock
TOKENS = {HELD: 13239042, UNHELD: 408065}
INSTRUMENTS = """\
instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
13239042,51715,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.05,65,FUT,NFO-FUT,NFO
408065,1594,INFY,INFOSYS,0,,0,0.05,1,EQ,NSE,NSE
779521,3045,SBIN,STATE BANK OF INDIA,0,,0,0.05,1,EQ,NSE,NSE
"""
LINE = ist_ns(TUE, 9, 15)  # the date line meets the first tick after it
STRAIGHT, RESTARTED, RECONNECTED = "went on", "restarted after the line", "reconnected after the line"


def config(journal_dir: Path, sim: KiteSimulator, instruments_csv: Path) -> Config:
    data = _as_dict(live_config(journal_dir, sim))
    data["market"]["instruments_file"] = str(instruments_csv)
    data["execution"]["dry_run"] = True
    data["execution"]["circuit_breakers"]["max_order_value_rupees"] = 1_000_000.0
    return config_from_dict(data)


def feed_tick(symbol: str, price: float, stamped_ns: int) -> Tick:
    """A full-mode tick as Kite sends it: the exchange's time in unix seconds."""
    seconds = stamped_ns // 1_000_000_000
    return Tick(
        symbol=symbol, instrument_token=TOKENS[symbol], last_price=price, ts_event=stamped_ns,
        exchange_timestamp=seconds, last_trade_time=seconds,
    )  # fmt: skip


async def subscribed(svc: ExecutionService, mode: str) -> Ticks:
    """The feed's ticks as they come (the market path has taken each), both instruments subscribed
    in ``mode`` at every start, as the daemon subscribes ``feed.tokens``."""
    ticks = Ticks()
    svc.feed.on_tick(ticks)
    await svc.feed.subscribe(list(TOKENS.values()), mode)
    return ticks


async def came(ticks: Ticks, symbol: str, price: float) -> None:
    await ticks.until(lambda: any(t.symbol == symbol and t.last_price == price for t in ticks.ticks))


def order(intent_id: str, symbol: str, qty: int, **kw: Any) -> OrderIntent:
    product = "NRML" if symbol == HELD else "CNC"
    return OrderIntent(
        symbol=symbol, strategy_code="s1", side="BUY", qty=qty, product=product, intent_id=intent_id, **kw
    )


def answer(result: Any) -> tuple[Any, ...]:
    return result.status, result.reject_reason, result.filled_qty, result.avg_price


async def run(tmp_path: Path, how: str, mode: str) -> dict[str, Any]:
    """Monday: a lot of the NIFTY future bought and held, INFY only ticking, both on the dry run's
    feed (in ``mode``); the last ticks NIFTY 10,010 and INFY 1,500. Tuesday: the same orders before
    INFY's first tick of the day, then after it (1,520), in a run that ``how`` met the line."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    csv = tmp_path / "instruments.csv"
    csv.write_text(INSTRUMENTS)
    broker_clock = ReplayClock(ist_ns(MON, 9, 15))
    async with KiteSimulator(
        heartbeat_seconds=0.05, instruments=Instruments.from_csv(csv), clock=broker_clock
    ) as sim:
        cfg = config(tmp_path / "journal", sim, csv)
        svc = ExecutionService(cfg, clock=ReplayClock(ist_ns(MON, 9, 15)), access_token="t")
        await svc.start()
        out: dict[str, Any] = {}
        try:
            seen = Collector(svc)
            ticks = await subscribed(svc, mode)
            sim.push_tick(feed_tick(HELD, 10_000.0, ist_ns(MON, 10, 0)))
            await came(ticks, HELD, 10_000.0)
            await svc.execute_intent(order("held", HELD, 65))
            await seen.until("held", "FILLED")
            sim.push_tick(feed_tick(UNHELD, 1_500.0, ist_ns(MON, 15, 29)))
            sim.push_tick(feed_tick(HELD, 10_010.0, ist_ns(MON, 15, 29, 30)))
            await came(ticks, HELD, 10_010.0)
            sim.push_tick(tick(MARKER, 800.0, LINE))
            await svc.on_tick(tick(MARKER, 800.0, LINE))  # meets the date line
            if how == RESTARTED:
                await svc.stop()
                svc = ExecutionService(cfg, clock=ReplayClock(LINE), access_token="t")
                await svc.start()
                ticks = await subscribed(svc, mode)
                seen = Collector(svc)
            elif how == RECONNECTED:
                assert sim.disconnect_websockets() == 1
                ticks.ticks.clear()
            if how != STRAIGHT:  # Monday's last ticks, sent again on the subscription
                await came(ticks, UNHELD, 1_500.0)
                await came(ticks, HELD, 10_010.0)
            out["marks"] = {s: svc.engine.executor.last_price(s) for s in (HELD, UNHELD)}
            before = {
                "unheld_market": order("unheld_market", UNHELD, 10),
                "unheld_limit": order("unheld_limit", UNHELD, 10, order_type="LIMIT", price=1_600.0),
                "held_market": order("held_market", HELD, 65),
            }
            out["before_first_tick"] = {k: answer(await svc.execute_intent(i)) for k, i in before.items()}
            sim.push_tick(feed_tick(UNHELD, 1_520.0, ist_ns(TUE, 9, 16)))
            await came(ticks, UNHELD, 1_520.0)
            after = await svc.execute_intent(order("unheld_after", UNHELD, 10))
            out["after_first_tick"] = answer(after)
            out["positions"] = sorted((p.symbol, p.net_qty) for p in svc.positions())
        finally:
            await svc.stop()
    return out


@pytest.mark.parametrize("how", [RESTARTED, RECONNECTED])
async def test_a_dry_run_subscribing_again_after_the_date_line_decides_as_one_that_went_on(
    tmp_path: Path, how: str
) -> None:
    straight = await run(tmp_path / "straight", STRAIGHT, "full")
    again = await run(tmp_path / "again", how, "full")

    assert again == straight
    assert straight["marks"] == {HELD: 10_010.0, UNHELD: None}  # the held future keeps its mark
    no_data = ("REJECTED", "no_market_data", 0, None)
    no_value = ("REJECTED", "breaker:max_order_value", 0, None)  # no price, as after a fresh start
    assert straight["before_first_tick"] == {
        "unheld_market": no_value,
        "unheld_limit": no_data,  # valued at its limit; never filled at Monday's 1,500
        "held_market": no_data,  # valued at the mark; filled only at a tick of Tuesday
    }
    assert straight["after_first_tick"] == ("FILLED", None, 10, 1_520.8)
    assert straight["positions"] == [(HELD, 65), (UNHELD, 10)]


@pytest.mark.parametrize("mode", ["ltp", "quote"])
async def test_undated_ticks_fill_alike_in_a_dry_run_that_went_on_and_one_restarted(
    tmp_path: Path, mode: str
) -> None:
    straight = await run(tmp_path / "straight", STRAIGHT, mode)
    restarted = await run(tmp_path / "restarted", RESTARTED, mode)

    assert restarted == straight
    # nothing tells Monday's last ticks, sent again, from Tuesday's: both runs keep them
    assert straight["marks"] == {HELD: 10_010.0, UNHELD: 1_500.0}
    assert straight["before_first_tick"] == {
        "unheld_market": ("FILLED", None, 10, 1_500.75),
        "unheld_limit": ("FILLED", None, 10, 1_500.75),
        "held_market": ("FILLED", None, 65, 10_015.05),
    }
    assert straight["after_first_tick"] == ("FILLED", None, 10, 1_520.8)
