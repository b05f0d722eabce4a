"""The simulator's margins on MCX carry the contract multiplier, as Kite's do: an RMS rejection of
one LEADMINI lot at 161.05 asks for 161,050 (161.05 * 1000), not 161.05, and a held lot blocks as
much of the commodity account (``/user/margins``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from execsvc.market.ticks import Tick
from execsvc.sim import KiteSimulator

LEAD, TOKEN = "MCX:LEADMINI26DECFUT", 53496327
HEADERS = {"X-Kite-Version": "3", "Authorization": "token k:t"}


@pytest.fixture
async def mcx_sim() -> AsyncIterator[KiteSimulator]:
    async with KiteSimulator(multipliers={"MCX:LEADMINI": 1000.0}) as simulator:
        simulator.push_tick(Tick(symbol=LEAD, instrument_token=TOKEN, last_price=161.05))
        yield simulator


async def call(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with http.request(method, url, headers=HEADERS, **kw) as response:
        body = await response.json()
    assert body["status"] == "success", body
    return body["data"]


async def place(http: aiohttp.ClientSession, sim: KiteSimulator, qty: int) -> dict[str, Any]:
    form = {
        "exchange": "MCX",
        "tradingsymbol": "LEADMINI26DECFUT",
        "transaction_type": "BUY",
        "quantity": str(qty),
        "product": "NRML",
        "order_type": "LIMIT",
        "price": "161.05",
        "validity": "DAY",
    }
    placed = await call(http, "POST", f"{sim.url}/orders/regular", data=form)
    [*_, last] = await call(http, "GET", f"{sim.url}/orders/{placed['order_id']}")
    return dict(last)


async def test_an_rms_rejection_on_mcx_asks_for_the_lots_value_with_the_multiplier(
    mcx_sim: KiteSimulator,
) -> None:
    mcx_sim.set_faults(reject_next={"count": 1})
    async with aiohttp.ClientSession() as http:
        order = await place(http, mcx_sim, 2)

    assert order["status"] == "REJECTED"
    assert order["status_message"].startswith("Insufficient funds. Required margin is 322100.00 but")
    assert "Required:322100.00" in order["status_message_raw"]


async def test_a_held_mcx_lot_blocks_its_value_with_the_multiplier(mcx_sim: KiteSimulator) -> None:
    async with aiohttp.ClientSession() as http:
        order = await place(http, mcx_sim, 2)
        commodity = await call(http, "GET", f"{mcx_sim.url}/user/margins/commodity")
        both = await call(http, "GET", f"{mcx_sim.url}/user/margins")

    assert order["status"] == "COMPLETE"
    cash = commodity["available"]["cash"]
    assert commodity["utilised"]["debits"] == pytest.approx(322_100.0)
    assert commodity["net"] == pytest.approx(cash - 322_100.0)
    assert both["commodity"] == commodity
    assert both["equity"]["utilised"]["debits"] == 0 and both["equity"]["net"] == cash
