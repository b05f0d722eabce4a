"""The official ``kiteconnect`` client on the Kite simulator, for the tests that check the
simulator answers it as Kite would (its exceptions, its order book)."""

from __future__ import annotations

from typing import Any

from kiteconnect import KiteConnect

from execsvc.sim import KiteSimulator


def official_client(sim: KiteSimulator) -> KiteConnect:
    """The official client on ``sim`` (which takes any key and token)."""
    return KiteConnect(api_key="k", access_token="t", root=sim.url)


def place_nifty_future(
    kite: KiteConnect, quantity: int, *, legs: int | None = None, leg: int | None = None
) -> Any:
    """Place a resting LIMIT BUY of the NIFTY future (lot 65, ticked at 26,000 in ``fno_sim``) at
    25,900; given ``legs`` and ``leg``, as an iceberg of ``legs`` legs of ``leg``. Returns the order id."""
    iceberg = {} if legs is None else {"iceberg_legs": legs, "iceberg_quantity": leg}
    return kite.place_order(
        variety="regular" if legs is None else "iceberg", exchange="NFO", tradingsymbol="NIFTY26NOVFUT",
        transaction_type="BUY", quantity=quantity, product="NRML", order_type="LIMIT", price=25_900.0,
        **iceberg,
    )  # fmt: skip


def order_total(order: dict[str, Any]) -> int:
    """An order's quantity in all, from its Kite JSON: an iceberg's ``quantity`` is its current
    leg's, its total is ``meta.iceberg.total_quantity`` (Kite's sample, FACTS.md 2.1, 5.2)."""
    if order["variety"] == "iceberg":
        return int(order["meta"]["iceberg"]["total_quantity"])
    return int(order["quantity"])
