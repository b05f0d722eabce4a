"""NATS connection helpers: a server URL fit to show, a pull subscription made while NATS comes and goes,
intents given back, a connection closed for good.

They sit apart from :mod:`execsvc.bus.nats` so that the producer client (:mod:`execsvc.remote`) closes
its connection the same way the executor's bus does.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("execsvc.nats")


def without_credentials(url: str) -> str:
    """A server URL fit to show: ``nats://user:pass@host:4222`` as ``nats://***@host:4222``.

    NATS takes a user and password, or a token, in the URL itself; ``status`` is shown on
    ``/status`` and in every status frame of the live page's event stream.
    """
    scheme, sep, rest = url.rpartition("://")
    _, at, host = rest.rpartition("@")
    return f"{scheme}{sep}***@{host}" if at else url


async def pull_subscription(
    js: Any,
    subject: str,
    *,
    durable: str,
    stream: str,
    config: Any,
    stopping: Callable[[], bool],
    on_error: Callable[[], None],
) -> Any | None:
    """A JetStream pull subscription, tried again while NATS is away (each failure logged and
    counted by ``on_error``); None once ``stopping()`` says to give up.

    Its failure used to end the executor's intake task, and with it the service's task group: NATS
    gone right after start-up turned the next stop into an ExceptionGroup of ``nats: timeout``.

    Error handling: only NATS's own errors are retried; cancellation and anything else propagate.
    """
    from nats.errors import Error as NatsError

    delay = 0.25
    while not stopping():
        try:
            return await js.pull_subscribe(subject, durable=durable, stream=stream, config=config)
        except NatsError as exc:  # NATS down or reconnecting (nats: timeout): not a bug
            on_error()
            log.warning("NATS intake could not subscribe (%s); retrying in %.2f s", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
    log.warning("NATS intake stopped before it could subscribe: this instance took no intents")
    return None


async def give_back(msgs: list[Any]) -> None:
    """Negatively acknowledge fetched intents, so that JetStream redelivers them without waiting."""
    for msg in msgs:
        try:
            await msg.nak()
        except Exception as exc:  # redelivered anyway once ack_wait passes
            log.warning("could not give an intent back (%s); it is redelivered after ack_wait", exc)


async def close_connection(nc: Any) -> None:
    """Drain and close a NATS connection, whatever state it is in.

    nats-py refuses to drain a connection that is reconnecting (NATS is down) and may give up a
    drain past its timeout; either way the connection is closed after, or it would go on
    reconnecting in tasks of its own after its owner ended. A close that fails all the same is
    logged, not raised, so the service's close goes on to sync and close the journal.
    """
    if nc is None or nc.is_closed:
        return
    try:
        await nc.drain()
    except Exception as exc:  # closing is best effort: what was not drained is redelivered
        log.warning("NATS drain failed (%s); closing the connection", exc)
    if not nc.is_closed:
        # nats-py's close writes what it still holds for the server (its pings) to the socket NATS
        # cut, fails there, and skips the rest: its subscriptions' tasks are left running. Nothing
        # can reach a server that is gone, so it is dropped (nats-py has no API for it: these are
        # private fields of nats-py 2.x, looked up so that a release without them only brings back
        # the failed close below, which is logged)
        if not nc.is_connected and isinstance(getattr(nc, "_pending", None), list):
            nc._pending.clear()
            nc._pending_data_size = 0
        try:
            await nc.close()
        except Exception as exc:  # nats-py writes what it still holds to a socket NATS already cut
            log.warning("NATS close failed (%s); the connection is given up", exc)
