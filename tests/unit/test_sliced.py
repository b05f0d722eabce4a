"""Slicing an F&O intent above its freeze quantity (``market.freeze.slice_sizes`` and ``freeze_slices``,
``sliced.plan_slices`` and ``sliced.journal_conflict``): sizes, ids, metadata, what goes whole, and
the refusals. Pure functions, no event loop."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec
import pytest

from execsvc.errors import IntentValidationError
from execsvc.events import ExecutionResult, OrderIntent
from execsvc.market.freeze import FreezeQuantities, freeze_slices, slice_sizes
from execsvc.sliced import journal_conflict, over_value_cap, plan_slices
from execsvc.validation import validate_intent
from tests.unit.test_freeze_quantities import BANKNIFTY, BUNDLED, INFY, INSTRUMENTS, NIFTY, NOW, STOCK_FUT


def nifty(qty: int, intent_id: str = "big", **kw: Any) -> OrderIntent:
    fields: dict[str, Any] = {"side": "BUY", "product": "NRML", **kw}
    return OrderIntent(symbol=NIFTY.key, strategy_code="s1", qty=qty, intent_id=intent_id, **fields)


def validate(intent: OrderIntent, *, freeze: Mapping[tuple[str, str], int]) -> OrderIntent:
    return validate_intent(
        intent,
        now_ns=NOW,
        default_exchange="NSE",
        default_tick_size=0.05,
        lookup=INSTRUMENTS.get,
        make_id=lambda _intent, ts: f"id-{ts}",
        freeze=freeze,
    )


def plan(intent: OrderIntent, table: FreezeQuantities = BUNDLED) -> list[OrderIntent]:
    return plan_slices(intent, validate=validate, lookup=INSTRUMENTS.get, freeze=table).pieces


def answer(piece: OrderIntent, status: str = "FILLED") -> ExecutionResult:
    return ExecutionResult(
        intent_id=piece.intent_id,
        strategy_code=piece.strategy_code,
        symbol=piece.symbol,
        side=piece.side,
        qty=piece.qty,
        status=status,
        ts_event=NOW,
    )


# --- slice_sizes --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "limit", "lot", "sizes"),
    [
        (1755, 1800, 65, [1755]),  # 27 lots: at the most one order may carry
        (1800, 1800, 1, [1800]),  # exactly the limit passes
        (3510, 1800, 65, [1755, 1755]),
        (3900, 1800, 65, [1755, 1755, 390]),
        (1260, 600, 30, [600, 600, 60]),  # BANKNIFTY: the limit is whole lots
        (1801, 1800, 1, [1800, 1]),
        (130, 60, 65, [130]),  # one lot above the limit: no order of whole lots carries any of it
    ],
    ids=[
        "27 lots",
        "at the limit",
        "two full",
        "two full and a rest",
        "whole-lot limit",
        "lot 1",
        "lot > limit",
    ],
)
def test_slice_sizes_are_the_most_whole_lots_one_order_may_carry_then_the_rest(
    qty: int, limit: int, lot: int, sizes: list[int]
) -> None:
    assert slice_sizes(qty, limit, lot) == sizes
    assert sum(slice_sizes(qty, limit, lot)) == qty


def test_freeze_slices_derive_ids_from_the_intents_and_keep_every_other_field() -> None:
    parent = nifty(3900, "p-7", order_type="LIMIT", price=26_000.0, metadata={"why": "roll"})

    slices = freeze_slices(parent, NIFTY, BUNDLED)

    assert [(s.intent_id, s.qty) for s in slices] == [("p-7.1", 1755), ("p-7.2", 1755), ("p-7.3", 390)]
    assert [msgspec.structs.replace(s, qty=0, intent_id="") for s in slices] == 3 * [
        msgspec.structs.replace(parent, qty=0, intent_id="")
    ]
    assert freeze_slices(parent, NIFTY, BUNDLED) == slices  # a retry derives the same ones


@pytest.mark.parametrize(
    ("instrument", "qty"),
    [(NIFTY, 1755), (INFY, 100_000), (STOCK_FUT, 50_000), (None, 10_000)],
    ids=["within the limit", "not F&O", "no freeze row", "not in the dump"],
)
def test_freeze_slices_leave_an_intent_it_need_not_cut_whole(instrument: Any, qty: int) -> None:
    whole = nifty(qty)

    assert freeze_slices(whole, instrument, BUNDLED) == [whole]


# --- plan_slices -------------------------------------------------------------------------------------------


def test_plan_marks_each_slice_with_its_parent_number_and_count_over_the_parents_metadata() -> None:
    slices = plan(nifty(3900, metadata={"signal": "breakout", "slice": "caller's"}))

    assert [(s.intent_id, s.qty) for s in slices] == [("big.1", 1755), ("big.2", 1755), ("big.3", 390)]
    assert [s.metadata for s in slices] == [
        {"signal": "breakout", "slice": k, "slice_of": "big", "slices": 3} for k in (1, 2, 3)
    ]
    for piece in slices:  # each one a normal intent validation takes, limit and all
        assert validate(piece, freeze=BUNDLED.limits).qty == piece.qty


@pytest.mark.parametrize(
    "parent",
    [
        nifty(1755),  # within the limit
        nifty(3901),  # not whole lots: refused for that, under its own id, as any intent
        nifty(3900, side="HOLD"),  # refused for another field
        nifty(3900, order_type="LIMIT"),  # a LIMIT without a price
        OrderIntent(symbol=INFY.key, strategy_code="s1", side="BUY", qty=100_000, intent_id="big"),
    ],
    ids=["within", "not whole lots", "bad side", "no price", "cash"],
)
def test_plan_sends_whole_a_parent_within_the_limit_or_one_validation_refuses_anyway(
    parent: OrderIntent,
) -> None:
    assert plan(parent) == [parent]


def test_a_lot_above_the_limit_cannot_be_sliced_and_goes_whole_to_its_refusal() -> None:
    tiny = FreezeQuantities({"BANKNIFTY": 20})  # below one lot of 30
    parent = OrderIntent(symbol=BANKNIFTY.key, strategy_code="s1", side="BUY", qty=60, intent_id="b")

    assert plan(parent, tiny) == [parent]


@pytest.mark.parametrize(
    ("parent", "field", "reason"),
    [
        (
            nifty(3900, "x" * 63),
            "intent_id",
            f"1-64 characters of A-Z a-z 0-9 . _ : - (slice 1 of 3 of {'x' * 63!r})",
        ),
        (
            nifty(3900, metadata={"note": "n" * 4070}),
            "metadata",
            "larger than 4096 bytes as JSON (slice 1 of 3 of 'big')",
        ),
    ],
    ids=["id too long for its slices", "metadata too large with the slice keys"],
)
def test_a_valid_parent_whose_slices_would_be_invalid_is_refused_naming_field_and_slice(
    parent: OrderIntent, field: str, reason: str
) -> None:
    assert validate(parent, freeze={}).qty == 3900  # the parent itself is fine

    with pytest.raises(IntentValidationError) as refused:
        plan(parent)

    assert [(e.field, e.reason) for e in refused.value.errors] == [(field, reason)]


def test_the_plan_validates_the_parent_once_per_freeze_table_and_names_its_symbol() -> None:
    """``execute_sliced`` reads the parent's normalised symbol (the order-value cap's price) from
    the plan: before, it validated the parent a second time for it."""
    parent = OrderIntent(
        symbol=NIFTY.tradingsymbol, exchange="NFO", strategy_code="s1", side="BUY", qty=3900,
        product="NRML", intent_id="big",
    )  # fmt: skip
    seen: list[tuple[str, bool]] = []

    def counting(intent: OrderIntent, *, freeze: Mapping[tuple[str, str], int]) -> OrderIntent:
        seen.append((intent.intent_id, bool(freeze)))
        return validate(intent, freeze=freeze)

    planned = plan_slices(parent, validate=counting, lookup=INSTRUMENTS.get, freeze=BUNDLED)

    assert [p.intent_id for p in planned.pieces] == ["big.1", "big.2", "big.3"]
    assert planned.symbol == NIFTY.key
    assert [s for s in seen if s[0] == "big"] == [("big", True), ("big", False)]


# --- journal_conflict ------------------------------------------------------------------------------------


def test_slices_journaled_as_planned_are_no_conflict() -> None:
    parent = nifty(3900)
    slices = plan(parent)

    assert journal_conflict(parent, slices, {}, "NSE") is None
    assert journal_conflict(parent, slices, {"big.1": answer(slices[0])}, "NSE") is None
    rejected = {"big.1": answer(slices[0]), "big.2": answer(slices[1], "REJECTED")}
    assert journal_conflict(parent, slices, rejected, "NSE") is None


def test_a_slice_journaled_with_another_size_refuses_the_call() -> None:
    parent = nifty(3900)
    before = plan(parent)  # 1755 + 1755 + 390
    now = plan(parent, FreezeQuantities({"NIFTY": 1300}))  # a lower limit: 1300 x 3

    conflict = journal_conflict(parent, now, {"big.1": answer(before[0])}, "NSE")

    assert conflict is not None and (conflict.field, conflict.value) == ("qty", 3900)
    assert conflict.reason.startswith(
        f"slice 'big.1' was journaled as BUY 1755 {NIFTY.key}, but slice 1 of this call would be 1300"
    )


def test_slices_journaled_past_the_plans_last_or_when_it_goes_whole_refuse_the_call() -> None:
    parent = nifty(3900)
    slices = plan(parent)
    before = {p.intent_id: answer(p) for p in slices}

    past = journal_conflict(parent, slices[:2], before, "NSE")  # big.3 journaled, a plan of two
    whole = journal_conflict(parent, [parent], {"big.1": before["big.1"]}, "NSE")

    assert past is not None and "slice 'big.3' of this intent is journaled, but it now makes 2" in past.reason
    assert (
        whole is not None
        and "slice 'big.1' of this intent is journaled, but it now goes whole" in whole.reason
    )


@pytest.mark.parametrize(
    ("side", "order_type", "price", "last", "cap", "refused"),
    [
        ("BUY", "MARKET", None, 26_000.0, 50_000_000.0, True),  # 3900 x 26,000 = 10.14 crore
        ("BUY", "LIMIT", 12_000.0, 26_000.0, 50_000_000.0, False),  # a BUY LIMIT pays at most its limit
        ("SELL", "LIMIT", 12_000.0, 26_000.0, 50_000_000.0, True),  # a SELL can trade at the market
        ("BUY", "MARKET", None, 26_000.0, None, False),  # no cap
        ("BUY", "MARKET", None, None, 50_000_000.0, False),  # no price: the breakers refuse a slice
        ("BUY", "MARKET", None, 12_820.51, 50_000_000.0, False),  # 49,999,989: at the cap
    ],
)
def test_the_order_value_cap_weighs_the_parent_as_one_order(side, order_type, price, last, cap, refused):
    parent = OrderIntent(
        symbol="NFO:NIFTY26NOVFUT", strategy_code="s1", side=side, qty=3900, order_type=order_type,
        price=price, intent_id="big",
    )  # fmt: skip
    error = over_value_cap(parent, last, 1.0, cap)

    assert (error is not None) == refused
    if error is not None:
        assert (error.field, error.value) == ("qty", 3900)
        assert "slicing does not lift the order-value cap" in error.reason
