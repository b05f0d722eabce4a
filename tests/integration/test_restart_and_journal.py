"""Restarts change nothing; the journal survives crashes and detects tampering."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.errors import JournalChainError, JournalCorruptError
from execsvc.journal.inspect import verify_file
from execsvc.journal.reader import read_journal
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick

DAY_FILE = f"{DAY.isoformat()}.jsonl"


def intent(side: str, qty: int, **kw: object) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side=side, qty=qty, **kw)  # type: ignore[arg-type]


async def trade_into_a_tripped_loss_breaker(journal_dir: Path) -> dict:
    config = make_config(journal_dir, execution={"circuit_breakers": {"max_daily_loss_rupees": 100.0}})
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("BUY", 100, intent_id="a1"))
        await svc.execute_intent(intent("BUY", 10, order_type="LIMIT", price=1400.0, intent_id="rest"))
        await svc.on_tick(tick("NSE:INFY", 1490.0, OPEN_NS + 2 * SECOND))
        await svc.execute_intent(intent("SELL", 40, intent_id="a2"))
        tripped = await svc.execute_intent(intent("BUY", 1, intent_id="a3"))
        assert tripped.reject_reason == "breaker:max_daily_loss"
        return {
            "positions": svc.positions(),
            "breakers": svc.breaker_status(),
            "working": [r.order.order_id for r in svc.engine.state.working_orders()],
        }


async def test_restart_restores_positions_working_orders_and_a_tripped_breaker(journal_dir):
    before = await trade_into_a_tripped_loss_breaker(journal_dir)
    config = make_config(journal_dir, execution={"circuit_breakers": {"max_daily_loss_rupees": 100.0}})
    clock = ReplayClock(OPEN_NS + 10 * SECOND)
    async with ExecutionService(config, clock=clock) as svc:
        assert svc.positions() == before["positions"]
        assert svc.breaker_status() == before["breakers"]
        assert [r.order.order_id for r in svc.engine.state.working_orders()] == before["working"]
        await svc.on_tick(tick("NSE:INFY", 1490.0, OPEN_NS + 11 * SECOND))
        opening = await svc.execute_intent(intent("BUY", 1, intent_id="after1"))
        duplicate = await svc.execute_intent(intent("BUY", 1, intent_id="a1"))
        # the restored resting order still fills when the market reaches it
        await svc.on_tick(tick("NSE:INFY", 1399.0, OPEN_NS + 12 * SECOND))
        assert svc.engine.state.working_orders() == []
    assert opening.status == "REJECTED" and opening.reject_reason == "breaker:max_daily_loss"
    assert duplicate.status == "FILLED" and duplicate.filled_qty == 100
    assert verify_file(journal_dir / DAY_FILE).records > 0


async def test_a_torn_tail_is_ignored_truncated_and_the_chain_continues(journal_dir):
    await trade_into_a_tripped_loss_breaker(journal_dir)
    path = journal_dir / DAY_FILE
    good = path.read_bytes()
    with open(path, "ab") as handle:
        handle.write(b'{"seq":999,"ts":1,"prev":"abc","ev":{"type":"int')
    assert verify_file(path).torn_tail_bytes > 0

    clock = ReplayClock(OPEN_NS + 20 * SECOND)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1490.0, OPEN_NS + 21 * SECOND))
        await svc.execute_intent(intent("SELL", 10, intent_id="post-crash"))
    data = path.read_bytes()
    assert data.startswith(good)
    report = verify_file(path)
    assert report.torn_tail_bytes == 0
    assert read_journal(path).records[-1].ev.intent_id == "post-crash"  # type: ignore[union-attr]


@pytest.mark.parametrize("tamper", ["edit", "drop", "reorder", "garbage"])
async def test_tampering_is_detected_by_verify_and_stops_start_up(journal_dir, tamper):
    await trade_into_a_tripped_loss_breaker(journal_dir)
    path = journal_dir / DAY_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    if tamper == "edit":
        lines[3] = lines[3].replace(b'"qty":100', b'"qty":101')
    elif tamper == "drop":
        del lines[3]
    elif tamper == "reorder":
        lines[3], lines[4] = lines[4], lines[3]
    else:
        lines[3] = b"this is not json\n"
    path.write_bytes(b"".join(lines))

    expected = JournalCorruptError if tamper == "garbage" else JournalChainError
    with pytest.raises(expected, match="line 4"):
        verify_file(path)
    with pytest.raises(expected):
        ExecutionService(make_config(journal_dir), clock=ReplayClock(OPEN_NS)).engine.open()


def test_cli_journal_verify_exit_codes(journal_dir, tmp_path):
    import asyncio

    asyncio.run(trade_into_a_tripped_loss_breaker(journal_dir))
    cmd = [sys.executable, "-m", "execsvc", "journal", "verify", "--dir", str(journal_dir), DAY.isoformat()]
    ok = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.startswith("OK:")
    path = journal_dir / DAY_FILE
    path.write_bytes(path.read_bytes().replace(b'"qty":40', b'"qty":41', 1))
    bad = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "hash mismatch" in bad.stderr
    state = subprocess.run(
        [sys.executable, "-m", "execsvc", "state", "--dir", str(journal_dir), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert state.returncode == 1  # the tampered file refuses to fold


async def test_day_rollover_opens_a_new_file_resets_breakers_and_carries_positions(journal_dir):
    config = make_config(journal_dir, execution={"circuit_breakers": {"max_trades_per_day": 2}})
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("BUY", 10, product="NRML"))
        await svc.execute_intent(intent("BUY", 5, order_type="LIMIT", price=1000.0))
        refused = await svc.execute_intent(intent("BUY", 1))
        next_day = ist_ns(DAY.replace(day=21), 9, 15)
        await svc.on_tick(tick("NSE:INFY", 1510.0, next_day))
        allowed = await svc.execute_intent(intent("BUY", 1))
    assert refused.reject_reason == "breaker:max_trades_per_day"
    assert allowed.status == "FILLED"
    first = [json.loads(x)["ev"] for x in (journal_dir / DAY_FILE).read_text().splitlines()]
    second = [json.loads(x)["ev"] for x in (journal_dir / "2026-11-21.jsonl").read_text().splitlines()]
    assert (
        first[-1]["type"] == "result" and first[-1]["status"] == "CANCELLED"
    )  # the resting DAY order expired
    assert [e["type"] for e in second[:2]] == ["journal_opened", "positions_carried"]
    assert second[1]["positions"][0]["net_qty"] == 10
    verify_file(journal_dir / "2026-11-21.jsonl")


async def test_mis_positions_left_open_at_a_fresh_start_are_squared_off_in_their_day_not_carried(journal_dir):
    """The broker squares MIS off itself and never carries it overnight: neither may we. A service
    that was not running at the date line rolls the old day over at its start, as it would have at
    the line: the simulated broker closes the MIS at the last price the journal knows, in the old
    day (tests/integration/test_missed_date_line.py; while it runs: test_paper_auto_square_off.py)."""
    config = make_config(journal_dir)
    next_day = ist_ns(DAY.replace(day=21), 9, 15)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("BUY", 10, product="NRML"))
        await svc.execute_intent(intent("SELL", 4))  # MIS, left open: a short of 4
    async with ExecutionService(config, clock=ReplayClock(next_day)) as svc:
        positions = {(p.product, p.net_qty) for p in svc.positions() if p.net_qty}
    async with ExecutionService(config, clock=ReplayClock(next_day + SECOND)) as svc:
        restarted = {(p.product, p.net_qty) for p in svc.positions() if p.net_qty}
    assert positions == restarted == {("NRML", 10)}
    carried = [json.loads(x)["ev"] for x in (journal_dir / "2026-11-21.jsonl").read_text().splitlines()][1]
    assert carried["type"] == "positions_carried" and carried["from_day"] == "2026-11-20"
    assert [(p.get("product", "MIS"), p["net_qty"]) for p in carried["positions"]] == [("NRML", 10)]
    assert "expired" not in carried
    old_day = [json.loads(x)["ev"] for x in (journal_dir / "2026-11-20.jsonl").read_text().splitlines()]
    closing = [e for e in old_day if e["type"] == "fill" and e["intent_id"] == "auto-sqoff-20261120-1"]
    assert [(e["side"], e["qty"]) for e in closing] == [("BUY", 4)]
    verify_file(journal_dir / "2026-11-20.jsonl")
    verify_file(journal_dir / "2026-11-21.jsonl")


@pytest.mark.parametrize("kept", [1, 2])
async def test_a_crash_inside_the_new_days_opening_loses_neither_carried_positions_nor_the_halt(
    journal_dir, kept
):
    """Under ``always`` each opening record is its own write: a kill -9 can fall between them."""
    config = make_config(journal_dir, journal={"fsync": "always"})
    next_day = ist_ns(DAY.replace(day=21), 9, 0)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("BUY", 10, product="NRML", intent_id="n1"))
        await svc.halt("risk desk")
    async with ExecutionService(config, clock=ReplayClock(next_day)) as svc:
        whole = (svc.positions(), svc.breaker_status())
    path = journal_dir / "2026-11-21.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    assert [json.loads(x)["ev"]["type"] for x in lines] == ["journal_opened", "positions_carried", "halted"]
    path.write_bytes(b"".join(lines[:kept]))  # the kill: the rest of the opening never reached the file

    async with ExecutionService(config, clock=ReplayClock(next_day + SECOND)) as svc:
        assert (svc.positions(), svc.breaker_status()) == whole
    async with ExecutionService(config, clock=ReplayClock(next_day + 2 * SECOND)) as svc:
        assert (svc.positions(), svc.breaker_status()) == whole  # and nothing is carried in twice
    assert [json.loads(x)["ev"]["type"] for x in path.read_bytes().splitlines()] == [
        "journal_opened",
        "positions_carried",
        "halted",
    ]
    verify_file(path)


def intent_records(path: Path) -> list[dict]:
    return [json.loads(x)["ev"] for x in path.read_text().splitlines() if '"type":"intent"' in x]


@pytest.mark.parametrize(
    "second_day_start", ["rolled while running", "restart on its journal", "fresh start"]
)
async def test_an_intent_sent_again_after_midnight_gets_its_first_result_and_places_nothing(
    journal_dir, second_day_start
):
    """Never twice across the date line: a retry of an after-hours intent, or a restart, after 00:00."""
    config = make_config(journal_dir)
    late = ist_ns(DAY, 23, 59, 59)
    next_day = ist_ns(DAY.replace(day=21), 0, 0, 1)
    clock = ReplayClock(late)
    retry = intent("BUY", 7, product="NRML", intent_id="amo-entry-1")
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, late))
        first = await svc.execute_intent(retry)
        if second_day_start == "rolled while running":
            await svc.on_tick(tick("NSE:INFY", 1510.0, next_day))
            again = await svc.execute_intent(retry)
            fresh = await svc.execute_intent(intent("BUY", 1, product="NRML", intent_id="new-day-1"))
            position = svc.engine.state.position("s1", "NSE:INFY", "NRML")
    if second_day_start != "rolled while running":
        if second_day_start == "restart on its journal":
            async with ExecutionService(config, clock=ReplayClock(next_day)) as svc:
                await svc.on_tick(tick("NSE:INFY", 1510.0, next_day))  # opens the new day's file
        async with ExecutionService(config, clock=ReplayClock(next_day)) as svc:
            await svc.on_tick(tick("NSE:INFY", 1510.0, next_day + SECOND))
            again = await svc.execute_intent(retry)
            fresh = await svc.execute_intent(intent("BUY", 1, product="NRML", intent_id="new-day-1"))
            position = svc.engine.state.position("s1", "NSE:INFY", "NRML")
    assert first.status == "FILLED" and first.filled_qty == 7
    assert again == first  # the first result itself, from the earlier day's file
    assert fresh.status == "FILLED"  # a new id on the new day trades as usual
    assert position is not None and position.net_qty == 8  # 7 carried in, 1 bought today: not 15
    second_file = journal_dir / "2026-11-21.jsonl"
    assert [e["intent_id"] for e in intent_records(second_file)] == ["new-day-1"]
    verify_file(second_file)


async def test_an_id_reused_after_midnight_for_a_different_order_is_placed(journal_dir, caplog):
    """A counter that started again (a producer restarted) is not a retry: its order goes out."""
    config = make_config(journal_dir)
    late, next_day = ist_ns(DAY, 15, 0), ist_ns(DAY.replace(day=21), 9, 15)
    async with ExecutionService(config, clock=ReplayClock(late)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, late))
        first = await svc.execute_intent(intent("BUY", 7, intent_id="s1-00000001"))
    async with ExecutionService(config, clock=ReplayClock(next_day)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1510.0, next_day))
        reused = await svc.execute_intent(intent("SELL", 7, intent_id="s1-00000001"))
    assert first.side == "BUY" and reused.side == "SELL" and reused.status == "FILLED"
    assert reused.ts_event != first.ts_event
    assert "named a different order on the last journaled day" in caplog.text
    assert [e["intent_id"] for e in intent_records(journal_dir / "2026-11-21.jsonl")] == ["s1-00000001"]


async def test_a_damaged_earlier_day_does_not_stop_a_restart_on_todays_journal(journal_dir, caplog):
    config = make_config(journal_dir)
    next_day = ist_ns(DAY.replace(day=21), 9, 15)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("BUY", 7, intent_id="a1"))
    async with ExecutionService(config, clock=ReplayClock(next_day)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1510.0, next_day))
    earlier = journal_dir / DAY_FILE
    earlier.write_text(earlier.read_text().replace('"qty":7', '"qty":8', 1))  # edited: the chain breaks
    async with ExecutionService(config, clock=ReplayClock(next_day + SECOND)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1510.0, next_day + 2 * SECOND))
        again = await svc.execute_intent(intent("BUY", 1, intent_id="b1"))
    assert again.status == "FILLED"
    assert "could not be read" in caplog.text


CHILD = textwrap.dedent(
    """
    import asyncio, sys
    from execsvc import ExecutionService, OrderIntent
    from execsvc.clock import LiveClock
    from tests.conftest import make_config, tick

    async def main():
        config = make_config(sys.argv[1], journal={"fsync": sys.argv[2]})
        async with ExecutionService(config, clock=LiveClock()) as svc:
            await svc.on_tick(tick("NSE:INFY", 1500.0, 0))
            n = 0
            while True:
                n += 1
                side = "BUY" if n % 2 else "SELL"
                result = await svc.execute_intent(
                    OrderIntent(symbol="NSE:INFY", strategy_code="k9", side=side, qty=1, intent_id=f"k{n}")
                )
                print(result.intent_id, result.status, flush=True)

    asyncio.run(main())
    """
)


@pytest.mark.parametrize("policy", ["batch", "never", "always"])
async def test_kill_9_mid_stream_loses_nothing_acknowledged_and_restarts_cleanly(tmp_path, policy):
    journal_dir = tmp_path / "journal"
    repo = Path(__file__).resolve().parents[2]
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(journal_dir), policy],
        stdout=subprocess.PIPE,
        cwd=repo,
        env={**os.environ, "PYTHONPATH": str(repo)},
    )
    acknowledged: list[str] = []
    try:
        assert child.stdout is not None
        while len(acknowledged) < 300:
            line = child.stdout.readline()
            assert line, "the child died before acknowledging 300 intents"
            intent_id, status = line.decode().split()
            assert status == "FILLED"
            acknowledged.append(intent_id)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=30)

    [path] = list(journal_dir.glob("*.jsonl"))
    report = verify_file(path)  # a torn tail is allowed; anything else raises
    results = {r.ev.intent_id for r in read_journal(path).records if type(r.ev).__name__ == "ExecutionResult"}  # type: ignore[union-attr]
    assert set(acknowledged) <= results
    assert report.records >= 4 * len(acknowledged)

    # and the service restarts on it: positions are the fold of the acknowledged fills at least
    async with ExecutionService(
        make_config(journal_dir), clock=ReplayClock(read_journal(path).records[-1].ts)
    ) as svc:
        position = svc.positions()[0]
        assert position.buy_qty + position.sell_qty >= len(acknowledged)
        assert svc.engine.answered(acknowledged[-1]) is not None


@pytest.mark.parametrize("restart", ["same day", "after midnight"])
async def test_an_intent_in_flight_at_a_crash_is_never_placed_again_by_a_retry(journal_dir, restart):
    """Its result never reached the disk: the same day settles it, after midnight a retry is refused."""
    config = make_config(journal_dir)
    late = ist_ns(DAY, 23, 59, 58)
    next_day = ist_ns(DAY.replace(day=21), 0, 0, 1)
    retry = intent("BUY", 7, product="NRML", intent_id="amo-entry-1")
    async with ExecutionService(config, clock=ReplayClock(late)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, late))
        first = await svc.execute_intent(retry)
    assert first.status == "FILLED"
    path = journal_dir / DAY_FILE
    lines = path.read_text().splitlines(keepends=True)
    assert json.loads(lines[-1])["ev"]["type"] == "result"
    path.write_text("".join(lines[:-1]))  # the crash: intent, order and fill on disk, the result not
    when = late + SECOND if restart == "same day" else next_day
    async with ExecutionService(config, clock=ReplayClock(when)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1510.0, when))
        again = await svc.execute_intent(retry)
        position = svc.engine.state.position("s1", "NSE:INFY", "NRML")
    assert position is not None and position.net_qty == 7  # bought once
    if restart == "after midnight":
        assert again.status == "REJECTED" and again.reject_reason == "unresolved"
