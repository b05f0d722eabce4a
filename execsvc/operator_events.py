"""What the breakers and the operators journal: a breaker's trip, a halt and its end, a reset of
the latched breakers, new limits, a square-off asked for. Re-exported by ``execsvc.events``."""

from __future__ import annotations

from typing import Any

from execsvc.event_base import Event as _Event


class BreakerTripped(_Event, frozen=True, tag="breaker_tripped"):
    """A breaker crossed its limit and latched until a reset or the next trading day."""

    breaker: str
    message: str
    value: float
    limit: float
    strategy_code: str = ""
    intent_id: str = ""
    latched: bool = True
    ts_event: int = 0


class TradingHalted(_Event, frozen=True, tag="halted"):
    """Trading was halted: only cancels pass."""

    reason: str
    by: str = "api"
    ts_event: int = 0


class TradingResumed(_Event, frozen=True, tag="resumed"):
    """A halt was lifted."""

    reason: str = ""
    by: str = "api"
    ts_event: int = 0


class BreakersReset(_Event, frozen=True, tag="breakers_reset"):
    """Latched breakers were reset by an operator."""

    reason: str = ""
    by: str = "api"
    ts_event: int = 0


class LimitsChanged(_Event, frozen=True, tag="limits_changed"):
    """Breaker limits were reloaded (SIGHUP or the control API): the new values, who and why."""

    limits: dict[str, Any]
    reason: str = ""
    by: str = "api"
    ts_event: int = 0


class SquareOffRequested(_Event, frozen=True, tag="square_off"):
    """An operator or the session clock asked to square off MIS positions (all, or one strategy's)."""

    strategy_code: str | None = None
    reason: str = ""
    by: str = "api"
    ts_event: int = 0
