"""The Kite simulator refuses an iceberg whose legs Kite would not cut as asked, as the engine does.

Kite's leg is quantity / legs: a placement whose legs the quantity leaves empty (a leg quantity so
large that fewer legs cover the quantity) is refused, and so is a change of an iceberg's total
whose legs (the new total over them, rounded up) are not whole lots or leave legs empty. Before,
the simulator took both, so a client rehearsing on it (the official ``kiteconnect`` here) learnt
nothing of terms the engine refuses before sending. The refusal is a 400 ``InputException`` in
Kite's envelope, which the official client raises as ``InputException``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from kiteconnect import KiteConnect
from kiteconnect import exceptions as kex

from execsvc.sim import KiteSimulator
from tests.official_kite import official_client, order_total, place_nifty_future


def infy_berg(kite: KiteConnect, quantity: int, legs: int, leg: int) -> Any:
    """Place a resting iceberg BUY of INFY (at 1,500 in the ``sim`` fixture) below the market."""
    return kite.place_order(
        variety="iceberg", exchange="NSE", tradingsymbol="INFY", transaction_type="BUY", quantity=quantity,
        product="CNC", order_type="LIMIT", price=1_490.0, iceberg_legs=legs, iceberg_quantity=leg,
    )  # fmt: skip


async def test_the_official_client_gets_an_input_exception_for_an_iceberg_whose_legs_would_be_empty(
    sim: KiteSimulator,
) -> None:
    kite = official_client(sim)

    with pytest.raises(kex.InputException) as too_large_a_leg:
        await asyncio.to_thread(infy_berg, kite, 100, 3, 50)  # 50 fills 100 in 2 legs
    with pytest.raises(kex.InputException) as leg_above_quantity:
        await asyncio.to_thread(infy_berg, kite, 100, 2, 150)
    placed = await asyncio.to_thread(infy_berg, kite, 100, 3, 34)  # 34 + 34 + 32
    orders = await asyncio.to_thread(kite.orders)

    assert too_large_a_leg.value.code == 400
    assert str(too_large_a_leg.value) == (
        "Invalid `iceberg_quantity`: 50: 3 legs of 50 leave 1 empty: in 3 legs, qty 100 takes legs "
        "of 34 to 49 (Kite's leg is qty / legs)."
    )
    assert leg_above_quantity.value.code == 400
    assert str(leg_above_quantity.value) == (
        "Invalid `iceberg_quantity`: 150: must be at most qty (100) and cover it in 2 legs."
    )
    assert [(o["order_id"], o["meta"]["iceberg"]["legs"]) for o in orders] == [(placed, 3)]


async def test_the_official_client_gets_an_input_exception_for_an_iceberg_whose_legs_are_not_whole_lots(
    fno_sim: KiteSimulator,
) -> None:
    kite = official_client(fno_sim)

    with pytest.raises(kex.InputException) as off_lots:
        # 10 lots; a leg of 217 is no lot
        await asyncio.to_thread(place_nifty_future, kite, 650, legs=3, leg=217)
    placed = await asyncio.to_thread(place_nifty_future, kite, 650, legs=3, leg=260)  # legs of 4 lots
    orders = await asyncio.to_thread(kite.orders)

    assert str(off_lots.value) == (
        "Invalid `iceberg_quantity`: 217: must be a multiple of the lot size 65 (each leg is an "
        "exchange order of its own)."
    )
    assert [o["order_id"] for o in orders] == [placed]


async def test_a_change_of_an_icebergs_total_whose_legs_are_not_whole_lots_is_an_input_exception(
    fno_sim: KiteSimulator,
) -> None:
    kite = official_client(fno_sim)
    order_id = await asyncio.to_thread(place_nifty_future, kite, 3510, legs=2, leg=1755)  # legs of 27 lots

    with pytest.raises(kex.InputException) as off_lots:
        await asyncio.to_thread(kite.modify_order, "iceberg", order_id, quantity=3575)  # legs of 1788
    await asyncio.to_thread(kite.modify_order, "iceberg", order_id, quantity=3380)  # legs of 26 lots
    orders = await asyncio.to_thread(kite.orders)

    assert off_lots.value.code == 400
    assert str(off_lots.value) == (
        "Invalid `quantity`: 3575: as an iceberg of 2 legs: legs of 1788, not a multiple of the lot size 65."
    )
    assert [(o["order_id"], order_total(o)) for o in orders] == [(order_id, 3380)]
    assert fno_sim.stats()["modifications"] == 1


async def test_a_change_of_an_icebergs_total_that_leaves_legs_empty_is_an_input_exception(
    sim: KiteSimulator,
) -> None:
    kite = official_client(sim)
    order_id = await asyncio.to_thread(infy_berg, kite, 100, 50, 2)

    with pytest.raises(kex.InputException) as empty:
        await asyncio.to_thread(kite.modify_order, "iceberg", order_id, quantity=60)
    orders = await asyncio.to_thread(kite.orders)

    assert str(empty.value) == (
        "Invalid `quantity`: 60: as an iceberg of 50 legs: legs of 2, which fill it in 30: 20 legs "
        "would be empty (Kite's leg is qty / legs)."
    )
    assert [(o["order_id"], order_total(o)) for o in orders] == [(order_id, 100)]


async def test_a_new_price_with_the_icebergs_unchanged_total_cuts_no_legs_and_is_taken(
    fno_sim: KiteSimulator,
) -> None:
    # 650 / 3 rounds up to 217 (no whole lots), but the legs named at placement (260) stay: an
    # unchanged total is no change of total, as the engine reads it
    kite = official_client(fno_sim)
    order_id = await asyncio.to_thread(place_nifty_future, kite, 650, legs=3, leg=260)

    await asyncio.to_thread(kite.modify_order, "iceberg", order_id, quantity=650, price=25_850.0)
    orders = await asyncio.to_thread(kite.orders)

    assert [(o["order_id"], order_total(o), o["price"]) for o in orders] == [(order_id, 650, 25_850.0)]
