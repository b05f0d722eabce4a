"""What the journal can hold of input that failed its checks.

Bad input is journaled with its REJECTED answer (an invalid intent) or before it is checked (a
cancel or a modification), so that a restart knows what was asked and answered. A field of the
wrong type would write a record the journal's typed decoder refuses, and the next start with it:
these functions coerce such fields to what the schema can hold.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import overload

import msgspec

from execsvc.errors import safe_repr
from execsvc.events import CancelIntent, ModifyIntent, OrderIntent


def utf8_text(text: str) -> str:
    """``text`` as UTF-8 can hold it: a lone surrogate (no UTF-8 encoder writes one) as its escape.

    Python strings may carry them (``"\\ud800"`` from a caller, a ``surrogateescape`` decode); written
    as given, such a field fails the journal's encoder and the record with it.
    """
    return text if text.isascii() else text.encode("utf-8", "backslashreplace").decode("utf-8")


@overload
def journal_safe_change(change: CancelIntent) -> CancelIntent: ...
@overload
def journal_safe_change(change: ModifyIntent) -> ModifyIntent: ...
def journal_safe_change(change: CancelIntent | ModifyIntent) -> CancelIntent | ModifyIntent:
    """A cancel or a modification as the journal can hold it: every field of its schema's type.

    A change is journaled before it is checked, and a caller may pass anything (``reason=None``,
    ``qty=5.0``, an int order id); written as given, such a record fails the journal's decoder and
    the next start with it. Text fields of another type are written as their ``repr`` (None as
    ``""``), text with lone surrogates with them escaped, other terms of the wrong type as None;
    the change is still checked (and refused by name) on the values it came with.
    """

    def text(value: object) -> str:
        return utf8_text(value) if isinstance(value, str) else "" if value is None else safe_repr(value)

    def integer(value: object) -> int | None:
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def number(value: object) -> float | None:
        return value if isinstance(value, int | float) and not isinstance(value, bool) else None

    ts_init = integer(change.ts_init) or 0
    if isinstance(change, CancelIntent):
        return CancelIntent(
            order_id=text(change.order_id),
            intent_id=text(change.intent_id),
            strategy_code=text(change.strategy_code),
            reason=text(change.reason),
            ts_init=ts_init,
        )
    return ModifyIntent(
        order_id=text(change.order_id),
        qty=integer(change.qty),
        price=number(change.price),
        trigger_price=number(change.trigger_price),
        order_type=None if change.order_type is None else text(change.order_type),
        reason=text(change.reason),
        ts_init=ts_init,
    )


def salvage_identity(
    intent: OrderIntent, make_id: Callable[[OrderIntent, int], str], now_ns: int
) -> OrderIntent:
    """An invalid intent made journal-safe: an id, a time, and fields that will encode.

    The REJECTED result of an invalid intent is journaled; its fields may be of any type, so they
    are coerced to what the schema can hold.
    """

    def text(value: object) -> str:
        return utf8_text(value) if isinstance(value, str) else safe_repr(value)

    qty = intent.qty if isinstance(intent.qty, int) and not isinstance(intent.qty, bool) else 0
    intent_id = text(intent.intent_id) if isinstance(intent.intent_id, str) and intent.intent_id else ""
    safe = OrderIntent(
        symbol=text(intent.symbol),
        strategy_code=text(intent.strategy_code),
        side=text(intent.side),
        qty=qty,
        order_type=text(intent.order_type),
        product=text(intent.product),
        validity=text(intent.validity),
        reason=text(intent.reason)[:512],
        intent_id=intent_id[:64],
        ts_init=(
            intent.ts_init
            if isinstance(intent.ts_init, int) and not isinstance(intent.ts_init, bool) and intent.ts_init > 0
            else now_ns
        ),
    )
    if not safe.intent_id:
        safe = msgspec.structs.replace(safe, intent_id=make_id(safe, safe.ts_init))
    return safe
