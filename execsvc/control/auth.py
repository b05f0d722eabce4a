"""Who may talk to the control API: bearer tokens, bind checks and a log format that never shows them.

Every request carries ``Authorization: Bearer <token>``, compared in constant time
(:func:`hmac.compare_digest`). Three exceptions:

- ``GET /health`` is open, so a load balancer or supervisor can probe liveness;
- ``POST /kite/postback`` (live only, when the API secret is set) is Kite's webhook: Kite cannot send
  our token, so the body's checksum (SHA-256 with the API secret) is its proof;
- ``GET /`` (the HTML page shell) also accepts the token as a ``?token=`` query parameter, since a
  browser cannot add a header to a navigation. The page's script stores it in ``sessionStorage``,
  removes it from the address bar with ``history.replaceState`` and sends it as a header on every
  fetch (a reload therefore needs the ``?token=`` link again).

With no token configured, authentication is off; :func:`check_bind` allows that only on a loopback
address. The token never reaches a log: :class:`RedactedAccessLogger` writes the path without its
query string, and error messages never include header values.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import stat
from pathlib import Path

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler, Middleware

from execsvc.control.responses import json_response
from execsvc.errors import ConfigError

log = logging.getLogger("execsvc.control")

TOKEN_ENV = "EXECSVC_CONTROL_TOKEN"
OPEN_PATHS = frozenset({"/health"})
"""Paths served to anyone with GET or HEAD."""
SIGNED_PATHS = frozenset({"/kite/postback"})
"""POST paths whose body carries its own proof (Kite's postback checksum): no bearer token."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost``, 127.0.0.0/8 or ::1 (brackets allowed)."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve an unauthenticated API beyond this machine.

    Raises:
        ConfigError: ``host`` is not a loopback address and no token is configured.
    """
    if token is None and not is_loopback(host):
        raise ConfigError(
            f"control.host={host!r}: the control API binds beyond loopback without a token; "
            f"set {TOKEN_ENV} or a token file, or bind 127.0.0.1"
        )


def load_control_token(env: str = TOKEN_ENV, file: str | None = None) -> str | None:
    """The control API token: the environment variable ``env`` first, else ``file``.

    Args:
        env: the environment variable to read.
        file: a file holding the token; it must not be readable by group or others (mode 0600).

    Returns:
        The token, or None when neither is set.

    Raises:
        ConfigError: the file is missing, empty, or has a mode other than owner-only (names path and mode).
    """
    value = os.environ.get(env, "").strip()
    if value:
        return value
    if file is None:
        return None
    path = Path(file)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise ConfigError(f"control token file {path}: {exc.strerror}") from exc
    if mode & 0o077:
        raise ConfigError(f"control token file {path}: mode {mode:04o}, must be 0600 (chmod 600 {path})")
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise ConfigError(f"control token file {path}: empty")
    return token


def _bearer(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials:
        return credentials.strip()
    return None


def _matches(given: str | None, expected: bytes) -> bool:
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected)


def auth_middleware(token: str | None) -> Middleware:
    """A middleware that answers 401 ``{"error": "unauthorized"}`` without the right token.

    With ``token=None`` every request passes (see :func:`check_bind`).
    """
    expected = token.encode("utf-8") if token is not None else None

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if expected is None:
            return await handler(request)
        if request.method == "POST" and request.path in SIGNED_PATHS:
            return await handler(request)  # the handler checks the signature (and refuses without it)
        if request.method in ("GET", "HEAD"):
            if request.path in OPEN_PATHS:
                return await handler(request)
            if request.path == "/" and _matches(request.query.get("token"), expected):
                return await handler(request)
        if _matches(_bearer(request), expected):
            return await handler(request)
        return json_response({"error": "unauthorized"}, status=401, headers={"WWW-Authenticate": "Bearer"})

    return authenticate


class RedactedAccessLogger(AbstractAccessLogger):
    """One line per request: remote, method, path without the query string, status and time."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Write the access line (never the query string nor any header: the token may be in them)."""
        self.logger.info(
            "%s %s %s %d %.1fms", request.remote, request.method, request.path, response.status, time * 1000
        )
