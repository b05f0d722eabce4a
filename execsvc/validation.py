"""Validation of intents at the trust boundary: pure, and every error names the field and the value.

``validate_intent`` checks everything an exchange or Kite would refuse (and a few things a trader
would regret: a contract past its expiry, which the paper simulator would otherwise fill at its
last price) and returns the intent normalised: ``symbol`` in ``EXCHANGE:TRADINGSYMBOL`` form,
``exchange`` set, ``intent_id`` and ``ts_init`` filled in.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

from execsvc.clock import trading_day
from execsvc.errors import FieldError, IntentValidationError, ValidationError, safe_repr
from execsvc.events import (
    EXCHANGES,
    ORDER_TYPES,
    PRODUCTS,
    SIDES,
    VALIDITIES,
    VARIETIES,
    OrderIntent,
)
from execsvc.json_input import non_finite_errors
from execsvc.market.freeze import FREEZE_EXCHANGES, freeze_refusal, iceberg_leg
from execsvc.market.iceberg import iceberg_errors, iceberg_leg_of_change, modified_iceberg_errors
from execsvc.market.instruments import Instrument, instrument_type_of
from execsvc.market.multipliers import LOT_EXCHANGES, missing_multiplier
from execsvc.state import BROKER_PREFIXES

_TAG_RE = re.compile(r"[A-Za-z0-9]{1,20}")
_ID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_STRATEGY_RE = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_SYMBOL_RE = re.compile(r"[A-Za-z0-9&._\-]{1,64}")
_json_encode = msgspec.json.Encoder().encode

InstrumentLookup = Callable[[str], Instrument | None]
_NO_FREEZE: Mapping[tuple[str, str], int] = {}

MAX_PRICE = 10_000_000.0
"""The highest ``price`` or ``trigger_price`` accepted, in rupees (one crore).

The dearest unit listed in India trades at a few lakh rupees, so a crore is far above any real
order and refuses only absurd ones. Below it a price and its count of ticks stay exact in a double
(the spacing of doubles near 1e7 is 2e-9, under the tick-grid tolerance), so the grid check means
what it says, and ``qty * price`` stays finite for every quantity up to ``MAX_QTY``.
"""

MAX_QTY = 1_000_000_000
"""The largest ``qty`` accepted (a billion units).

Exchange freeze quantities are in the thousands and a cash order is capped by value long before
this, so it refuses only absurd quantities. It keeps ``qty`` inside a signed 64-bit integer (the
journal's encoding) with room for positions summed over many fills, and ``qty * MAX_PRICE`` (1e16)
inside the range where float rupees are still within a couple of rupees.
"""


MAX_METADATA_DEPTH = 32
"""How deep ``metadata`` may nest. msgspec's depth before ``RecursionError`` depends on the stack:
``[[[...]]]`` that encoded in the engine failed to decode at the next start (and the day's journal
with it). A fixed bound far below either keeps every journaled intent readable."""


def _deeper_than(value: object, limit: int) -> bool:
    """Whether ``value`` nests lists, tuples or mappings more than ``limit`` deep (no recursion)."""
    level: list[object] = [value]
    for _ in range(limit):
        level = [
            item
            for node in level
            if isinstance(node, dict | list | tuple)
            for item in (node.values() if isinstance(node, dict) else node)
        ]
        if not level:
            return False
    return any(isinstance(node, dict | list | tuple) and node for node in level)


def on_tick_grid(price: float, tick_size: float) -> bool:
    """Whether ``price`` is a whole number of ticks (within float noise).

    A price whose count of ticks is not finite (``1e308 / 0.05``) is not on the grid; it never raises.
    """
    ratio = price / tick_size
    if not math.isfinite(ratio):
        return False
    steps = round(ratio)
    return abs(steps * tick_size - price) <= max(1e-9, tick_size * 1e-6)


def _utf8(text: str) -> bool:
    """Whether UTF-8 can hold ``text`` (a Python string may carry lone surrogates, which it cannot)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(what: str, **fields: object) -> None:
    """Refuse an operator action (``halt``, ``square_off``, ...) whose ``reason``, ``by`` or strategy
    is not a string UTF-8 can hold: journaled as given, it would make a record the journal's typed
    decoder refuses, and with it the next start.

    Raises:
        ValidationError: naming each such field and its value.
    """
    errors = [
        FieldError(name, value, "must be a string of UTF-8 text")
        for name, value in fields.items()
        if not isinstance(value, str) or not _utf8(value)
    ]
    if errors:
        raise ValidationError(f"{what}: " + "; ".join(str(e) for e in errors))


def _shown(value: object) -> str:
    """The start of ``value``'s repr for an error message (a value too deep to repr says so)."""
    return safe_repr(value)[:80]


def split_symbol(symbol: str, exchange: str | None, default_exchange: str) -> tuple[str, str]:
    """``("NSE", "INFY")`` from ``"NSE:INFY"`` or from ``"INFY"`` plus an exchange."""
    prefix, sep, rest = symbol.partition(":")
    if sep:
        return prefix, rest
    return (exchange or default_exchange), symbol


def _check_price(
    errors: list[FieldError], name: str, value: float | None, tick_size: float, *, required: bool
) -> None:
    if value is None:
        if required:
            errors.append(FieldError(name, value, "required for this order_type"))
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.append(FieldError(name, value, "must be a number"))
    elif (isinstance(value, float) and not math.isfinite(value)) or value <= 0:  # an int is finite
        errors.append(FieldError(name, value, "must be a positive finite number"))
    elif value > MAX_PRICE:
        errors.append(FieldError(name, value, f"must not exceed {MAX_PRICE:,.0f} rupees"))
    elif not on_tick_grid(value, tick_size):
        errors.append(FieldError(name, value, f"not on the tick grid of {tick_size}"))


def expired_refusal(key: str, instrument: Instrument, now_ns: int) -> str | None:
    """Why an order for ``instrument`` cannot be placed at ``now_ns`` because its contract expired
    (its expiry, the last trading day, is before the IST day of ``now_ns``), or None.

    On its expiry day a contract still trades; an after-market order placed then for the next open
    is taken here and ended at the date line by the paper broker (``executors/paper/expiry``).
    """
    expiry = instrument.expiry_date
    if expiry is None or expiry >= trading_day(now_ns):
        return None
    return f"{key} expired on {expiry.isoformat()} (its last trading day): the exchange takes no order for it"


def validate_intent(
    intent: OrderIntent,
    *,
    now_ns: int,
    default_exchange: str,
    default_tick_size: float,
    lookup: InstrumentLookup,
    make_id: Callable[[OrderIntent, int], str],
    multiplier: Callable[[str], float | None] = lambda _key: 1.0,
    freeze: Mapping[tuple[str, str], int] = _NO_FREEZE,
) -> OrderIntent:
    """Check an intent and return it normalised.

    Args:
        intent: as the producer sent it.
        now_ns: the clock's time, stamped as ``ts_init`` when the intent has none.
        default_exchange: used when the symbol carries no ``EXCHANGE:`` prefix and ``exchange`` is unset.
        default_tick_size: the tick when the instrument is unknown to ``lookup``.
        lookup: ``EXCHANGE:TRADINGSYMBOL`` -> instrument (tick size, lot size), or None.
        make_id: builds an ``intent_id`` for intents that have none.
        multiplier: ``EXCHANGE:TRADINGSYMBOL`` -> its contract multiplier, None when not known (an
            MCX, CDS or BCD contract missing from ``market.multipliers``: refused, never valued at 1).
        freeze: ``(exchange, name) -> units`` (``FreezeQuantities.limits``): an NFO or BFO order
            above its underlying's freeze quantity is refused, as the exchange would.

    Returns:
        The normalised intent.

    Raises:
        IntentValidationError: every field that is wrong, each naming its value.
    """
    errors: list[FieldError] = []
    add = errors.append

    if not isinstance(intent.strategy_code, str) or not _STRATEGY_RE.fullmatch(intent.strategy_code):
        add(FieldError("strategy_code", intent.strategy_code, "1-64 characters of A-Z a-z 0-9 . _ -"))
    if intent.side not in SIDES:
        add(FieldError("side", intent.side, f"must be one of {', '.join(SIDES)}"))
    if intent.order_type not in ORDER_TYPES:
        add(FieldError("order_type", intent.order_type, f"must be one of {', '.join(ORDER_TYPES)}"))
    if intent.product not in PRODUCTS:
        add(FieldError("product", intent.product, f"must be one of {', '.join(PRODUCTS)}"))
    if intent.validity not in VALIDITIES:
        add(FieldError("validity", intent.validity, f"must be one of {', '.join(VALIDITIES)}"))
    if intent.variety not in VARIETIES:
        add(FieldError("variety", intent.variety, f"must be one of {', '.join(VARIETIES)}"))

    symbol = intent.symbol if isinstance(intent.symbol, str) else ""
    if not isinstance(intent.symbol, str):
        add(FieldError("symbol", intent.symbol, "must be a string"))
    exchange_given = intent.exchange if isinstance(intent.exchange, str) or intent.exchange is None else None
    if exchange_given is None and intent.exchange is not None:
        add(FieldError("exchange", intent.exchange, "must be a string"))
    exchange, tradingsymbol = split_symbol(symbol, exchange_given, default_exchange)
    if exchange not in EXCHANGES:
        field = "symbol" if ":" in symbol else "exchange"
        add(FieldError(field, intent.symbol if field == "symbol" else intent.exchange, "unknown exchange"))
    elif exchange_given is not None and ":" in symbol and exchange_given != exchange:
        add(FieldError("exchange", intent.exchange, f"contradicts the symbol's prefix {exchange!r}"))
    if symbol and not _SYMBOL_RE.fullmatch(tradingsymbol):
        add(FieldError("symbol", intent.symbol, "not a trading symbol"))
    key = f"{exchange}:{tradingsymbol}"
    instrument = lookup(key)
    tick_size = (
        instrument.tick_size if instrument is not None and instrument.tick_size > 0 else default_tick_size
    )
    if instrument is not None and not instrument.tradable:
        add(FieldError("symbol", intent.symbol, f"{key} is an index: the exchange takes no order for it"))
    if instrument is None and symbol and instrument_type_of(exchange, tradingsymbol) is None:
        add(
            FieldError(
                "symbol", intent.symbol, f"not a {exchange} contract (FUT, CE or PE) the instruments know"
            )
        )
    if instrument is not None and (refusal := expired_refusal(key, instrument, now_ns)) is not None:
        add(FieldError("symbol", intent.symbol, refusal))
    if exchange in LOT_EXCHANGES and symbol and multiplier(key) is None:
        add(FieldError("symbol", intent.symbol, missing_multiplier(key, lookup)))

    qty = intent.qty
    if isinstance(qty, bool) or not isinstance(qty, int):
        add(FieldError("qty", qty, "must be an integer"))
    elif qty <= 0:
        add(FieldError("qty", qty, "must be positive"))
    elif qty > MAX_QTY:
        add(FieldError("qty", qty, f"must not exceed {MAX_QTY:,}"))
    elif instrument is not None and instrument.lot_size > 1 and qty % instrument.lot_size:
        add(FieldError("qty", qty, f"must be a multiple of the lot size {instrument.lot_size}"))
    elif (
        exchange in FREEZE_EXCHANGES  # the only cost an order off NFO and BFO pays for the check
        and instrument is not None
        and (limit := freeze.get((exchange, instrument.name))) is not None
        and qty > limit
    ):
        # an iceberg's legs go to the exchange one by one: a leg is what the limit caps
        leg = iceberg_leg(qty, intent.metadata) if intent.variety == "iceberg" else None
        if leg is None:
            add(FieldError("qty", qty, freeze_refusal(limit, instrument)))
        elif leg[1] > limit:
            field, units = leg
            value = qty if field == "qty" else units
            add(FieldError(field, value, freeze_refusal(limit, instrument, leg=units)))

    # Kite's legs, checked here so paper and dry-run refuse what live would (only icebergs pay)
    if intent.variety == "iceberg" and isinstance(intent.metadata, dict) and type(qty) is int and qty > 0:
        lot_size = instrument.lot_size if instrument is not None else 1
        errors.extend(iceberg_errors(qty, intent.metadata, lot_size))

    order_type = intent.order_type
    _check_price(errors, "price", intent.price, tick_size, required=order_type in ("LIMIT", "SL"))
    _check_price(
        errors, "trigger_price", intent.trigger_price, tick_size, required=order_type in ("SL", "SL-M")
    )
    if order_type in ("MARKET", "LIMIT") and intent.trigger_price is not None:
        add(FieldError("trigger_price", intent.trigger_price, f"not allowed for {order_type}"))
    if (
        order_type == "SL"
        and isinstance(intent.price, float | int)
        and isinstance(intent.trigger_price, float | int)
        and intent.side in SIDES
    ):
        if intent.side == "BUY" and intent.trigger_price > intent.price:
            add(
                FieldError(
                    "trigger_price", intent.trigger_price, "must not exceed the limit price of a BUY SL"
                )
            )
        if intent.side == "SELL" and intent.trigger_price < intent.price:
            add(
                FieldError(
                    "trigger_price", intent.trigger_price, "must not be below the limit price of a SELL SL"
                )
            )

    if intent.tag is not None and (not isinstance(intent.tag, str) or not _TAG_RE.fullmatch(intent.tag)):
        add(FieldError("tag", intent.tag, "at most 20 characters of A-Z a-z 0-9"))
    conf = intent.confidence
    if isinstance(conf, bool) or not isinstance(conf, int | float) or not (0.0 <= conf <= 1.0):
        add(FieldError("confidence", conf, "must be a number in [0, 1]"))
    if not isinstance(intent.intent_id, str):
        add(FieldError("intent_id", intent.intent_id, "must be a string"))
    elif intent.intent_id and not _ID_RE.fullmatch(intent.intent_id):
        add(FieldError("intent_id", intent.intent_id, "1-64 characters of A-Z a-z 0-9 . _ : -"))
    elif intent.intent_id.startswith(BROKER_PREFIXES):
        reserved = next(p for p in BROKER_PREFIXES if intent.intent_id.startswith(p))
        add(
            FieldError(
                "intent_id", intent.intent_id, f"ids beginning {reserved!r} are the simulated broker's own"
            )
        )
    if not isinstance(intent.reason, str) or len(intent.reason) > 512 or not _utf8(intent.reason):
        add(FieldError("reason", intent.reason, "a string of at most 512 characters of UTF-8 text"))
    if not isinstance(intent.metadata, dict):
        add(FieldError("metadata", _shown(intent.metadata), "must be a mapping of names to values"))
    elif intent.metadata:
        try:
            if len(_json_encode(intent.metadata)) > 4096:
                add(FieldError("metadata", "<...>", "larger than 4096 bytes as JSON"))
            elif _deeper_than(intent.metadata, MAX_METADATA_DEPTH):
                add(FieldError("metadata", "<...>", f"nested deeper than {MAX_METADATA_DEPTH} levels"))
            else:  # written as null, the journal would say other than what was sent
                errors.extend(non_finite_errors("metadata", intent.metadata))
        # a mapping that contains itself, or nests deeper than the encoder goes, raises RecursionError
        except (TypeError, ValueError, RecursionError, msgspec.EncodeError) as exc:
            add(FieldError("metadata", _shown(intent.metadata), f"not JSON-serialisable: {exc}"))

    ts = intent.ts_init
    if isinstance(ts, bool) or not isinstance(ts, int) or ts < 0:
        add(FieldError("ts_init", ts, "must be a non-negative integer (nanoseconds since the epoch)"))

    if errors:
        raise IntentValidationError(errors)

    ts_init = intent.ts_init or now_ns
    normalised = msgspec.structs.replace(intent, symbol=key, exchange=exchange, ts_init=ts_init)
    if not normalised.intent_id:
        normalised = msgspec.structs.replace(normalised, intent_id=make_id(normalised, ts_init))
    return normalised


def validate_modify(
    order: Any,
    filled_qty: int,
    *,
    qty: Any,
    price: Any,
    trigger_price: Any,
    order_type: Any,
    tick_size: float,
    lot_size: int = 1,
    freeze: tuple[int, Instrument] | None = None,
    iceberg_legs: int | None = None,
) -> list[FieldError]:
    """Field errors of a modification of a working order (empty when it may go to the executor).

    ``None`` keeps a term as it is; the result must still be a valid order: LIMIT and SL need a price,
    SL and SL-M a trigger, and the quantity may not fall to or below what is already filled, leave
    the instrument's lot grid (``lot_size``: Kite refuses such a change as it refuses such an
    order), nor rise above ``freeze``'s limit (the order's freeze quantity and its instrument;
    None: no limit). An iceberg order's (``iceberg_legs``) is checked leg by leg, as a new
    iceberg's is (``market.iceberg.modified_iceberg_errors``): the limit caps a leg. A ``qty``
    equal to the iceberg's total changes no leg, so its legs (checked when it was placed) are not
    checked again: named ones need not be the total over the legs rounded up.
    """
    errors: list[FieldError] = []
    final_type = order_type if order_type is not None else order.order_type
    if final_type not in ORDER_TYPES:
        errors.append(FieldError("order_type", order_type, f"must be one of {', '.join(ORDER_TYPES)}"))
    if qty is not None:
        if isinstance(qty, bool) or not isinstance(qty, int):
            errors.append(FieldError("qty", qty, "must be an integer"))
        elif qty <= filled_qty:
            errors.append(FieldError("qty", qty, f"must exceed the {filled_qty} already filled"))
        elif qty > MAX_QTY:
            errors.append(FieldError("qty", qty, f"must not exceed {MAX_QTY:,}"))
        elif lot_size > 1 and qty % lot_size:
            errors.append(FieldError("qty", qty, f"must be a multiple of the lot size {lot_size}"))
        elif iceberg_legs and qty == order.qty:
            pass  # the total it has (a form sent back whole): its legs stay as they were placed
        elif iceberg_legs and (legs_refused := modified_iceberg_errors(qty, iceberg_legs, lot_size)):
            errors.extend(legs_refused)
        elif freeze is not None and (leg := iceberg_leg_of_change(qty, iceberg_legs or 1)) > freeze[0]:
            errors.append(FieldError("qty", qty, freeze_refusal(*freeze, leg=leg if iceberg_legs else None)))
    final_price = price if price is not None else order.price
    final_trigger = trigger_price if trigger_price is not None else order.trigger_price
    if price is not None or final_type in ("LIMIT", "SL"):
        _check_price(errors, "price", final_price, tick_size, required=final_type in ("LIMIT", "SL"))
    if trigger_price is not None or final_type in ("SL", "SL-M"):
        _check_price(errors, "trigger_price", final_trigger, tick_size, required=final_type in ("SL", "SL-M"))
    if qty is None and price is None and trigger_price is None and order_type is None:
        errors.append(FieldError("modify", None, "nothing to change"))
    return errors
