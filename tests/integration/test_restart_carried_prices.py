"""A restart changes nothing on the next day, whenever it comes and whatever the day holds.

Ticks are not journaled. A service that runs on from one day into the next carries the last tick
of each instrument it still holds across the date line as a mark (``PaperExecutor.closes``); the
breakers value an order at its instrument's last price (``reference_price``), and the control view
and the replay report mark positions at it. A restarted service has only the journal to rebuild
those prices from, and before, it could not always:

- restarted after the close, on the same tick stream, it knew only the prices of what it holds
  (``session_closes``), so an unheld instrument's order sent on the next day before its first tick
  was valued at the last session's price by a run that went on and at nothing by the restarted
  one. The date line now carries the marks only of what the new day holds (acf4236);
- restarted after the date line, or stopped before midnight and started the next morning, it knew
  no mark at all: the new day's ``PositionsCarried`` named no prices. A MARKET order in a held
  instrument before its first tick of the day was valued at the last close by one run and at
  nothing by the other (under ``max_order_value_rupees``: placed by one, denied by the other), and
  its unrealized P&L was a number in one and unknown in the other. ``PositionsCarried.marks`` now
  journals the marks the date line carries, and a start on the day restores them.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from execsvc import ExecutionResult, ExecutionService, OrderIntent
from execsvc.calendar import Holidays, MarketCalendar, SessionConfig
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config, config_from_dict
from execsvc.events import DayClose, JournalOpened, PositionsCarried
from execsvc.journal.codec import GENESIS, hash_of
from execsvc.journal.inspect import verify_file
from execsvc.journal.reader import journal_days, journal_path, read_journal
from execsvc.sim import KiteSimulator
from tests.conftest import make_config, tick
from tests.integration.test_live_day_modes import dry_run_config

REPO = Path(__file__).resolve().parents[2]
CALENDAR = MarketCalendar(SessionConfig(), Holidays.load(REPO / "configs" / "holidays-2026.yaml"))
THU, FRI = dt.date(2026, 11, 19), dt.date(2026, 11, 20)
HELD, UNHELD, MARKER = "NSE:INFY", "NSE:TCS", "NSE:SBIN"  # MARKER's ticks only move the clock
CAP = 50_000.0
EVENING, LINE = ist_ns(THU, 20, 0), ist_ns(FRI, 9, 15)  # the date line meets the first tick after it

# how a run is cut: not at all, stopped and started again on Thursday evening (it meets the date
# line itself), stopped and started again just after the line, or stopped on Thursday evening and
# started on Friday morning (the start carries the positions in)
RESTARTS: dict[str, tuple[int, int] | None] = {
    "straight": None,
    "evening": (EVENING, EVENING),
    "after the line": (LINE, LINE),
    "next morning": (EVENING, LINE),
}


def config(journal_dir: Path) -> Config:
    return make_config(
        journal_dir,
        execution={"slippage_bps": 0, "circuit_breakers": {"max_order_value_rupees": CAP}},
    )


def dry_run(journal_dir: Path, sim: KiteSimulator) -> Config:
    """A dry-run config on ``sim`` with paper's breakers and the order-value cap (no instruments
    file: TCS is not in the sample dump)."""
    data = msgspec.to_builtins(dry_run_config(journal_dir, sim))
    data["journal"]["dir"] = str(journal_dir)
    data["market"]["instruments_file"] = None
    data["execution"] = msgspec.to_builtins(config(journal_dir).execution) | {"dry_run": True}
    return config_from_dict(data)


async def started(cfg: Config, at: int) -> ExecutionService:
    svc = ExecutionService(cfg, clock=ReplayClock(at), access_token="t")
    await svc.start()
    svc.engine.calendar = CALENDAR  # what the daemon and ``execsvc replay`` give it
    return svc


def buy(symbol: str, qty: int, intent_id: str, **terms: Any) -> OrderIntent:
    return OrderIntent(
        symbol=symbol, strategy_code="s1", side="BUY", qty=qty, product="CNC", intent_id=intent_id, **terms
    )


async def run(cfg: Config, restart: str = "straight") -> dict[str, Any]:
    """Thursday: INFY bought and held, TCS only ticking (also after the close). Friday: orders
    before their instrument's first tick of the day (INFY's, held, valued at Thursday's close of
    1,510: ₹15,100 for 10, ₹60,400 for 40), then TCS's after its first tick. ``restart`` says where
    the service stops and starts again on its journal (``RESTARTS``)."""
    cut = RESTARTS[restart]
    svc = await started(cfg, ist_ns(THU, 9, 15))
    out: dict[str, Any] = {}
    try:
        await svc.on_tick(tick(HELD, 1_500.0, ist_ns(THU, 10, 0)))
        assert (await svc.execute_intent(buy(HELD, 10, "held"))).status == "FILLED"
        await svc.on_tick(tick(UNHELD, 4_000.0, ist_ns(THU, 15, 29)))
        await svc.on_tick(tick(HELD, 1_510.0, ist_ns(THU, 15, 29, 30)))
        await svc.on_tick(tick(UNHELD, 4_010.0, ist_ns(THU, 15, 45)))  # a post-close tick
        await svc.on_tick(tick(MARKER, 800.0, EVENING))
        if cut is not None and cut[0] == EVENING:
            await svc.stop()
            svc = await started(cfg, cut[1])
        await svc.on_tick(tick(MARKER, 801.0, LINE))  # meets the date line, unless a start did
        if cut is not None and cut[0] == LINE:
            await svc.stop()
            svc = await started(cfg, cut[1])
        out["marks"] = {s: svc.engine.executor.last_price(s) for s in (HELD, UNHELD)}
        out["unrealized"] = {  # what the control view's positions show
            p.symbol: (p.unrealized(last) if (last := svc.engine.executor.last_price(p.symbol)) else None)
            for p in svc.positions()
        }
        answers: dict[str, ExecutionResult] = {}
        answers["held"] = await svc.execute_intent(buy(HELD, 10, "held_more"))
        answers["held_dear"] = await svc.execute_intent(buy(HELD, 40, "held_dear"))
        answers["cheap"] = await svc.execute_intent(buy(UNHELD, 10, "cheap"))  # ₹40,100 at Thursday's
        answers["dear"] = await svc.execute_intent(buy(UNHELD, 20, "dear"))  # ₹80,200: over the cap
        answers["bid"] = await svc.execute_intent(buy(UNHELD, 10, "bid", order_type="LIMIT", price=4_000.0))
        await svc.on_tick(tick(UNHELD, 4_020.0, ist_ns(FRI, 9, 16)))
        answers["after"] = await svc.execute_intent(buy(UNHELD, 10, "after"))
        answers["too_dear"] = await svc.execute_intent(buy(UNHELD, 20, "too_dear"))
        out["answers"] = {k: (r.status, r.reject_reason, r.message) for k, r in answers.items()}
    finally:
        await svc.stop()
    return out


def journaled(journal_dir: Path) -> dict[str, bytes]:
    """Every day's journal file, byte for byte: what a restart must not change."""
    return {day: journal_path(journal_dir, day).read_bytes() for day in journal_days(journal_dir)}


@pytest.mark.parametrize("restart", [r for r in RESTARTS if r != "straight"])
async def test_a_restart_values_the_next_days_orders_as_a_run_that_went_on(tmp_path, restart):
    straight = await run(config(tmp_path / "straight"))
    restarted = await run(config(tmp_path / "restarted"), restart)

    assert restarted == straight
    assert journaled(tmp_path / "restarted") == journaled(tmp_path / "straight")


@pytest.mark.parametrize("restart", ["after the line", "next morning"])
async def test_a_dry_run_restart_keeps_the_carried_marks_too(tmp_path, sim, restart):
    straight = await run(dry_run(tmp_path / "straight", sim))
    restarted = await run(dry_run(tmp_path / "restarted", sim), restart)

    assert restarted == straight
    assert restarted["marks"] == {HELD: 1_510.0, UNHELD: None}
    assert journaled(tmp_path / "restarted") == journaled(tmp_path / "straight")


async def test_the_next_day_marks_what_it_holds_at_its_last_close_and_nothing_else(tmp_path):
    out = await run(config(tmp_path / "straight"))

    no_price = "max_order_value: no price to value the order against"
    no_tick = f"no market data for {UNHELD}: the simulator needs a tick first"
    assert out["marks"] == {HELD: 1_510.0, UNHELD: None}  # what is held keeps its close as its mark
    assert out["unrealized"] == {HELD: pytest.approx(100.0)}
    assert out["answers"] == {
        "held": (
            "REJECTED",
            "no_market_data",
            f"no market data for {HELD}: the simulator needs a tick first",
        ),
        "held_dear": ("REJECTED", "breaker:max_order_value", "max_order_value: 60,400.00 > 50,000.00"),
        "cheap": ("REJECTED", "breaker:max_order_value", no_price),
        "dear": ("REJECTED", "breaker:max_order_value", no_price),
        "bid": ("REJECTED", "no_market_data", no_tick),
        "after": ("FILLED", None, None),
        "too_dear": ("REJECTED", "breaker:max_order_value", "max_order_value: 80,400.00 > 50,000.00"),
    }


async def test_the_date_line_journals_the_marks_it_carries(tmp_path):
    await run(config(tmp_path))

    friday = [r.ev for r in read_journal(journal_path(tmp_path, FRI.isoformat())).records]
    carried = [e for e in friday if type(e) is PositionsCarried]
    assert [e.marks for e in carried] == [[DayClose(symbol=HELD, last_price=1_510.0)]]


def chained(events: list[bytes], ts: int) -> bytes:
    """Journal lines around hand-written events, hash-chained as the journal codec chains them."""
    prev, lines = GENESIS, []
    for seq, event in enumerate(events):
        body = b'{"seq":%d,"ts":%d,"prev":"%s","ev":%s' % (seq, ts, prev.encode(), event)
        prev = hash_of(body + b',"h":"' + b"0" * 64 + b'"}')
        lines.append(body + b',"h":"%s"}\n' % prev.encode())
    return b"".join(lines)


async def test_a_day_journaled_before_the_marks_were_still_loads_and_marks_nothing(tmp_path):
    """A new day's file written before ``PositionsCarried.marks`` existed: it folds as before
    (the position carried in, no mark until the first tick), and the start adds nothing to it."""
    cfg = config(tmp_path)
    svc = await started(cfg, ist_ns(THU, 9, 15))
    await svc.on_tick(tick(HELD, 1_500.0, ist_ns(THU, 10, 0)))
    await svc.execute_intent(buy(HELD, 10, "held"))
    (open_charges,) = [p.open_charges for p in svc.positions()]
    await svc.stop()
    friday = journal_path(tmp_path, FRI.isoformat())
    friday.write_bytes(
        chained(
            [
                b'{"type":"journal_opened","day":"2026-11-20","ts_event":%d,"dry_run":false}' % LINE,
                b'{"type":"positions_carried","positions":[{"strategy_code":"s1","symbol":"NSE:INFY",'
                b'"product":"CNC","net_qty":10,"avg_price":1500.0,"open_charges":%r}],'
                b'"from_day":"2026-11-19","ts_event":%d}' % (open_charges, LINE),
            ],
            LINE,
        )
    )
    written = friday.read_bytes()

    svc = await started(cfg, LINE + 60_000_000_000)
    try:
        held = [(p.symbol, p.net_qty, p.avg_price) for p in svc.positions()]
        mark = svc.engine.executor.last_price(HELD)
        answer = await svc.execute_intent(buy(HELD, 10, "held_more"))
    finally:
        await svc.stop()

    records = read_journal(friday).records
    assert [type(r.ev) for r in records[:2]] == [JournalOpened, PositionsCarried]
    assert records[1].ev.marks == []
    assert (held, mark) == ([(HELD, 10, 1_500.0)], None)  # as before the marks: no price until a tick
    assert (answer.reject_reason, answer.message) == (
        "breaker:max_order_value",
        "max_order_value: no price to value the order against",
    )
    assert friday.read_bytes().startswith(written)
    assert verify_file(friday).records == len(records)
