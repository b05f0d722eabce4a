"""The Kite Connect adapter's building blocks: pure mappings, error mapping, rate limiter, REST client.

- :mod:`.mapping`: intents to request forms, statuses, tags and checksums (pure).
- :mod:`.models`: Kite's order, trade and position dicts as Structs (pure).
- :mod:`.errors`: Kite error envelopes to execsvc's exception tree.
- :mod:`.ratelimit`: the process-wide limiter that queues calls rather than exceed Kite's limits.
- :mod:`.client`: the asyncio REST client on one pooled aiohttp session.
"""

from execsvc.executors.kite.client import USER_AGENT, KiteRestClient, Secret
from execsvc.executors.kite.errors import ERROR_TYPES, map_kite_error
from execsvc.executors.kite.mapping import (
    KITE_STATUSES,
    TAG_PREFIX,
    is_terminal,
    modify_params,
    order_params,
    postback_checksum,
    result_status,
    session_checksum,
    tag_for,
    verify_postback,
)
from execsvc.executors.kite.models import (
    KiteOrder,
    KitePosition,
    KiteTrade,
    parse_order,
    parse_orders,
    parse_positions,
    parse_trade,
    parse_trades,
)
from execsvc.executors.kite.ratelimit import CATEGORIES, RateLimiter

__all__ = [
    "CATEGORIES",
    "ERROR_TYPES",
    "KITE_STATUSES",
    "TAG_PREFIX",
    "USER_AGENT",
    "KiteOrder",
    "KitePosition",
    "KiteRestClient",
    "KiteTrade",
    "RateLimiter",
    "Secret",
    "is_terminal",
    "map_kite_error",
    "modify_params",
    "order_params",
    "parse_order",
    "parse_orders",
    "parse_positions",
    "parse_trade",
    "parse_trades",
    "postback_checksum",
    "result_status",
    "session_checksum",
    "tag_for",
    "verify_postback",
]
