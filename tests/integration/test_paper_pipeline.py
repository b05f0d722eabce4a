"""The assembled paper pipeline: intents through breakers to fills, journal and state."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgspec
import pytest

from execsvc import ExecutionResult, ExecutionService, OrderIntent
from execsvc.clock import ReplayClock
from execsvc.errors import IntentRejectedError, IntentValidationError, ServiceNotRunningError
from execsvc.journal.reader import read_journal
from execsvc.market.ticks import Depth, DepthLevel
from tests.conftest import DAY, OPEN_NS, SECOND, make_config, tick


def journal_events(journal_dir: Path) -> list[dict]:
    path = journal_dir / f"{DAY.isoformat()}.jsonl"
    return [json.loads(line)["ev"] for line in path.read_text().splitlines()]


def kinds(events: list[dict]) -> list[str]:
    return [e["type"] for e in events]


def buy(qty: int = 10, **kw) -> OrderIntent:
    return OrderIntent(
        symbol=kw.pop("symbol", "NSE:INFY"),
        strategy_code=kw.pop("strategy_code", "s1"),
        side=kw.pop("side", "BUY"),
        qty=qty,
        **kw,
    )


def sell(qty: int = 10, **kw) -> OrderIntent:
    return buy(qty, side="SELL", **kw)


async def test_market_buy_and_sell_fill_with_slippage_rounded_against_the_trader(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        bought = await svc.execute_intent(buy(10))
        sold = await svc.execute_intent(sell(10))

    assert (bought.status, bought.filled_qty, bought.avg_price) == ("FILLED", 10, 1500.75)
    assert (sold.status, sold.filled_qty, sold.avg_price) == ("FILLED", 10, 1499.25)
    assert bought.charges > 0 and sold.charges > 0
    events = journal_events(journal_dir)
    assert kinds(events).count("fill") == 2
    position = svc.positions()[0]
    assert position.net_qty == 0
    assert position.realized_gross == pytest.approx((1499.25 - 1500.75) * 10)


async def test_bid_ask_mode_fills_at_the_quote(journal_dir, clock):
    config = make_config(journal_dir, execution={"use_bid_ask_spread": True})
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND, bid=1499.9, ask=1500.1))
        bought = await svc.execute_intent(buy(5))
        sold = await svc.execute_intent(sell(5))
    assert (bought.avg_price, sold.avg_price) == (1500.1, 1499.9)


async def test_limit_marketable_fills_never_worse_than_limit_and_non_marketable_rests(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        marketable = await svc.execute_intent(buy(10, order_type="LIMIT", price=1500.5))
        resting = await svc.execute_intent(buy(10, order_type="LIMIT", price=1490.0))

    assert (marketable.status, marketable.avg_price) == ("FILLED", 1500.5)
    assert resting.status == "PLACED" and resting.filled_qty == 0


async def test_resting_limit_fills_on_the_first_tick_that_crosses_it(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        updates: list[ExecutionResult] = []
        svc.on_result(updates.append)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        placed = await svc.execute_intent(buy(10, order_type="LIMIT", price=1490.0, intent_id="rest1"))
        await svc.on_tick(tick("NSE:INFY", 1495.0, OPEN_NS + 2 * SECOND))
        await svc.on_tick(tick("NSE:INFY", 1489.0, OPEN_NS + 3 * SECOND))
        await svc.on_tick(tick("NSE:INFY", 1480.0, OPEN_NS + 4 * SECOND))
        await svc.settle()

    assert placed.status == "PLACED"
    filled = [u for u in updates if u.intent_id == "rest1" and u.status == "FILLED"]
    assert len(filled) == 1
    assert filled[0].avg_price == 1490.0
    assert filled[0].ts_event == OPEN_NS + 3 * SECOND


async def test_ioc_that_is_not_marketable_is_cancelled(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        result = await svc.execute_intent(buy(10, order_type="LIMIT", price=1490.0, validity="IOC"))
    assert (result.status, result.filled_qty) == ("CANCELLED", 0)
    assert "order_cancelled" in kinds(journal_events(journal_dir))


async def test_stop_loss_triggers_when_the_price_crosses_then_fills(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        updates: list[ExecutionResult] = []
        svc.on_result(updates.append)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(buy(10))
        stop = await svc.execute_intent(sell(10, order_type="SL-M", trigger_price=1490.0, intent_id="stop1"))
        await svc.on_tick(tick("NSE:INFY", 1495.0, OPEN_NS + 2 * SECOND))
        untriggered = [u for u in updates if u.intent_id == "stop1" and u.status == "FILLED"]
        await svc.on_tick(tick("NSE:INFY", 1489.0, OPEN_NS + 3 * SECOND))
        await svc.settle()

    assert stop.status == "PLACED"
    assert untriggered == []
    filled = [u for u in updates if u.intent_id == "stop1" and u.status == "FILLED"]
    assert filled and filled[0].avg_price == 1488.25  # 1489 less 5 bps, rounded down to the tick
    assert "order_triggered" in kinds(journal_events(journal_dir))
    assert svc.positions()[0].net_qty == 0


async def test_depth_walk_fills_across_levels_and_reports_partial(journal_dir, clock):
    config = make_config(journal_dir, execution={"use_depth": True})
    depth = Depth(
        buy=(DepthLevel(100, 1499.9, 1),),
        sell=(DepthLevel(30, 1500.0, 1), DepthLevel(20, 1500.1, 2), DepthLevel(10, 1500.2, 1)),
    )
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND, depth=depth))
        walked = await svc.execute_intent(buy(50))
        short = await svc.execute_intent(buy(50))
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + 2 * SECOND, depth=depth))
        refreshed = await svc.execute_intent(buy(10))

    assert (walked.status, walked.filled_qty) == ("FILLED", 50)
    assert walked.avg_price == pytest.approx((30 * 1500.0 + 20 * 1500.1) / 50)
    # only the 10 at 1500.2 were left: the liquidity the first order took is gone until the next tick
    assert (short.status, short.filled_qty, short.avg_price) == ("PARTIAL", 10, 1500.2)
    assert (refreshed.status, refreshed.avg_price) == ("FILLED", 1500.0)


async def test_no_market_data_rejects_with_the_reason(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        result = await svc.execute_intent(buy(10, symbol="NSE:SBIN"))
    assert result.status == "REJECTED"
    assert result.reject_reason == "no_market_data"
    assert "NSE:SBIN" in (result.message or "")


async def test_invalid_intent_is_rejected_journaled_and_the_service_keeps_running(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        bad = await svc.execute_intent(buy(0, order_type="LIMIT", price=1500.03, intent_id="bad1"))
        with pytest.raises(IntentValidationError) as raised:
            await svc.execute_intent(buy(5, side="HOLD", intent_id="bad2"), raise_on_reject=True)
        good = await svc.execute_intent(buy(5))

    assert bad.status == "REJECTED" and bad.reject_reason == "validation"
    assert "qty=0" in (bad.message or "") and "price=1500.03" in (bad.message or "")
    assert {e["field"] for e in (bad.raw or {})["errors"]} == {"qty", "price"}
    assert [(e.field, e.value) for e in raised.value.errors] == [("side", "HOLD")]
    assert good.status == "FILLED"
    events = journal_events(journal_dir)
    rejected = [e for e in events if e["type"] == "result" and e.get("reject_reason") == "validation"]
    assert [e["intent_id"] for e in rejected] == ["bad1", "bad2"]
    assert not any(e["type"] == "order_accepted" and e["intent_id"].startswith("bad") for e in events)


async def test_idempotent_resubmission_returns_the_original_result_and_places_nothing(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        first = await svc.execute_intent(buy(10, intent_id="same"))
        concurrent = await asyncio.gather(*(svc.execute_intent(buy(99, intent_id="twin")) for _ in range(5)))
        again = await svc.execute_intent(buy(77, intent_id="same"))

    assert again == first
    assert len({r.order_id for r in concurrent}) == 1
    events = journal_events(journal_dir)
    accepted = [e["intent_id"] for e in events if e["type"] == "order_accepted"]
    assert accepted == ["same", "twin"]
    assert svc.positions()[0].net_qty == 109


async def test_result_is_returned_only_after_its_record_is_durable(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        result = await svc.execute_intent(buy(10, intent_id="durable1"))
        on_disk = read_journal(svc.journal.path).records  # type: ignore[arg-type]
        assert any(getattr(r.ev, "intent_id", None) == "durable1" and r.ev == result for r in on_disk)
        assert svc.journal.syncs >= 1


async def test_cancel_a_resting_order_and_halt_blocks_all_but_cancels(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        resting = await svc.execute_intent(buy(10, order_type="LIMIT", price=1400.0))
        await svc.halt("operator test", by="pytest")
        refused = await svc.execute_intent(buy(1))
        cancelled = await svc.cancel_order(resting.order_id or "")
        await svc.resume("done", by="pytest")
        allowed = await svc.execute_intent(buy(1))

    assert refused.status == "REJECTED" and refused.reject_reason == "breaker:halted"
    assert "operator test" in (refused.message or "")
    assert cancelled.status == "CANCELLED"
    assert allowed.status == "FILLED"
    assert {"halted", "resumed"} <= set(kinds(journal_events(journal_dir)))


async def test_max_daily_loss_trips_latches_and_lets_reducing_orders_through(journal_dir, clock):
    config = make_config(journal_dir, execution={"circuit_breakers": {"max_daily_loss_rupees": 100.0}})
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(buy(100))
        await svc.on_tick(tick("NSE:INFY", 1490.0, OPEN_NS + 2 * SECOND))
        await svc.execute_intent(sell(50))  # realizes about -550: over the limit
        opening = await svc.execute_intent(buy(10))
        reducing = await svc.execute_intent(sell(50))
        still_latched = await svc.execute_intent(buy(1))

    assert opening.status == "REJECTED" and opening.reject_reason == "breaker:max_daily_loss"
    assert opening.message is not None and opening.message.startswith("max_daily_loss: realized -")
    assert reducing.status == "FILLED"
    assert still_latched.status == "REJECTED"
    trips = [e for e in journal_events(journal_dir) if e["type"] == "breaker_tripped"]
    assert [t["breaker"] for t in trips] == ["max_daily_loss"]


async def test_reloaded_capital_is_what_the_drawdown_is_measured_against_also_after_a_restart(journal_dir):
    limits = {"capital_rupees": 500_000.0, "max_daily_drawdown_pct": 0.02}
    config = make_config(journal_dir, execution={"circuit_breakers": limits})
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS)) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(buy(100))
        await svc.on_tick(tick("NSE:INFY", 1450.0, OPEN_NS + 2 * SECOND))
        await svc.execute_intent(sell(100))  # about -5,200 net: 1.04 % of 5 lakh, 2.6 % of 2 lakh
        before_reload = await svc.execute_intent(buy(1, intent_id="before"))
        await svc.reload_limits(
            msgspec.structs.replace(config.execution.circuit_breakers, capital_rupees=200_000.0),
            reason="capital cut",
        )
        after_reload = await svc.execute_intent(buy(1, intent_id="after"))
        breakers = svc.breaker_status()

    assert before_reload.status == "FILLED"
    assert (after_reload.status, after_reload.reject_reason) == ("REJECTED", "breaker:max_daily_drawdown")
    assert breakers["peak_equity"] == 200_000.0
    # a restart on the same config folds the journaled reload: the same figures, still latched
    async with ExecutionService(config, clock=ReplayClock(OPEN_NS + 10 * SECOND)) as svc:
        assert svc.breaker_status() == breakers


async def test_an_exit_at_the_entry_price_is_a_losing_trade_net_of_charges(journal_dir, clock):
    config = make_config(journal_dir, execution={"circuit_breakers": {"max_loss_streak": 2}})
    async with ExecutionService(config, clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        for _ in range(2):  # two scratches: gross 0, each exit pays its charges
            await svc.execute_intent(buy(10, order_type="LIMIT", price=1500.0))
            exit_ = await svc.execute_intent(sell(10, order_type="LIMIT", price=1500.0))
            assert (exit_.status, exit_.avg_price) == ("FILLED", 1500.0)
        streak = svc.breaker_status()["loss_streak"]
        opening = await svc.execute_intent(buy(10))

    assert svc.positions()[0].realized_gross == 0.0 and svc.positions()[0].realized_net < 0
    assert streak == 2
    assert (opening.status, opening.reject_reason) == ("REJECTED", "breaker:max_loss_streak")


async def test_failing_subscriber_is_isolated_and_counted(journal_dir, clock):
    def explode(result: ExecutionResult) -> None:
        raise RuntimeError("subscriber bug")

    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        bad = svc.on_result(explode, name="exploding")
        seen: list[str] = []
        svc.on_result(lambda r: seen.append(r.intent_id), name="good")
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        for n in range(3):
            await svc.execute_intent(buy(1, intent_id=f"i{n}"))
        await svc.settle()
        assert bad.failed == 3
        assert seen == ["i0", "i1", "i2"]


async def test_results_async_iterator_yields_results_in_order(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        stream = svc.results()
        reader = asyncio.create_task(anext(stream))
        await asyncio.sleep(0)  # let the iterator subscribe before the intent is sent
        result = await svc.execute_intent(buy(1, intent_id="it1"))
        first = await asyncio.wait_for(reader, 5)
        await stream.aclose()
    assert first == result


async def test_calls_on_a_stopped_service_raise(journal_dir, clock):
    svc = ExecutionService(make_config(journal_dir), clock=clock)
    with pytest.raises(ServiceNotRunningError):
        await svc.execute_intent(buy(1))
    async with svc:
        pass
    with pytest.raises(ServiceNotRunningError):
        await svc.execute_intent(buy(1))


async def test_raise_on_reject_for_a_breaker(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.halt("stop")
        with pytest.raises(IntentRejectedError) as raised:
            await svc.execute_intent(buy(1), raise_on_reject=True)
    assert raised.value.result.reject_reason == "breaker:halted"


@pytest.mark.parametrize("policy", ["always", "batch", "never"])
async def test_every_fsync_policy_writes_the_same_journal(tmp_path, policy):
    async def run(directory: Path) -> bytes:
        config = make_config(directory, journal={"fsync": policy})
        clock = ReplayClock(OPEN_NS)
        async with ExecutionService(config, clock=clock) as svc:
            await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
            for n in range(20):
                await svc.execute_intent(buy(1 + n % 3, intent_id=f"p{n}", side="BUY" if n % 2 else "SELL"))
        return (directory / f"{DAY.isoformat()}.jsonl").read_bytes()

    reference = await run(tmp_path / "reference")
    assert await run(tmp_path / policy) == reference


async def test_modify_a_resting_limit_to_a_marketable_price_fills_it(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        resting = await svc.execute_intent(buy(10, order_type="LIMIT", price=1400.0, intent_id="m1"))
        bigger = await svc.modify_order(resting.order_id or "", qty=20)
        crossed = await svc.modify_order(resting.order_id or "", price=1500.5)
        refused = await svc.modify_order(resting.order_id or "", price=1400.0)
        bad = await svc.execute_intent(buy(5, order_type="LIMIT", price=1400.0, intent_id="m2"))
        invalid = await svc.modify_order(bad.order_id or "", price=1400.03)
        unknown = await svc.modify_order("nope", qty=1)

    assert (bigger.status, bigger.qty, bigger.filled_qty) == ("PLACED", 20, 0)
    assert (crossed.status, crossed.filled_qty, crossed.avg_price) == ("FILLED", 20, 1500.5)
    assert refused.status == "FILLED" and "not modifiable" in (refused.message or "")
    assert invalid.status == "PLACED" and "price=1400.03" in (invalid.message or "")
    assert unknown.reject_reason == "unknown_order"
    events = journal_events(journal_dir)
    assert [e["type"] for e in events].count("order_modified") == 2
    assert [e["type"] for e in events].count("modify_intent") == 5  # refused ones are journaled too


async def test_an_option_the_instruments_file_lacks_is_charged_as_an_option(journal_dir, clock):
    """It was priced as EQ, which has no NFO charges: the fill raised, the intent was REJECTED
    `internal` and trading halted. Its symbol says what it is (…CE)."""
    option = "NFO:NIFTY26DEC24000CE"
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick(option, 100.0, OPEN_NS + SECOND))
        bought = await svc.execute_intent(buy(75, symbol=option, product="NRML"))
        sold = await svc.execute_intent(sell(75, symbol=option, product="NRML"))
        halted = svc.engine.state.breakers.halted_reason
        expected = svc.engine.paper.costs.charges(
            exchange="NFO",
            instrument_type="CE",
            product="NRML",
            side="SELL",
            price=sold.avg_price,
            qty=75,
            trade_day=DAY,
            order_value_before=0.0,
        )
    assert (bought.status, sold.status, halted) == ("FILLED", "FILLED", None)
    assert sold.charges == pytest.approx(expected.total)
