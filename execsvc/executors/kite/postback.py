"""Kite postbacks: the HTTP webhook Kite calls on order status changes (FACTS.md section 3.1).

The body is raw JSON; its ``checksum`` must equal SHA-256(order_id + order_timestamp + api_secret).
A bad checksum is refused (HTTP 403) and logged; a good one is queued as a :class:`Postback`, in
order with the WebSocket's and the poller's updates. The checksum proves the order id and its
timestamp only: a captured postback keeps verifying whatever else is changed in its body (a status, a
quantity, a tag). So a postback only says which order changed; what the order is comes from the
broker (``reconcile.apply_postback``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

import msgspec
from aiohttp import web

from execsvc.config import Config
from execsvc.errors import ConfigError
from execsvc.executors.kite.auth import Secret, api_secret
from execsvc.executors.kite.mapping import verify_postback
from execsvc.json_input import UNREADABLE_JSON
from execsvc.logs import register_secret

log = logging.getLogger("execsvc.postback")
_decode = msgspec.json.Decoder().decode


class Postback(NamedTuple):
    """A postback whose checksum matched: its ``order_id`` is Kite's, nothing else in it is proven."""

    payload: dict[str, Any]


Publish = Callable[[Postback], Awaitable[None]]
POSTBACK_PATH = "/kite/postback"
"""Where the daemon's control server takes postbacks (the app's postback URL points here)."""


def postback_handler(
    publish: Publish, api_secret: Secret
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """An aiohttp handler for ``POST /kite/postback`` (:data:`POSTBACK_PATH`)."""

    async def handle(request: web.Request) -> web.Response:
        try:  # read as Kite's other answers are: msgspec also refuses a lone surrogate (\ud800),
            # which the checksum's UTF-8 encoding could not take (a 500), and an integer past 64 bits
            payload = _decode(await request.read())
        except UNREADABLE_JSON:
            log.warning("postback refused: the body is not JSON")
            return web.json_response({"error": "body: not JSON"}, status=400)
        if not isinstance(payload, dict):
            return web.json_response({"error": "body: expected a JSON object"}, status=400)
        if not verify_postback(payload, api_secret.reveal()):
            log.warning(
                "postback refused: bad checksum for order_id=%r status=%r",
                payload.get("order_id"),
                payload.get("status"),
            )
            return web.json_response({"error": "checksum: does not match"}, status=403)
        await publish(Postback(payload))
        return web.json_response({"status": "ok"})

    return handle


def postback_secret(config: Config, mode: str) -> Secret | None:
    """The API secret that checks postbacks, when the daemon should take them: live, not a dry run,
    and the secret set (else a warning: updates still come from the WebSocket and polling)."""
    if mode != "live" or config.execution.dry_run:
        return None
    try:
        secret = api_secret(config.kite)
    except ConfigError:
        log.warning(
            "Kite postbacks are not taken: $%s is not set (order updates come from the WebSocket "
            "and polling)",
            config.kite.api_secret_env,
        )
        return None
    register_secret(secret.reveal())  # never in a log line, whatever quotes it
    return secret
