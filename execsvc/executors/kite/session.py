"""The Kite API session as this process sees it: valid, expired (or invalidated), or restoring.

Kite's access token "will expire at 6 AM on the next day ... unless invalidated (API logout or
master logout from Kite web)" (FACTS.md 1.5); from then on every call is answered HTTP 403
``TokenException`` (``BrokerAuthError``). The states:

- ``valid``: calls go out.
- ``expired``: the first 403 ``TokenException`` from any call (REST or the WebSocket handshake)
  puts the session here, with one ERROR saying what to do. Nothing more is sent with the dead
  token: a REST call fails at once with ``BrokerAuthError`` ("not sent"), a new intent is
  REJECTED ``session_expired`` before it becomes an order, a cancel or a modification is answered
  that it cannot reach the broker, an order of unknown outcome stays unknown (its lookups wait for
  a valid session, never resend), the poller rests and the ticker retries slowly.
- ``restoring``: a new token is in (``execsvc login`` rewrote the token file, re-read every
  ``kite.poll_interval_seconds``: ``relogin``), in the REST client and the ticker; the start-up
  reconciliation runs with it. Calls go out; intents are still refused until it is done, then
  the session is ``valid`` again.

A token from the environment cannot change in a running process: the ERROR says so, and what to
do (restart after ``execsvc login``). One handed to the service by its embedder is replaced by
code (``ExecutionService.set_access_token``, ``relogin.hand_over``): the ERROR names that call.
Nothing here holds, logs or prints a token: the messages come from errors already redacted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from execsvc.errors import BrokerAuthError
from execsvc.executors.kite.auth import Secret

log = logging.getLogger("execsvc.kite.session")

VALID, EXPIRED, RESTORING = "valid", "expired", "restoring"
SOURCES = ("file", "env", "argument")


class KiteSession:
    """See the module docstring.

    Args:
        source: where the token came from: ``file`` (re-read while expired), ``env`` or ``argument``.
        token_file: the token file ``execsvc login`` writes (named in the advice).
        env_var: the environment variable the token is read from first.
        poll_interval: how often the token file is re-read while expired (named in the advice).
        on_change: called with (state, reason) when the session expires or is restored (the
            service journals it); a failure there is logged, never raised into a broker call.
        now_ns: the clock.
    """

    def __init__(
        self,
        *,
        source: str = "argument",
        token_file: Path | None = None,
        env_var: str = "KITE_ACCESS_TOKEN",
        poll_interval: float = 1.0,
        on_change: Callable[[str, str], None] | None = None,
        now_ns: Callable[[], int] | None = None,
    ) -> None:
        if source not in SOURCES:
            raise ValueError(f"source={source!r}: expected one of {SOURCES}")
        self.source = source
        self.token_file = token_file
        self.env_var = env_var
        self.poll_interval = poll_interval
        self.on_change = on_change
        self.now_ns = now_ns
        self.state = VALID
        self.reason = ""
        self.since_ns: int | None = None
        self.expirations = 0
        self.restorations = 0
        self.refused = 0
        self.tried: Secret | None = None  # the last token taken from the file (a dead one is not retried)
        self._listeners: list[Callable[[str], None]] = []
        self._valid = asyncio.Event()
        self._valid.set()
        self._waiters: list[tuple[str, asyncio.Future[None]]] = []
        self.lock = asyncio.Lock()  # one swap and reconciliation at a time (file watch, hand-over)

    def __repr__(self) -> str:
        return f"KiteSession(state={self.state}, source={self.source})"

    @property
    def valid(self) -> bool:
        """Whether calls go out and intents are placed."""
        return self.state == VALID

    def advice(self) -> str:
        """What the trader does to get a session back, for this token's source."""
        path = self.token_file or "the token file"
        if self.source == "file":
            return (
                f"run `execsvc login` (it writes {path}): the service re-reads it every "
                f"{self.poll_interval:g} s and goes on with the new token, without a restart"
            )
        if self.source == "env":
            return (
                f"the token comes from ${self.env_var}, which a running process cannot re-read: "
                f"unset it, run `execsvc login` (it writes {path}) and restart the service"
            )
        return (
            "the token was handed to the service by code: log in again (`execsvc login`) and hand "
            "the new one over with `await svc.set_access_token(token)`, without a restart"
        )

    def expire(self, why: str) -> None:
        """A 403 ``TokenException`` (``why``, already redacted): the first one says so, once."""
        if self.state == EXPIRED:
            log.debug("Kite session still expired: %s", why)
            return
        restoring = self.state == RESTORING
        self.state, self.reason = EXPIRED, why
        self._valid.clear()
        self.since_ns = self.now_ns() if self.now_ns is not None else None
        if restoring:  # the new token was refused too: still one line per token tried
            log.error("the new Kite access token was refused too (%s); %s", why, self.advice())
            self._notify()
            return
        self.expirations += 1
        log.error(
            "Kite session expired or invalidated (%s): nothing is sent to the broker, new intents "
            "are refused and orders of unknown outcome wait; %s",
            why,
            self.advice(),
        )
        self._changed(EXPIRED, why)

    def check(self, method: str, path: str) -> None:
        """Raise, without sending anything, while the session is expired.

        Raises:
            BrokerAuthError: the session is expired.
        """
        if self.state == EXPIRED:
            raise BrokerAuthError(
                f"Kite {method} {path}: not sent: the Kite session expired or was invalidated; "
                + self.advice(),
                error_type="TokenException",
            )

    def refusal(self) -> str | None:
        """None while intents may be placed, else why not (counted: a refused intent)."""
        if self.state == VALID:
            return None
        self.refused += 1
        what = "expired or was invalidated" if self.state == EXPIRED else "is being restored"
        return f"not sent: the Kite session {what} ({self.reason}); {self.advice()}"

    def restoring(self, token: Secret) -> None:
        """A new token from the file is being tried (the client has it already); listeners (the
        ticker) get it now, so that none of them tries the dead one meanwhile and takes its 403
        for the new token's."""
        self.tried = token
        self.state = RESTORING
        self._notify()
        for listener in self._listeners:
            listener(token.reveal())

    def handed(self, token: Secret) -> None:
        """A new token while the session is valid (renewed ahead of the expiry): the client has it
        already; listeners (the ticker) get it for their next connection. Nothing else changes."""
        self.tried = None
        for listener in self._listeners:
            listener(token.reveal())

    def restored(self, summary: str) -> None:
        """The new token works and the reconciliation ran (``summary``): valid again."""
        self.state, self.reason, self.since_ns = VALID, "", None
        self.restorations += 1
        self._valid.set()
        log.warning("Kite session restored with a new access token; %s", summary)
        self._changed("restored", summary)

    def on_token(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` with each new token swapped in (the ticker reconnects with it)."""
        self._listeners.append(listener)

    async def wait_valid(self) -> None:
        """Return once the session is valid (at once when it is)."""
        await self._valid.wait()

    async def wait_state(self, state: str) -> None:
        """Return once the session is in ``state`` (for drills and tests: await it under a timeout)."""
        if self.state == state:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append((state, waiter))
        await waiter

    def to_dict(self) -> dict[str, Any]:
        """The status (no token): state, reason, since when, source, what to do, counts."""
        return {
            "state": self.state,
            "reason": self.reason or None,
            "since_ns": self.since_ns,
            "source": self.source,
            "action": None if self.valid else self.advice(),
            "expirations": self.expirations,
            "restorations": self.restorations,
            "intents_refused": self.refused,
        }

    def _notify(self) -> None:
        waiting, self._waiters = self._waiters, []
        for wanted, waiter in waiting:
            if wanted == self.state and not waiter.done():
                waiter.set_result(None)
            elif not waiter.done():
                self._waiters.append((wanted, waiter))

    def _changed(self, state: str, reason: str) -> None:
        self._notify()
        if self.on_change is None:
            return
        try:
            self.on_change(state, reason)
        except Exception:  # the journal refused (closing, fenced): the log line above still says it
            log.exception("could not journal the Kite session's change to %s", state)
