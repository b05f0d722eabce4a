"""A crash between an intent's records: the restart answers every journaled intent, once.

An intent's records reach the file one write at a time (one fdatasync at a time under ``always``),
so a kill -9 or a power cut can leave an intent journaled without its result. These tests cut a
real journal at each such point, restart on it, and send every intent again: each gets a definitive
answer at once (none waits for ever), nothing is executed twice, and a second restart adds nothing.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import msgspec
import pytest

from execsvc import ExecutionResult, ExecutionService, OrderIntent
from execsvc.clock import LiveClock, ReplayClock
from execsvc.errors import ConfigError
from execsvc.events import ExecutionResult as ResultEvent
from execsvc.events import Fill, OrderAccepted
from execsvc.executors.kite.mapping import tag_for
from execsvc.journal.inspect import verify_file
from execsvc.journal.reader import read_journal
from execsvc.market.ticks import Depth, DepthLevel
from execsvc.sim import KiteSimulator
from tests.conftest import OPEN_NS, SECOND, make_config, tick
from tests.integration.test_live_kite import intent as live_intent
from tests.integration.test_live_kite import live_config, placements_per_tag
from tests.integration.test_live_kite import tick as live_tick

REPO = Path(__file__).resolve().parents[2]


def buy(intent_id: str, qty: int = 3, **kw: object) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s", side="BUY", qty=qty, intent_id=intent_id, **kw)  # type: ignore[arg-type]


def the_file(journal_dir: Path) -> Path:
    [path] = journal_dir.glob("*.jsonl")
    return path


def cut_after_last(path: Path, marker: bytes) -> None:
    """Keep the journal up to (and with) the last line holding ``marker``: a crash right there."""
    lines = path.read_bytes().splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if marker in line)
    path.write_bytes(b"".join(lines[: last + 1]))


def events(path: Path, kind: type) -> list:
    return [r.ev for r in read_journal(path).records if type(r.ev) is kind]


async def two_market_buys_and_a_resting_limit(journal_dir: Path) -> None:
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        assert (await svc.execute_intent(buy("a"))).status == "FILLED"
        assert (await svc.execute_intent(buy("rest", order_type="LIMIT", price=1400.0))).status == "PLACED"
        assert (await svc.execute_intent(buy("b"))).status == "FILLED"


@pytest.mark.parametrize(
    ("marker", "status", "reason"),
    [
        (b'"type":"intent"', "REJECTED", "interrupted"),  # journaled, never handled
        (b'"type":"order_accepted"', "CANCELLED", None),  # accepted, cut before its fill
        (b'"type":"fill"', "FILLED", None),  # filled, cut before its result
    ],
)
async def test_a_paper_intent_cut_short_is_settled_at_restart(journal_dir, marker, status, reason):
    await two_market_buys_and_a_resting_limit(journal_dir)
    path = the_file(journal_dir)
    cut_after_last(path, marker)  # the last such record is b's
    fills_before = [f.intent_id for f in events(path, Fill)]

    clock = ReplayClock(OPEN_NS + 5 * SECOND)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + 6 * SECOND))
        again = await asyncio.wait_for(svc.execute_intent(buy("b")), 5)  # a hang guard only
        first_a = await asyncio.wait_for(svc.execute_intent(buy("a")), 5)
        assert (again.status, again.reject_reason) == (status, reason)
        assert first_a.status == "FILLED"
        # the resting LIMIT was acknowledged (PLACED) before the crash: it rests on, untouched
        assert [r.order.intent_id for r in svc.engine.state.working_orders()] == ["rest"]
        [position] = svc.positions()
        assert position.net_qty == 3 * len(fills_before)  # what filled stands, nothing more
    verify_file(path)
    assert [f.intent_id for f in events(path, Fill)] == fills_before  # nothing executed again
    assert [r.intent_id for r in events(path, ResultEvent)].count("b") == 1

    # a second restart has nothing left to settle
    size = path.stat().st_size
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS + 9 * SECOND)):
        pass
    assert path.stat().st_size == size


async def test_an_order_whose_placed_result_was_lost_does_not_rest_on(journal_dir):
    await two_market_buys_and_a_resting_limit(journal_dir)
    path = the_file(journal_dir)
    lines = path.read_bytes().splitlines(keepends=True)
    accepted = next(
        i for i, line in enumerate(lines) if b'"intent_id":"rest"' in line and b"order_accepted" in line
    )
    path.write_bytes(b"".join(lines[: accepted + 1]))  # "rest" accepted; its PLACED result lost

    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS + 5 * SECOND)) as svc:
        again = await asyncio.wait_for(svc.execute_intent(buy("rest", order_type="LIMIT", price=1400.0)), 5)
        assert again.status == "CANCELLED" and again.filled_qty == 0
        assert svc.engine.state.working_orders() == []
        await svc.on_tick(tick("NSE:INFY", 1399.0, OPEN_NS + 6 * SECOND))  # would have crossed it
        assert [p.net_qty for p in svc.positions()] == [3]
    assert "rest" not in {f.intent_id for f in events(path, Fill)}


async def test_a_clean_journal_restarts_without_a_record_more(journal_dir):
    await two_market_buys_and_a_resting_limit(journal_dir)
    path = the_file(journal_dir)
    size = path.stat().st_size
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS + 5 * SECOND)):
        pass
    assert path.stat().st_size == size


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from execsvc import ExecutionService, OrderIntent
    from execsvc.clock import LiveClock
    from tests.conftest import make_config, tick

    async def producer(svc, k):
        n = 0
        while True:
            n += 1
            side = "BUY" if n % 2 else "SELL"
            intent = OrderIntent(symbol="NSE:INFY", strategy_code="k9", side=side, qty=1,
                                 intent_id=f"p{k}-{n}")
            result = await svc.execute_intent(intent)
            print(result.intent_id, result.status, flush=True)

    async def main():
        config = make_config(sys.argv[1], journal={"fsync": "always"})
        async with ExecutionService(config, clock=LiveClock()) as svc:
            await svc.on_tick(tick("NSE:INFY", 1500.0, 0))
            await asyncio.gather(*(producer(svc, k) for k in range(4)))

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("kill_after", [57, 131, 203])
async def test_kill_9_under_fsync_always_leaves_nothing_waiting_for_ever(tmp_path, kill_after):
    """Under ``always`` every record is its own write and sync: a kill lands between them at random."""
    journal_dir = tmp_path / "journal"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(journal_dir)],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    acknowledged: dict[str, str] = {}
    try:
        assert child.stdout is not None
        while len(acknowledged) < kill_after:
            line = child.stdout.readline()
            assert line, "the child died before it was killed"
            intent_id, status = line.decode().split()
            acknowledged[intent_id] = status
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)

    path = the_file(journal_dir)
    verify_file(path)
    journaled = [i.intent_id for i in events(path, OrderIntent)]
    async with ExecutionService(make_config(journal_dir), clock=LiveClock()) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, 0))
        again: dict[str, ExecutionResult] = {}
        for intent_id in journaled:  # every intent the journal has, acknowledged or not
            again[intent_id] = await asyncio.wait_for(svc.execute_intent(buy(intent_id, qty=1)), 5)
    assert {i: again[i].status for i in acknowledged} == acknowledged  # the answers stand
    accepted = [a.intent_id for a in events(path, OrderAccepted)]
    assert len(accepted) == len(set(accepted))  # never twice
    assert set(accepted) <= set(journaled)


async def test_a_live_intent_journaled_but_never_sent_is_rejected_after_reconciliation(tmp_path):
    async with KiteSimulator(heartbeat_seconds=0.05) as sim:
        sim.push_tick(live_tick(1500.0))
        config = live_config(tmp_path, sim)
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            assert (await svc.execute_intent(live_intent("sent"))).status in ("PLACED", "FILLED")
            assert (await svc.execute_intent(live_intent("cut"))).status in ("PLACED", "FILLED")
        path = the_file(tmp_path)
        lines = path.read_bytes().splitlines(keepends=True)
        cut = next(i for i, line in enumerate(lines) if b'"type":"intent"' in line and b'"cut"' in line)
        path.write_bytes(b"".join(lines[: cut + 1]))  # "cut" journaled; its write-ahead lost with the tail
        sim.reset()  # and the broker never saw it: only "sent" was ever placed
        sim.push_tick(live_tick(1500.0))

        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            again = await asyncio.wait_for(svc.execute_intent(live_intent("cut")), 5)
            assert (again.status, again.reject_reason) == ("REJECTED", "interrupted")
        assert placements_per_tag(sim) == {}


async def test_a_live_order_the_journal_lost_is_adopted_under_its_own_intent(tmp_path):
    async with KiteSimulator(heartbeat_seconds=0.05) as sim:
        sim.push_tick(live_tick(1500.0))
        config = live_config(tmp_path, sim)
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            first = await svc.execute_intent(live_intent("lost", qty=4))
            assert first.status in ("PLACED", "FILLED")
        path = the_file(tmp_path)
        lines = path.read_bytes().splitlines(keepends=True)
        cut = next(i for i, line in enumerate(lines) if b'"type":"intent"' in line and b'"lost"' in line)
        path.write_bytes(b"".join(lines[: cut + 1]))  # the broker has the order; the journal only the intent

        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            report = svc.reconciliation
            assert report is not None and [a.split("=")[0] for a in report.orders_adopted] == [
                tag_for("lost")
            ]
            record = svc.engine.state.orders[tag_for("lost")]
            assert (record.order.intent_id, record.order.strategy_code) == ("lost", "live1")
            again = await asyncio.wait_for(svc.execute_intent(live_intent("lost", qty=4)), 5)
            assert again.status in ("PLACED", "FILLED") and again.order_id == first.order_id
            assert report.position_mismatches == []
        assert placements_per_tag(sim) == {tag_for("lost"): 1}


async def restart_after_cut(journal_dir: Path, marker: bytes) -> ExecutionService:
    """Cut the journal after the last ``marker`` line; a service started on it (enter it yourself)."""
    cut_after_last(the_file(journal_dir), marker)
    return ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS + 50 * SECOND))


async def test_a_triggered_stop_market_cut_before_its_fill_is_cancelled_not_left_working(journal_dir):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        assert (
            await svc.execute_intent(buy("slm", order_type="SL-M", trigger_price=1510.0))
        ).status == "PLACED"
        await svc.on_tick(tick("NSE:INFY", 1520.0, OPEN_NS + 2 * SECOND))  # triggers, then fills
    async with await restart_after_cut(journal_dir, b'"type":"order_triggered"') as svc:
        await svc.on_tick(tick("NSE:INFY", 1530.0, OPEN_NS + 51 * SECOND))
        assert svc.engine.state.working_orders() == [] and svc.positions() == []
        assert svc.engine.state.latest_results["slm"].status == "CANCELLED"


async def test_a_modify_to_market_cut_before_its_fill_is_cancelled_not_left_working(journal_dir):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        placed = await svc.execute_intent(buy("m", order_type="LIMIT", price=1400.0))
        assert (await svc.modify_order(placed.order_id, order_type="MARKET")).status == "FILLED"
    async with await restart_after_cut(journal_dir, b'"type":"order_modified"') as svc:
        assert svc.engine.state.working_orders() == [] and svc.positions() == []
        assert svc.engine.state.latest_results["m"].status == "CANCELLED"


async def test_a_cancel_cut_before_its_result_gets_the_result_and_a_resend_the_first_answer(journal_dir):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        assert (await svc.execute_intent(buy("c", order_type="LIMIT", price=1400.0))).status == "PLACED"
        assert (await svc.cancel_order(intent_id="c")).status == "CANCELLED"
    async with await restart_after_cut(journal_dir, b'"type":"order_cancelled"') as svc:
        assert svc.engine.state.latest_results["c"].status == "CANCELLED"
        again = await asyncio.wait_for(svc.execute_intent(buy("c", order_type="LIMIT", price=1400.0)), 5)
        assert again.status == "PLACED"  # an intent's answer is its first result, as before the crash


async def test_a_resting_order_whose_partial_fill_lost_its_result_rests_on_and_gets_it(journal_dir):
    config = make_config(journal_dir, execution={"use_depth": True})
    thin = Depth(buy=(DepthLevel(100, 1398.0, 1),), sell=(DepthLevel(4, 1399.0, 1),))  # 4 to sell
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        assert (
            await svc.execute_intent(buy("r", qty=10, order_type="LIMIT", price=1400.0))
        ).status == "PLACED"
        await svc.on_tick(tick("NSE:INFY", 1399.0, OPEN_NS + 2 * SECOND, depth=thin))
        assert svc.engine.state.latest_results["r"].status == "PARTIAL"
    cut_after_last(the_file(journal_dir), b'"type":"fill"')  # the PARTIAL result is lost
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + 50 * SECOND)) as svc:
        latest = svc.engine.state.latest_results["r"]
        assert (latest.status, latest.filled_qty) == ("PARTIAL", 4)
        assert [r.order.intent_id for r in svc.engine.state.working_orders()] == ["r"]  # rests on
        await svc.on_tick(tick("NSE:INFY", 1399.0, OPEN_NS + 51 * SECOND))  # and fills later
        assert svc.engine.state.latest_results["r"].status == "FILLED"


async def test_a_cancel_or_modify_that_names_a_filled_intent_wrongly_adds_nothing_at_restart(journal_dir):
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        assert (await svc.execute_intent(buy("a"))).status == "FILLED"
        assert (await svc.cancel_order("nosuchorder", intent_id="a")).reject_reason == "unknown_order"
        assert (await svc.modify_order("a", price=1490.0)).reject_reason == "unknown_order"
    size = the_file(journal_dir).stat().st_size
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS + 50 * SECOND)):
        pass
    assert the_file(journal_dir).stat().st_size == size


async def test_dry_run_refuses_a_live_days_journal_and_leaves_it_to_a_live_start(tmp_path):
    async with KiteSimulator(heartbeat_seconds=0.05) as sim:
        sim.push_tick(live_tick(1500.0))
        async with ExecutionService(
            live_config(tmp_path, sim), clock=LiveClock(), access_token="token123"
        ) as svc:
            assert (await svc.execute_intent(live_intent("w"))).status in ("PLACED", "FILLED")
    path = the_file(tmp_path)
    cut_after_last(path, b'"type":"order_accepted"')  # written ahead; what the broker did is unknown
    live = live_config(tmp_path, sim)
    dry = msgspec.structs.replace(live, execution=msgspec.structs.replace(live.execution, dry_run=True))
    size = path.stat().st_size
    with pytest.raises(ConfigError):
        async with ExecutionService(dry, clock=LiveClock()):
            pass
    assert path.stat().st_size == size  # left for a live start to reconcile with the broker


async def test_a_modification_the_broker_took_but_the_journal_lost_is_reconciled(tmp_path):
    async with KiteSimulator(heartbeat_seconds=0.05) as sim:
        sim.push_tick(live_tick(1500.0))
        config = live_config(tmp_path, sim)
        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            placed = await svc.execute_intent(live_intent("mod", qty=5, order_type="LIMIT", price=1490.0))
            assert placed.status == "PLACED"
            changed = await svc.modify_order(tag_for("mod"), qty=8, price=1495.5)
            assert changed.status == "PLACED"
        path = the_file(tmp_path)
        lines = path.read_bytes().splitlines(keepends=True)
        cut = next(i for i, line in enumerate(lines) if b'"type":"order_modified"' in line)
        path.write_bytes(b"".join(lines[:cut]))  # the broker took it; the service stopped before the record

        async with ExecutionService(config, clock=LiveClock(), access_token="token123") as svc:
            order = svc.engine.state.orders[tag_for("mod")].order
            assert (order.qty, order.price) == (8, 1495.5)  # the broker's terms, not the journal's
            assert tag_for("mod") in (svc.reconciliation.orders_updated if svc.reconciliation else [])
            sim.push_tick(live_tick(1495.0))  # crosses the new price: the fill is within its terms
            await asyncio.wait_for(sim.wait_until(lambda: sim.orders()[0]["status"] == "COMPLETE"), 5)
        assert placements_per_tag(sim) == {tag_for("mod"): 1}
