"""The day's state adds nothing for the garbage collector to scan, however many orders it holds.

Every order of the day stays in the state until the day ends. Were its record a tracked object,
each full collection would scan the whole day: a stall that grows with the day (85 ms at 120k
orders on the paper pipeline before ``OrderRecord`` became an untracked struct).
"""

from __future__ import annotations

import gc

from execsvc.events import Charges, Fill, OrderAccepted, OrderIntent
from execsvc.state import ServiceState


def _order(n: int) -> tuple[OrderIntent, OrderAccepted, Fill]:
    intent = OrderIntent(symbol="NSE:INFY", strategy_code="s", side="BUY", qty=2, intent_id=f"i{n}")
    accepted = OrderAccepted(
        order_id=f"o{n}", intent_id=f"i{n}", strategy_code="s", symbol="NSE:INFY", side="BUY", qty=2,
        order_type="MARKET", product="MIS", validity="DAY", ts_event=n,
    )  # fmt: skip
    fill = Fill(
        fill_id=f"o{n}-1", order_id=f"o{n}", intent_id=f"i{n}", strategy_code="s", symbol="NSE:INFY",
        side="BUY", qty=1, price=1500.0, product="MIS", charges=Charges(total=0.5), ts_event=n,
    )  # fmt: skip
    return intent, accepted, fill


def test_orders_in_the_state_are_not_tracked_by_the_garbage_collector() -> None:
    state = ServiceState(500_000.0)
    for n in range(3):  # warm up: the state's own containers exist
        for event in _order(n):
            state.apply(event)
    gc.collect()
    before = len(gc.get_objects())
    for n in range(3, 2003):
        for event in _order(n):
            state.apply(event)
    gc.collect()
    record = state.orders["o2002"]
    assert record.fill_ids == {"o2002-1": None} and record.filled_qty == 1 and record.working
    assert not gc.is_tracked(record) and not gc.is_tracked(record.fill_ids)
    assert len(gc.get_objects()) - before < 20  # 2,000 orders, next to nothing for the collector
