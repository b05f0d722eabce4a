"""What the benches share: the breakers they turn off, so a run measures the path, not the limits."""

from __future__ import annotations

BREAKERS_OFF: dict[str, None] = {
    k: None
    for k in (
        "max_daily_loss_rupees",
        "max_daily_drawdown_pct",
        "max_trades_per_day",
        "max_trades_per_strategy_per_day",
        "max_loss_streak",
        "max_orders_per_second",
        "max_orders_per_second_per_strategy",
    )
}
"""Every loss, count and rate breaker off (``None``); order value and position caps stay configured."""
