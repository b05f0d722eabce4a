"""``ExecutionService.execute_sliced`` end to end: an NFO order above its freeze quantity goes out as
slices of whole lots, each a journaled intent of its own, in paper, live against the Kite simulator
and through ``POST /intents``; a breaker stops the slicing midway; a re-call is answered from the
journal, and after a kill -9 it sends only the slices the journal lacks."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from execsvc import ExecutionService
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config, config_from_dict
from execsvc.control import start_control
from execsvc.errors import IntentRejectedError, IntentValidationError
from execsvc.metrics import ServiceMetrics
from execsvc.sim import KiteSimulator
from tests.conftest import journal_records, make_config, tick
from tests.integration.test_fno_expiry import FUT, MON
from tests.integration.test_freeze_service import TOO_MANY, nifty
from tests.integration.test_live_kite import _as_dict

REPO = Path(__file__).resolve().parents[2]
SLICES = [("big.1", 1755), ("big.2", 1755), ("big.3", 390)]  # 3900 = 60 lots of 65, NIFTY's limit 1800


def metadata(k: int, **extra: Any) -> dict[str, Any]:
    return {**extra, "slice_of": "big", "slice": k, "slices": 3}


def journal(journal_dir: Path) -> list[dict[str, Any]]:
    [path] = journal_dir.glob("*.jsonl")
    return journal_records(path)


def of_type(records: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("type") == kind]


def paper_config(journal_dir: Path, instruments_csv: Path, **breakers: Any) -> Any:
    execution: dict[str, Any] = {"slippage_bps": 0}
    if breakers:
        execution["circuit_breakers"] = breakers
    return make_config(journal_dir, market={"instruments_file": str(instruments_csv)}, execution=execution)


async def test_an_order_above_the_limit_fills_in_three_journaled_slices_that_add_up(
    fno_paper: ExecutionService, tmp_path: Path
) -> None:
    results = await fno_paper.execute_sliced(nifty(3900, "big", metadata={"signal": "breakout"}))
    await fno_paper.stop()

    assert [(r.intent_id, r.status, r.filled_qty, r.avg_price) for r in results] == [
        (intent_id, "FILLED", qty, 26_000.0) for intent_id, qty in SLICES
    ]
    assert [(p.symbol, p.net_qty) for p in fno_paper.positions() if p.net_qty] == [(FUT, 3900)]
    records = journal(tmp_path / "journal")
    intents = of_type(records, "intent")
    assert [(i["intent_id"], i["qty"], i["metadata"]) for i in intents] == [
        (intent_id, qty, metadata(k, signal="breakout")) for k, (intent_id, qty) in enumerate(SLICES, 1)
    ]
    assert [a["intent_id"] for a in of_type(records, "order_accepted")] == ["big.1", "big.2", "big.3"]


async def test_an_order_within_the_limit_goes_as_it_is_under_its_own_id(
    fno_paper: ExecutionService, tmp_path: Path
) -> None:
    [result] = await fno_paper.execute_sliced(nifty(1755, "most", metadata={"signal": "x"}))
    await fno_paper.settle()

    assert (result.intent_id, result.status, result.filled_qty) == ("most", "FILLED", 1755)
    [journaled] = of_type(journal(tmp_path / "journal"), "intent")
    assert (journaled["intent_id"], journaled["metadata"]) == ("most", {"signal": "x"})


async def test_an_iceberg_whose_legs_are_within_the_limit_goes_whole(
    fno_paper: ExecutionService, tmp_path: Path
) -> None:
    """54 lots in two legs of 27: the exchange takes each leg, so nothing is cut (before, it was
    sliced into iceberg orders of its own: three orders where one does)."""
    berg = nifty(
        3510, "berg", order_type="LIMIT", price=25_900.0, variety="iceberg", metadata={"iceberg_legs": 2}
    )
    [result] = await fno_paper.execute_sliced(berg)
    await fno_paper.settle()

    assert (result.intent_id, result.qty) == ("berg", 3510)
    assert [r["intent_id"] for r in of_type(journal(tmp_path / "journal"), "intent")] == ["berg"]


async def test_an_order_not_of_whole_lots_is_refused_whole_as_any_intent(fno_paper: ExecutionService) -> None:
    [refused] = await fno_paper.execute_sliced(nifty(3901, "odd"))

    assert (refused.intent_id, refused.status, refused.reject_reason) == ("odd", "REJECTED", "validation")
    assert refused.raw["errors"][0] == {
        "field": "qty",
        "value": 3901,
        "reason": "must be a multiple of the lot size 65",
    }
    assert fno_paper.engine.state.orders == {}


async def test_an_id_already_journaled_whole_is_answered_with_that_result_not_sliced(
    fno_paper: ExecutionService,
) -> None:
    refused = await fno_paper.execute_intent(nifty(3900, "big"))

    again = await fno_paper.execute_sliced(nifty(3900, "big"))

    assert (refused.status, refused.reject_reason) == ("REJECTED", "validation")
    assert again == [refused]
    assert fno_paper.engine.state.intent_ids == {"big"} and fno_paper.engine.state.orders == {}


async def test_an_intent_without_an_id_is_given_one_and_its_slices_derive_from_it(
    fno_paper: ExecutionService,
) -> None:
    results = await fno_paper.execute_sliced(nifty(3900, ""))

    parent = results[0].intent_id.removesuffix(".1")
    assert parent.startswith("s1-")
    assert [r.intent_id for r in results] == [f"{parent}.1", f"{parent}.2", f"{parent}.3"]
    assert [r.status for r in results] == ["FILLED"] * 3


async def test_a_re_call_is_answered_from_the_journal_and_adds_no_record(
    fno_paper: ExecutionService, tmp_path: Path
) -> None:
    first = await fno_paper.execute_sliced(nifty(3900, "big"))
    await fno_paper.settle()
    before = journal(tmp_path / "journal")

    again = await fno_paper.execute_sliced(nifty(3900, "big"))
    await fno_paper.settle()

    assert again == first
    assert journal(tmp_path / "journal") == before
    assert [p.net_qty for p in fno_paper.positions() if p.symbol == FUT] == [3900]


async def test_a_trade_count_breaker_stops_the_slicing_midway_and_the_list_ends_with_its_refusal(
    tmp_path: Path, fno_instruments_csv: Path
) -> None:
    config = paper_config(tmp_path / "journal", fno_instruments_csv, max_trades_per_day=1)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 16)))
        results = await svc.execute_sliced(nifty(3900, "big"))
        again = await svc.execute_sliced(nifty(3900, "big"))
        positions = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]

    assert [(r.intent_id, r.status, r.reject_reason) for r in results] == [
        ("big.1", "FILLED", None),
        ("big.2", "REJECTED", "breaker:max_trades_per_day"),
    ]
    assert results[-1].message == "max_trades_per_day: 1 orders today >= 1"
    assert again == results  # the refusal is the slice's answer, as any intent's
    assert positions == [(FUT, 1755)]  # the partial fill is the caller's to see
    records = journal(tmp_path / "journal")
    assert [i["intent_id"] for i in of_type(records, "intent")] == ["big.1", "big.2"]  # big.3 never sent
    assert [a["intent_id"] for a in of_type(records, "order_accepted")] == ["big.1"]
    assert [t["breaker"] for t in of_type(records, "breaker_tripped")] == ["max_trades_per_day"]


async def test_the_order_value_cap_applies_to_the_order_asked_for_not_only_to_each_slice(
    tmp_path: Path, fno_instruments_csv: Path
) -> None:
    """3900 NIFTY at 26,000 is worth 10.14 crore; each slice (at most 4.563 crore) is under a 5
    crore cap, so before, the call traded twice the cap the trader set. Nothing is sent now."""
    config = paper_config(tmp_path / "journal", fno_instruments_csv, max_order_value_rupees=50_000_000.0)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 16)))
        with pytest.raises(IntentValidationError) as refused:
            await svc.execute_sliced(nifty(3900, "big"))
        within = await svc.execute_sliced(nifty(1820, "within"))  # 4.732 crore: under the cap
        positions = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]

    [error] = refused.value.errors
    assert (error.field, error.value) == ("qty", 3900)
    assert "101,400,000.00 > max_order_value_rupees 50,000,000.00" in error.reason
    assert [(r.intent_id, r.status, r.filled_qty) for r in within] == [
        ("within.1", "FILLED", 1755),
        ("within.2", "FILLED", 65),
    ]
    assert positions == [(FUT, 1820)]
    intents = of_type(journal(tmp_path / "journal"), "intent")
    assert [i["intent_id"] for i in intents] == ["within.1", "within.2"]  # nothing of "big"


async def test_a_changed_freeze_quantity_refuses_a_re_call_whose_slices_differ_and_sends_nothing(
    tmp_path: Path, fno_instruments_csv: Path
) -> None:
    config = paper_config(tmp_path / "journal", fno_instruments_csv, max_trades_per_day=1)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 16)))
        [filled, refused] = await svc.execute_sliced(nifty(3900, "big"))
    lower = _as_dict(config)
    lower["market"]["freeze_quantities"] = {"NIFTY": 1300}
    async with ExecutionService(config_from_dict(lower), clock=ReplayClock(ist_ns(MON, 9, 20))) as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 21)))
        with pytest.raises(IntentValidationError) as conflict:
            await svc.execute_sliced(nifty(3900, "big"))

    assert (filled.status, refused.status) == ("FILLED", "REJECTED")
    [error] = conflict.value.errors
    assert (error.field, error.value) == ("qty", 3900)
    assert error.reason.startswith(
        f"slice 'big.1' was journaled as BUY 1755 {FUT}, but slice 1 of this call would be 1300"
    )
    records = journal(tmp_path / "journal")
    assert [i["intent_id"] for i in of_type(records, "intent")] == ["big.1", "big.2"]


async def test_a_re_call_the_next_day_whose_slices_differ_from_the_journaled_ones_sends_nothing(
    tmp_path: Path, fno_instruments_csv: Path
) -> None:
    # Monday: 1755 filled as big.1, big.2 refused. Tuesday, with a lower freeze quantity, the same
    # call would cut big.1 at 1300: answered as a new intent (another order under a known id), it
    # would trade the whole 3900 again on top of Monday's 1755
    config = paper_config(tmp_path / "journal", fno_instruments_csv, max_trades_per_day=1)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 16)))
        [filled, refused] = await svc.execute_sliced(nifty(3900, "big"))
    lower = _as_dict(paper_config(tmp_path / "journal", fno_instruments_csv))
    lower["market"]["freeze_quantities"] = {"NIFTY": 1300}
    tuesday = MON + dt.timedelta(days=1)
    async with ExecutionService(config_from_dict(lower), clock=ReplayClock(ist_ns(tuesday, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(tuesday, 9, 16)))
        with pytest.raises(IntentValidationError) as conflict:
            await svc.execute_sliced(nifty(3900, "big"))
        positions = [p.net_qty for p in svc.positions() if p.symbol == FUT and p.net_qty]

    assert (filled.status, refused.status) == ("FILLED", "REJECTED")
    [error] = conflict.value.errors
    assert (error.field, error.value) == ("qty", 3900)
    assert error.reason.startswith(
        f"slice 'big.1' was journaled as BUY 1755 {FUT}, but slice 1 of this call would be 1300"
    )
    assert positions == [1755]  # Monday's slice, carried: nothing more was sent


CHILD = textwrap.dedent(
    """
    import asyncio, os, signal, sys
    from execsvc import ExecutionService, OrderIntent
    from execsvc.clock import ReplayClock, ist_ns
    from tests.conftest import make_config, tick
    from tests.integration.test_fno_expiry import FUT, MON

    def crash(result):
        # big.2 was sent once big.1's answer was durable; its own records are still in the
        # journal's buffer: a kill -9 here leaves a journal with one slice of three
        if result.intent_id == "big.2":
            print("killing at", result.intent_id, result.status, flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    async def main():
        config = make_config(
            sys.argv[1], market={"instruments_file": sys.argv[2]}, execution={"slippage_bps": 0}
        )
        async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
            await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 16)))
            svc.engine.result_listener = crash
            intent = OrderIntent(
                symbol=FUT, strategy_code="s1", side="BUY", qty=3900, product="NRML", intent_id="big"
            )
            await svc.execute_sliced(intent)
            print("not killed", flush=True)

    asyncio.run(main())
    """
)


async def test_after_a_kill_9_midway_a_re_call_sends_only_the_missing_slices(
    tmp_path: Path, fno_instruments_csv: Path
) -> None:
    journal_dir = tmp_path / "journal"
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(journal_dir), str(fno_instruments_csv)],
        capture_output=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()
    assert child.stdout.decode() == "killing at big.2 FILLED\n"
    crashed = journal(journal_dir)
    assert [a["intent_id"] for a in of_type(crashed, "order_accepted")] == ["big.1"]
    [acknowledged] = [r for r in of_type(crashed, "result") if r["intent_id"] == "big.1"]

    config = paper_config(journal_dir, fno_instruments_csv)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 20))) as svc:
        await svc.on_tick(tick(FUT, 26_010.0, ist_ns(MON, 9, 21)))
        results = await svc.execute_sliced(nifty(3900, "big"))
        await svc.settle()
        completed = journal(journal_dir)
        again = await svc.execute_sliced(nifty(3900, "big"))
        await svc.settle()
        positions = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]

    assert [(r.intent_id, r.status, r.filled_qty, r.avg_price) for r in results] == [
        ("big.1", "FILLED", 1755, 26_000.0),  # the answer it had before the kill
        ("big.2", "FILLED", 1755, 26_010.0),
        ("big.3", "FILLED", 390, 26_010.0),
    ]
    assert results[0].ts_event == acknowledged["ts_event"]
    assert [a["intent_id"] for a in of_type(completed, "order_accepted")] == ["big.1", "big.2", "big.3"]
    assert positions == [(FUT, 3900)]
    assert again == results and journal(journal_dir) == completed  # never twice


async def test_live_each_slice_is_one_broker_order(
    fno_sim: KiteSimulator, fno_live_config: Callable[..., Config]
) -> None:
    async with ExecutionService(
        fno_live_config(), clock=ReplayClock(ist_ns(MON, 10, 0)), access_token="slicetest"
    ) as svc:
        results = await svc.execute_sliced(nifty(3900, "big", order_type="LIMIT", price=25_900.0))
        again = await svc.execute_sliced(nifty(3900, "big", order_type="LIMIT", price=25_900.0))
    orders = fno_sim.orders()
    stats = fno_sim.stats()

    assert [(r.intent_id, r.status, r.mode) for r in results] == [
        (intent_id, "PLACED", "live") for intent_id, _ in SLICES
    ]
    assert again == results
    assert sorted(o["quantity"] for o in orders) == [390, 1755, 1755]
    assert sorted(o["order_id"] for o in orders) == sorted(r.order_id for r in results)
    assert len({o["tag"] for o in orders}) == 3  # one tag, one intent, one order
    assert stats["placements"] == 3


async def test_post_intents_with_slice_true_answers_the_slices_results(
    fno_paper: ExecutionService, tmp_path: Path
) -> None:
    body = {"symbol": FUT, "strategy_code": "s1", "side": "BUY", "qty": 3900, "product": "NRML"}
    metrics = ServiceMetrics(fno_paper)
    server = await start_control(fno_paper, port=0, token=None, metrics=metrics)
    try:
        async with aiohttp.ClientSession() as http:

            async def post(payload: dict[str, Any]) -> tuple[int, Any]:
                async with http.post(server.url + "/intents", data=json.dumps(payload)) as resp:
                    return resp.status, json.loads(await resp.read())

            sliced = await post({**body, "intent_id": "big", "slice": True})
            repeated = await post({**body, "intent_id": "big", "slice": True})
            bad_flag = await post({**body, "intent_id": "flag", "slice": "yes"})
            unsliced = await post({**body, "intent_id": "whole", "slice": False})
            odd = await post({**body, "intent_id": "odd", "qty": 3901, "slice": True})
    finally:
        await server.stop()
        metrics.close()

    status, answer = sliced
    assert status == 200 and answer["intent_id"] == "big"
    assert [(r["intent_id"], r["status"], r["filled_qty"]) for r in answer["results"]] == [
        (intent_id, "FILLED", qty) for intent_id, qty in SLICES
    ]
    assert repeated == sliced
    assert bad_flag == (
        400,
        {"errors": [{"field": "slice", "value": "yes", "reason": "Expected `bool`, got `str`"}]},
    )
    assert unsliced[0] == 400 and unsliced[1]["errors"][0]["reason"] == TOO_MANY  # as without the flag
    assert odd[0] == 400 and [r["intent_id"] for r in odd[1]["results"]] == ["odd"]
    assert odd[1]["errors"][0] == {
        "field": "qty",
        "value": 3901,
        "reason": "must be a multiple of the lot size 65",
    }
    assert "flag" not in fno_paper.engine.state.intent_ids


async def test_raise_on_reject_raises_the_refused_slice_once_the_journal_has_its_answer(
    tmp_path: Path, fno_instruments_csv: Path
) -> None:
    """As ``execute_intent(..., raise_on_reject=True)``: the same exception, raised after the
    refusal is durable; what filled before it stands, and a re-call raises the same again."""
    config = paper_config(tmp_path / "journal", fno_instruments_csv, max_trades_per_day=1)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 16)))
        with pytest.raises(IntentRejectedError) as refused:
            await svc.execute_sliced(nifty(3900, "big"), raise_on_reject=True)
        journaled_when_raised = of_type(journal(tmp_path / "journal"), "result")
        with pytest.raises(IntentRejectedError) as again:
            await svc.execute_sliced(nifty(3900, "big"), raise_on_reject=True)
        positions = [(p.symbol, p.net_qty) for p in svc.positions() if p.net_qty]

    result = refused.value.result
    assert (result.intent_id, result.status, result.reject_reason) == (
        "big.2",
        "REJECTED",
        "breaker:max_trades_per_day",
    )
    assert str(refused.value) == "intent big.2 rejected: max_trades_per_day: 1 orders today >= 1"
    assert [(r["intent_id"], r["status"]) for r in journaled_when_raised] == [
        ("big.1", "FILLED"),
        ("big.2", "REJECTED"),
    ]
    assert again.value.result == result
    assert positions == [(FUT, 1755)]


async def test_raise_on_reject_raises_the_field_errors_of_a_parent_refused_by_validation(
    fno_paper: ExecutionService, tmp_path: Path
) -> None:
    with pytest.raises(IntentValidationError) as refused:
        await fno_paper.execute_sliced(nifty(3901, "odd"), raise_on_reject=True)
    journaled_when_raised = of_type(journal(tmp_path / "journal"), "result")

    assert [(e.field, e.value, e.reason) for e in refused.value.errors] == [
        ("qty", 3901, "must be a multiple of the lot size 65")
    ]
    assert [(r["intent_id"], r["reject_reason"]) for r in journaled_when_raised] == [("odd", "validation")]


async def test_raise_on_reject_returns_the_results_when_nothing_is_refused(
    fno_paper: ExecutionService,
) -> None:
    results = await fno_paper.execute_sliced(nifty(3900, "big"), raise_on_reject=True)

    assert [(r.intent_id, r.status) for r in results] == [(intent_id, "FILLED") for intent_id, _ in SLICES]


async def test_post_intents_with_slice_true_records_each_slices_latency_as_an_unsliced_post_does(
    fno_paper: ExecutionService,
) -> None:
    body = {"symbol": FUT, "strategy_code": "s1", "side": "BUY", "product": "NRML"}
    metrics = ServiceMetrics(fno_paper)
    server = await start_control(fno_paper, port=0, token=None, metrics=metrics)
    try:
        async with aiohttp.ClientSession() as http:

            async def post(payload: dict[str, Any]) -> int:
                async with http.post(server.url + "/intents", data=json.dumps(payload)) as resp:
                    return resp.status

            unsliced = await post({**body, "qty": 65, "intent_id": "whole"})
            await fno_paper.bus.drain()  # the metrics subscriber has seen every result
            after_unsliced = metrics.intent_latency.count
            sliced = await post({**body, "qty": 3900, "intent_id": "big", "slice": True})
            await fno_paper.bus.drain()
            after_sliced = metrics.intent_latency.count
            repeated = await post({**body, "qty": 3900, "intent_id": "big", "slice": True})
            await fno_paper.bus.drain()
    finally:
        await server.stop()
        metrics.close()

    assert (unsliced, sliced, repeated) == (200, 200, 200)
    assert after_unsliced == 1
    assert after_sliced == 1 + len(SLICES)  # one intent-to-result latency per slice sent
    assert metrics.intent_latency.count == after_sliced  # answered from the journal: nothing new
