"""The NATS results forwarder: every result the engine publishes in process goes out to JetStream too.

Each lands on ``execsvc.<account>.results.<strategy>.<intent hash>`` for remote producers and
dashboards. It is apart from :mod:`execsvc.bus.nats` (the bus object) and :mod:`execsvc.bus.intake`
(intents in) because it is the one path out, with a retry policy of its own.

Error handling: a publish that fails (NATS restarting) is retried with backoff until stored, except
once a stop began with NATS down: the results are journaled already, and a stop cannot wait for NATS.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from execsvc.bus.intake import IntakeStats
from execsvc.bus.wire import result_message
from execsvc.events import ExecutionResult

log = logging.getLogger("execsvc.nats")


async def forward_results(
    js: Any,
    account: str,
    results: list[ExecutionResult],
    *,
    stats: IntakeStats,
    give_up: Callable[[], bool],
) -> None:
    """Publish ``results`` to JetStream, retrying until they are stored (NATS may be restarting).

    Each result carries its own ``Nats-Msg-Id``, so a retry never stores one twice; while NATS is
    away the results queue up here and, through the bounded bus, slow the executor down.

    Args:
        js: the JetStream context.
        account: ``bus.nats.account`` (names the subjects).
        results: a batch from the in-process results topic.
        stats: ``publish_retries`` and ``results_given_up`` are counted here.
        give_up: asked before each try; True drops what is left (logged), for a stop with NATS down.
    """
    pending = list(results)
    delay = 0.05
    while pending:
        if give_up():
            log.warning("%d results not published: NATS is down as the service stops", len(pending))
            stats.results_given_up += len(pending)
            return
        messages = [result_message(account, r) for r in pending]
        outcomes = await asyncio.gather(
            *(js.publish(subject, body, headers=headers) for subject, body, headers in messages),
            return_exceptions=True,
        )
        pending = [r for r, outcome in zip(pending, outcomes) if isinstance(outcome, Exception)]
        if pending:
            stats.publish_retries += 1
            log.warning("%d results not yet published to NATS; retrying in %.2f s", len(pending), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
