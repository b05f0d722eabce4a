"""A paper service stopped before midnight and started after it: the date line passed while it was
down. Before, the start folded the new day straight from the old one: the old day's MIS position
was listed as expired (never closed, its P&L never booked) and its working DAY order was never
ended, unlike a service that ran through midnight. Now the start rolls the old day over first, as
the date line would have: the DAY order expires and the simulated broker squares the MIS off, at
the last price the journal knows, in the old day's journal at its rates with the broker's fee."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.costs import RateTable, fill_charges, segment_for
from execsvc.executors.paper.auto_square_off import REASON
from execsvc.journal.inspect import fold_file, verify_file
from tests.conftest import DAY, OPEN_NS, SECOND, journal_records, make_config, tick
from tests.integration.test_live_day_modes import dry_run_config
from tests.integration.test_live_kite import live_config
from tests.integration.test_live_kite import tick as live_tick
from tests.integration.test_paper_auto_square_off import DAY_FILE, NEXT_DAY, NEXT_OPEN, intent

NEXT_FILE = f"{NEXT_DAY.isoformat()}.jsonl"
SQUARED = "auto-sqoff-20261120-1"


async def a_day_stopped_before_midnight(journal_dir: Path) -> None:
    """Long 10 NRML and 4 MIS from 1500 (filled at 1500.75), a resting MIS LIMIT, then at 15:29 a
    sale of 2 NRML at 1490 (filled at 1489.25): the last price of NSE:INFY the journal knows."""
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("BUY", 10, "n1", product="NRML"))
        await svc.execute_intent(intent("BUY", 4, "m1"))
        await svc.execute_intent(intent("BUY", 3, "rest", order_type="LIMIT", price=1400.0))
        await svc.on_tick(tick("NSE:INFY", 1490.0, ist_ns(DAY, 15, 29)))
        await svc.execute_intent(intent("SELL", 2, "n2", product="NRML"))
        await svc.on_tick(tick("NSE:INFY", 1492.0, ist_ns(DAY, 15, 29, 30)))  # not journaled


async def start_the_next_morning(journal_dir: Path) -> list[tuple[str, str, int]]:
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(NEXT_OPEN + SECOND)) as svc:
        return [(p.symbol, p.product, p.net_qty) for p in svc.positions() if p.net_qty]


async def test_a_start_after_a_missed_date_line_squares_off_the_old_days_mis_and_books_it(journal_dir):
    await a_day_stopped_before_midnight(journal_dir)

    positions = await start_the_next_morning(journal_dir)

    assert positions == [("NSE:INFY", "NRML", 8)]
    day = journal_records(journal_dir / DAY_FILE)
    squared = [e for e in day if e.get("intent_id") == SQUARED]
    assert [e["type"] for e in squared] == ["intent", "order_accepted", "fill", "result"]
    fill, result = squared[2], squared[3]
    assert (fill["side"], fill["qty"], fill["price"]) == ("SELL", 4, 1488.5)  # 1489.25 less 5 bps
    assert fill["ts_event"] == NEXT_OPEN + SECOND  # at the start that met the date line
    rates = RateTable.load("configs/charges.yaml").rates_for(segment_for("NSE", "EQ"), "MIS", DAY, "NSE")
    plain = fill_charges(rates, side="SELL", price=1488.5, qty=4)
    assert fill["charges"]["auto_square_off"] == 50.0
    assert fill["charges"]["total"] == round(plain.total + 59.0, 4)
    assert (result["status"], result["message"]) == ("FILLED", REASON)
    rest = [e for e in day if e["type"] == "result" and e["intent_id"] == "rest"][-1]
    assert (rest["status"], rest["message"]) == ("CANCELLED", "expired at the end of the trading day")

    mis = fold_file(journal_dir / DAY_FILE).position("s1", "NSE:INFY", "MIS")
    assert mis is not None and mis.net_qty == 0
    assert mis.realized_gross == round((1488.5 - 1500.75) * 4, 6)
    opening = journal_records(journal_dir / NEXT_FILE)
    assert [e["type"] for e in opening] == ["journal_opened", "positions_carried"]
    assert [(p.get("product", "MIS"), p["net_qty"]) for p in opening[1]["positions"]] == [("NRML", 8)]
    assert "expired" not in opening[1]  # nothing left to expire
    verify_file(journal_dir / DAY_FILE)
    verify_file(journal_dir / NEXT_FILE)


async def test_a_second_start_changes_nothing(journal_dir):
    await a_day_stopped_before_midnight(journal_dir)
    await start_the_next_morning(journal_dir)
    before = {name: (journal_dir / name).read_bytes() for name in (DAY_FILE, NEXT_FILE)}

    positions = await start_the_next_morning(journal_dir)

    assert positions == [("NSE:INFY", "NRML", 8)]
    assert {name: (journal_dir / name).read_bytes() for name in before} == before


async def test_the_same_stop_and_start_gives_the_same_bytes(tmp_path):
    for run in ("a", "b"):
        await a_day_stopped_before_midnight(tmp_path / run)
        await start_the_next_morning(tmp_path / run)
    for name in (DAY_FILE, NEXT_FILE):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


async def test_a_start_days_later_closes_the_old_day_once_and_opens_today(journal_dir):
    """Stopped on Friday, started on Monday: Friday is rolled over, Monday opens from it."""
    await a_day_stopped_before_midnight(journal_dir)
    monday = DAY + dt.timedelta(days=3)
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(ist_ns(monday, 9, 0))) as svc:
        positions = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert positions == [("NRML", 8)]
    assert sorted(p.name for p in journal_dir.iterdir()) == [DAY_FILE, f"{monday.isoformat()}.jsonl"]
    day = journal_records(journal_dir / DAY_FILE)
    assert [e["type"] for e in day if e.get("intent_id") == SQUARED] == [
        "intent", "order_accepted", "fill", "result",
    ]  # fmt: skip


@pytest.mark.parametrize("cut_after", ["order_accepted", "fill"])
async def test_a_start_cut_short_in_the_old_days_roll_finishes_it_once(journal_dir, cut_after):
    """A kill in the middle of that roll: the next start finds the old day still with its MIS open
    (or its closing order cut short) and finishes it, charging the broker's fee once."""
    await a_day_stopped_before_midnight(journal_dir)
    await start_the_next_morning(journal_dir)
    (journal_dir / NEXT_FILE).unlink()  # the kill came before today's file was written
    path = journal_dir / DAY_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    marker = f'"type":"{cut_after}"'.encode()
    last = max(i for i, line in enumerate(lines) if marker in line and SQUARED.encode() in line)
    path.write_bytes(b"".join(lines[: last + 1]))

    positions = await start_the_next_morning(journal_dir)

    assert positions == [("NSE:INFY", "NRML", 8)]
    state = fold_file(path)
    mis = state.position("s1", "NSE:INFY", "MIS")
    assert mis is not None and mis.net_qty == 0
    fees = [e["charges"].get("auto_square_off") for e in journal_records(path) if e["type"] == "fill"]
    assert sum(f or 0.0 for f in fees) == 50.0
    verify_file(path)


async def test_live_leaves_the_square_off_to_the_broker(tmp_path, sim):
    """Live: the broker squared the MIS off; nothing is simulated, the old day's file is untouched."""
    config = live_config(tmp_path, sim)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(DAY, 10, 0)), access_token="t") as svc:
        await svc.on_tick(live_tick(1500.0))
        bought = await svc.execute_intent(intent("BUY", 4, "m1"))
        journal = Path(svc.config.journal.dir)
    before = (journal / DAY_FILE).read_bytes()
    sim.reset()  # the next day at the broker: squared off
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN - 300 * SECOND), access_token="t") as svc:
        positions = [p for p in svc.positions() if p.net_qty]
    assert bought.status in ("PLACED", "FILLED")
    assert positions == []
    assert (journal / DAY_FILE).read_bytes() == before


async def test_dry_run_rolls_the_old_day_over_too(tmp_path, sim):
    """Dry-run's broker is the paper simulator: it squares off what it holds, and sends nothing."""
    config = dry_run_config(tmp_path, sim)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(DAY, 10, 0)), access_token="t") as svc:
        await svc.on_tick(live_tick(1500.0))
        bought = await svc.execute_intent(intent("BUY", 4, "m1"))
        journal = Path(svc.config.journal.dir)
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN), access_token="t") as svc:
        positions = [p for p in svc.positions() if p.net_qty]
    assert bought.status == "FILLED" and positions == []
    squared = [e for e in journal_records(journal / DAY_FILE) if e.get("intent_id") == SQUARED]
    assert [(e["type"], e.get("status")) for e in squared][-1] == ("result", "FILLED")
    assert sim.orders() == []


async def test_a_working_day_order_alone_expires_in_its_own_day(journal_dir):
    """No MIS at all: a resting CNC LIMIT still ends with its day, in that day's journal (before, the
    old day's file showed it working for ever, and nothing ended it)."""
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        rest = intent("BUY", 3, "cnc-rest", order_type="LIMIT", price=1400.0, product="CNC")
        await svc.execute_intent(rest)

    await start_the_next_morning(journal_dir)

    assert fold_file(journal_dir / DAY_FILE).working_orders() == []
    last = [e for e in journal_records(journal_dir / DAY_FILE) if e["type"] == "result"][-1]
    assert (last["intent_id"], last["status"]) == ("cnc-rest", "CANCELLED")
    assert not [e for e in journal_records(journal_dir / DAY_FILE) if "auto-sqoff" in e.get("intent_id", "")]
