"""The expiry settlement across a stop and a kill: never twice, and the same books as a service that
ran through the date line.

A paper service stopped on the expiry day's evening and started the next morning never met the
date line: it rolls the expiry day over at the start and settles at the last prices that day's
journal knows (ticks are not journaled: a contract's last fill that day). A kill in the middle of
the settlement leaves the expiry day's journal cut short (and no file for the new day): the next
start finishes it, closing each position once, at the prices the running service used (a
settlement's intent carries its price)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.journal.inspect import fold_file, verify_file
from execsvc.state import ServiceState
from tests.conftest import journal_records, tick
from tests.integration.test_fno_expiry import (
    CALL,
    DEC,
    FUT,
    MON,
    TUE,
    TUE_FILE,
    WED,
    WED_FILE,
    expiry_config,
    monday_and_tuesday,
    order,
    settlements,
    through_the_expiry,
)


def books(state: ServiceState) -> dict[tuple[str, str, str], tuple[int, float, float]]:
    """Each position's net quantity, realized gross and charges."""
    return {key: (p.net_qty, p.realized_gross, p.charges) for key, p in state.positions.items()}


def settled_qty(path: Path) -> dict[tuple[str, str], int]:
    """The quantity settlement fills closed, by strategy and symbol."""
    out: dict[tuple[str, str], int] = {}
    for records in settlements(path).values():
        for fill in (e for e in records if e["type"] == "fill"):
            key = (fill["strategy_code"], fill["symbol"])
            out[key] = out.get(key, 0) + fill["qty"]
    return out


async def stopped_on_the_expiry_day(tmp_path: Path, journal_dir: Path) -> None:
    config = expiry_config(tmp_path, journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await monday_and_tuesday(svc)


async def start_on_wednesday(tmp_path: Path, journal_dir: Path) -> list[tuple[str, str, int]]:
    config = expiry_config(tmp_path, journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(WED, 9, 16))) as svc:
        return [(p.strategy_code, p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]


async def test_a_start_after_the_expiry_days_date_line_settles_it_at_the_journals_last_prices(
    tmp_path, journal_dir
):
    await stopped_on_the_expiry_day(tmp_path, journal_dir)

    positions = await start_on_wednesday(tmp_path, journal_dir)

    assert positions == [("s1", DEC, 65)]
    fills = [r[2] for r in settlements(journal_dir / TUE_FILE).values()]
    assert [(f["strategy_code"], f["symbol"], f["qty"], f["price"]) for f in fills] == [
        ("s1", FUT, 65, 26_200.0),  # its last fill: the last tick (26,250) was not journaled
        ("s1", CALL, 130, 310.0),
        ("s2", CALL, 65, 310.0),
    ]
    assert all(f["ts_event"] == ist_ns(WED, 9, 16) for f in fills)  # at the start that met the line
    tuesday = fold_file(journal_dir / TUE_FILE)
    assert tuesday.working_orders() == []
    assert [(k, v[0]) for k, v in books(tuesday).items() if k[1] != DEC] == [
        (("s1", FUT, "NRML"), 0), (("s1", CALL, "NRML"), 0), (("s2", CALL, "NRML"), 0),
    ]  # fmt: skip
    assert journal_records(journal_dir / WED_FILE)[1]["positions"][0]["symbol"] == DEC


CUTS = [
    ("expiry-20261124-1", "intent"),  # the future's price: its intent's, not the journal's last fill
    ("expiry-20261124-1", "order_accepted"),
    ("expiry-20261124-1", "fill"),
    ("expiry-20261124-2", "intent"),
    ("expiry-20261124-3", "fill"),
]


@pytest.mark.parametrize(("intent_id", "cut_after"), CUTS)
async def test_a_kill_in_the_middle_of_the_settlement_settles_each_position_once(
    tmp_path, journal_dir, intent_id, cut_after
):
    await through_the_expiry(tmp_path, journal_dir)
    ran = books(fold_file(journal_dir / TUE_FILE))
    (journal_dir / WED_FILE).unlink()  # the kill came before the new day's file was written
    path = journal_dir / TUE_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    marker, named = f'"type":"{cut_after}"'.encode(), f'"intent_id":"{intent_id}"'.encode()
    last = max(i for i, line in enumerate(lines) if marker in line and named in line)
    path.write_bytes(b"".join(lines[: last + 1]))

    positions = await start_on_wednesday(tmp_path, journal_dir)

    assert positions == [("s1", DEC, 65)]
    assert books(fold_file(path)) == ran  # the same prices: the journal's, or the settlement's own
    assert settled_qty(path) == {("s1", FUT): 65, ("s1", CALL): 130, ("s2", CALL): 65}
    assert fold_file(path).working_orders() == []
    verify_file(path)
    before = {name: (journal_dir / name).read_bytes() for name in (TUE_FILE, WED_FILE)}
    assert await start_on_wednesday(tmp_path, journal_dir) == positions  # and a second start: nothing
    assert {name: (journal_dir / name).read_bytes() for name in before} == before


async def test_a_service_down_over_the_expiry_day_settles_in_the_last_day_journaled_before_it(
    tmp_path, journal_dir
):
    """Stopped on Monday, started on Wednesday: no Tuesday journal exists, so the contracts that
    expired on Tuesday are settled in Monday's, at the last prices it knows (Monday's fills)."""
    config = expiry_config(tmp_path, journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 16)))
        await svc.on_tick(tick(DEC, 26_100.0, ist_ns(MON, 9, 16)))
        await svc.execute_intent(order("s1", FUT, "BUY", 65, "f1"))
        await svc.execute_intent(order("s1", DEC, "BUY", 65, "d1"))
        await svc.on_tick(tick(FUT, 26_020.0, ist_ns(MON, 15, 29)))  # not journaled

    positions = await start_on_wednesday(tmp_path, journal_dir)

    assert positions == [("s1", DEC, 65)]
    monday = f"{MON.isoformat()}.jsonl"
    assert sorted(p.name for p in journal_dir.iterdir()) == [monday, WED_FILE]
    fills = [r[2] for r in settlements(journal_dir / monday).values()]
    assert [(f["symbol"], f["side"], f["qty"], f["price"]) for f in fills] == [(FUT, "SELL", 65, 26_000.0)]
    result = settlements(journal_dir / monday)["expiry-20261123-1"][-1]
    assert f"{FUT} expired on 2026-11-24" in result["message"]


async def test_a_position_with_no_price_is_not_carried_past_its_expiry(tmp_path, journal_dir, caplog):
    """Bought on Monday; Tuesday's service saw no tick of it and traded none (so its journal knows
    no price), stopped, started on Wednesday: it cannot be settled, and is not carried on for ever
    either: Wednesday's opening lists it as expired, with a warning."""
    config = expiry_config(tmp_path, journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 16)))
        await svc.execute_intent(order("s1", FUT, "BUY", 65, "f1"))
    async with ExecutionService(config, clock=ReplayClock(ist_ns(TUE, 9, 15))):
        pass

    positions = await start_on_wednesday(tmp_path, journal_dir)

    assert positions == []
    assert settlements(journal_dir / TUE_FILE) == {}
    carried = journal_records(journal_dir / WED_FILE)[1]
    assert carried["positions"] == []
    assert [(p["symbol"], p["product"], p["net_qty"]) for p in carried["expired"]] == [(FUT, "NRML", 65)]
    assert "in expired contracts are not carried" in caplog.text


async def test_a_restart_on_the_expiry_days_evening_settles_as_a_start_the_next_morning(
    tmp_path, journal_dir
):
    """Restarted after the expiry day's close (no tick of the contracts comes again), the service
    meets the date line running: it settles at the last prices the day's journal knows, as a start
    the next morning does, instead of leaving the positions unsettled and their P&L unbooked."""
    await stopped_on_the_expiry_day(tmp_path, journal_dir)
    config = expiry_config(tmp_path, journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(TUE, 20, 0))) as svc:
        await svc.on_tick(tick(DEC, 26_300.0, ist_ns(WED, 9, 15)))  # the date line
        positions = [(p.strategy_code, p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]

    assert positions == [("s1", DEC, 65)]
    fills = [r[2] for r in settlements(journal_dir / TUE_FILE).values()]
    assert [(f["strategy_code"], f["symbol"], f["qty"], f["price"]) for f in fills] == [
        ("s1", FUT, 65, 26_200.0),
        ("s1", CALL, 130, 310.0),
        ("s2", CALL, 65, 310.0),
    ]
    assert "expired" not in journal_records(journal_dir / WED_FILE)[1]
