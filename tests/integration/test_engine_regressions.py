"""Review findings on the engine and the service (paper mode, replay clock, real journal)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import threading
from typing import Any

import msgspec
import pytest

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.events import JournalOpened, PositionsCarried
from execsvc.executors.base import rejected
from execsvc.journal.reader import read_journal
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick


def intent(intent_id: str, side: str = "BUY", qty: int = 10, **kw: Any) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side=side, qty=qty, intent_id=intent_id, **kw)


async def test_a_tick_and_an_intent_crossing_midnight_together_roll_the_day_twice(journal_dir):
    """engine.maybe_roll checks the day end, then awaits the journal flush before it acts; a second
    caller (on_tick and the intent consumer both call it) passes the same check meanwhile, and the new
    day gets two journal_opened / positions_carried pairs: the carried position counts twice."""
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("buy", product="NRML"))  # 10 carried into the next day
        await svc.execute_intent(intent("rest", order_type="LIMIT", price=1400.0))  # expires at midnight
        next_day = ist_ns(DAY + dt.timedelta(days=1), 9, 15)
        await asyncio.wait_for(
            asyncio.gather(
                svc.on_tick(tick("NSE:INFY", 1500.0, next_day)),
                svc.execute_intent(intent("next", qty=1, order_type="LIMIT", price=1300.0)),
            ),
            5,
        )
        net = svc.engine.state.symbol_net_qty("NSE:INFY")
        day_file = svc.journal.path
    assert day_file is not None
    events = [r.ev for r in read_journal(day_file).records]
    opened = sum(type(e) is JournalOpened for e in events)
    carried = sum(type(e) is PositionsCarried for e in events)
    assert (opened, carried, net) == (1, 1, 10), (
        f"journal_opened x{opened}, positions_carried x{carried}, net {net}"
    )


async def test_not_cancellable_answer_is_released_before_the_fill_it_reports_is_durable(
    journal_dir, monkeypatch
):
    """engine._handle_cancel answers a cancel of a finished order with the order's *latest* result
    but under the seq of its *first* result; the latest (here the FILLED of a fill that is still
    being synced) is handed out before its record is durable."""
    gate = threading.Event()
    real_fdatasync = os.fdatasync

    def slow_disk(fd: int) -> None:  # the disk takes its time; the test opens the gate when done
        gate.wait(5)
        real_fdatasync(fd)

    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        placed = await svc.execute_intent(intent("r1", order_type="LIMIT", price=1490.0))
        assert placed.status == "PLACED"
        svc.journal.inline_sync_bytes = 0  # every sync in the worker thread: the gate holds it, not the loop
        monkeypatch.setattr(os, "fdatasync", slow_disk)
        try:
            await svc.on_tick(tick("NSE:INFY", 1489.0, OPEN_NS + 2 * SECOND))  # fills r1: FILLED is emitted
            filled_seq = svc.journal.next_seq - 1
            cancelling = asyncio.ensure_future(svc.cancel_order(placed.order_id or ""))
            while svc.journal.next_seq <= filled_seq + 1:  # until the cancel is journaled
                await asyncio.sleep(0)
            held_back = not cancelling.done()
            gate.set()
            answer = await asyncio.wait_for(cancelling, 5)
            durable_then = svc.journal.durable_seq
        finally:
            gate.set()
            monkeypatch.setattr(os, "fdatasync", real_fdatasync)
    assert held_back, "the answer came before the FILLED it reports was durable"
    assert answer.status == "FILLED"
    assert durable_then >= filled_seq, (
        f"FILLED (seq {filled_seq}) was handed to the caller while only seq {durable_then} was durable"
    )


async def test_one_bad_submission_drops_every_other_submission_of_its_batch(journal_dir):
    """engine.handle_batch handles a batch in one loop with no per-submission guard; an exception
    on one submission (here an unhashable intent_id through submit) ends the batch, and the callers of
    the other submissions in it wait forever."""
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        bad = intent("x", qty=1)
        bad = OrderIntent(**{**{f: getattr(bad, f) for f in bad.__struct_fields__}, "intent_id": ["oops"]})  # type: ignore[arg-type]
        try:
            async with asyncio.timeout(2):
                await svc.submit(bad)  # queued, not yet handled ...
                good = await svc.execute_intent(intent("good", qty=1))  # ... and this right behind it
        except TimeoutError:
            pytest.fail("a valid intent queued behind a bad one was dropped; its caller would wait forever")
        assert good.status == "FILLED"


async def test_a_halt_that_survived_midnight_is_lifted_by_a_restart(journal_dir):
    """A halt stays across the IST day boundary in the running service (BreakerState.new_day keeps
    it), but the new day's journal does not record it, and start-up on a day without a file carries
    only positions: a restart after midnight silently resumes trading."""
    clock = ReplayClock(OPEN_NS)
    next_day = ist_ns(DAY + dt.timedelta(days=1), 9, 15)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.halt("unknown order outcome: a human must look")
        await svc.on_tick(tick("NSE:INFY", 1500.0, next_day))  # the day rolls over, still halted
        assert svc.halted
    async with ExecutionService(make_config(journal_dir), clock=ReplayClock(next_day + SECOND)) as svc:
        halted_after_restart = svc.halted
        await svc.on_tick(tick("NSE:INFY", 1500.0, next_day + 2 * SECOND))
        result = await svc.execute_intent(intent("after", qty=1))
    assert halted_after_restart and result.reject_reason == "breaker:halted", (
        f"the restart lifted the halt: halted={halted_after_restart}, intent {result.status}"
    )


async def test_a_record_another_task_appends_during_the_day_roll_is_released_before_the_new_day(journal_dir):
    """The roll waits for the old day's results to be published; a live order's outcome (another
    task) can be appended meanwhile. Inside the engine's batch, appends do not wake the writer: that
    record was written by close() but never reported durable, the new day's seqs started again at 0
    below it, and every answer of the new day waited behind it for ever."""
    clock = ReplayClock(OPEN_NS)
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        engine = svc.engine
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        for n in range(3):
            await svc.execute_intent(intent(f"d1-{n}", qty=1))
        late = intent("late", qty=1)
        engine.expect_answer("late", "k-late")
        late_answer = engine.wait_for("k-late")
        published = engine.answers.published
        calls = 0

        async def an_outcome_arrives_meanwhile() -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                engine.emit(rejected(late, "broker:REJECTED", "rms", clock.now_ns(), "paper"))
                await asyncio.sleep(0)  # another task's turn, as a live order's outcome would take
            await published()

        engine.answers.published = an_outcome_arrives_meanwhile  # type: ignore[method-assign]
        clock.advance_to(ist_ns(DAY + dt.timedelta(days=1), 9, 15))
        next_day = await asyncio.wait_for(svc.execute_intent(intent("d2-0", qty=1)), 5)
        # answered (no tick of the new day yet: the paper exchange has no price of it to fill at)
        assert (next_day.status, next_day.reject_reason) == ("REJECTED", "no_market_data")
        assert (await asyncio.wait_for(late_answer, 5)).reject_reason == "broker:REJECTED"
    old_day = read_journal(journal_dir / f"{DAY.isoformat()}.jsonl").records
    assert [r.ev.intent_id for r in old_day if type(r.ev).__name__ == "ExecutionResult"][-1] == "late"


async def test_a_price_on_a_market_order_does_not_get_it_past_the_order_value_cap(journal_dir):
    config = make_config(journal_dir, execution={"circuit_breakers": {"max_order_value_rupees": 100_000.0}})
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        priced = await svc.execute_intent(intent("m1", qty=1000, price=0.05))
        cheap_limit = await svc.execute_intent(
            intent("m2", side="SELL", qty=1000, order_type="LIMIT", price=0.05)
        )
        small = await svc.execute_intent(intent("m3", qty=10, price=0.05))
    assert priced.status == "REJECTED" and priced.reject_reason == "breaker:max_order_value"
    assert "1,500,000.00 > 100,000.00" in (priced.message or "")
    assert cheap_limit.status == "REJECTED" and cheap_limit.reject_reason == "breaker:max_order_value"
    assert small.status == "FILLED"


# over a crore (the most an order may name) a MARKET order filled at it; a str or None raised TypeError
@pytest.mark.parametrize(
    "bad_price", [float("nan"), float("inf"), -5.0, 0.0, 1e300, 10_000_000.05, "1300", None]
)
async def test_a_tick_without_a_positive_price_moves_nothing(journal_dir, bad_price, caplog):
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:TCS", bad_price, OPEN_NS + SECOND))
        no_market = await svc.execute_intent(
            OrderIntent(symbol="NSE:TCS", strategy_code="s1", side="BUY", qty=1)
        )
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + 2 * SECOND))
        stop = await svc.execute_intent(
            intent("st1", side="SELL", qty=5, order_type="SL-M", trigger_price=1400.0)
        )
        await svc.on_tick(tick("NSE:INFY", bad_price, OPEN_NS + 3 * SECOND))
        buy = await svc.execute_intent(intent("b1", qty=5))
        working = [o.order.intent_id for o in svc.engine.state.working_orders()]
    assert no_market.status == "REJECTED" and no_market.reject_reason == "no_market_data"
    assert stop.status == "PLACED" and working == ["st1"]  # the bad tick triggered nothing
    assert buy.status == "FILLED" and buy.avg_price == 1500.75  # at the last good price, 5 bps worse
    assert ("last_price=" in caplog.text) == (bad_price != 0.0)  # Kite's 0 (not traded yet) is quiet


async def test_a_placement_that_raises_is_answered_settled_and_halts_trading(journal_dir, caplog):
    """A bug inside the executor leaves no intent in flight: answered, settled, and trading halted."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        costs = svc.engine.paper.costs

        def broken_charges(**kw: Any) -> Any:  # fault injection: the cost model fails mid-fill
            raise ZeroDivisionError("a bug")

        costs.charges = broken_charges  # type: ignore[method-assign]
        failed = await svc.execute_intent(intent("x1", qty=5))
        halted = await svc.execute_intent(intent("x2", qty=5))
        working = svc.engine.state.working_orders()
    assert failed.status == "REJECTED" and failed.reject_reason == "internal"
    assert "ZeroDivisionError: a bug" in (failed.message or "")
    assert halted.status == "REJECTED" and halted.reject_reason == "breaker:halted"
    assert working == []
    assert "placing intent x1 failed" in caplog.text
    day_file = journal_dir / f"{DAY.isoformat()}.jsonl"
    before = day_file.read_bytes()
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + 2 * SECOND)):
        pass  # nothing a crash-settlement would have to answer
    assert day_file.read_bytes() == before


async def test_a_strategy_callback_that_raises_breaks_nothing(journal_dir, caplog):
    """A bug in on_result is logged; the order it reported rests on, fills, and the journal folds back."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        calls: list[Any] = []

        def listener(result: Any) -> None:  # a strategy's on_result with a bug
            calls.append(result)
            raise RuntimeError("strategy bug")

        svc.engine.result_listener = listener
        placed = await svc.execute_intent(intent("r1", qty=5, order_type="LIMIT", price=1490.0))
        await svc.on_tick(tick("NSE:INFY", 1480.0, OPEN_NS + 2 * SECOND))  # crosses the limit
        position = svc.engine.state.position("s1", "NSE:INFY", "MIS")
    assert placed.status == "PLACED" and [c.status for c in calls] == ["PLACED", "FILLED"]
    assert position is not None and position.net_qty == 5
    assert "result listener failed" in caplog.text
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + 3 * SECOND)) as svc:
        assert svc.engine.state.position("s1", "NSE:INFY", "MIS").net_qty == 5  # type: ignore[union-attr]


async def test_a_failed_placement_leaves_nothing_resting_in_the_paper_book(journal_dir):
    """The rest a failed placement cancels cannot fill later (a fill of 0 would not fold back)."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        paper = svc.engine.paper
        original = paper.result

        def result_then_fail(record: Any, status: str, *args: Any, **kw: Any) -> Any:
            out = original(record, status, *args, **kw)
            if status == "PLACED":  # fault injection: after the book took the order
                raise RuntimeError("a bug after resting")
            return out

        paper.result = result_then_fail  # type: ignore[method-assign]
        failed = await svc.execute_intent(intent("r1", qty=5, order_type="LIMIT", price=1490.0))
        assert not paper.book.has_orders("NSE:INFY")
        await svc.resume("looked into it", by="test")
        await svc.on_tick(tick("NSE:INFY", 1480.0, OPEN_NS + 2 * SECOND))  # would cross the old limit
    assert failed.status in ("PLACED", "REJECTED")
    fills = read_journal(journal_dir / f"{DAY.isoformat()}.jsonl").records
    assert not [r for r in fills if type(r.ev).__name__ == "Fill"]
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + 3 * SECOND)) as svc:
        assert svc.engine.state.working_orders() == []


@pytest.mark.parametrize(
    ("order", "change", "price"),
    [
        ({"side": "BUY", "order_type": "SL-M", "trigger_price": 1510.0}, {"trigger_price": 1520.0}, 1512.0),
        (
            {"side": "SELL", "order_type": "LIMIT", "price": 1510.0},
            {"order_type": "SL-M", "trigger_price": 1450.0},
            1511.0,
        ),
    ],
    ids=["stop moved up", "limit made a stop"],
)
@pytest.mark.parametrize("restart", [False, True], ids=["running", "restarted"])
async def test_a_modified_order_does_not_fill_at_its_old_terms(journal_dir, order, change, price, restart):
    """The book dropped a modified order's old entry lazily, by id: resting again under the same
    id revived it, so a tick at the old trigger or limit filled an order whose terms said no; the
    book a restart rebuilds has no such entry, so the same tick did nothing after a restart."""
    config = make_config(journal_dir)
    clock = ReplayClock(OPEN_NS)
    svc = ExecutionService(config, clock=clock)
    await svc.start()
    try:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        placed = await svc.execute_intent(intent("m1", qty=1, **order))
        modified = await svc.modify_order(placed.order_id, **change)
        if restart:
            await svc.stop()
            svc = ExecutionService(config, clock=clock)
            await svc.start()
        await svc.on_tick(tick("NSE:INFY", price, OPEN_NS + 3 * SECOND))  # the old terms' price
        record = svc.engine.state.orders[placed.order_id]
        outcome = (record.working, record.triggered, record.filled_qty)
    finally:
        await svc.stop()
    assert modified.status == "PLACED"
    assert outcome == (True, False, 0)


@pytest.mark.parametrize(
    ("breakers", "change", "names"),
    [
        ({"max_order_value_rupees": 20_000.0}, {"qty": 100}, "max_order_value: 149,900.00 > 20,000.00"),
        ({"max_position_per_symbol": 10}, {"qty": 100}, "max_position_per_symbol: position would be 100"),
    ],
    ids=["order value", "position"],
)
async def test_a_modification_cannot_grow_an_order_past_the_caps(journal_dir, breakers, change, names):
    """handle_modify checked only the halt: BUY 1 LIMIT, then modify it to 100, rested and filled
    an order of 100 that max_order_value and max_position_per_symbol refuse when placed directly."""
    config = make_config(journal_dir, execution={"circuit_breakers": breakers})
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        direct = await svc.execute_intent(intent("big", qty=100, order_type="LIMIT", price=1499.0))
        assert (direct.status, direct.reject_reason) == ("REJECTED", f"breaker:{names.split(':')[0]}")
        small = await svc.execute_intent(intent("small", qty=1, order_type="LIMIT", price=1499.0))
        refused = await svc.modify_order(small.order_id, **change)
        await svc.on_tick(tick("NSE:INFY", 1498.0, OPEN_NS + 2 * SECOND))
        position = svc.engine.state.symbol_net_qty("NSE:INFY")
    assert refused.status == "PLACED" and names in refused.message
    assert position == 1  # the order filled as it was placed, not as the refused change asked


async def test_a_latched_loss_breaker_lets_a_modification_only_cut_an_opening_order(journal_dir):
    """While the daily-loss breaker is latched, an order that opens exposure may be made smaller
    (or cancelled) but not bigger, nor repriced so that it trades; a reducing order may change."""
    config = make_config(journal_dir, execution={"circuit_breakers": {"max_daily_loss_rupees": 100.0}})
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        opening = await svc.execute_intent(intent("open", qty=10, order_type="LIMIT", price=1400.0))
        await svc.execute_intent(intent("buy", qty=10))
        await svc.on_tick(tick("NSE:INFY", 1480.0, OPEN_NS + 2 * SECOND))
        await svc.execute_intent(intent("sell", side="SELL", qty=5))  # realizes about -100 with charges
        tripped = await svc.execute_intent(intent("more", qty=1))
        assert tripped.reject_reason == "breaker:max_daily_loss", tripped.message
        exit_order = await svc.execute_intent(
            intent("exit", side="SELL", qty=5, order_type="LIMIT", price=1600.0)
        )
        assert exit_order.status == "PLACED"  # reducing: passes the latch

        bigger = await svc.modify_order(opening.order_id, qty=20)
        repriced = await svc.modify_order(opening.order_id, price=1480.0)
        smaller = await svc.modify_order(opening.order_id, qty=4)
        exit_moved = await svc.modify_order(exit_order.order_id, price=1590.0)
        record = svc.engine.state.orders[opening.order_id].order
        exit_price = svc.engine.state.orders[exit_order.order_id].order.price
    assert "modify refused: max_daily_loss" in bigger.message
    assert "modify refused: max_daily_loss" in repriced.message
    assert (record.qty, record.price) == (4, 1400.0)
    assert [r.status for r in (smaller, exit_moved)] == ["PLACED", "PLACED"]
    assert "refused" not in smaller.message + exit_moved.message
    assert exit_price == 1590.0


async def test_a_latched_trader_tightens_a_stop_once_its_target_is_cancelled(journal_dir):
    """Long 10 with a stop (SELL SL-M 10) and a target (SELL LIMIT 10), both placed before the
    daily-loss breaker latched. While both work, making the stop MARKET would let both exits fill
    (short 10, opened while latched): refused. Cancel the target, and the stop may be tightened."""
    config = make_config(journal_dir, execution={"circuit_breakers": {"max_daily_loss_rupees": 100.0}})
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.on_tick(tick("NSE:SBIN", 800.0, OPEN_NS + SECOND))
        await svc.execute_intent(intent("long", qty=10))
        stop = await svc.execute_intent(intent("stop", side="SELL", order_type="SL-M", trigger_price=1450.0))
        target = await svc.execute_intent(intent("tgt", side="SELL", order_type="LIMIT", price=1600.0))
        assert stop.status == target.status == "PLACED"
        sbin = {"symbol": "NSE:SBIN", "qty": 100}
        await svc.execute_intent(OrderIntent(strategy_code="s1", side="BUY", intent_id="sb", **sbin))
        await svc.on_tick(tick("NSE:SBIN", 790.0, OPEN_NS + 2 * SECOND))
        await svc.execute_intent(OrderIntent(strategy_code="s1", side="SELL", intent_id="sbx", **sbin))
        tripped = await svc.execute_intent(intent("more", qty=1))
        assert tripped.reject_reason == "breaker:max_daily_loss", tripped.message
        both_working = await svc.modify_order(stop.order_id, order_type="MARKET")
        await svc.cancel_order(target.order_id)
        tighter = await svc.modify_order(stop.order_id, trigger_price=1490.0)
        market = await svc.modify_order(stop.order_id, order_type="MARKET")
        position = svc.engine.state.symbol_net_qty("NSE:INFY")
    assert "modify refused: max_daily_loss" in (both_working.message or ""), both_working.message
    assert "refused" not in (tighter.message or ""), tighter.message
    assert (market.status, market.filled_qty, position) == ("FILLED", 10, 0), market.message


@pytest.mark.parametrize(
    ("change", "status", "message"),
    [
        (lambda svc, oid: svc.cancel_order(oid, reason=None), "CANCELLED", "cancelled on request"),
        (lambda svc, oid: svc.cancel_order(123), "REJECTED", "unknown order"),
        (lambda svc, oid: svc.modify_order(oid, qty=5.0), "PLACED", "qty=5.0: must be an integer"),
        (lambda svc, oid: svc.modify_order(oid, qty=5, reason=None), "PLACED", "resting"),
        (lambda svc, oid: svc.modify_order(oid, order_type=["LIMIT"]), "PLACED", "must be one of"),
        # lone surrogates: a Python string UTF-8 (and so the journal) cannot hold
        (lambda svc, oid: svc.cancel_order("\ud800"), "REJECTED", "unknown order"),
        (lambda svc, oid: svc.cancel_order(oid, reason="\udcff"), "CANCELLED", "\\udcff"),
        (lambda svc, oid: svc.modify_order(oid, qty=5, reason="\ud800"), "PLACED", "resting"),
        (lambda svc, oid: svc.modify_order(oid, order_type="\ud800"), "PLACED", "must be one of"),
    ],
    ids=[
        "cancel reason None",
        "cancel int order id",
        "modify float qty",
        "modify reason None",
        "type list",
        "cancel surrogate order id",
        "cancel surrogate reason",
        "modify surrogate reason",
        "modify surrogate type",
    ],
)
async def test_a_change_with_a_term_of_the_wrong_type_leaves_a_journal_that_restarts(
    journal_dir, change, status, message
):
    """The request of a cancel or a modification is journaled before it is checked, as it came: a
    reason of None, a qty of 5.0 or an int order id wrote a record the journal's decoder refuses,
    so the next start failed with JournalCorruptError for the rest of the day."""
    config = make_config(journal_dir)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        placed = await svc.execute_intent(intent("w1", order_type="LIMIT", price=1400.0))
        answer = await change(svc, placed.order_id)
        record = svc.engine.state.orders[placed.order_id]
        before = (record.working, record.order.qty)
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + 2 * SECOND)) as again:
        record = again.engine.state.orders[placed.order_id]
        assert (record.working, record.order.qty) == before
    assert answer.status == status and message in (answer.message or ""), answer.message


async def test_a_square_off_gets_flat_past_the_throttles_and_the_value_cap(journal_dir):
    """Five MIS positions squared off in one burst: with max_orders_per_second at 2 the third and
    later closing orders were refused, and with a value cap lowered since the entries none went
    out; the positions stayed open into the broker's own (charged) square-off."""
    breakers = {"max_orders_per_second": 2, "max_orders_per_second_per_strategy": 2}
    config = make_config(journal_dir, execution={"circuit_breakers": breakers})
    clock = ReplayClock(OPEN_NS)
    symbols = [f"NSE:S{n}" for n in range(5)]
    async with ExecutionService(config, clock=clock) as svc:
        for n, symbol in enumerate(symbols):
            clock.advance_to(OPEN_NS + (n + 1) * SECOND)
            await svc.on_tick(tick(symbol, 1000.0, OPEN_NS + (n + 1) * SECOND))
            opened = await svc.execute_intent(
                OrderIntent(symbol=symbol, strategy_code="s1", side="BUY", qty=10, intent_id=f"o{n}")
            )
            assert opened.status == "FILLED", opened.message
        lower = msgspec.structs.replace(config.execution.circuit_breakers, max_order_value_rupees=100.0)
        await svc.reload_limits(lower, reason="tighter", by="test")
        results = await svc.square_off(reason="end of day", by="test")
        left = {p.symbol: p.net_qty for p in svc.positions()}
    assert [r.status for r in results] == ["FILLED"] * 5, [r.message for r in results]
    assert left == dict.fromkeys(symbols, 0)
