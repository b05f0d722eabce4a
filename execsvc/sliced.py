"""Sliced execution: an F&O intent above its freeze quantity, sent as the intents the exchange takes.

NSE and BSE refuse a derivatives order above its underlying's freeze quantity, and validation
refuses such an intent first (``market.freeze``). ``ExecutionService.execute_sliced`` is the opt-in
way to trade more in one call: the intent (the parent) is cut into slices of the most whole lots
one order may carry (``freeze_slices``, the square-off's own slicing), and each slice is a normal
intent, journaled and answered as any. Kite's ``autoslice=true`` is not used: it makes one intent
several broker orders behind one tag, and a placement whose answer was lost could then no longer be
matched to one order (never twice rests on one intent, one order).

The rules:

- A slice's id is ``<parent id>.<k>`` (``k`` from 1) and its ``metadata`` the parent's with
  ``slice_of`` (the parent's id), ``slice`` (``k``) and ``slices`` (how many) added.
- Slices go out in order, each awaited before the next is sent, so the rate limiter and the
  breakers see them one by one. The first slice answered ``REJECTED`` (a breaker, the session,
  validation) ends the call: the rest are not sent, and the list returned ends with that result
  (with ``raise_on_reject``, that result is raised as ``execute_intent`` raises it, once journaled).
- A parent within its freeze quantity, off NFO and BFO, without a limit, or refused by validation
  for anything but its size (a quantity that is not whole lots, say) goes as it is: one result, under
  its own id, refused as any intent would be. So does a parent whose id the journal already holds.
- A re-call with the same parent (after a kill, say) derives the same ids: the slices answered
  before get their first results back from the journal and only the missing ones are sent. A
  slice journaled today or on the last journaled day (a retry across the date line) that is not
  the one this call would send (the freeze quantity or the lot size changed in between) refuses
  the call before anything is sent, rather than trade a different total; so does a parent that
  would now go whole while slices of it are journaled. (Across the date line an intent id that
  names another order is a new intent, ``intake.same_order``: a slice's must not be, or the whole
  parent would go out again on top of what its slices traded the day before.)
- The order-value cap (``max_order_value_rupees``) applies to the parent, the order the trader
  asked for, not only to each slice: a parent worth more than it refuses the call before anything
  is sent (``over_value_cap``), as one order of that size would be refused.
"""

from __future__ import annotations

import functools
import logging
from collections import ChainMap
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, NamedTuple, Protocol

import msgspec

from execsvc.breakers.rules import reference_price
from execsvc.errors import FieldError, IntentValidationError
from execsvc.events import ExecutionResult, OrderIntent
from execsvc.intake import checked, keyed, same_order
from execsvc.market.freeze import FreezeQuantities, freeze_slices
from execsvc.market.instruments import Instrument
from execsvc.validation import validate_intent

if TYPE_CHECKING:
    from execsvc.service import ExecutionService

log = logging.getLogger("execsvc.sliced")

__all__ = ["SlicePlan", "execute_sliced", "over_value_cap", "plan_slices"]


class Validate(Protocol):
    """``validate_intent`` bound to a service's reference data and clock, the freeze table apart."""

    def __call__(self, intent: OrderIntent, *, freeze: Mapping[tuple[str, str], int]) -> OrderIntent: ...


class SlicePlan(NamedTuple):
    """What ``plan_slices`` found: the intents to send, and the parent's ``EXCHANGE:TRADINGSYMBOL``
    as validation normalised it (None when validation refuses the parent)."""

    pieces: list[OrderIntent]
    symbol: str | None


def plan_slices(
    parent: OrderIntent,
    *,
    validate: Validate,
    lookup: Callable[[str], Instrument | None],
    freeze: FreezeQuantities,
) -> SlicePlan:
    """What to send for ``parent``: ``[parent]`` as it is, or its slices (see the module docstring).

    The parent is validated at most once against the freeze table and once without it; the
    caller reads its normalised symbol from the plan instead of validating it again.

    Args:
        parent: an intent with its id (``intake.keyed``).
        validate: validation as the engine runs it (``freeze`` passed per call).
        lookup: ``EXCHANGE:TRADINGSYMBOL`` -> instrument.
        freeze: the freeze table.

    Returns:
        ``[parent]``, or two or more slices, each valid as the engine would find it now, and the
        parent's normalised symbol.

    Raises:
        IntentValidationError: the parent is valid but a slice is not (its id past 64 characters,
            its metadata past 4096 bytes with the slice's keys added): nothing may be sent.
    """
    try:
        whole = validate(parent, freeze=freeze.limits)
        # the exchange takes it whole (within its limit, or an iceberg's legs are)
        return SlicePlan([parent], whole.symbol)
    except IntentValidationError:
        pass
    try:
        normalised = validate(parent, freeze={})  # everything but its size
    except IntentValidationError:
        return SlicePlan([parent], None)  # refused under its own id, naming every field, as any intent is
    pieces = freeze_slices(parent, lookup(normalised.symbol), freeze)
    if len(pieces) == 1:
        return SlicePlan(pieces, normalised.symbol)
    total = len(pieces)
    slices = [
        msgspec.structs.replace(
            piece, metadata={**parent.metadata, "slice_of": parent.intent_id, "slice": k, "slices": total}
        )
        for k, piece in enumerate(pieces, start=1)
    ]
    for k, piece in enumerate(slices, start=1):
        try:
            validate(piece, freeze=freeze.limits)
        except IntentValidationError as exc:
            where = f"(slice {k} of {total} of {parent.intent_id!r})"
            errors = [FieldError(e.field, e.value, f"{e.reason} {where}") for e in exc.errors]
            raise IntentValidationError(errors) from exc
    return SlicePlan(slices, normalised.symbol)


def over_value_cap(
    parent: OrderIntent, last_price: float | None, multiplier: float, cap: float | None
) -> FieldError | None:
    """The order-value cap, for the parent as the one order the trader asked for: a pure function.

    Each slice is valued on its own by the breakers, so without this a sliced order could trade many
    times ``max_order_value_rupees`` in one call (a fat-fingered quantity the cap exists to stop).
    An order nothing prices passes here: its first slice meets the breakers' own "no price" refusal.

    Returns:
        The error naming ``qty`` when the parent is worth more than ``cap``; None to go on.
    """
    ref = reference_price(parent.side, parent.order_type, parent.price, parent.trigger_price, last_price)
    if cap is None or ref is None:
        return None
    value = ref * parent.qty * multiplier
    if value <= cap:
        return None
    return FieldError(
        "qty",
        parent.qty,
        f"the order is worth {value:,.2f} > max_order_value_rupees {cap:,.2f}: slicing does not lift "
        "the order-value cap; nothing was sent",
    )


def journal_conflict(
    parent: OrderIntent,
    plan: list[OrderIntent],
    earlier: Mapping[str, ExecutionResult],
    default_exchange: str,
) -> FieldError | None:
    """Why ``plan`` may not be sent, given the first results journaled today and on the last
    journaled day (``earlier``), or None.

    A slice id answered today for another order than the plan's (another quantity: the freeze
    quantity or the lot size changed since the first call), a slice past the plan's last, or any
    slice when the plan is to send the parent whole, would make the total differ from what was
    asked: the trader must look, not the service guess.
    """
    parent_id = parent.intent_id
    whole = len(plan) == 1 and plan[0].intent_id == parent_id
    for k, piece in enumerate([] if whole else plan, start=1):
        first = earlier.get(piece.intent_id)
        if first is not None and not same_order(piece, first, default_exchange):
            return FieldError(
                "qty",
                parent.qty,
                f"slice {piece.intent_id!r} was journaled as {first.side} {first.qty} {first.symbol}, "
                f"but slice {k} of this call would be {piece.qty}: the freeze quantity or lot size "
                "changed since; check the position and send the rest under a new intent_id",
            )
    extra = f"{parent_id}.{1 if whole else len(plan) + 1}"
    if extra in earlier:
        now = "goes whole" if whole else f"makes {len(plan)} slices"
        return FieldError(
            "qty",
            parent.qty,
            f"slice {extra!r} of this intent is journaled, but it now {now}: the freeze quantity "
            "or lot size changed since; check the position and send the rest under a new intent_id",
        )
    return None


async def execute_sliced(
    svc: ExecutionService,
    intent: OrderIntent,
    *,
    raise_on_reject: bool = False,
    on_send: Callable[[OrderIntent], None] | None = None,
) -> list[ExecutionResult]:
    """Execute ``intent`` as slices within its freeze quantity; see ``ExecutionService.execute_sliced``.

    ``raise_on_reject`` raises for the last result when it is REJECTED, once it is journaled, as
    ``execute_intent`` does (``intake.checked``); ``on_send`` is called with each intent (the
    parent, or a slice) just before it is submitted.
    """
    engine = svc.engine
    parent, parent_id = keyed(intent, now_ns=svc.clock.now_ns, make_id=engine.make_intent_id)
    config = engine.config
    yesterday = engine.previous_day_results.get(parent_id)
    if (
        not isinstance(parent.intent_id, str)
        or parent_id in engine.state.intent_ids
        or (yesterday is not None and same_order(parent, yesterday, config.execution.default_exchange))
    ):
        # a bad id, or a journaled intent: answered as any
        return [await _send(svc, parent, raise_on_reject, on_send)]
    validate = functools.partial(
        validate_intent,
        now_ns=svc.clock.now_ns(),
        default_exchange=config.execution.default_exchange,
        default_tick_size=config.market.default_tick_size,
        lookup=engine.instruments.by_key,
        make_id=engine.make_intent_id,
        multiplier=engine.paper.multipliers.of,
    )
    plan, symbol = plan_slices(
        parent, validate=validate, lookup=engine.instruments.by_key, freeze=engine.freeze
    )
    # today's first results, then the last journaled day's: a retry may cross the date line
    earlier = ChainMap(engine.state.first_results, engine.previous_day_results)
    conflict = journal_conflict(parent, plan, earlier, config.execution.default_exchange)
    if conflict is not None:
        raise IntentValidationError([conflict])
    if len(plan) > 1:
        assert symbol is not None  # a plan of slices is of a parent validation passed
        last, cap = engine.executor.last_price(symbol), engine.limits.max_order_value_rupees
        multiplier = engine.paper.multipliers.of(symbol) or 1.0
        if (too_big := over_value_cap(parent, last, multiplier, cap)) is not None:
            log.warning("intent %s refused before slicing: %s", parent_id, too_big)
            raise IntentValidationError([too_big])
        log.info("intent %s: %d units sent in %d slices", parent_id, parent.qty, len(plan))
    results: list[ExecutionResult] = []
    for piece in plan:
        result = await _send(svc, piece, False, on_send)
        results.append(result)
        if result.status == "REJECTED":
            if len(plan) > 1:
                log.warning(
                    "intent %s: slice %s REJECTED (%s), %d of %d not sent",
                    parent_id,
                    piece.intent_id,
                    result.reject_reason,
                    len(plan) - len(results),
                    len(plan),
                )
            checked(result, raise_on_reject)  # the refusal is journaled: execute_intent returned it
            break
    return results


async def _send(
    svc: ExecutionService,
    piece: OrderIntent,
    raise_on_reject: bool,
    on_send: Callable[[OrderIntent], None] | None,
) -> ExecutionResult:
    if on_send is not None:
        on_send(piece)
    return await svc.execute_intent(piece, raise_on_reject=raise_on_reject)
