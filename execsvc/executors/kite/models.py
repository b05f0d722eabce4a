"""Kite's order, trade, position and holding dicts as frozen msgspec Structs (FACTS.md 2.1, 2.2, 3.1).

The Structs keep the fields execution needs and ignore the rest, so new broker fields never break
parsing. ``null`` and missing optional fields take the defaults; numbers are accepted as ints where
floats are expected, and as numeric strings.

Error handling:
    The ``parse_*`` functions raise :class:`~execsvc.errors.BrokerDataError` naming the field
    (with its index in a list) and the value, for a response that does not have the expected shape.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from execsvc.errors import BrokerDataError
from execsvc.market.iceberg import broker_iceberg, iceberg_filled_total, iceberg_legs_to_come

__all__ = [
    "KiteHolding",
    "KiteOrder",
    "KitePosition",
    "KiteTrade",
    "parse_holdings",
    "parse_order",
    "parse_orders",
    "parse_positions",
    "parse_trade",
    "parse_trades",
    "split_trades",
    "trade_problem",
    "whole_iceberg",
]


class _Kite(msgspec.Struct, frozen=True, kw_only=True):
    """Base of the broker Structs: unknown fields are ignored; nulls become the defaults."""


class KiteOrder(_Kite, frozen=True, kw_only=True):
    """One order as Kite reports it: ``orders()``, ``order_history()``, postbacks, WS updates.

    ``meta`` is ``{}``, an object (``{"iceberg": {...}}``) or occasionally a string. Postback-only
    fields (``user_id``, ``unfilled_quantity``, ``checksum``, ``app_id``) are None elsewhere.
    ``filled_quantity`` is required: read as 0 when missing, a CANCELLED update closed an order
    without looking for the fills the broker made (FACTS.md 2.1: Kite always sends it).

    An iceberg is parsed as the whole order (:func:`whole_iceberg`), not the leg Kite reports.
    """

    order_id: str
    status: str
    exchange_order_id: str | None = None
    parent_order_id: str | None = None
    status_message: str | None = None
    status_message_raw: str | None = None
    order_timestamp: str | None = None
    exchange_update_timestamp: str | None = None
    exchange_timestamp: str | None = None
    variety: str = ""
    modified: bool = False
    exchange: str = ""
    tradingsymbol: str = ""
    instrument_token: int = 0
    order_type: str = ""
    transaction_type: str = ""
    validity: str = ""
    validity_ttl: int | None = None
    product: str = ""
    quantity: int = 0
    disclosed_quantity: int = 0
    price: float = 0.0
    trigger_price: float = 0.0
    average_price: float = 0.0
    filled_quantity: int
    pending_quantity: int = 0
    cancelled_quantity: int = 0
    unfilled_quantity: int | None = None
    market_protection: float = 0.0
    auction_number: str | None = None
    tag: str | None = None
    tags: tuple[str, ...] = ()
    guid: str | None = None
    meta: dict[str, Any] | str | None = None
    placed_by: str | None = None
    account_id: str | None = None
    user_id: str | None = None
    app_id: int | None = None
    checksum: str | None = None


class KiteTrade(_Kite, frozen=True):
    """One fill: ``trades()`` and ``order_trades()``. Trade ``order_timestamp`` is ``HH:MM:SS``."""

    trade_id: str
    order_id: str
    quantity: int
    average_price: float
    exchange: str = ""
    tradingsymbol: str = ""
    instrument_token: int = 0
    product: str = ""
    transaction_type: str = ""
    exchange_order_id: str | None = None
    fill_timestamp: str | None = None
    order_timestamp: str | None = None
    exchange_timestamp: str | None = None


class KitePosition(_Kite, frozen=True):
    """One row of ``positions()["net"]`` or ``["day"]``."""

    tradingsymbol: str
    exchange: str
    product: str
    quantity: int
    instrument_token: int = 0
    overnight_quantity: int = 0
    multiplier: float = 1.0
    average_price: float = 0.0
    close_price: float = 0.0
    last_price: float = 0.0
    value: float = 0.0
    pnl: float = 0.0
    m2m: float = 0.0
    unrealised: float = 0.0
    realised: float = 0.0
    buy_quantity: int = 0
    buy_price: float = 0.0
    buy_value: float = 0.0
    buy_m2m: float = 0.0
    sell_quantity: int = 0
    sell_price: float = 0.0
    sell_value: float = 0.0
    sell_m2m: float = 0.0
    day_buy_quantity: int = 0
    day_buy_price: float = 0.0
    day_buy_value: float = 0.0
    day_sell_quantity: int = 0
    day_sell_price: float = 0.0
    day_sell_value: float = 0.0


class KiteHolding(_Kite, frozen=True):
    """One row of ``holdings()`` (``GET /portfolio/holdings``): equity delivery stock in the demat account.

    Kite's docs: ``t1_quantity`` is bought but not yet delivered (T+1), ``used_quantity`` was sold
    from the holding today (that sale also shows under the day's positions, a negative CNC
    quantity), ``opening_quantity`` was carried forward overnight. The docs do not say whether
    ``quantity`` includes ``t1_quantity``; see :mod:`execsvc.executors.kite.portfolio`.
    """

    tradingsymbol: str
    exchange: str
    quantity: int
    product: str = "CNC"
    instrument_token: int = 0
    isin: str = ""
    t1_quantity: int = 0
    used_quantity: int = 0
    realised_quantity: int = 0
    opening_quantity: int = 0
    collateral_quantity: int = 0
    average_price: float = 0.0
    last_price: float = 0.0
    close_price: float = 0.0
    pnl: float = 0.0


_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`")
_MISSING_RE = re.compile(r"missing required field `(?P<field>[^`]+)`")
_T = TypeVar("_T")


def _convert(data: Any, cls: type[_T], what: str) -> _T:
    if not isinstance(data, dict):
        raise BrokerDataError(f"{what}: expected an object, got {type(data).__name__} {data!r:.80}")
    clean = {k: v for k, v in data.items() if v is not None}
    try:
        return msgspec.convert(clean, cls, strict=False)
    except msgspec.ValidationError as exc:
        message = str(exc)
        missing = _MISSING_RE.search(message)
        if missing:
            raise BrokerDataError(f"{what}: {missing.group('field')} is missing") from exc
        match = _PATH_RE.search(message)
        path = match.group("path").lstrip(".") if match else ""
        field = re.split(r"[.\[]", path, maxsplit=1)[0]
        value = data.get(field)
        reason = _PATH_RE.sub("", message)
        raise BrokerDataError(f"{what}: {path or '<root>'}={value!r:.80}: {reason}") from exc


def _convert_list(data: Any, cls: type[_T], what: str) -> list[_T]:
    if not isinstance(data, list):
        raise BrokerDataError(f"{what}: expected a list, got {type(data).__name__} {data!r:.80}")
    return [_convert(item, cls, f"{what}[{i}]") for i, item in enumerate(data)]


def whole_iceberg(order: KiteOrder) -> KiteOrder:
    """An iceberg order as the whole order it is, from Kite's view of its current leg; any other
    order as it is.

    Kite reports an iceberg's ``quantity`` as its current leg's, the total in ``meta.iceberg``
    (its sample, FACTS.md 2.1, 5.2); UNCONFIRMED: its filled and pending quantities and its
    status are the leg's too. So: ``quantity`` is the total, ``filled_quantity`` what all its legs
    filled (``market.iceberg.iceberg_filled_total``), a leg's COMPLETE with legs to come is OPEN
    (the order works on), and ``pending_quantity`` of an order that works is the total's rest.
    An iceberg whose ``meta`` names no total has ``quantity`` 0, unknown: nothing takes it as
    the order's (``broker_terms`` keeps ours, reconciliation adopts no such order), and its
    ``filled_quantity`` stays the leg's, at most what the whole filled.
    """
    if order.variety != "iceberg":
        return order
    iceberg = broker_iceberg(order.meta)
    if iceberg is None:
        return msgspec.structs.replace(order, quantity=0)
    total = iceberg.total_quantity
    filled = iceberg_filled_total(iceberg, order.quantity, order.filled_quantity)
    status = "OPEN" if order.status == "COMPLETE" and iceberg_legs_to_come(iceberg) else order.status
    pending = order.pending_quantity if status in ("CANCELLED", "REJECTED") else total - filled
    return msgspec.structs.replace(
        order, quantity=total, filled_quantity=filled, pending_quantity=pending, status=status
    )


def _order(data: Any, what: str) -> KiteOrder:
    return whole_iceberg(_convert(data, KiteOrder, what))


def parse_order(data: Any) -> KiteOrder:
    """A :class:`KiteOrder` from an order dict (order book, history, postback, WS update); an
    iceberg as its whole order (:func:`whole_iceberg`).

    Raises:
        BrokerDataError: a required field is missing or a field has the wrong type.
    """
    return _order(data, "Kite order")


def parse_orders(data: Any) -> list[KiteOrder]:
    """The orders of ``orders()`` or ``order_history()``; errors name the index and the field."""
    if not isinstance(data, list):
        raise BrokerDataError(f"Kite orders: expected a list, got {type(data).__name__} {data!r:.80}")
    return [_order(item, f"Kite orders[{i}]") for i, item in enumerate(data)]


def parse_order_book(data: Any, is_our_tag: Callable[[str], bool]) -> tuple[list[KiteOrder], list[str]]:
    """The day's order book (``orders()``), where a row we cannot read is not everyone's problem.

    The book holds every order of the account, placed from anywhere (Kite web, other apps). A row
    that does not parse stops nothing when it is not ours (no tag that ``is_our_tag``, which is
    ``mapping.is_our_tag``): it is skipped and reported (its index, order id and error). A row of ours
    that does not parse makes the whole read fail, since a lookup by tag that skipped it would
    wrongly prove the order absent.

    Returns:
        The orders, and a problem for each row skipped.

    Raises:
        BrokerDataError: the book is not a list, or a row of ours does not parse.
    """
    if not isinstance(data, list):
        raise BrokerDataError(f"Kite orders: expected a list, got {type(data).__name__} {data!r:.80}")
    orders: list[KiteOrder] = []
    skipped: list[str] = []
    for i, item in enumerate(data):
        try:
            orders.append(_order(item, f"Kite orders[{i}]"))
        except BrokerDataError as exc:
            if _may_be_ours(item, is_our_tag):
                raise
            order_id = item.get("order_id") if isinstance(item, dict) else None
            skipped.append(f"order book row {i} (order_id={order_id!r:.40}, not ours) skipped: {exc}")
    return orders, skipped


def _may_be_ours(item: Any, is_our_tag: Callable[[str], bool]) -> bool:
    if not isinstance(item, dict):
        return True  # nothing says whose it is
    tags = item.get("tags")
    candidates = [item.get("tag"), *(tags if isinstance(tags, list) else [tags])]
    return any(not isinstance(tag, str) or is_our_tag(tag) for tag in candidates if tag is not None)


def _trade_data(data: Any) -> Any:
    if isinstance(data, dict) and data.get("quantity") is None and "filled" in data:
        return {**data, "quantity": data["filled"]}
    return data


def parse_trade(data: Any) -> KiteTrade:
    """A :class:`KiteTrade`; an older ``filled`` stands in for a missing ``quantity``.

    Raises:
        BrokerDataError: a required field is missing or a field has the wrong type.
    """
    return _convert(_trade_data(data), KiteTrade, "Kite trade")


def parse_trades(data: Any) -> list[KiteTrade]:
    """The trades of ``trades()`` or ``order_trades()``; errors name the index and the field."""
    if not isinstance(data, list):
        raise BrokerDataError(f"Kite trades: expected a list, got {type(data).__name__} {data!r:.80}")
    return [_convert(_trade_data(item), KiteTrade, f"Kite trades[{i}]") for i, item in enumerate(data)]


def trade_problem(trade: KiteTrade) -> str | None:
    """Why ``trade`` cannot be booked (``"field=value: reason"``), or None for a bookable fill.

    A fill needs a positive integral quantity and a finite price above zero; anything else would
    poison positions and charges (a NaN price fails deep inside the cost model).
    """
    if trade.quantity <= 0:
        return f"quantity={trade.quantity!r}: expected a positive whole quantity"
    if not (math.isfinite(trade.average_price) and trade.average_price > 0):
        return f"average_price={trade.average_price!r}: expected a finite price above 0"
    return None


def split_trades(data: Any) -> tuple[list[KiteTrade], list[str]]:
    """The bookable trades of ``trades()`` or ``order_trades()``, and why each other row was left out.

    One bad row (a missing or mistyped field, a quantity that is not a positive integer, a price
    that is not finite and positive) is left out with a reason naming its index, its trade id, the
    field and the value; the other rows are kept, so one bad fill never hides the rest.

    Raises:
        BrokerDataError: ``data`` is not a list.
    """
    if not isinstance(data, list):
        raise BrokerDataError(f"Kite trades: expected a list, got {type(data).__name__} {data!r:.80}")
    good: list[KiteTrade] = []
    problems: list[str] = []
    for i, item in enumerate(data):
        trade_id = item.get("trade_id") if isinstance(item, dict) else None
        what = f"Kite trades[{i}] trade_id={trade_id!r:.40}"
        try:
            trade = _convert(_trade_data(item), KiteTrade, what)
        except BrokerDataError as exc:
            problems.append(str(exc))
            continue
        problem = trade_problem(trade)
        if problem is not None:
            problems.append(f"{what}: {problem}")
            continue
        good.append(trade)
    return good, problems


def parse_positions(data: Any) -> dict[str, list[KitePosition]]:
    """``{"net": [...], "day": [...]}`` from ``positions()``; a missing list is empty.

    Raises:
        BrokerDataError: not an object, or a row with a missing or mistyped field.
    """
    if not isinstance(data, dict):
        raise BrokerDataError(f"Kite positions: expected an object, got {type(data).__name__}")
    return {
        key: _convert_list(data.get(key) or [], KitePosition, f"Kite positions.{key}")
        for key in ("net", "day")
    }


def parse_holdings(data: Any) -> list[KiteHolding]:
    """The rows of ``holdings()``.

    Raises:
        BrokerDataError: not a list, or a row with a missing or mistyped field.
    """
    return _convert_list(data, KiteHolding, "Kite holdings")
