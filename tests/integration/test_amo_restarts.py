"""After-market orders across crashes, upgrades and odd journals: a kill -9 after an AMO went out,
a journal from before ``OrderReleased``, a damaged or empty day passed over, a waiting IOC AMO.
Written by a review that found each of these broken first.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.events import OrderTriggered
from tests.conftest import DAY, SECOND, amo, journal_records, make_config, tick

EVENING = ist_ns(DAY, 20, 0)
NEXT_OPEN = ist_ns(DAY.replace(day=21), 9, 15)
NEXT_FILE = "2026-11-21.jsonl"
THIRD_DAY = ist_ns(DAY.replace(day=22), 9, 15)


def cut_after_last(path: Path, marker: bytes) -> None:
    """Keep the journal up to (and with) the last line holding ``marker``: a kill -9 right there."""
    lines = path.read_bytes().splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if marker in line)
    path.write_bytes(b"".join(lines[: last + 1]))


@pytest.mark.parametrize("terms", [{}, {"order_type": "LIMIT", "price": 1515.0, "validity": "IOC"}])
async def test_an_amo_cut_after_its_release_is_settled_not_left_working_with_no_book(journal_dir, terms):
    """kill -9 after ``order_released`` and before the fill/result ``_take`` writes. The restart's
    settling does not see the release (``_ORDER_CHANGES`` lacks ``OrderReleased``), and ``restore``
    no longer queues it (released): a MARKET AMO stays working with no book that could fill it
    (what ``settle_paper_orders`` exists to prevent), an IOC LIMIT one rests as a DAY limit."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(EVENING)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING))
        placed = await svc.execute_intent(amo("a1", **terms))
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN - SECOND)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1520.0, NEXT_OPEN))  # the open: released, then taken
    path = journal_dir / NEXT_FILE
    cut_after_last(path, b'"type":"order_released"')
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN + SECOND)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1521.0, NEXT_OPEN + 2 * SECOND))
        await svc.on_tick(tick("NSE:INFY", 1510.0, NEXT_OPEN + 3 * SECOND))
        record = svc.engine.state.orders[placed.order_id or ""]
        working, filled = record.working, record.filled_qty
        latest = svc.engine.state.latest_results["a1"]
    assert placed.status == "PLACED"
    assert not working, f"still working after the restart: filled {filled}, latest {latest.status}"
    assert filled == 0 and latest.status == "CANCELLED"


async def test_a_clean_restart_after_a_stop_amo_was_released_writes_nothing(journal_dir):
    """Guard for the fix of the test above: a released SL AMO gets no result after its
    ``order_released`` today, so counting the release as an order change needs a result there."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(EVENING)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING))
        await svc.execute_intent(amo("st1", order_type="SL-M", trigger_price=1600.0))
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN - SECOND)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1520.0, NEXT_OPEN))
    size = (journal_dir / NEXT_FILE).stat().st_size
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN + SECOND)):
        pass
    assert (journal_dir / NEXT_FILE).stat().st_size == size


async def test_an_amo_released_under_the_previous_format_is_not_waiting_again_after_an_upgrade(
    journal_dir, monkeypatch
):
    """Journals written before 9b6c13a mark an AMO that went to the exchange with ``order_triggered``
    (1493d59, bdc7bdb: paper and live). Folded by 9b6c13a it reads as still waiting for the open
    (``waits_for_open`` reads only ``released``): a restart on such a day re-queues a resting LIMIT
    that went out, and the date line carries it into the next day instead of expiring it."""
    import execsvc.executors.paper.after_market as paper

    def old_format(*, order_id: str, intent_id: str, ts_event: int) -> OrderTriggered:
        return OrderTriggered(order_id=order_id, intent_id=intent_id, last_price=1495.0, ts_event=ts_event)

    config = make_config(journal_dir)
    with monkeypatch.context() as m:
        m.setattr(paper, "OrderReleased", old_format)  # what the code before 9b6c13a journaled
        async with ExecutionService(config, clock=ReplayClock(EVENING)) as svc:
            await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING))
            await svc.execute_intent(amo("low", order_type="LIMIT", price=1490.0))
            await svc.on_tick(tick("NSE:INFY", 1495.0, NEXT_OPEN))  # the open: out, rests
    kinds = [e["type"] for e in journal_records(journal_dir / NEXT_FILE)]
    assert "order_triggered" in kinds and "order_released" not in kinds  # the old format
    async with ExecutionService(config, clock=ReplayClock(NEXT_OPEN + 60 * SECOND)) as svc:  # upgraded
        waits = svc.engine.state.orders[next(iter(svc.engine.state.orders))].waits_for_open
        await svc.on_tick(tick("NSE:INFY", 1495.0, THIRD_DAY))  # the date line
    third = [e["type"] for e in journal_records(journal_dir / "2026-11-22.jsonl")]
    assert not waits
    assert "orders_carried" not in third, "a DAY order that went out is carried into the next day"


# -- day modes: a live day that a dry-run service restarted on -----------------------------------

LIVE_NEXT_DAY = DAY + dt.timedelta(days=1)


async def test_a_dry_run_new_day_starts_although_a_live_day_it_passes_over_is_damaged(tmp_path, sim):
    """To pass a live day over, dry-run folds every live day back to its last dry-run day (the
    legacy test in ``day_mode`` needs the results), verifying each file: one damaged live day weeks
    back, which no mode needs, now stops a dry-run service's new day from starting (before 9b6c13a
    only the last day was read). Every live day is folded in full on each dry-run start, too."""
    from tests.integration.test_live_day_modes import dry_run_config
    from tests.integration.test_live_kite import intent, live_config
    from tests.integration.test_live_kite import tick as live_tick

    config = live_config(tmp_path, sim)
    for day in (DAY, LIVE_NEXT_DAY):
        async with ExecutionService(config, clock=ReplayClock(ist_ns(day, 10, 0)), access_token="t") as svc:
            await svc.execute_intent(
                intent(f"cnc-{day.day}", order_type="LIMIT", price=1400.0, product="CNC")
            )
    old = tmp_path / "2026-11-20.jsonl"
    lines = old.read_bytes().splitlines(keepends=True)
    [n] = [i for i, line in enumerate(lines) if b'"type":"intent"' in line]
    lines[n] = lines[n].replace(b"1400", b"1401")  # one damaged record, days ago
    old.write_bytes(b"".join(lines))
    third = ist_ns(LIVE_NEXT_DAY + dt.timedelta(days=1), 9, 15)
    async with ExecutionService(dry_run_config(tmp_path, sim), clock=ReplayClock(third)) as svc:
        await svc.on_tick(live_tick(1500.0))
        started = svc.engine.state.day
    assert started == "2026-11-22"


async def test_an_empty_day_file_does_not_cut_a_new_day_off_from_the_last_journaled_day(journal_dir):
    """``journal.open`` creates the day's file before ``journal_opened`` is written: a crash (or a
    start-up refused) in between leaves it empty. ``_previous_day`` stops at any day whose mode it
    cannot tell (``not theirs``) and hands on an empty fold: the CNC position of the day before is
    not carried (in live, a reconciliation mismatch that halts the day)."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(DAY, 10, 0))) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, ist_ns(DAY, 10, 0)))
        await svc.execute_intent(
            OrderIntent(
                symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=5, product="CNC", intent_id="c1"
            )
        )
    (journal_dir / NEXT_FILE).touch()  # a start on the 21st that wrote nothing
    async with ExecutionService(config, clock=ReplayClock(THIRD_DAY)) as svc:
        positions = [(p.product, p.net_qty) for p in svc.positions() if p.net_qty]
    assert positions == [("CNC", 5)]


async def test_a_waiting_ioc_amo_cut_after_a_modification_keeps_waiting_like_a_day_one(journal_dir):
    """``_can_rest`` answers IOC before it asks ``waits_for_open``: a waiting IOC AMO whose
    modification lost its result is cancelled at the restart, although it has not met the market
    (a DAY AMO cut at the same point keeps waiting)."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(EVENING)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, EVENING))
        placed = await svc.execute_intent(amo("ioc1", order_type="LIMIT", price=1490.0, validity="IOC"))
        await svc.modify_order(placed.order_id or "", price=1495.0)
    cut_after_last(journal_dir / "2026-11-20.jsonl", b'"type":"order_modified"')
    async with ExecutionService(config, clock=ReplayClock(EVENING + 60 * SECOND)) as svc:
        record = svc.engine.state.orders[placed.order_id or ""]
        working, latest = record.working, svc.engine.state.latest_results["ioc1"]
    assert placed.status == "PLACED"
    assert working and latest.status == "PLACED", (working, latest.status, latest.message)
