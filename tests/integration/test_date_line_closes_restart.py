"""A kill at any record of a paper date line, then a restart: the same books as the running service.

On the expiry day s1 holds 130 of the future MIS and s3 is short 65 MIS (the broker nets them: one
SELL of 65, its charges shared), s2 holds 65 NRML (settled at the date line) and s1 holds 10 INFY
MIS, with a working DAY order in INFY that the line cancels. Each instrument's last tick differs
from its last fill. Ticks are not journaled: before, a kill after the line's first records closed
what was left at the journal's last fill; now the line journals its last prices first
(``DayCloses``), and a restart closes at them, once, with the same P&L and charges.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config
from execsvc.journal.inspect import fold_file, verify_file
from tests.conftest import journal_records, make_config, tick
from tests.integration.test_fno_expiry import DEC, FUT, INSTRUMENTS, TUE, TUE_FILE, WED, WED_FILE
from tests.integration.test_fno_expiry_restart import books

INFY = "NSE:INFY"
MODELS = {"slippage": {"slippage_bps": 10}, "bid_ask": {"slippage_bps": 10, "use_bid_ask_spread": True}}


def config(tmp_path: Path, journal_dir: Path, execution: dict[str, Any]) -> Config:
    path = tmp_path / "instruments.csv"
    path.write_text(INSTRUMENTS)
    return make_config(journal_dir, market={"instruments_file": str(path)}, execution=execution)


def intent(strategy: str, symbol: str, side: str, qty: int, intent_id: str, **kw: Any) -> OrderIntent:
    kw.setdefault("product", "MIS")
    return OrderIntent(symbol=symbol, strategy_code=strategy, side=side, qty=qty, intent_id=intent_id, **kw)


async def through_the_date_line(cfg: Config) -> None:
    async with ExecutionService(cfg, clock=ReplayClock(ist_ns(TUE, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_200.0, ist_ns(TUE, 15, 0), bid=26_195.0, ask=26_205.0))
        await svc.on_tick(tick(INFY, 1_500.0, ist_ns(TUE, 15, 0, 1), bid=1_499.5, ask=1_500.5))
        for filled in (
            intent("s1", FUT, "BUY", 130, "m1"),
            intent("s2", FUT, "BUY", 65, "n1", product="NRML"),
            intent("s3", FUT, "SELL", 65, "m3"),
            intent("s1", INFY, "BUY", 10, "e1"),
        ):
            assert (await svc.execute_intent(filled)).status == "FILLED"
        working = intent("s2", INFY, "BUY", 5, "w1", order_type="LIMIT", price=1_400.0)
        assert (await svc.execute_intent(working)).status == "PLACED"
        # the last ticks: no fill at them
        await svc.on_tick(tick(FUT, 26_250.0, ist_ns(TUE, 15, 29, 59), bid=26_240.0, ask=26_260.0))
        await svc.on_tick(tick(INFY, 1_512.0, ist_ns(TUE, 15, 29, 59), bid=1_511.0, ask=1_513.0))
        await svc.on_tick(tick(DEC, 26_300.0, ist_ns(WED, 9, 15)))  # meets the date line


def date_line_start(path: Path) -> int:
    """The index of the date line's first record in the expiry day's journal."""
    midnight = ist_ns(WED, 0, 0)
    events = journal_records(path)
    return next(i for i, e in enumerate(events) if e.get("ts_event", e.get("ts_init", 0)) >= midnight)


@pytest.mark.parametrize("model", MODELS, ids=list(MODELS))
async def test_a_kill_at_any_record_of_the_date_line_restarts_to_the_same_books(tmp_path, model):
    ran_dir = tmp_path / "ran"
    cfg = config(tmp_path, ran_dir, MODELS[model])
    await through_the_date_line(cfg)
    ran = books(fold_file(ran_dir / TUE_FILE))
    lines = (ran_dir / TUE_FILE).read_bytes().splitlines(keepends=True)
    first = date_line_start(ran_dir / TUE_FILE)
    assert any(b'"auto-sqoff-' in line for line in lines[first:])
    assert any(b'"expiry-' in line for line in lines[first:])
    assert all(net == 0 for net, _, _ in ran.values())

    for cut in range(first, len(lines)):  # the kill came after the record at ``cut``
        journal_dir = tmp_path / f"cut-{cut}"
        shutil.copytree(ran_dir, journal_dir)
        (journal_dir / WED_FILE).unlink()  # before the new day's file was written
        (journal_dir / TUE_FILE).write_bytes(b"".join(lines[: cut + 1]))

        async with ExecutionService(
            config(tmp_path, journal_dir, MODELS[model]), clock=ReplayClock(ist_ns(WED, 9, 16))
        ) as svc:
            assert [p for p in svc.positions() if p.net_qty] == []

        assert books(fold_file(journal_dir / TUE_FILE)) == ran, f"cut after record {cut}"
        verify_file(journal_dir / TUE_FILE)


async def test_the_date_line_journals_each_closed_instruments_last_tick_first(tmp_path, journal_dir):
    await through_the_date_line(config(tmp_path, journal_dir, MODELS["bid_ask"]))

    events = journal_records(journal_dir / TUE_FILE)
    first = date_line_start(journal_dir / TUE_FILE)

    assert events[first] == {
        "type": "day_closes",
        "closes": [
            {"symbol": FUT, "last_price": 26_250.0, "bid": 26_240.0, "ask": 26_260.0},
            {"symbol": INFY, "last_price": 1_512.0, "bid": 1_511.0, "ask": 1_513.0},
        ],
        "ts_event": ist_ns(WED, 9, 15),
    }
    assert [e["type"] for e in events].count("day_closes") == 1


async def test_a_kill_after_the_lines_closes_carries_the_same_marks_as_the_running_service(tmp_path):
    # INFY is held MIS by s1 (squared off at the line, so its last tick is journaled first,
    # DayCloses) and CNC by s2 (carried, marked at that tick). Ticks are not journaled: a restart
    # after the kill knows INFY's last tick only from DayCloses, and must carry it as the mark,
    # as the running service did, not leave INFY unmarked on the new day
    async def run(journal_dir: Path) -> None:
        async with ExecutionService(
            config(tmp_path, journal_dir, {}), clock=ReplayClock(ist_ns(TUE, 9, 15))
        ) as svc:
            await svc.on_tick(tick(INFY, 1_500.0, ist_ns(TUE, 15, 0), bid=1_499.5, ask=1_500.5))
            assert (await svc.execute_intent(intent("s1", INFY, "BUY", 10, "mis"))).status == "FILLED"
            cnc = intent("s2", INFY, "BUY", 10, "cnc", product="CNC")
            assert (await svc.execute_intent(cnc)).status == "FILLED"
            await svc.on_tick(tick(INFY, 1_512.0, ist_ns(TUE, 15, 29, 59), bid=1_511.0, ask=1_513.0))
            await svc.on_tick(tick(DEC, 26_300.0, ist_ns(WED, 9, 15)))  # meets the date line

    def carried_marks(journal_dir: Path) -> list[Any]:
        [carried] = [e for e in journal_records(journal_dir / WED_FILE) if e["type"] == "positions_carried"]
        return [(p["symbol"], p["net_qty"]) for p in carried["positions"]] + carried.get("marks", [])

    ran_dir, cut_dir = tmp_path / "ran", tmp_path / "cut"
    await run(ran_dir)
    lines = (ran_dir / TUE_FILE).read_bytes().splitlines(keepends=True)
    first = date_line_start(ran_dir / TUE_FILE)
    assert b'"day_closes"' in lines[first]
    shutil.copytree(ran_dir, cut_dir)
    (cut_dir / WED_FILE).unlink()  # killed after the line's closes, before the new day's file
    (cut_dir / TUE_FILE).write_bytes(b"".join(lines[: first + 1]))
    async with ExecutionService(config(tmp_path, cut_dir, {}), clock=ReplayClock(ist_ns(WED, 9, 16))):
        pass

    assert carried_marks(ran_dir) == [
        (INFY, 10),
        {"symbol": INFY, "last_price": 1_512.0, "bid": 1_511.0, "ask": 1_513.0},
    ]
    assert carried_marks(cut_dir) == carried_marks(ran_dir)
