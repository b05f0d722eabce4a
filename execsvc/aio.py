"""Waiting for the first of several things, with nothing left running after.

A wait for "whichever comes first" (a clock or a wake-up, a stream or a stop, a failure or an end)
is easy to get subtly wrong: a loser cancelled but not awaited outlives its caller, a loser's
error is never retrieved, a caller cancelled while it waits leaves both waits running. This module
gets that right once.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Iterable

__all__ = ["first_of"]


async def first_of(
    first: Awaitable[object],
    *others: Awaitable[object],
    timeout: float | None = None,  # noqa: ASYNC109 - running out is an outcome here, not an error
) -> int | None:
    """Wait until the first of the awaitables finishes (or ``timeout`` seconds pass), then cancel
    the others and wait for them to end.

    Each awaitable is wrapped in a task (a task or future is used as it is, and so cancelled when
    it loses: pass ``asyncio.shield(task)`` for one that must run on). The results are not kept: a
    caller that wants one passes its own task and reads it after.

    Args:
        first, others: what to wait for; the order breaks ties (several finished at once).
        timeout: seconds to wait at most (None: no limit). Running out is no error.

    Returns:
        The position (0 for ``first``) of the one that finished first, or None when the timeout
        came first.

    Raises:
        Exception: the error of the one that finished first; else the first error (in argument
            order) of another that failed too or raised while it was cancelled: a loser's error is
            not lost behind a winner that returned (when several failed, the others' are dropped).
        asyncio.CancelledError: the caller was cancelled; every awaitable was cancelled and has
            ended before it propagates (their errors are then dropped with the cancel).

    Resource handling: nothing started here outlives the call, also when the caller is cancelled
    again while the losers end.
    """
    awaitables = (first, *others)
    tasks: list[asyncio.Future[object]] = []
    try:
        for awaitable in awaitables:
            tasks.append(asyncio.ensure_future(awaitable))
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    except BaseException:
        _close_unstarted(awaitables[len(tasks) :])
        await _cancel_and_wait(tasks)
        raise
    await _cancel_and_wait(tasks)
    # those done before the cancels come first, each group in argument order (sorted is stable)
    for task in sorted(tasks, key=lambda task: task not in done):
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
    return next((index for index, task in enumerate(tasks) if task in done), None)


async def _cancel_and_wait(tasks: list[asyncio.Future[object]]) -> None:
    """Cancel ``tasks`` and wait until every one has ended, then retrieve their errors (raised by
    the caller, or dropped with its cancel, never logged as "never retrieved").

    A cancel of the caller meanwhile does not cut the wait short: it is raised once all have ended.
    """
    for task in tasks:
        task.cancel()
    interrupted: asyncio.CancelledError | None = None
    while tasks and not all(task.done() for task in tasks):
        try:
            await asyncio.wait(tasks)
        except asyncio.CancelledError as exc:
            interrupted = exc
    for task in tasks:
        if not task.cancelled():
            task.exception()
    if interrupted is not None:
        raise interrupted


def _close_unstarted(awaitables: Iterable[Awaitable[object]]) -> None:
    # a coroutine never wrapped (a later argument was no awaitable) would warn "never awaited"
    for awaitable in awaitables:
        if inspect.iscoroutine(awaitable):
            awaitable.close()
