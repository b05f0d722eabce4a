"""Exchange freeze quantities end to end: a paper service refuses an NFO order above its underlying's
freeze quantity (and a modification raising one above it) as Kite would, places nothing, and closes
a position above it in slices at square-off; a live service refuses it before any HTTP call; the
Kite simulator refuses it with HTTP 400 to the official client and to a service that lifted it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kiteconnect import exceptions as kex

from execsvc import ExecutionService, OrderIntent
from execsvc.clock import ReplayClock, ist_ns
from execsvc.config import Config, config_from_dict
from execsvc.market.instruments import Instruments
from execsvc.market.ticks import Tick
from execsvc.sim import KiteSimulator
from tests.conftest import journal_records, make_config, tick
from tests.integration.test_fno_expiry import FUT, MON
from tests.integration.test_live_kite import Collector, _as_dict, live_config
from tests.official_kite import official_client, order_total, place_nifty_future

FUT_TOKEN = 13238786
TOO_MANY = (
    "exceeds NIFTY's freeze quantity 1800 (NFO); split it or use fewer lots "
    "(one order may carry at most 1755: 27 lots of 65)"
)


def nifty(qty: int, intent_id: str, **kw: Any) -> OrderIntent:
    kw.setdefault("product", "NRML")
    return OrderIntent(symbol=FUT, strategy_code="s1", side="BUY", qty=qty, intent_id=intent_id, **kw)


async def test_paper_refuses_an_order_above_the_freeze_quantity_and_places_nothing(
    fno_paper: ExecutionService, tmp_path: Path
) -> None:
    refused = await fno_paper.execute_intent(nifty(1820, "big"))
    at_limit = await fno_paper.execute_intent(nifty(1755, "most"))
    await fno_paper.stop()

    assert (refused.status, refused.reject_reason) == ("REJECTED", "validation")
    assert refused.message == f"invalid intent: qty=1820: {TOO_MANY}"
    assert refused.raw["errors"] == [{"field": "qty", "value": 1820, "reason": TOO_MANY}]
    assert at_limit.status == "FILLED" and at_limit.filled_qty == 1755
    [journal] = (tmp_path / "journal").glob("*.jsonl")
    accepted = [r["intent_id"] for r in journal_records(journal) if r.get("type") == "order_accepted"]
    assert accepted == ["most"]  # the refused intent never became an order
    assert [(p.symbol, p.net_qty) for p in fno_paper.positions() if p.net_qty] == [(FUT, 1755)]


async def test_paper_refuses_a_modification_raising_qty_above_the_freeze_quantity(
    fno_paper: ExecutionService,
) -> None:
    resting = await fno_paper.execute_intent(nifty(65, "rest", order_type="LIMIT", price=25_900.0))

    raised = await fno_paper.modify_order(resting.order_id, qty=1820)
    grown = await fno_paper.modify_order(resting.order_id, qty=130)

    assert resting.status == "PLACED"
    assert raised.status == "PLACED" and raised.message == f"modify refused: qty=1820: {TOO_MANY}"
    assert grown.status == "PLACED" and grown.order_id == resting.order_id
    [working] = fno_paper.engine.state.working_orders()
    assert working.order.qty == 130


async def test_paper_takes_an_iceberg_above_the_limit_and_a_change_of_its_total(
    fno_paper: ExecutionService,
) -> None:
    """An iceberg's total is no one exchange order (its legs are): 54 lots in three legs is placed,
    and raising its total to 57 lots (three legs of 19) is no change above the freeze quantity
    either. (A change whose legs are not whole lots or exceed the limit is refused:
    ``test_iceberg_modify``.)"""
    iceberg = nifty(
        3510, "berg", order_type="LIMIT", price=25_900.0, variety="iceberg", metadata={"iceberg_legs": 3}
    )
    resting = await fno_paper.execute_intent(iceberg)

    grown = await fno_paper.modify_order(resting.order_id, qty=3705)

    assert resting.status == "PLACED", resting.message
    assert (grown.status, grown.order_id) == ("PLACED", resting.order_id), grown.message
    [working] = fno_paper.engine.state.working_orders()
    assert (working.order.variety, working.order.qty) == ("iceberg", 3705)


async def test_paper_square_off_closes_a_position_above_the_limit_in_slices(
    fno_paper: ExecutionService,
) -> None:
    for n in (1, 2):
        assert (await fno_paper.execute_intent(nifty(1755, f"mis{n}", product="MIS"))).status == "FILLED"

    results = await fno_paper.square_off(reason="end of day")

    assert sorted((r.intent_id.rsplit("-", 1)[1], r.status, r.filled_qty) for r in results) == [
        ("1.1", "FILLED", 1755),
        ("1.2", "FILLED", 1755),
    ]
    assert [p.net_qty for p in fno_paper.positions() if p.symbol == FUT] == [0]


@pytest.mark.parametrize("dry_run", [False, True], ids=["live", "dry-run"])
async def test_a_live_service_refuses_it_before_any_http_call(
    fno_sim: KiteSimulator, fno_live_config: Callable[..., Config], dry_run: bool
) -> None:
    config = fno_live_config(dry_run=dry_run)
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 10, 0)), access_token="freeze") as svc:
        refused = await svc.execute_intent(nifty(1820, "big", order_type="LIMIT", price=26_000.0))
    stats = fno_sim.stats()

    mode = "dry-run" if dry_run else "live"
    assert (refused.status, refused.reject_reason, refused.mode) == ("REJECTED", "validation", mode)
    assert refused.message == f"invalid intent: qty=1820: {TOO_MANY}"
    assert fno_sim.orders() == [] and stats["placements"] == 0 and stats["requests"]["orders"] == 0


async def test_the_simulator_refuses_a_service_that_lifted_the_limit(
    tmp_path: Path, fno_instruments_csv: Path
) -> None:
    """With its own row lifted (``NIFTY: null``) the service sends the order; the simulator, on the
    bundled table, answers 400 as Kite would, and the service reports the broker's refusal."""
    async with KiteSimulator(
        heartbeat_seconds=0.05, instruments=Instruments.from_csv(fno_instruments_csv)
    ) as sim:
        sim.push_tick(Tick(symbol=FUT, instrument_token=FUT_TOKEN, last_price=26_000.0))
        base = _as_dict(live_config(tmp_path / "journal", sim))
        market = {
            **base["market"],
            "instruments_file": str(fno_instruments_csv),
            "freeze_quantities": {"NIFTY": None},
        }
        config = config_from_dict({**base, "market": market})
        async with ExecutionService(
            config, clock=ReplayClock(ist_ns(MON, 10, 0)), access_token="freezetest"
        ) as svc:
            seen = Collector(svc)
            await svc.execute_intent(nifty(1820, "big", order_type="LIMIT", price=26_000.0))
            refused = await seen.until("big", "REJECTED")
        stats = sim.stats()

    assert refused.reject_reason is not None and refused.reject_reason.startswith("broker")
    assert "higher than the maximum quantity of 1800 allowed by the exchanges" in (refused.message or "")
    assert sim.orders() == [] and stats["placements"] == 0 and stats["requests"]["orders"] == 1


async def test_the_official_client_gets_an_input_exception_from_the_simulator(fno_sim: KiteSimulator) -> None:
    kite = official_client(fno_sim)

    with pytest.raises(kex.InputException) as too_many:
        await asyncio.to_thread(place_nifty_future, kite, 1820)
    order_id = await asyncio.to_thread(place_nifty_future, kite, 1755)
    with pytest.raises(kex.InputException) as raised:
        await asyncio.to_thread(kite.modify_order, "regular", order_id, quantity=1820)
    orders = fno_sim.orders()

    assert too_many.value.code == 400
    assert str(too_many.value) == (
        "The order quantity 1820 (28 lots) is higher than the maximum quantity of 1800 allowed by the "
        "exchanges. Please reduce the order quantity or use iceberg orders."
    )
    assert raised.value.code == 400 and "maximum quantity of 1800" in str(raised.value)
    assert [(o["order_id"], o["quantity"]) for o in orders] == [(order_id, 1755)]  # unchanged by the refusal


async def test_an_iceberg_order_above_the_freeze_quantity_goes_out_in_legs_within_it(
    fno_sim: KiteSimulator, fno_live_config: Callable[..., Config]
) -> None:
    """Kite's own refusal says "use iceberg orders": an iceberg's legs reach the exchange as orders
    of their own, so the freeze quantity caps a leg, not the total. 54 lots of NIFTY in two legs
    of 27 are placed (the simulator, on the same table, takes them too)."""
    async with ExecutionService(
        fno_live_config(), clock=ReplayClock(ist_ns(MON, 10, 0)), access_token="freezetest"
    ) as svc:
        iceberg = nifty(
            3510, "berg", order_type="LIMIT", price=25_900.0, variety="iceberg", metadata={"iceberg_legs": 2}
        )
        placed = await svc.execute_intent(iceberg)
    orders = fno_sim.orders()

    assert (placed.status, placed.reject_reason) == ("PLACED", None), placed.message
    # Kite reports an iceberg's current leg as its quantity, the total in meta (FACTS.md 5.2)
    shown = [
        (o["variety"], order_total(o), o["quantity"], o["meta"]["iceberg"]["leg_quantity"]) for o in orders
    ]
    assert shown == [("iceberg", 3510, 1755, 1755)]


async def test_the_simulator_caps_an_iceberg_orders_legs_not_its_total(fno_sim: KiteSimulator) -> None:
    kite = official_client(fno_sim)

    with pytest.raises(kex.InputException) as too_big_legs:
        await asyncio.to_thread(place_nifty_future, kite, 3900, legs=2, leg=1950)
    order_id = await asyncio.to_thread(place_nifty_future, kite, 3510, legs=2, leg=1755)
    await asyncio.to_thread(kite.modify_order, "iceberg", order_id, quantity=3380)  # legs of 1690
    with pytest.raises(kex.InputException) as raised:
        await asyncio.to_thread(kite.modify_order, "iceberg", order_id, quantity=3640)  # legs of 1820
    orders = fno_sim.orders()

    assert "The order quantity 1950 (30 lots) is higher than the maximum" in str(too_big_legs.value)
    assert "The order quantity 1820 (28 lots) is higher than the maximum" in str(raised.value)
    assert [(o["order_id"], order_total(o), o["quantity"]) for o in orders] == [(order_id, 3380, 1690)]


async def test_a_config_naming_no_freeze_file_starts_outside_the_repository_on_the_bundled_table(
    tmp_path: Path, fno_instruments_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Yesterday's configs name no freeze file, and the default (``configs/freeze-quantities.yaml``)
    is relative: a service started elsewhere (embedded in another project, a daemon under systemd)
    must still start, on the table bundled beside the package, and refuse what it refuses."""
    config = make_config(
        tmp_path / "journal",
        charges={"enabled": False},
        market={"instruments_file": str(fno_instruments_csv)},
        execution={"slippage_bps": 0},
    )
    monkeypatch.chdir(tmp_path)  # no configs/ here
    async with ExecutionService(config, clock=ReplayClock(ist_ns(MON, 9, 15))) as svc:
        await svc.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 9, 16)))
        refused = await svc.execute_intent(nifty(1820, "big"))

    assert config.market.freeze_quantities_file == "configs/freeze-quantities.yaml"
    assert (refused.status, refused.message) == ("REJECTED", f"invalid intent: qty=1820: {TOO_MANY}")


async def test_the_brokers_square_off_of_a_position_above_the_limit_is_orders_within_it_each_charged(
    fno_paper: ExecutionService, tmp_path: Path
) -> None:
    """The broker's auto square-off goes to the exchange too: 54 lots of NIFTY left open go out as two
    orders of 27, each with its brokerage (capped at ₹20) and its ₹50 + GST (FACTS section 6: per
    auto-squared order), not one order the exchange would refuse, charged once."""
    for n in (1, 2):
        assert (await fno_paper.execute_intent(nifty(1755, f"mis{n}", product="MIS"))).status == "FILLED"

    await fno_paper.on_tick(tick(FUT, 26_000.0, ist_ns(MON, 23, 59) + 120 * 10**9))  # the date line

    day = journal_records(tmp_path / "journal" / f"{MON.isoformat()}.jsonl")
    [fill] = [e for e in day if e["type"] == "fill" and e["intent_id"].startswith("auto-sqoff-")]
    assert (fill["side"], fill["qty"], fill["price"]) == ("SELL", 3510, 26_000.0)
    assert (fill["charges"]["brokerage"], fill["charges"]["auto_square_off"]) == (40.0, 100.0)
