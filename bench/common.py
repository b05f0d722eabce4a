"""What the benches share: the breakers they turn off, so a run measures the path, not the limits."""

from __future__ import annotations

from execsvc.config import LOSS_COUNT_AND_RATE_BREAKERS

BREAKERS_OFF: dict[str, None] = dict.fromkeys(LOSS_COUNT_AND_RATE_BREAKERS)
"""Every loss, count and rate breaker off (``None``); order value and position caps stay configured."""
