"""A new Kite token picked up without a restart, and the reconciliation that follows it.

While the session is expired (``session``), the token file is re-read every
``kite.poll_interval_seconds`` (the live executor's sleep). A token other than the dead one (and
than the last one tried) is swapped into the REST client, the session is ``restoring``, and the
start-up reconciliation runs with it: what the broker did while we were blind (fills,
cancellations, an order of unknown outcome that got placed) is applied, and a position mismatch
halts as at start-up. Then the session is valid again: the waiting lookups go on and intents are
placed again (the ticker got the token with the swap, and reconnected with it). A token that
the broker refuses too puts the session back to expired (one ERROR per token); a
reconciliation that fails on broker trouble is tried again every interval with the same token.

Only a token file can change under a running process: with the token from the environment or
handed in by an embedder, this does nothing (the session's ERROR said to restart).

Error handling: a failure of one pass is logged and the watch goes on; a journal that refuses
writes (fenced) ends it. Resource handling: runs in the service's task group until cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from execsvc.errors import BrokerAuthError, BrokerError, ConfigError, JournalError
from execsvc.events import Reconciled
from execsvc.executors.kite.auth import load_access_token
from execsvc.executors.kite.live import LiveExecutor
from execsvc.executors.kite.session import EXPIRED, RESTORING
from execsvc.logs import register_secret

log = logging.getLogger("execsvc.kite.session")

Reconcile = Callable[[], Awaitable[Reconciled]]
"""The start-up reconciliation, run again (``reconcile(..., running=True)``)."""


async def watch_session(live: LiveExecutor, reconcile_again: Reconcile) -> None:
    """Every ``kite.poll_interval_seconds``, while the session is not valid: :func:`restore_pass`."""
    while True:
        await live.sleep(live.config.poll_interval_seconds)
        if live.client is None or live.client.auth.valid:
            continue
        try:
            await restore_pass(live, reconcile_again)
        except JournalError as exc:
            log.error("Kite session watch stopped: %s", exc)
            return
        except Exception:
            log.exception("Kite session watch pass failed; it goes on")


async def restore_pass(live: LiveExecutor, reconcile_again: Reconcile) -> bool:
    """One look at the token file (expired) or one more reconciliation (restoring).

    Returns:
        Whether the session is valid again.
    """
    client = live.client
    assert client is not None
    session = client.auth
    if session.state == EXPIRED:
        if session.source != "file":
            return False
        try:
            token = load_access_token(live.config)
        except (BrokerAuthError, ConfigError) as exc:
            log.debug("Kite token file not usable yet: %s", exc)
            return False
        if token.reveal() == client.access_token.reveal():
            return False  # the dead one: not logged in again yet
        if session.tried is not None and token.reveal() == session.tried.reveal():
            return False  # refused already
        register_secret(token.reveal())  # before anything could log it
        client.set_access_token(token.reveal())
        session.restoring(token)
        log.warning("a new Kite access token in %s: reconciling with the broker", session.token_file)
    if session.state != RESTORING:
        return False
    try:
        report = await reconcile_again()
    except BrokerAuthError:
        return False  # refused too: the client's hook put the session back to expired, said so
    except BrokerError as exc:
        log.warning("reconciliation with the new Kite token failed (%s); trying again", exc)
        return False
    session.restored(_summary(report))
    return True


def _summary(report: Reconciled) -> str:
    parts = [f"reconciled: {report.orders_checked} working orders checked"]
    for what, names in (
        ("updated", report.orders_updated),
        ("adopted", report.orders_adopted),
        ("gone", report.orders_gone),
        ("failed", report.orders_failed),
    ):
        if names:
            parts.append(f"{what} {', '.join(names)}")
    if report.position_mismatches:
        parts.append("position mismatches: " + "; ".join(report.position_mismatches))
    return "; ".join(parts)
