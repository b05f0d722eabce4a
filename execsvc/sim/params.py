"""Validation of order form parameters: pure functions returning a request or an :class:`ApiError`.

pykiteconnect repeats the path parameters (``variety``, ``order_id``) in the form body, so
unknown keys are ignored and, for a repeated key, the first value counts (FACTS.md 1.3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from execsvc.sim.envelope import ApiError
from execsvc.sim.orders import OrderRequest, SimOrder

__all__ = [
    "EXCHANGES",
    "MARKET_PROTECTION_MESSAGE",
    "VARIETIES",
    "ModifyRequest",
    "parse_modify",
    "parse_order_modify",
    "parse_place",
]

VARIETIES = frozenset({"regular", "amo", "iceberg"})
EXCHANGES = frozenset({"NSE", "BSE", "NFO", "BFO", "CDS", "BCD", "MCX"})
_SIDES = frozenset({"BUY", "SELL"})
_ORDER_TYPES = frozenset({"MARKET", "LIMIT", "SL", "SL-M"})
_PRODUCTS = frozenset({"CNC", "NRML", "MIS", "MTF"})
_VALIDITIES = frozenset({"DAY", "IOC", "TTL"})
_MAX_TAG = 20
MARKET_PROTECTION_MESSAGE = (
    "Market orders without market protection are not allowed via API. "
    "Please set market protection or use a Limit order."
)

TickSizeOf = Callable[[str], float | None]
"""``EXCHANGE:TRADINGSYMBOL`` -> its tick size, or None for an instrument the simulator does not know."""


class _Bad(Exception):
    """Internal: carries an ApiError out of the field parsers."""

    def __init__(self, error: ApiError) -> None:
        self.error = error


def _text(form: Mapping[str, object], name: str, *, required: bool = False) -> str | None:
    raw = form.get(name)
    value = raw.strip() if isinstance(raw, str) else None
    if not value:
        if required:
            raise _Bad(ApiError.input(f"Missing or empty field `{name}`."))
        return None
    return value


def _choice(
    form: Mapping[str, object], name: str, allowed: frozenset[str], default: str | None = None
) -> str:
    value = _text(form, name, required=default is None) or default
    assert value is not None
    if value not in allowed:
        raise _Bad(ApiError.input(f"Invalid `{name}`: {value!r}."))
    return value


def _int(form: Mapping[str, object], name: str, *, required: bool = False) -> int | None:
    value = _text(form, name, required=required)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        raise _Bad(ApiError.input(f"Invalid `{name}`: {value!r} is not an integer.")) from None


def _float(form: Mapping[str, object], name: str) -> float | None:
    value = _text(form, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        raise _Bad(ApiError.input(f"failed to decode {name}, got: {value} (expected decimal)")) from None
    if not math.isfinite(number) or (number < 0 and name != "market_protection"):
        raise _Bad(ApiError.input(f"Invalid `{name}`: {value!r}."))
    return number


def _on_tick(name: str, price: float, tick_size: float) -> None:
    steps = price / tick_size
    if abs(steps - round(steps)) > 1e-6:
        raise _Bad(
            ApiError.input(
                f"Tick size for this script is {tick_size:g}. Kindly enter {name} in the multiple of "
                "tick size for this script"
            )
        )


def _check_prices(order_type: str, price: float, trigger: float, protection: float, tick: float) -> None:
    """Shared by placement and modification: price/trigger/protection per order type."""
    if order_type in ("LIMIT", "SL") and price <= 0:
        raise _Bad(ApiError.input("Missing or empty field `price`."))
    if order_type in ("SL", "SL-M") and trigger <= 0:
        raise _Bad(ApiError.input("Missing or empty field `trigger_price`."))
    if order_type in ("MARKET", "SL-M"):
        if protection == 0:
            raise _Bad(ApiError.input(MARKET_PROTECTION_MESSAGE))
        if protection != -1 and not 0 < protection <= 100:
            raise _Bad(
                ApiError.input(f"Invalid `market_protection`: {protection:g} (0 < value <= 100, or -1).")
            )
    if order_type in ("LIMIT", "SL"):
        _on_tick("price", price, tick)
    if order_type in ("SL", "SL-M"):
        _on_tick("trigger_price", trigger, tick)


def parse_place(
    variety: str, form: Mapping[str, object], tick_size_of: TickSizeOf
) -> OrderRequest | ApiError:
    """Validate ``POST /orders/{variety}``.

    Args:
        variety: the path's variety.
        form: the form body (a multidict is fine; the first value of a repeated key counts).
        tick_size_of: the instrument lookup; an unknown instrument is a 400.

    Returns:
        The request, or a 400 ``InputException`` naming the first bad field.
    """
    try:
        if variety not in VARIETIES:
            return ApiError.input(f"Invalid `variety`: {variety!r}.")
        exchange = _choice(form, "exchange", EXCHANGES)
        tradingsymbol = _text(form, "tradingsymbol", required=True)
        assert tradingsymbol is not None
        side = _choice(form, "transaction_type", _SIDES)
        order_type = _choice(form, "order_type", _ORDER_TYPES)
        quantity = _int(form, "quantity", required=True)
        assert quantity is not None
        if quantity <= 0:
            return ApiError.input(f"Invalid `quantity`: {quantity}.")
        product = _choice(form, "product", _PRODUCTS)
        validity = _choice(form, "validity", _VALIDITIES, "DAY")
        ttl = _int(form, "validity_ttl")
        if validity == "TTL" and (ttl is None or ttl <= 0):
            return ApiError.input("Missing or empty field `validity_ttl`.")
        disclosed = _int(form, "disclosed_quantity") or 0
        if not 0 <= disclosed <= quantity:
            return ApiError.input(f"Invalid `disclosed_quantity`: {disclosed}.")
        price = _float(form, "price") or 0.0
        trigger = _float(form, "trigger_price") or 0.0
        protection = _float(form, "market_protection") or 0.0
        tag = _text(form, "tag")
        if tag is not None and len(tag) > _MAX_TAG:
            return ApiError.input(f"Invalid `tag`: at most {_MAX_TAG} characters.")
        legs = iceberg_qty = None
        if variety == "iceberg":
            legs = _int(form, "iceberg_legs", required=True)
            iceberg_qty = _int(form, "iceberg_quantity", required=True)
            assert legs is not None and iceberg_qty is not None
            if not 2 <= legs <= 50:
                return ApiError.input("Invalid `iceberg_legs`: between 2 and 50.")
            if iceberg_qty <= 0 or iceberg_qty * legs < quantity:
                return ApiError.input(f"Invalid `iceberg_quantity`: {iceberg_qty}.")
        tick = tick_size_of(f"{exchange}:{tradingsymbol}")
        if tick is None:
            return ApiError.input(
                "The instrument you are placing an order for has either expired or does not exist."
            )
        _check_prices(order_type, price, trigger, protection, tick)
    except _Bad as bad:
        return bad.error
    return OrderRequest(
        variety=variety,
        exchange=exchange,
        tradingsymbol=tradingsymbol,
        transaction_type=side,
        order_type=order_type,
        quantity=quantity,
        product=product,
        price=price if order_type in ("LIMIT", "SL") else 0.0,
        trigger_price=trigger if order_type in ("SL", "SL-M") else 0.0,
        validity=validity,
        validity_ttl=ttl if validity == "TTL" else None,
        disclosed_quantity=disclosed,
        market_protection=protection,
        iceberg_legs=legs,
        iceberg_quantity=iceberg_qty,
        tag=tag,
    )


@dataclass(frozen=True, kw_only=True, slots=True)
class ModifyRequest:
    """A validated modification: the order's new terms (unchanged fields carried over)."""

    order_type: str
    quantity: int
    price: float
    trigger_price: float
    validity: str
    disclosed_quantity: int
    market_protection: float


def parse_modify(
    form: Mapping[str, object],
    *,
    order_type: str,
    quantity: int,
    price: float,
    trigger_price: float,
    validity: str,
    disclosed_quantity: int,
    market_protection: float,
    filled_quantity: int,
    tick_size: float,
) -> ModifyRequest | ApiError:
    """Validate ``PUT /orders/{variety}/{order_id}`` against the order's current terms.

    The keyword arguments are the order's current values; the form overrides any of them.

    Returns:
        The new terms, or a 400 ``InputException``.
    """
    try:
        new_type = _choice(form, "order_type", _ORDER_TYPES, order_type)
        new_qty = _int(form, "quantity")
        qty = quantity if new_qty is None else new_qty
        if qty <= filled_quantity:
            return ApiError.input(f"Invalid `quantity`: {qty} is not above the filled {filled_quantity}.")
        new_price = _float(form, "price")
        new_trigger = _float(form, "trigger_price")
        new_protection = _float(form, "market_protection")
        px = price if new_price is None else new_price
        trig = trigger_price if new_trigger is None else new_trigger
        prot = market_protection if new_protection is None else new_protection
        new_validity = _choice(form, "validity", _VALIDITIES, validity)
        new_disclosed = _int(form, "disclosed_quantity")
        disclosed = disclosed_quantity if new_disclosed is None else new_disclosed
        if not 0 <= disclosed <= qty:
            return ApiError.input(f"Invalid `disclosed_quantity`: {disclosed}.")
        _check_prices(new_type, px, trig, prot, tick_size)
    except _Bad as bad:
        return bad.error
    return ModifyRequest(
        order_type=new_type,
        quantity=qty,
        price=px if new_type in ("LIMIT", "SL") else 0.0,
        trigger_price=trig if new_type in ("SL", "SL-M") else 0.0,
        validity=new_validity,
        disclosed_quantity=disclosed,
        market_protection=prot,
    )


def parse_order_modify(
    form: Mapping[str, object], order: SimOrder, tick_size: float
) -> ModifyRequest | ApiError:
    """``parse_modify`` against ``order``'s current terms."""
    return parse_modify(
        form,
        order_type=order.order_type,
        quantity=order.quantity,
        price=order.price,
        trigger_price=order.trigger_price,
        validity=order.validity,
        disclosed_quantity=order.disclosed_quantity,
        market_protection=order.market_protection,
        filled_quantity=order.filled_quantity,
        tick_size=tick_size,
    )
