"""An asyncio Kite Connect REST client on one pooled aiohttp session (FACTS.md sections 1.3, 1.4, 1.7).

Requests look like pykiteconnect's: ``X-Kite-Version: 3`` and ``Authorization: token
api_key:access_token`` on every call, POST/PUT form-encoded, GET/DELETE parameters in the query,
``i`` repeated for quotes. The envelope is stripped: a call returns Kite's ``data``.

Resource handling:
    The client owns the ``aiohttp.ClientSession`` it creates in :meth:`KiteRestClient.start` (or
    ``async with``) and closes it in :meth:`KiteRestClient.close`; a session passed in is used but
    never closed. Either way aiohttp's silent re-send of PUT/DELETE on a dropped keep-alive
    connection is switched off on that session, so an order call is sent at most once.

Error handling (every library error is translated with ``raise ... from``):
    - connection refused, DNS failure or connect timeout: nothing left the process,
      :class:`~execsvc.errors.BrokerUnavailableError` with ``maybe_sent=False``;
    - a timeout, a dropped connection or a broken response after sending:
      ``BrokerUnavailableError(maybe_sent=True)``; so is a 5xx, JSON or not;
    - Kite's error envelopes: :func:`~execsvc.executors.kite.errors.map_kite_error`; an HTTP 429
      also closes the limiter's category for ``penalty_seconds`` and is never retried here;
    - a body that is not JSON (below 500) or is invalid JSON: :class:`~execsvc.errors.BrokerDataError`;
    - a placement's answer below 500 that is neither a clean success nor a clean Kite error
      (:func:`placement_verdict`: a 200 "success" with an ``error_type``, a 4xx without
      ``status: "error"`` or without a known ``error_type``, a 429 that is not JSON):
      ``BrokerDataError``, an unknown outcome that the live executor resolves by the order's tag.
    GETs are retried ``get_retries`` times on ``BrokerUnavailableError`` or a 429 with a doubling
    backoff (after a 429 also behind the limiter's closed gate);
    POST, PUT and DELETE are never retried. No message, log line or repr carries the access token
    or the API secret: every text that comes from the broker (Kite's ``message`` and ``error_type``,
    a body, a value quoted by a parse error) goes through :meth:`KiteRestClient.redact` first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from execsvc.errors import (
    BrokerAuthError,
    BrokerDataError,
    BrokerRateLimitError,
    BrokerUnavailableError,
    ServiceNotRunningError,
)
from execsvc.executors.kite.auth import Secret
from execsvc.executors.kite.envelope import (
    no_silent_resend,
    object_of,
    order_id_of,
    path_segment,
    placement_verdict,
    read_envelope,
    redact_secrets,
)
from execsvc.executors.kite.mapping import form_body, is_our_tag
from execsvc.executors.kite.models import (
    KiteHolding,
    KiteOrder,
    KitePosition,
    KiteTrade,
    parse_holdings,
    parse_order_book,
    parse_orders,
    parse_positions,
    split_trades,
)
from execsvc.executors.kite.ratelimit import RateLimiter
from execsvc.executors.kite.session import KiteSession

__all__ = ["USER_AGENT", "KiteRestClient", "Secret", "placement_verdict"]

USER_AGENT = "execsvc/0.1"
log = logging.getLogger("execsvc.kite.client")
Query = dict[str, str] | list[tuple[str, str]] | None
_T = TypeVar("_T")
_WITHDRAWN = object()  # a placement not sent: at its slot it was no longer wanted (``place_order``)


class KiteRestClient:
    """Kite Connect REST calls; see the module docstring for errors and resources.

    Args:
        api_key: the app's API key.
        access_token: the day's access token (kept in a :class:`Secret`).
        root: the API root, without a path.
        timeout: seconds for a whole request, connect to last byte.
        limiter: the process-wide rate limiter every call goes through (None: unlimited).
        session: an aiohttp session to use instead of creating one (it is not closed here).
        get_retries: how many times a GET is retried after ``BrokerUnavailableError``.
        sleep: the backoff sleep (tests inject a fake).
        retry_backoff: the first backoff in seconds; it doubles on each retry.
        api_secret: the app's API secret, only so that broker text echoing it is redacted.
    """

    def __init__(
        self,
        *,
        api_key: str,
        access_token: str,
        root: str = "https://api.kite.trade",
        timeout: float = 7.0,
        limiter: RateLimiter | None = None,
        session: aiohttp.ClientSession | None = None,
        get_retries: int = 2,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        retry_backoff: float = 0.25,
        api_secret: str | None = None,
    ) -> None:
        self.api_key = api_key
        self.root = root.rstrip("/")
        self.timeout = timeout
        self.limiter = limiter
        self.get_retries = get_retries
        self._sleep = sleep
        self._backoff = retry_backoff
        self._session = session
        self._owns_session = session is None
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._urls: dict[str, URL] = {}
        self._api_secret = Secret(api_secret or "")
        self.auth = KiteSession()  # the service's, with the token's source, replaces it (``wiring``)
        self.set_access_token(access_token)
        if session is not None:
            no_silent_resend(session)

    def set_access_token(self, access_token: str) -> None:
        """Use a new access token (after a new login); the headers are rebuilt once here."""
        self._token = Secret(access_token)
        authorization = f"token {self.api_key}:{access_token}"
        headers = CIMultiDict(
            {"X-Kite-Version": "3", "User-Agent": USER_AGENT, "Authorization": authorization}
        )
        self._headers = CIMultiDictProxy(headers)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
        self._form_headers = CIMultiDictProxy(headers)

    @property
    def access_token(self) -> Secret:
        """The token in use (a :class:`Secret`: it does not print itself)."""
        return self._token

    def add_secret(self, api_secret: str) -> None:
        """Redact ``api_secret`` too from broker text (for a client built without it)."""
        self._api_secret = Secret(api_secret)

    def redact(self, text: str) -> str:
        """``text`` without the access token, the API secret or the ``api_key:access_token`` pair.

        Every broker-provided text goes through here before it reaches an error, a log line, a
        result or the journal (Kite may echo the Authorization header in an error ``message``).
        """
        token = self._token.reveal()
        pair = f"{self.api_key}:{token}" if token else ""  # an empty token makes no pair to hide
        return redact_secrets(text, (pair, token, self._api_secret.reveal()))

    def __repr__(self) -> str:
        return f"KiteRestClient(root={self.root!r}, api_key={self.api_key!r}, access_token={self._token!r})"

    async def start(self) -> None:
        """Open the pooled keep-alive session, unless one was given or is open already."""
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=32, keepalive_timeout=60.0, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, timeout=self._timeout)
            self._owns_session = True
            no_silent_resend(self._session)

    async def close(self) -> None:
        """Close the session if this client created it."""
        session, self._session = self._session, None
        if session is not None and self._owns_session:
            await session.close()

    async def __aenter__(self) -> KiteRestClient:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    # -- orders -----------------------------------------------------------------------------------

    async def place_order(
        self,
        variety: str,
        params: dict[str, str],
        *,
        not_after: float | None = None,
        wanted: Callable[[], bool] | None = None,
    ) -> str | None:
        """``POST /orders/{variety}`` with the form of ``mapping.order_params``; the order id.

        ``not_after`` (by the limiter's clock): not sent if its rate-limit slot would come later.
        ``wanted``: asked at the slot; False (it was cancelled while it waited) sends nothing: None.
        """
        path = f"/orders/{path_segment(variety)}"
        data = await self._call(
            "POST", path, "order", form=params, placement=True, not_after=not_after, wanted=wanted
        )
        return None if data is _WITHDRAWN else self._parsed(lambda d: order_id_of(d, "place"), data)

    async def modify_order(self, variety: str, order_id: str, params: dict[str, str]) -> str:
        """``PUT /orders/{variety}/{order_id}`` with the form of ``mapping.modify_params``.

        Raises:
            BrokerRejectError: the order has used its 25 modifications (before anything is sent).
        """
        path = f"/orders/{path_segment(variety)}/{path_segment(order_id)}"
        self.auth.check("PUT", path)  # before it counts as one of the order's modifications
        if self.limiter is not None:
            self.limiter.note_modification(order_id)
        data = await self._call("PUT", path, "order", form=params)
        return self._parsed(lambda d: order_id_of(d, "modify"), data)

    async def cancel_order(self, variety: str, order_id: str, parent_order_id: str | None = None) -> str:
        """``DELETE /orders/{variety}/{order_id}``; the order id."""
        query = None if parent_order_id is None else {"parent_order_id": parent_order_id}
        path = f"/orders/{path_segment(variety)}/{path_segment(order_id)}"
        data = await self._call("DELETE", path, "order", query=query)
        return self._parsed(lambda d: order_id_of(d, "cancel"), data)

    async def orders(self) -> list[KiteOrder]:
        """``GET /orders``: the day's order book."""
        data = await self._call("GET", "/orders", "other")
        orders, skipped = self._parsed(lambda book: parse_order_book(book, is_our_tag), data)
        for problem in skipped:
            log.warning("%s", self.redact(problem))
        return orders

    async def order_history(self, order_id: str) -> list[KiteOrder]:
        """``GET /orders/{order_id}``: one entry per state change, oldest first."""
        data = await self._call("GET", f"/orders/{path_segment(order_id)}", "other", cache=False)
        return self._parsed(parse_orders, data)

    async def trades(self) -> list[KiteTrade]:
        """``GET /trades``: the day's bookable fills (a bad row is left out and logged, see ``_trades``)."""
        return self._trades(await self._call("GET", "/trades", "other"))

    async def order_trades(self, order_id: str) -> list[KiteTrade]:
        """``GET /orders/{order_id}/trades``: the bookable fills of one order (see ``_trades``)."""
        path = f"/orders/{path_segment(order_id)}/trades"
        return self._trades(await self._call("GET", path, "other", cache=False))

    def _trades(self, data: Any) -> list[KiteTrade]:
        # one bad fill (NaN price, fractional or negative quantity) must not hide the others nor
        # fail the caller: it is left out here, at the edge, with an ERROR naming it
        trades, problems = self._parsed(split_trades, data)
        for problem in problems:
            log.error("%s; trade skipped, not booked", self.redact(problem))
        return trades

    def _parsed(self, parse: Callable[[Any], _T], data: Any) -> _T:
        # a parse error quotes broker values: redact them; chain to the library error beneath it
        # (the unredacted BrokerDataError in between would show in a logged traceback)
        try:
            return parse(data)
        except BrokerDataError as exc:
            raise BrokerDataError(self.redact(str(exc)), http_status=exc.http_status) from exc.__cause__

    # -- portfolio, account, quotes ---------------------------------------------------------------

    async def positions(self) -> dict[str, list[KitePosition]]:
        """``GET /portfolio/positions``: ``{"net": [...], "day": [...]}``."""
        return self._parsed(parse_positions, await self._call("GET", "/portfolio/positions", "other"))

    async def holdings(self) -> list[KiteHolding]:
        """``GET /portfolio/holdings``: the equity delivery stock in the demat account."""
        return self._parsed(parse_holdings, await self._call("GET", "/portfolio/holdings", "other"))

    async def margins(self, segment: str | None = None) -> dict[str, Any]:
        """``GET /user/margins[/{segment}]``."""
        path = "/user/margins" if segment is None else f"/user/margins/{path_segment(segment)}"
        return object_of(await self._call("GET", path, "other"), path)

    async def quote(self, *instruments: str) -> dict[str, Any]:
        """``GET /quote?i=...``: full quotes keyed by ``EXCHANGE:TRADINGSYMBOL``."""
        query = [("i", name) for name in instruments]
        return object_of(await self._call("GET", "/quote", "quote", query=query), "/quote")

    async def ltp(self, *instruments: str) -> dict[str, Any]:
        """``GET /quote/ltp?i=...``: last prices keyed by ``EXCHANGE:TRADINGSYMBOL``."""
        query = [("i", name) for name in instruments]
        return object_of(await self._call("GET", "/quote/ltp", "quote", query=query), "/quote/ltp")

    async def profile(self) -> dict[str, Any]:
        """``GET /user/profile``."""
        return object_of(await self._call("GET", "/user/profile", "other"), "/user/profile")

    # -- plumbing ---------------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        category: str,
        *,
        form: dict[str, str] | None = None,
        query: Query = None,
        placement: bool = False,
        cache: bool = True,
        not_after: float | None = None,
        wanted: Callable[[], bool] | None = None,
    ) -> Any:
        url = self._urls.get(path)
        if url is None:
            url = URL(self.root + path, encoded=True)
            if cache:  # fixed paths only: per-order paths would grow the cache all day
                self._urls[path] = url
        body = None if form is None else form_body(form)
        attempts = 1 + self.get_retries if method == "GET" else 1
        for attempt in range(1, attempts + 1):
            limiter = self.limiter
            granted = (
                None
                if limiter is None
                else await limiter.acquire(category, placement=placement, not_after=not_after)
            )
            try:
                if wanted is not None and not wanted():
                    return _WITHDRAWN
                self.auth.check(method, path)  # a dead token sends nothing, even after a wait here
                return await self._send(method, url, path, category, body, query, placement)
            except BrokerAuthError as exc:
                if exc.http_status is not None:  # the broker's 403, not our own "not sent"
                    self.auth.expire(str(exc))
                raise
            except (BrokerUnavailableError, BrokerRateLimitError) as exc:
                # only GETs get here twice; after a 429 the limiter's gate is closed for a while, so
                # the retry waits there as well: never a tight loop
                if attempt == attempts:
                    raise
                delay = self._backoff * 2 ** (attempt - 1)
                log.warning(
                    "Kite %s %s failed (%s); retry %d/%d in %.2fs",
                    method,
                    path,
                    exc,
                    attempt,
                    attempts - 1,
                    delay,
                )
            finally:
                if limiter is not None and granted is not None:
                    limiter.done(category, granted)  # answered: it reached the broker before now
            await self._sleep(delay)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self,
        method: str,
        url: URL,
        path: str,
        category: str,
        body: bytes | None,
        query: Query,
        placement: bool = False,
    ) -> Any:
        session = self._session
        if session is None:
            raise ServiceNotRunningError("KiteRestClient is not started: use 'async with' or start()")
        headers = self._headers if body is None else self._form_headers
        started = time.perf_counter()
        try:
            async with session.request(
                method, url, data=body, params=query, headers=headers, timeout=self._timeout
            ) as resp:
                status = resp.status
                content_type = resp.headers.get("Content-Type", "")
                raw = await resp.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise self._network_error(method, path, exc, maybe_sent=False) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise self._network_error(method, path, exc, maybe_sent=True) from exc
        if log.isEnabledFor(logging.DEBUG):
            elapsed = (time.perf_counter() - started) * 1000
            log.debug("Kite %s %s -> HTTP %d in %.1f ms", method, path, status, elapsed)
        if status == 429 and self.limiter is not None:
            self.limiter.penalize(self.limiter.config.penalty_seconds, category)
        return read_envelope(method, path, status, content_type, raw, placement=placement, redact=self.redact)

    def _network_error(self, method: str, path: str, exc: BaseException, *, maybe_sent: bool) -> Exception:
        if isinstance(exc, TimeoutError):
            what = f"no response within {self.timeout:g}s ({type(exc).__name__})"
        else:
            what = f"{type(exc).__name__}: {self.redact(str(exc))[:200]}"
        sent = "may have been sent" if maybe_sent else "was not sent"
        return BrokerUnavailableError(
            f"Kite {method} {path}: {what}; the request {sent}", maybe_sent=maybe_sent
        )
