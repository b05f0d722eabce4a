"""The simulator's leg-by-leg view of an iceberg reads back, through the live path, as the whole order.

``sim.iceberg_legs`` shows an iceberg as Kite's sample does (the current leg's quantity and fills,
the total and the legs after it in ``meta.iceberg``); ``models.whole_iceberg`` reads that view back.
For every total, legs and filled quantity the two agree on the total and on what filled, a leg's
COMPLETE is never the order's, and trades cut at leg boundaries add up to the fill.
"""

from __future__ import annotations

from hypothesis import assume, given
from hypothesis import strategies as st

from execsvc.executors.kite.models import KiteOrder, whole_iceberg
from execsvc.sim.iceberg_legs import ended_legs, leg_parts, leg_view


@st.composite
def icebergs(draw: st.DrawFn) -> tuple[int, int, int, int]:
    """``(total, legs, leg_quantity, filled)`` of an iceberg Kite would cut: no empty leg."""
    legs = draw(st.integers(2, 50))
    leg_quantity = draw(st.integers(1, 500))
    total = draw(st.integers((legs - 1) * leg_quantity + 1, legs * leg_quantity))
    return total, legs, leg_quantity, draw(st.integers(0, total))


def shown(total: int, legs: int, leg_quantity: int, filled: int, ended: int | None = None) -> KiteOrder:
    view = leg_view(total, legs, leg_quantity, filled, ended)
    meta = {"leg": view.leg, "legs": legs, "leg_quantity": leg_quantity, "total_quantity": total,
            "remaining_quantity": view.remaining}  # fmt: skip
    status = "COMPLETE" if view.filled == view.quantity else "OPEN"
    return KiteOrder(
        order_id="1", status=status, variety="iceberg", quantity=view.quantity,
        filled_quantity=view.filled, meta={"iceberg": meta},
    )  # fmt: skip


@given(icebergs())
def test_the_view_of_any_leg_reads_back_as_the_whole_order(case: tuple[int, int, int, int]) -> None:
    total, legs, leg_quantity, filled = case

    whole = whole_iceberg(shown(total, legs, leg_quantity, filled))

    assert (whole.quantity, whole.filled_quantity) == (total, filled)
    assert (whole.status == "COMPLETE") == (filled == total)


@given(icebergs(), st.integers(0, 25_000))
def test_legs_ended_by_a_fill_are_complete_legs_not_the_order(
    case: tuple[int, int, int, int], more: int
) -> None:
    total, legs, leg_quantity, before = case
    after = min(before + more, total)

    for leg in ended_legs(legs, leg_quantity, before, after):
        whole = whole_iceberg(shown(total, legs, leg_quantity, leg * leg_quantity, ended=leg))
        assert leg < legs
        assert (whole.status, whole.filled_quantity) == ("OPEN", leg * leg_quantity)


@given(icebergs(), st.integers(1, 25_000))
def test_a_fill_cut_at_leg_boundaries_adds_up_and_fits_its_legs(
    case: tuple[int, int, int, int], more: int
) -> None:
    total, legs, leg_quantity, before = case
    assume(before < total)
    qty = min(more, total - before)

    parts = leg_parts(legs, leg_quantity, before, qty)

    assert sum(parts) == qty and all(part > 0 for part in parts)
    assert all(part <= leg_quantity for part in parts[:-1])  # only the last leg holds the rest
