"""``intake.keyed`` fills in ``ts_init`` only when it is absent (0); anything else is for validation."""

from __future__ import annotations

from typing import Any

import pytest

from execsvc.events import OrderIntent
from execsvc.intake import keyed

NOW = 1_777_000_000_123_456_789


def _intent(**overrides: Any) -> OrderIntent:
    fields: dict[str, Any] = {"symbol": "NSE:INFY", "strategy_code": "s1", "side": "BUY", "qty": 1}
    fields.update(overrides)
    return OrderIntent(**fields)


def _make_id(intent: OrderIntent, ts: int) -> str:
    return f"gen-{ts}"


@pytest.mark.parametrize("ts_init", [-1, 1.5, "x", True, None, 0.0])
def test_an_invalid_ts_init_is_kept_for_validation_to_name(ts_init: Any) -> None:
    intent, key = keyed(_intent(ts_init=ts_init), now_ns=lambda: NOW, make_id=_make_id)
    assert intent.ts_init is ts_init
    assert (intent.intent_id, key) == (f"gen-{NOW}", f"gen-{NOW}")


def test_an_absent_ts_init_is_stamped_with_the_clock() -> None:
    intent, key = keyed(_intent(), now_ns=lambda: NOW, make_id=_make_id)
    assert (intent.ts_init, intent.intent_id, key) == (NOW, f"gen-{NOW}", f"gen-{NOW}")


def test_a_given_ts_init_names_the_generated_id() -> None:
    intent, key = keyed(_intent(ts_init=123), now_ns=lambda: NOW, make_id=_make_id)
    assert (intent.ts_init, intent.intent_id, key) == (123, "gen-123", "gen-123")
