"""Embedded strategies: the ``Strategy`` protocol and sample strategies."""

from execsvc.strategies.base import Strategy, StrategyContext, load_strategy

__all__ = ["Strategy", "StrategyContext", "load_strategy"]
