"""Results read by a strategy runner through ``svc.results()``: when reading starts, and when it ends."""

from __future__ import annotations

import asyncio
import gc

from execsvc import ExecutionResult, ExecutionService, OrderIntent
from tests.conftest import OPEN_NS, SECOND, make_config, tick


def buy(intent_id: str, **kw: object) -> OrderIntent:
    return OrderIntent(symbol="NSE:INFY", strategy_code="s1", side="BUY", qty=1, intent_id=intent_id, **kw)


async def test_an_iterator_taken_before_an_intent_sees_its_results_though_read_after(journal_dir, clock):
    """``updates = svc.results()`` subscribed only at the first ``async for``: the PLACED and the
    FILLED of a resting order sent meanwhile were lost, and the loop waited for a fill for ever."""
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        updates = svc.results()
        placed = await svc.execute_intent(buy("r1", order_type="LIMIT", price=1490.0))
        await svc.on_tick(tick("NSE:INFY", 1489.0, OPEN_NS + 2 * SECOND))  # fills it
        await svc.settle()

        async def until_filled() -> list[str]:
            seen = []
            async for result in updates:
                seen.append(result.status)
                if result.status == "FILLED":
                    return seen
            return seen

        statuses = await asyncio.wait_for(until_filled(), 5)
        await updates.aclose()  # type: ignore[attr-defined]
    assert placed.status == "PLACED"
    assert statuses == ["PLACED", "FILLED"]


async def test_an_iterator_never_read_does_not_hold_the_service_back(journal_dir, clock):
    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        svc.results(maxsize=1)  # taken and dropped at once: it subscribed, nobody will read it
        gc.collect()
        for n in range(3):
            await svc.execute_intent(buy(f"n{n}"))
        await asyncio.wait_for(svc.settle(), 5)
        assert [s.name for s in svc.bus.subscriptions() if s.name == "results-iterator"] == []


async def test_several_iterators_each_see_every_result_and_end_with_the_service(journal_dir, clock):
    svc = ExecutionService(make_config(journal_dir), clock=clock)
    early = svc.results()  # before start: it sees everything from the start on
    await svc.start()
    late = svc.results()

    async def read(stream: object) -> list[str]:
        return [r.intent_id async for r in stream]  # type: ignore[attr-defined]

    readers = [asyncio.create_task(read(s)) for s in (early, late)]
    try:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        for n in range(3):
            await svc.execute_intent(buy(f"m{n}"))
    finally:
        await svc.stop()
    assert await asyncio.wait_for(asyncio.gather(*readers), 5) == [["m0", "m1", "m2"]] * 2


async def test_a_result_seen_by_a_callback_that_raises_still_reaches_the_next_one(journal_dir, clock):
    seen: list[str] = []

    def buggy(result: ExecutionResult) -> None:
        seen.append(result.intent_id)
        raise RuntimeError("a strategy's bug")

    async with ExecutionService(make_config(journal_dir), clock=clock) as svc:
        svc.on_result(buggy)
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        await svc.execute_intent(buy("b1"))
        await svc.execute_intent(buy("b2"))
    assert seen == ["b1", "b2"]


async def test_an_iterator_kept_but_never_read_does_not_hang_the_stop(journal_dir, clock, caplog):
    """A runner took ``svc.results()`` in one branch and never read it: past its bound it held the
    results topic, and the stop (which drains) waited for it for ever."""
    svc = ExecutionService(make_config(journal_dir), clock=clock)
    await svc.start()
    unread = svc.results(maxsize=2)  # kept: not garbage, never read
    try:
        await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
        for n in range(5):
            await svc.execute_intent(buy(f"u{n}"))
    finally:
        await asyncio.wait_for(svc.stop(), 5)
    assert "full at the stop" in caplog.text
    # nothing was lost for it either: read late, it has every result, then the end
    assert [r.intent_id async for r in unread] == [f"u{n}" for n in range(5)]  # type: ignore[attr-defined]


async def test_a_slow_reader_loses_nothing_when_the_service_stops_under_it(journal_dir, clock):
    svc = ExecutionService(make_config(journal_dir), clock=clock)
    await svc.start()
    stream = svc.results(maxsize=1)
    await svc.on_tick(tick("NSE:INFY", 1500.0, OPEN_NS + SECOND))
    for n in range(20):
        await svc.submit(buy(f"s{n}"))
    stopping = asyncio.create_task(svc.stop())  # while the reader has not read anything yet
    seen = [r.intent_id async for r in stream]  # type: ignore[attr-defined]
    await asyncio.wait_for(stopping, 5)
    assert seen == [f"s{n}" for n in range(20)]
