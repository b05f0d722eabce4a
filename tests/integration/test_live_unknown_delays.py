"""``kite.unknown_check_delays`` may be empty: the order is still looked up, from the first poll.

The config accepts ``[]`` on purpose (no quick early checks); this pins what the lookup does with
it, so that the acceptance stays true: an order of unknown outcome is never left unlooked-for.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from execsvc.config import config_from_dict
from execsvc.executors.kite.session import KiteSession
from execsvc.executors.kite.unknown import resolve_unknown


class _FakeLive:
    """The parts of LiveExecutor that resolve_unknown uses; the book shows the tag on lookup ``found_on``."""

    def __init__(self, kite: dict[str, Any], found_on: int) -> None:
        self.config = config_from_dict({"kite": kite}).kite
        self.state = SimpleNamespace(orders={"t1": SimpleNamespace(working=True, broker_order_id=None)})
        self.client = SimpleNamespace(orders=self._orders, auth=KiteSession())
        self.slept: list[float] = []
        self.applied: list[str] = []
        self.lookups = 0
        self.found_on = found_on
        self.unknown_resolved = 0
        self.on_unresolved = None

    async def _orders(self) -> list[Any]:
        self.lookups += 1
        return [SimpleNamespace(tag="t1", tags=(), order_id="X1")] if self.lookups == self.found_on else []

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def current(self, record: Any) -> Any:
        return record

    async def apply_order(self, order: Any) -> None:
        self.applied.append(order.order_id)


@pytest.mark.parametrize(
    ("delays", "expected_sleeps"),
    [
        ([], [5.0, 5.0, 5.0]),  # no early checks: every lookup waits one poll interval
        ([0.5, 1.0], [0.5, 1.0, 5.0]),
    ],
)
async def test_the_unknown_order_is_looked_up_until_found_with_or_without_early_checks(
    delays, expected_sleeps
):
    live = _FakeLive({"unknown_check_delays": delays, "poll_interval_seconds": 5.0}, found_on=3)

    await resolve_unknown(live, "t1")

    assert live.slept == expected_sleeps
    assert live.applied == ["X1"]
    assert live.unknown_resolved == 1
