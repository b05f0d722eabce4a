"""The event bus: a small publish/subscribe protocol and its in-process implementation."""

from execsvc.bus.base import Bus, Overflow, Subscription
from execsvc.bus.memory import MemoryBus

__all__ = ["Bus", "MemoryBus", "Overflow", "Subscription"]
