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

The file is re-read only when the token came from it: one from the environment cannot change
under a running process. An embedder hands a new token in by code instead
(``ExecutionService.set_access_token``: :func:`hand_over`), which swaps it in the same way, at once,
and reconciles in the same way when the session had expired.

Error handling: a failure of one pass is logged and the watch goes on; a journal that refuses
writes (fenced) ends it. Resource handling: runs in the service's task group until cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from execsvc.errors import BrokerAuthError, BrokerError, ConfigError, JournalError
from execsvc.events import Reconciled
from execsvc.executors.kite.auth import checked_token, load_access_token
from execsvc.executors.kite.live import LiveExecutor
from execsvc.executors.kite.session import EXPIRED, RESTORING, VALID
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
    async with session.lock:  # not while an embedder's hand-over reconciles
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
        return await _reconcile(live, reconcile_again)


async def hand_over(live: LiveExecutor, reconcile_again: Reconcile, token: str) -> str:
    """Swap in a token handed over by code, as a new token in the file is (``set_access_token``).

    While the session is valid (a token renewed ahead of Kite's 6 AM expiry) the REST client and
    the ticker use it from now on, nothing else changes. While it is expired (or restoring) the
    start-up reconciliation runs with it first; intents stay refused until it is done. The token
    never reaches a log line or the journal (it is registered as a secret before anything else).

    Returns:
        The session's state after: ``valid``, or ``restoring`` when the reconciliation failed on
        broker trouble (tried again every ``kite.poll_interval_seconds``, as after a file re-read).

    Raises:
        BrokerAuthError: the token cannot be carried by an HTTP header, is the one the broker
            refused already, or the broker refused it too (the session stays expired).
    """
    client = live.client
    assert client is not None
    session = client.auth
    secret = checked_token(token, "set_access_token")
    register_secret(secret.reveal())
    async with session.lock:
        refused = session.state == EXPIRED and (
            secret.reveal() == client.access_token.reveal()
            or (session.tried is not None and secret.reveal() == session.tried.reveal())
        )
        if refused:
            raise BrokerAuthError(
                "set_access_token: the broker refused this token already: log in again "
                "(`execsvc login`) and hand over the new one",
                error_type="TokenException",
            )
        session.source = "argument"  # the advice now names this call
        if secret.reveal() == client.access_token.reveal():
            return session.state  # the one in use: nothing to swap
        client.set_access_token(secret.reveal())
        if session.state == VALID:
            session.handed(secret)
            log.warning("a new Kite access token was handed over: in use from now on")
            return VALID
        session.restoring(secret)
        log.warning("a new Kite access token was handed over: reconciling with the broker")
        if not await _reconcile(live, reconcile_again) and session.state == EXPIRED:
            raise BrokerAuthError(
                f"set_access_token: the broker refused the new token too ({session.reason})",
                error_type="TokenException",
            )
        return session.state


async def _reconcile(live: LiveExecutor, reconcile_again: Reconcile) -> bool:
    session = live.client.auth if live.client is not None else None
    if session is None or session.state != RESTORING:
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
