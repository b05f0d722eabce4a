"""Intake: the key an intent's answer is waited on under, and how that answer reaches the caller.

These are the two decisions at either end of ``ExecutionService.execute_intent``: which id an
intent that came without one is given (and when a bad id is left for validation to report), and
which results become exceptions under ``raise_on_reject``. They live apart from the service's
plumbing because they are plain functions of their arguments (the clock and the id minter are
passed in): they read, and can be tested, without a running service.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Container, Iterator

import msgspec

from execsvc.errors import FieldError, IntentRejectedError, IntentValidationError
from execsvc.events import ExecutionResult, OrderIntent
from execsvc.validation import split_symbol


def keyed(
    intent: OrderIntent, *, now_ns: Callable[[], int], make_id: Callable[[OrderIntent, int], str]
) -> tuple[OrderIntent, str]:
    """The intent (with an id when it had none) and the key its answer is waited on under.

    An intent id that is not a string is left for validation to report; the answer then comes
    under a generated key (the rejected intent is journaled with it). ``ts_init`` is stamped with
    the clock when it is absent (the integer 0), so that an intent's age
    (``execution.max_intent_age_seconds``) counts from its submission, not from when an executor
    took it from a queue or a stream; any other value that is not a non-negative
    integer (-1, 1.5, "x") is left as it is for validation to reject, so that an intent without an
    id is refused exactly as the same intent with one.

    Args:
        intent: the intent as the caller sent it.
        now_ns: the clock; read only when the intent has no usable ``ts_init``.
        make_id: mints a fresh intent id from an intent and its ``ts_init`` (the engine's).

    Returns:
        The intent to submit and its key: the caller's intent id, or the generated one.
    """
    raw = intent.intent_id
    given = intent.ts_init
    absent = isinstance(given, int) and not isinstance(given, bool) and given == 0
    if isinstance(raw, str) and raw:
        if absent:  # its age counts from here, not from when an executor gets to it
            intent = msgspec.structs.replace(intent, ts_init=now_ns())
        return intent, raw
    usable = isinstance(given, int) and not isinstance(given, bool) and given > 0
    ts_init = given if usable else now_ns()
    key = make_id(intent, ts_init)
    if isinstance(raw, str):
        if absent:
            intent = msgspec.structs.replace(intent, intent_id=key, ts_init=ts_init)
        else:
            intent = msgspec.structs.replace(intent, intent_id=key)
    return intent, key


def checked(result: ExecutionResult, raise_on_reject: bool) -> ExecutionResult:
    """The result as it is, unless ``raise_on_reject`` asks for a rejection to be raised.

    Raises:
        IntentValidationError: with ``raise_on_reject``, for an intent rejected as invalid (the
            field errors are rebuilt from the result's ``raw``).
        IntentRejectedError: with ``raise_on_reject``, for any other rejection.
    """
    if raise_on_reject and result.status == "REJECTED":
        if result.reject_reason == "validation":
            errors = (result.raw or {}).get("errors", [])
            rebuilt = [FieldError(e["field"], e["value"], e["reason"]) for e in errors]
            raise IntentValidationError(rebuilt, message=result.message)
        raise IntentRejectedError(result)
    return result


def same_order(intent: OrderIntent, result: ExecutionResult, default_exchange: str) -> bool:
    """Whether ``intent`` asks for the order ``result`` answered: strategy, side, qty and symbol.

    A retry across the date line is answered from the last journaled day only when it is the same
    order; an id reused for another order is a new intent.
    """
    symbol = intent.symbol if isinstance(intent.symbol, str) else ""
    exchange = intent.exchange if isinstance(intent.exchange, str) else None
    prefix, tradingsymbol = split_symbol(symbol, exchange, default_exchange)
    return (
        intent.strategy_code == result.strategy_code
        and intent.side == result.side
        and intent.qty == result.qty
        and f"{prefix}:{tradingsymbol}" == result.symbol
    )


def change_key(taken: Container[str], counter: Iterator[int], prefix: str) -> str:
    """A change's submission key: ``prefix`` (what and when) and this process's counter, past any
    key the journal holds (``taken``: a restart counts from 1 again, and a replay clock may read
    the same)."""
    while True:
        key = f"{prefix}:{next(counter)}"
        if key not in taken:
            return key


_UNSAFE_ID = re.compile(r"[^A-Za-z0-9._\-]")


def fresh_intent_id(
    strategy_code: object, ts_init: int, counter: Iterator[int], taken: Callable[[str], bool]
) -> str:
    """An intent id for an intent that came without one: strategy, time and a counter (replays give
    the same ids). Never a ``taken`` one: the counter starts again with the process, and a replay
    restarted at its first tick comes to the same times again."""
    strategy = _UNSAFE_ID.sub("_", str(strategy_code))[:24] or "anon"
    while True:
        intent_id = f"{strategy}-{ts_init}-{next(counter)}"
        if not taken(intent_id):
            return intent_id
