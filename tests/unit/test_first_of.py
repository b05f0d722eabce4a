"""first_of: the first of several waits decides, and nothing it started outlives it."""

from __future__ import annotations

import asyncio
import gc

import pytest

from execsvc.aio import first_of

GUARD = 5.0  # seconds: a hang guard only, never what a test waits for


class Waiter:
    """An awaitable to race: it waits for ``release`` and records how it ended."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.cancelled = False
        self.ended = False

    async def run(self, result: object = None, error: Exception | None = None) -> object:
        self.started.set()
        try:
            await self.release.wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        finally:
            self.ended = True
        if error is not None:
            raise error
        return result


async def test_the_first_to_finish_wins_and_the_loser_is_cancelled_and_awaited() -> None:
    winner, loser = Waiter(), Waiter()
    winner.release.set()

    index = await asyncio.wait_for(first_of(loser.run(), winner.run()), GUARD)

    assert index == 1
    assert loser.cancelled and loser.ended
    assert not winner.cancelled


async def test_ties_go_to_the_earlier_argument() -> None:
    index = await asyncio.wait_for(first_of(asyncio.sleep(0), asyncio.sleep(0)), GUARD)

    assert index == 0


async def test_the_winners_error_propagates_after_the_loser_has_ended() -> None:
    failing, loser = Waiter(), Waiter()
    failing.release.set()
    failure = ValueError("the winner failed")

    with pytest.raises(ValueError, match="the winner failed"):
        await asyncio.wait_for(first_of(failing.run(error=failure), loser.run()), GUARD)

    assert loser.cancelled and loser.ended


async def test_a_losers_error_raised_while_it_is_cancelled_is_not_dropped() -> None:
    async def fails_when_cancelled() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    with pytest.raises(RuntimeError, match="cleanup failed"):
        await asyncio.wait_for(first_of(fails_when_cancelled(), asyncio.sleep(0)), GUARD)


async def test_a_timeout_cancels_every_wait_and_returns_none() -> None:
    first, second = Waiter(), Waiter()

    index = await asyncio.wait_for(first_of(first.run(), second.run(), timeout=0.01), GUARD)

    assert index is None
    assert first.cancelled and first.ended
    assert second.cancelled and second.ended


async def test_a_timeout_still_raises_an_error_of_a_wait() -> None:
    async def fails_when_cancelled() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    with pytest.raises(RuntimeError, match="cleanup failed"):
        await asyncio.wait_for(first_of(fails_when_cancelled(), timeout=0.01), GUARD)


async def test_a_cancelled_caller_cancels_and_awaits_both_then_the_cancel_propagates() -> None:
    first, second = Waiter(), Waiter()
    caller = asyncio.create_task(first_of(first.run(), second.run()))
    await asyncio.wait_for(asyncio.gather(first.started.wait(), second.started.wait()), GUARD)

    caller.cancel()
    await asyncio.wait([caller], timeout=GUARD)

    assert caller.cancelled()
    assert first.cancelled and first.ended
    assert second.cancelled and second.ended


async def test_a_second_cancel_while_the_losers_end_still_waits_for_them() -> None:
    started, cleaning_up, cleanup_may_end, ended = (asyncio.Event() for _ in range(4))

    async def slow_to_end() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaning_up.set()
            await asyncio.shield(cleanup_may_end.wait())  # its cleanup outlasts a cancel
            ended.set()

    caller = asyncio.create_task(first_of(slow_to_end(), asyncio.Event().wait()))
    await asyncio.wait_for(started.wait(), GUARD)
    caller.cancel()
    await asyncio.wait_for(cleaning_up.wait(), GUARD)

    caller.cancel()  # again, while the loser is still ending
    await asyncio.sleep(0)  # one loop step: the caller's, in which a naive cleanup would give up
    assert not caller.done()
    cleanup_may_end.set()
    await asyncio.wait([caller], timeout=GUARD)

    assert caller.cancelled()
    assert ended.is_set()


async def test_an_error_dropped_with_the_callers_cancel_is_not_logged_as_never_retrieved() -> None:
    loop = asyncio.get_running_loop()
    reported: list[dict[str, object]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    started = asyncio.Event()

    async def fails_when_cancelled() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("dropped with the cancel") from None

    try:
        caller = asyncio.create_task(first_of(fails_when_cancelled(), asyncio.Event().wait()))
        await asyncio.wait_for(started.wait(), GUARD)
        caller.cancel()
        await asyncio.wait([caller], timeout=GUARD)
        del caller
        gc.collect()  # a task with an unretrieved error reports it when it is collected
    finally:
        loop.set_exception_handler(previous)

    assert reported == []


async def test_a_future_that_loses_is_cancelled_and_a_shielded_task_runs_on() -> None:
    kept, lost = Waiter(), asyncio.get_running_loop().create_future()
    running = asyncio.create_task(kept.run(result="kept"))
    try:
        index = await asyncio.wait_for(first_of(asyncio.shield(running), lost, asyncio.sleep(0)), GUARD)

        assert index == 2
        assert lost.cancelled()
        assert not running.done()
    finally:
        kept.release.set()
        assert await asyncio.wait_for(running, GUARD) == "kept"


async def test_a_non_awaitable_argument_cancels_what_was_started() -> None:
    unstarted = asyncio.Event().wait()  # a coroutine never started

    with pytest.raises(TypeError):
        await first_of(Waiter().run(), 42, unstarted)  # type: ignore[arg-type]

    assert [task for task in asyncio.all_tasks() if task is not asyncio.current_task()] == []
    assert unstarted.cr_frame is None  # closed, so it never warns "never awaited"
