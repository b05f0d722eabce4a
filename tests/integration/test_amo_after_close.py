"""After-market orders and ticks out of the session, with the session calendar: the exchange matches
nothing after its close, so an AMO goes out with its instrument's first tick in the normal session.

Found by hypothesis (``test_broker_square_off_props``): an NRML future AMO placed in the session,
whose instrument next ticked at 15:35, after NFO's 15:30 close, went out with that tick and filled,
a position opened after the close. The session-close step had run at that tick before the fill,
with nothing held, so a run that went on never journaled the future's close, while a service
restarted there journaled it at its first input: a restart changed the journal. Now the AMO waits
for the next session, and what is held past a close (held at it) has its close journaled once, at
the first input from the close, by a run that goes on as by a restarted one.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import ReplayClock, ist_ns
from execsvc.journal.reader import journal_days, journal_path, read_journal
from tests.conftest import journal_records, make_config, tick

REPO = Path(__file__).resolve().parents[2]
CALENDAR = MarketCalendar(SessionConfig(), Holidays.load(REPO / "configs" / "holidays-2026.yaml"))
THU, FRI = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
FUT = "NFO:NIFTY26DECFUT"


def buy(intent_id: str, *, variety: str = "regular") -> OrderIntent:
    return OrderIntent(
        symbol=FUT, strategy_code="s1", side="BUY", qty=1, product="NRML", variety=variety,
        intent_id=intent_id,
    )  # fmt: skip


async def started(journal_dir: Path, at: int) -> ExecutionService:
    svc = ExecutionService(make_config(journal_dir, execution={"slippage_bps": 0}), clock=ReplayClock(at))
    await svc.start()
    svc.engine.calendar = CALENDAR  # what the daemon and ``execsvc replay`` give it
    return svc


def fills(journal_dir: Path, day: dt.date) -> list[tuple[str, float, int]]:
    records = journal_records(journal_dir / f"{day.isoformat()}.jsonl")
    return [(e["intent_id"], e["price"], e["ts_event"]) for e in records if e["type"] == "fill"]


@pytest.mark.parametrize(
    ("placed_at", "out_of_session"),
    [((10, 0), (15, 35)), ((15, 45), (15, 50)), ((15, 45), (8, 55))],
    ids=["placed-in-the-session-ticked-after-the-close", "placed-after-the-close", "ticked-before-the-open"],
)
async def test_an_amo_waits_through_ticks_out_of_the_session_for_the_next_open(
    journal_dir: Path, placed_at: tuple[int, int], out_of_session: tuple[int, int]
) -> None:
    """A tick after the close or before the next open releases nothing; the open's tick does."""
    svc = await started(journal_dir, ist_ns(THU, 9, 15))
    try:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(THU, 9, 30)))
        await svc.on_tick(tick(FUT, 26_010.0, ist_ns(THU, *placed_at)))
        queued = await svc.execute_intent(buy("amo-1", variety="amo"))
        day = THU if out_of_session >= placed_at else FRI
        await svc.on_tick(tick(FUT, 26_050.0, ist_ns(day, *out_of_session)))
        held_out_of_session = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
        await svc.on_tick(tick(FUT, 26_100.0, ist_ns(FRI, 9, 15)))
        held_at_the_open = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]
    finally:
        await svc.stop()

    assert queued.status == "PLACED"
    assert held_out_of_session == []
    assert held_at_the_open == [(FUT, 1)]
    assert fills(journal_dir, THU) == []
    assert fills(journal_dir, FRI) == [("amo-1", 26_100.0, ist_ns(FRI, 9, 15))]


async def _held_past_the_close(journal_dir: Path, *, restart: bool) -> None:
    """Long one future from the session and an AMO waiting; the future ticks at 15:35, after NFO's
    close; with ``restart`` the service starts again on its journal then and its feed sends the
    last tick again (the run that goes on is sent it too), then the date line."""
    svc = await started(journal_dir, ist_ns(THU, 9, 15))
    try:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(THU, 10, 0)))
        assert (await svc.execute_intent(buy("held"))).status == "FILLED"
        assert (await svc.execute_intent(buy("amo-1", variety="amo"))).status == "PLACED"
        last = tick(FUT, 26_020.0, ist_ns(THU, 15, 35), bid=26_015.0, ask=26_025.0)
        await svc.on_tick(last)
        if restart:
            await svc.stop()
            svc = await started(journal_dir, last.ts_event)
        await svc.on_tick(last)
        await svc.on_tick(tick("NSE:SBIN", 800.0, ist_ns(FRI, 0, 0, 1)))  # the date line
    finally:
        await svc.stop()


def journaled(journal_dir: Path) -> dict[str, list[tuple[int, Any]]]:
    return {
        day: [(r.ts, r.ev) for r in read_journal(journal_path(journal_dir, day)).records]
        for day in journal_days(journal_dir)
    }


async def test_a_run_that_goes_on_journals_the_close_of_what_is_held_past_it_as_a_restart_does(
    tmp_path: Path,
) -> None:
    await _held_past_the_close(tmp_path / "straight", restart=False)
    await _held_past_the_close(tmp_path / "restarted", restart=True)

    records = journal_records(tmp_path / "straight" / f"{THU.isoformat()}.jsonl")
    closes = [e for e in records if e["type"] == "session_closes"]
    assert closes == [
        {
            "type": "session_closes",
            "closes": [{"symbol": FUT, "last_price": 26_020.0, "bid": 26_015.0, "ask": 26_025.0}],
            "ts_event": ist_ns(THU, 15, 35),
        }
    ]
    assert fills(tmp_path / "straight", THU) == [("held", 26_000.0, ist_ns(THU, 10, 0))]
    assert journaled(tmp_path / "restarted") == journaled(tmp_path / "straight")
