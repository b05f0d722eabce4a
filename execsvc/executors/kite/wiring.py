"""Wiring the live executor into a service: the Kite client, the executor, and guarded tasks."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from execsvc.errors import ConfigError, ExecsvcError
from execsvc.events import BrokerSessionChanged
from execsvc.executors.kite.auth import api_secret, checked_token, load_access_token, token_path, token_source
from execsvc.executors.kite.client import KiteRestClient
from execsvc.executors.kite.live import LiveExecutor
from execsvc.executors.kite.session import KiteSession

if TYPE_CHECKING:
    from execsvc.engine import Engine
    from execsvc.service import ExecutionService

log = logging.getLogger("execsvc.live")

Spawn = Callable[[Coroutine[Any, Any, None]], object]


async def guarded(engine: Engine, coro: Coroutine[Any, Any, None]) -> None:
    """A live order's background work: a failure is logged and halts trading, never the service."""
    try:
        await coro
    except Exception as exc:
        log.exception("a live order task failed")
        try:
            engine.halt(f"internal error in a live order task: {type(exc).__name__}: {exc}", "execsvc")
        except ExecsvcError:  # the journal refused (fenced): nothing more may be written anyway
            log.error("could not journal the halt")


def _journal_session(svc: ExecutionService, state: str, why: str, source: str) -> None:
    svc.engine.emit(BrokerSessionChanged(state=state, reason=why, source=source, ts_event=svc.clock.now_ns()))


async def build_live(
    svc: ExecutionService, *, access_token: str | None, spawn: Spawn
) -> tuple[KiteRestClient | None, LiveExecutor]:
    """The Kite client (none in dry-run) and the live executor, installed as the engine's executor.

    The client's :class:`~execsvc.executors.kite.session.KiteSession` knows where the token
    came from (a file is re-read while the session is expired) and journals its changes.

    Raises:
        BrokerAuthError: no access token (log in with ``execsvc login``).
    """
    cfg = svc.config.kite
    dry_run = svc.config.execution.dry_run
    client = None
    if not dry_run:
        secret = checked_token(access_token, "access_token") if access_token else load_access_token(cfg)
        token = secret.reveal()
        client = KiteRestClient(
            api_key=cfg.api_key,
            access_token=token,
            root=cfg.root,
            timeout=cfg.timeout_seconds,
            limiter=svc.limiter,
        )
        try:  # broker text that echoes the API secret is redacted too
            client.add_secret(api_secret(cfg).reveal())
        except ConfigError:
            pass  # not set in this process: there is nothing of it to leak
        source = token_source(cfg, access_token)
        session = client.auth = KiteSession(
            source=source,
            token_file=token_path(cfg),
            env_var=cfg.access_token_env,
            poll_interval=cfg.poll_interval_seconds,
            now_ns=svc.clock.now_ns,
        )
        # the source as it is then: a token handed over by code (set_access_token) is ``argument``
        session.on_change = lambda state, why: _journal_session(svc, state, why, session.source)
        await client.start()
    engine = svc.engine
    live = LiveExecutor(
        state=engine.state,
        emit=engine.emit,
        flush=svc.journal.flush,
        spawn=lambda coro: spawn(guarded(engine, coro)),
        now_ns=svc.clock.now_ns,
        config=cfg,
        paper=engine.paper,
        client=client,
        limiter=svc.limiter,
        costs=engine.paper.costs,
        instruments=engine.instruments,
        dry_run=dry_run,
        on_unresolved=lambda why: engine.halt(why, "execsvc"),
        max_intent_age_seconds=svc.config.execution.max_intent_age_seconds,
    )
    engine.executor = live
    return client, live
