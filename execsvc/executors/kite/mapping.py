"""Pure Kite mappings: intents to request forms, broker dicts to Structs, statuses, checksums.

Nothing here does I/O or reads a clock (FACTS.md sections 1.3, 1.5, 2.1, 2.3, 3.1, 5.2, 5.3). The
order, trade, position and holding Structs and their parsers live in ``models`` (re-exported here).

Form fields are built (and ``form_body`` encodes them) the way pykiteconnect 5.2.2 builds them:
its keyword arguments, in its order, without the ``None`` ones, path parameters included
(``variety`` for a placement, ``variety`` and ``order_id`` for a modification). Numbers are
rendered with ``str``, except that an integral float is rendered as an integer, so
``market_protection=-1.0`` from the config goes out as ``-1`` and ``price=1501.0`` as ``1501``
(what a caller passing ints to pykiteconnect sends).

Error handling:
    ``order_params`` and ``modify_params`` raise :class:`~execsvc.errors.ValidationError` naming
    the field and the value. The ``parse_*`` functions raise
    :class:`~execsvc.errors.BrokerDataError` naming the field (with its index in a list) and the
    value, for a broker response that does not have the expected shape.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
from typing import Any
from urllib.parse import quote_plus

from execsvc.errors import ValidationError
from execsvc.events import OrderAccepted, OrderIntent, OrderModified
from execsvc.executors.kite.models import (
    KiteHolding,
    KiteOrder,
    KitePosition,
    KiteTrade,
    parse_holdings,
    parse_order,
    parse_orders,
    parse_positions,
    parse_trade,
    parse_trades,
)
from execsvc.market.iceberg import iceberg_terms

# what quote_plus never escapes: most form keys and values (numbers, enums, symbols) are all safe
_FORM_SAFE = re.compile(r"[A-Za-z0-9_.~-]*", re.ASCII).fullmatch


def form_body(form: dict[str, str]) -> bytes:
    """``urlencode(form).encode("ascii")``, byte for byte, without quoting what needs none.

    The standard function quotes every key and value character by character (8.5 us for an order's
    form on the bench machine); a safe string (the usual case) is taken as is. A form whose keys and
    values are all safe (an order's, unless its symbol has an ``&``) is checked in two matches and
    joined in C (1.3 us); any other, string by string (3.4 us).
    """
    if _FORM_SAFE("".join(form)) and _FORM_SAFE("".join(form.values())):
        return "&".join(map("=".join, form.items())).encode("ascii")
    return "&".join(
        (key if _FORM_SAFE(key) else quote_plus(key))
        + "="
        + (value if _FORM_SAFE(value) else quote_plus(value))
        for key, value in form.items()
    ).encode("ascii")


__all__ = [
    "KITE_STATUSES",
    "TAG_PREFIX",
    "KiteHolding",
    "KiteOrder",
    "KitePosition",
    "KiteTrade",
    "form_body",
    "is_our_tag",
    "is_terminal",
    "modify_params",
    "order_params",
    "parse_holdings",
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

KITE_STATUSES = (
    "PUT ORDER REQ RECEIVED",
    "PUT ORDER REQUEST RECEIVED",
    "VALIDATION PENDING",
    "OPEN PENDING",
    "OPEN",
    "TRIGGER PENDING",
    "MODIFY VALIDATION PENDING",
    "MODIFY PENDING",
    "MODIFIED",
    "NOT MODIFIED",
    "CANCEL PENDING",
    "AMO REQ RECEIVED",
    "UPDATE",
    "COMPLETE",
    "CANCELLED",
    "REJECTED",
)
"""Every order status of FACTS.md section 2.3 (unknown strings are treated as non-terminal)."""

TAG_PREFIX = "ex"
"""Every tag made by :func:`tag_for` starts with this (reconciliation finds execsvc's orders by it)."""

_TERMINAL = {"COMPLETE": "FILLED", "REJECTED": "REJECTED", "CANCELLED": "CANCELLED"}
_VARIETIES = ("regular", "amo", "iceberg")
_ORDER_TYPES = ("MARKET", "LIMIT", "SL", "SL-M")
_PRICED = frozenset({"LIMIT", "SL"})
_TRIGGERED = frozenset({"SL", "SL-M"})
_PROTECTED = frozenset({"MARKET", "SL-M"})


def tag_for(intent_id: str) -> str:
    """A deterministic Kite order tag for an intent: ``"ex"`` and 18 base32 characters.

    The 18 characters are the start of the lowercase, unpadded base32 of SHA-256(intent_id): 90
    bits, so collisions are negligible, and the tag is alphanumeric, 20 characters long and the
    same in every process (FACTS.md 2.4: "alphanumeric, max 20 chars").
    """
    # base32 writes the bits in order, 5 to a character: the 18 characters are the first 90 bits,
    # two characters to each 10 (the standard b32encode, pure Python, cost 5-7 us of a live order)
    bits = int.from_bytes(hashlib.sha256(intent_id.encode("utf-8")).digest()[:12]) >> 6
    pairs = _B32_PAIRS
    return (
        TAG_PREFIX
        + pairs[bits >> 80]
        + pairs[bits >> 70 & 1023]
        + pairs[bits >> 60 & 1023]
        + pairs[bits >> 50 & 1023]
        + pairs[bits >> 40 & 1023]
        + pairs[bits >> 30 & 1023]
        + pairs[bits >> 20 & 1023]
        + pairs[bits >> 10 & 1023]
        + pairs[bits & 1023]
    )


_B32 = "abcdefghijklmnopqrstuvwxyz234567"  # RFC 4648's alphabet, lowercase
_B32_PAIRS = [a + b for a in _B32 for b in _B32]  # 10 bits -> their two characters


_OUR_TAG = re.compile(re.escape(TAG_PREFIX) + r"[a-z2-7]{18}").fullmatch


def is_our_tag(tag: str) -> bool:
    """Whether ``tag`` is one :func:`tag_for` makes (a foreign tag may merely start like ours)."""
    return _OUR_TAG(tag) is not None


def _num(field: str, value: float | int) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{field}={value!r}: must be a number")
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        raise ValidationError(f"{field}={value!r}: must be finite")
    return str(int(value)) if value.is_integer() else str(value)


def _protection(value: float) -> str:
    if not (value == -1 or 0 < value <= 100):
        raise ValidationError(f"market_protection={value!r}: must be -1 (automatic) or in (0, 100]")
    return _num("market_protection", value)


def order_params(intent: OrderIntent, tag: str, *, market_protection: float) -> tuple[str, dict[str, str]]:
    """The variety and the form fields of ``POST /orders/{variety}`` for an intent.

    Args:
        intent: a validated intent; ``symbol`` is ``EXCHANGE:TRADINGSYMBOL`` (or ``exchange`` is set).
        tag: the order tag, normally ``tag_for(intent.intent_id)``.
        market_protection: ``-1`` (automatic) or a percentage in (0, 100]; sent for MARKET and
            SL-M only, which Kite rejects without it.

    Returns:
        ``(variety, fields)``, the fields in pykiteconnect's order with ``variety`` repeated.

    Raises:
        ValidationError: an unsupported variety or order type, a missing price or trigger, a bad
            market protection, or iceberg legs/quantity that are missing or out of range.
    """
    variety = intent.variety
    if variety not in _VARIETIES:
        raise ValidationError(f"variety={variety!r}: must be one of {', '.join(_VARIETIES)}")
    order_type = intent.order_type
    if order_type not in _ORDER_TYPES:
        raise ValidationError(f"order_type={order_type!r}: must be one of {', '.join(_ORDER_TYPES)}")
    prefix, sep, rest = intent.symbol.partition(":")
    exchange, tradingsymbol = (prefix, rest) if sep else (intent.exchange, intent.symbol)
    if not exchange or not tradingsymbol:
        raise ValidationError(f"symbol={intent.symbol!r}: needs an exchange (EXCHANGE:TRADINGSYMBOL)")
    fields: dict[str, str] = {
        "variety": variety,
        "exchange": exchange,
        "tradingsymbol": tradingsymbol,
        "transaction_type": intent.side,
        "quantity": _num("qty", intent.qty),
        "product": intent.product,
        "order_type": order_type,
    }
    if order_type in _PRICED:
        if intent.price is None:
            raise ValidationError(f"price=None: required for {order_type} orders")
        fields["price"] = _num("price", intent.price)
    fields["validity"] = intent.validity
    if order_type in _TRIGGERED:
        if intent.trigger_price is None:
            raise ValidationError(f"trigger_price=None: required for {order_type} orders")
        fields["trigger_price"] = _num("trigger_price", intent.trigger_price)
    if variety == "iceberg":  # validated at intake already: the same rule (``market.iceberg``)
        legs, leg_qty = iceberg_terms(intent.qty, intent.metadata)
        fields["iceberg_legs"] = str(legs)
        fields["iceberg_quantity"] = str(leg_qty)
    fields["tag"] = tag
    if order_type in _PROTECTED:
        fields["market_protection"] = _protection(market_protection)
    return variety, fields


def modify_params(
    variety: str,
    order_id: str,
    *,
    parent_order_id: str | None = None,
    quantity: int | None = None,
    price: float | None = None,
    order_type: str | None = None,
    trigger_price: float | None = None,
    validity: str | None = None,
    disclosed_quantity: int | None = None,
    market_protection: float | None = None,
) -> dict[str, str]:
    """The form fields of ``PUT /orders/{variety}/{order_id}``, as pykiteconnect sends them.

    Only the given arguments are sent (``variety`` and ``order_id`` always). A cancel needs no
    form: ``DELETE /orders/{variety}/{order_id}``.

    Raises:
        ValidationError: a non-finite number or a bad market protection.
    """
    fields = {"variety": variety, "order_id": order_id}
    if parent_order_id is not None:
        fields["parent_order_id"] = parent_order_id
    if quantity is not None:
        fields["quantity"] = _num("quantity", quantity)
    if price is not None:
        fields["price"] = _num("price", price)
    if order_type is not None:
        fields["order_type"] = order_type
    if trigger_price is not None:
        fields["trigger_price"] = _num("trigger_price", trigger_price)
    if validity is not None:
        fields["validity"] = validity
    if disclosed_quantity is not None:
        fields["disclosed_quantity"] = _num("disclosed_quantity", disclosed_quantity)
    if market_protection is not None:
        fields["market_protection"] = _protection(market_protection)
    return fields


def _used_price(order_type: str, price: float | None) -> float | None:
    return (price or None) if order_type in ("LIMIT", "SL") else None


def _used_trigger(order_type: str, trigger: float | None) -> float | None:
    return (trigger or None) if order_type in ("SL", "SL-M") else None


def broker_terms(order: OrderAccepted, kite: KiteOrder, now_ns: int) -> OrderModified | None:
    """The broker's terms of one of our orders, as an ``OrderModified``, when they differ from ours.

    A modification the broker accepted is lost when the service stops between the broker's answer
    and the journal record; reconciliation then takes the broker's terms. Kite reports 0 for a price
    or trigger that an order type does not use, and shows a MARKET order as the LIMIT its market
    protection made of it: for our MARKET orders only the quantity is compared.

    Returns:
        The change to journal, or None when the terms agree.
    """
    qty = kite.quantity or order.qty
    if order.order_type == "MARKET" and kite.order_type in ("MARKET", "LIMIT"):
        if qty == order.qty:
            return None
        order_type, price, trigger = order.order_type, order.price, order.trigger_price
    else:
        order_type = kite.order_type or order.order_type
        price = _used_price(order_type, kite.price)
        trigger = _used_trigger(order_type, kite.trigger_price)
        ours = (
            order.qty,
            order.order_type,
            _used_price(order.order_type, order.price),
            _used_trigger(order.order_type, order.trigger_price),
        )
        if (qty, order_type, price, trigger) == ours:
            return None
    return OrderModified(
        order_id=order.order_id,
        intent_id=order.intent_id,
        qty=qty,
        order_type=order_type,
        price=price,
        trigger_price=trigger,
        ts_event=now_ns,
    )


def is_terminal(kite_status: str) -> bool:
    """True for COMPLETE, CANCELLED and REJECTED; every other (or unknown) status is pending."""
    return kite_status in _TERMINAL or kite_status.strip().upper() in _TERMINAL


def result_status(kite_status: str, filled_qty: int, quantity: int) -> str:
    """The execsvc result status of a Kite order status.

    COMPLETE is FILLED, CANCELLED is CANCELLED even when part filled (the filled quantity tells),
    REJECTED is REJECTED when nothing filled and PARTIAL after fills (an iceberg's later leg refused:
    REJECTED would say nothing was done, and a strategy that sends again on it would trade twice);
    every other status, known or not, is PARTIAL when ``0 < filled_qty < quantity`` and PLACED
    otherwise.
    """
    status = _TERMINAL.get(kite_status) or _TERMINAL.get(kite_status.strip().upper())
    if status == "REJECTED" and filled_qty > 0:
        return "PARTIAL"
    if status is not None:
        return status
    return "PARTIAL" if 0 < filled_qty < quantity else "PLACED"


def _sha256_hex(*parts: str) -> str:
    return hashlib.sha256("".join(parts).encode("utf-8")).hexdigest()


def postback_checksum(order_id: str, order_timestamp: str, api_secret: str) -> str:
    """Hex SHA-256 of ``order_id + order_timestamp + api_secret`` (FACTS.md 3.1)."""
    return _sha256_hex(order_id, order_timestamp, api_secret)


def verify_postback(payload: dict[str, Any], api_secret: str) -> bool:
    """Whether a postback's ``checksum`` matches its ``order_id`` and ``order_timestamp``.

    A payload missing any of the three, or with a non-string among them, does not verify. The
    comparison is constant-time (``hmac.compare_digest``).
    """
    order_id = payload.get("order_id")
    order_timestamp = payload.get("order_timestamp")
    checksum = payload.get("checksum")
    if not (isinstance(order_id, str) and isinstance(order_timestamp, str) and isinstance(checksum, str)):
        return False
    expected = postback_checksum(order_id, order_timestamp, api_secret)
    return hmac.compare_digest(expected.encode("ascii"), checksum.lower().encode("utf-8"))


def session_checksum(api_key: str, request_token: str, api_secret: str) -> str:
    """Hex SHA-256 of ``api_key + request_token + api_secret`` for ``POST /session/token``."""
    return _sha256_hex(api_key, request_token, api_secret)
