"""A restart between an exchange's close and the date line settles and carries at the close's prices.

Found by a hunt: killed at 20:00 on an expiry day and restarted with no more NFO ticks, the
December future and the 26000 CE settled at the journal's last fill (their entry prices, 26,120
and 160), not the 15:29 close (26,020 and 95): ₹0 booked instead of -₹6,500 and -₹8,450. Ticks are
not journaled; now, with the session calendar, the first input past an exchange's close journals
the last ticks of what is held there (``session_closes``), and a start folds them back: the
restarted service journals exactly what one that ran on does, settles at the close and carries
the January future's close as its mark into the next day.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from execsvc import ExecutionService, OrderIntent
from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.journal.inspect import fold_file
from execsvc.journal.reader import journal_days, journal_path, read_journal
from execsvc.market.ticks import Tick
from tests.conftest import journal_records, make_config, tick

REPO = Path(__file__).resolve().parents[2]
CALENDAR = MarketCalendar(SessionConfig(), Holidays.load(REPO / "configs" / "holidays-2026.yaml"))
TUE, WED = dt.date(2026, 12, 29), dt.date(2026, 12, 30)  # TUE: the December contracts' expiry
FUT, CALL, JAN = "NFO:NIFTY26DECFUT", "NFO:NIFTY26DEC26000CE", "NFO:NIFTY27JANFUT"
MARKER = "NSE:SBIN"  # no order names it: its tick only moves the clock
INSTRUMENTS = """\
instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
13239042,51715,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.05,65,FUT,NFO-FUT,NFO
10690306,41759,NIFTY26DEC26000CE,NIFTY,0,2026-12-29,26000,0.05,65,CE,NFO-OPT,NFO
13240066,51719,NIFTY27JANFUT,NIFTY,0,2027-01-26,0,0.05,65,FUT,NFO-FUT,NFO
"""
# the last ticks before the close: the settlement's and the carry's prices
CLOSE_TICKS = [
    tick(FUT, 26_020.0, ist_ns(TUE, 15, 29), bid=26_015.0, ask=26_025.0),
    tick(CALL, 95.0, ist_ns(TUE, 15, 29, 1), bid=94.5, ask=95.5),
    tick(JAN, 26_300.0, ist_ns(TUE, 15, 29, 2)),
]


def config(tmp_path: Path, journal_dir: Path) -> Config:
    path = tmp_path / "instruments.csv"
    path.write_text(INSTRUMENTS)
    return make_config(journal_dir, market={"instruments_file": str(path)}, execution={"slippage_bps": 0})


async def started(cfg: Config, at: int) -> ExecutionService:
    svc = ExecutionService(cfg, clock=ReplayClock(at))
    await svc.start()
    svc.engine.calendar = CALENDAR  # what the daemon and ``execsvc replay`` give it
    return svc


def buy(symbol: str, qty: int, intent_id: str) -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code="s1", side="BUY", qty=qty, product="NRML", intent_id=intent_id
    )


async def the_session(svc: ExecutionService) -> None:
    """Long 65 December futures at 26,120, 130 calls at 160 and 65 January futures at 26,350."""
    await svc.on_tick(tick(FUT, 26_120.0, ist_ns(TUE, 10, 0)))
    await svc.on_tick(tick(CALL, 160.0, ist_ns(TUE, 10, 0, 1)))
    await svc.on_tick(tick(JAN, 26_350.0, ist_ns(TUE, 10, 0, 2)))
    for intent in (buy(FUT, 65, "f1"), buy(CALL, 130, "c1"), buy(JAN, 65, "j1")):
        assert (await svc.execute_intent(intent)).status == "FILLED"
    for last in CLOSE_TICKS:
        await svc.on_tick(last)


async def run(
    tmp_path: Path,
    journal_dir: Path,
    *,
    restart_at: int | None = None,
    after_close: tuple[Tick, ...] = (),
    resend: bool = False,
) -> dict[str, Any]:
    """The session, the inputs ``after_close``, a tick at 20:00, then the date line (a tick on WED);
    with ``restart_at`` the service stops and starts again on its journal then (after the session
    when that is before 15:30, else after the 20:00 tick): ``resend`` feeds the close ticks again
    after it, as a feed does on connecting (and the run without a restart gets them too)."""
    cfg = config(tmp_path, journal_dir)
    svc = await started(cfg, ist_ns(TUE, 9, 15))
    out: dict[str, Any] = {}
    try:
        await the_session(svc)
        before_close = restart_at is not None and restart_at < ist_ns(TUE, 15, 30)
        if before_close:
            await svc.stop()
            svc = await started(cfg, restart_at)
        if resend:
            for last in CLOSE_TICKS:
                await svc.on_tick(tick(last.symbol, last.last_price, 0, depth=last.depth))
        for item in after_close:
            await svc.on_tick(item)
        await svc.on_tick(tick(MARKER, 800.0, ist_ns(TUE, 20, 0)))
        if restart_at is not None and not before_close:
            await svc.stop()
            svc = await started(cfg, restart_at)
        out["marks"] = {s: svc.engine.executor.last_price(s) for s in (FUT, CALL, JAN)}
        await svc.on_tick(tick(MARKER, 801.0, ist_ns(WED, 9, 15)))  # meets the date line
        out["carried_mark"] = svc.engine.executor.last_price(JAN)
        out["positions"] = {p.symbol: (p.net_qty, p.realized_gross) for p in svc.positions()}
    finally:
        await svc.stop()
    return out


def journaled(journal_dir: Path) -> dict[str, list[tuple[int, Any]]]:
    """Every day's records as (ts, event): what a restart must not change."""
    return {
        day: [(r.ts, r.ev) for r in read_journal(journal_path(journal_dir, day)).records]
        for day in journal_days(journal_dir)
    }


def settlement_prices(journal_dir: Path) -> dict[str, float]:
    fills = journal_records(journal_dir / f"{TUE.isoformat()}.jsonl")
    return {
        f["symbol"]: f["price"] for f in fills if f["type"] == "fill" and f["intent_id"].startswith("expiry-")
    }


async def test_a_restart_after_the_close_settles_at_the_close_and_changes_nothing(tmp_path):
    straight = await run(tmp_path, tmp_path / "straight")
    restarted = await run(tmp_path, tmp_path / "restarted", restart_at=ist_ns(TUE, 20, 0))

    assert settlement_prices(tmp_path / "restarted") == {FUT: 26_020.0, CALL: 95.0}
    books = fold_file(tmp_path / "restarted" / f"{TUE.isoformat()}.jsonl").positions.values()
    assert {p.symbol: p.realized_gross for p in books} == {FUT: -6_500.0, CALL: -8_450.0, JAN: 0.0}
    assert restarted["marks"] == {FUT: 26_020.0, CALL: 95.0, JAN: 26_300.0}  # unrealized P&L
    assert restarted["carried_mark"] == 26_300.0  # the January future's mark on the next day
    assert restarted == straight
    assert journaled(tmp_path / "restarted") == journaled(tmp_path / "straight")


async def test_the_close_journals_what_is_held_there_once(tmp_path, journal_dir):
    await run(tmp_path, journal_dir)

    events = journal_records(journal_dir / f"{TUE.isoformat()}.jsonl")
    closes = [e for e in events if e["type"] == "session_closes"]
    assert closes == [
        {
            "type": "session_closes",
            "closes": [
                {"symbol": FUT, "last_price": 26_020.0, "bid": 26_015.0, "ask": 26_025.0},
                {"symbol": CALL, "last_price": 95.0, "bid": 94.5, "ask": 95.5},
                {"symbol": JAN, "last_price": 26_300.0},  # no quote: none journaled
            ],
            "ts_event": ist_ns(TUE, 20, 0),
        }
    ]


async def test_a_tick_past_the_close_is_journaled_and_a_restart_settles_at_it(tmp_path):
    late = (tick(FUT, 26_040.0, ist_ns(TUE, 15, 45), bid=26_035.0, ask=26_045.0),)
    straight = await run(tmp_path, tmp_path / "straight", after_close=late)
    restarted = await run(tmp_path, tmp_path / "restarted", after_close=late, restart_at=ist_ns(TUE, 20, 0))

    assert settlement_prices(tmp_path / "restarted") == {FUT: 26_040.0, CALL: 95.0}
    assert restarted == straight
    assert journaled(tmp_path / "restarted") == journaled(tmp_path / "straight")


async def test_a_restart_before_the_close_whose_feed_resends_the_last_ticks_changes_nothing(tmp_path):
    straight = await run(tmp_path, tmp_path / "straight", resend=True)
    restarted = await run(tmp_path, tmp_path / "restarted", restart_at=ist_ns(TUE, 15, 29, 30), resend=True)

    assert settlement_prices(tmp_path / "restarted") == {FUT: 26_020.0, CALL: 95.0}
    assert restarted == straight
    assert journaled(tmp_path / "restarted") == journaled(tmp_path / "straight")


async def test_nothing_is_journaled_at_the_close_when_nothing_is_held(tmp_path, journal_dir):
    svc = await started(config(tmp_path, journal_dir), ist_ns(TUE, 9, 15))
    try:
        for last in CLOSE_TICKS:
            await svc.on_tick(last)
        await svc.on_tick(tick(MARKER, 800.0, ist_ns(TUE, 20, 0)))
    finally:
        await svc.stop()

    events = journal_records(journal_dir / f"{TUE.isoformat()}.jsonl")
    assert [e["type"] for e in events] == ["journal_opened"]


async def test_a_service_down_from_the_evening_to_the_next_morning_settles_at_the_close(tmp_path):
    straight = await run(tmp_path, tmp_path / "straight")
    journal_dir = tmp_path / "down"
    cfg = config(tmp_path, journal_dir)
    svc = await started(cfg, ist_ns(TUE, 9, 15))
    try:
        await the_session(svc)
        await svc.on_tick(tick(MARKER, 800.0, ist_ns(TUE, 20, 0)))
    finally:
        await svc.stop()
    svc = await started(cfg, ist_ns(WED, 9, 15))  # rolls the expiry day over first (``last_day``)
    try:
        assert svc.engine.executor.last_price(JAN) == 26_300.0  # the carried mark
    finally:
        await svc.stop()

    assert settlement_prices(journal_dir) == {FUT: 26_020.0, CALL: 95.0}
    tue = f"{TUE.isoformat()}.jsonl"
    assert journal_records(journal_dir / tue) == journal_records(tmp_path / "straight" / tue)
    assert straight["carried_mark"] == 26_300.0
