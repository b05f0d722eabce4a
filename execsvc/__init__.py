"""execsvc: an asyncio order-execution service for Zerodha Kite Connect.

The public API::

    from execsvc import ExecutionService, OrderIntent, ExecutionResult, Tick, load_config
"""

from execsvc.calendar import Holidays, MarketCalendar
from execsvc.clock import LiveClock, ReplayClock
from execsvc.config import Config, load_config
from execsvc.errors import (
    ConfigError,
    ExecsvcError,
    IntentRejectedError,
    IntentValidationError,
    ServiceNotRunningError,
    ValidationError,
)
from execsvc.events import CancelIntent, ExecutionResult, Fill, OrderIntent
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick
from execsvc.positions import Position
from execsvc.service import ExecutionService

__all__ = [
    "OHLC",
    "CancelIntent",
    "Config",
    "ConfigError",
    "Depth",
    "DepthLevel",
    "ExecsvcError",
    "ExecutionResult",
    "ExecutionService",
    "Fill",
    "Holidays",
    "IntentRejectedError",
    "IntentValidationError",
    "LiveClock",
    "MarketCalendar",
    "OrderIntent",
    "Position",
    "ReplayClock",
    "ServiceNotRunningError",
    "Tick",
    "ValidationError",
    "load_config",
]
