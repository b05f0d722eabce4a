"""The ``Strategy`` protocol for strategies embedded in execsvc (replays and the daemon).

A strategy sees every tick through ``on_tick`` and every result of its own intents through
``on_result``. It trades by calling ``ctx.submit(intent)``; the intent is handled right after the
strategy returns from the tick that produced it, through the same validation, breakers, executor
and journal as any other intent. Both callbacks are plain functions: the tick path must not cost
a task switch.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import logging
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

from execsvc.config import short_repr
from execsvc.errors import ConfigError
from execsvc.events import ExecutionResult, OrderIntent
from execsvc.market.ticks import Tick
from execsvc.positions import Position

log = logging.getLogger("execsvc.strategies")


@runtime_checkable
class Strategy(Protocol):
    """What an embedded strategy implements."""

    def on_tick(self, tick: Tick, ctx: StrategyContext) -> None:
        """Called for every tick, after market state and resting orders have seen it."""
        ...

    def on_result(self, result: ExecutionResult, ctx: StrategyContext) -> None:
        """Called for every result of the strategy's intents (first results and later updates)."""
        ...


class StrategyContext:
    """What a strategy may do and see: submit intents, read its positions and results.

    Args:
        strategy_code: stamped on intents that do not name one.
        position_of: ``(strategy_code, symbol, product) -> Position | None``.
        now_ns: the clock.
        ids: the counter of intent ids, shared by every context of the same code (see
            :func:`strategy_contexts`); a fresh one by default.
    """

    def __init__(
        self,
        strategy_code: str,
        position_of: Callable[[str, str, str], Position | None],
        now_ns: Callable[[], int],
        ids: Iterator[int] | None = None,
    ) -> None:
        self.strategy_code = strategy_code
        self.pending: list[OrderIntent] = []
        self.results: list[ExecutionResult] = []
        self._position_of = position_of
        self._now_ns = now_ns
        self._ids = ids if ids is not None else itertools.count(1)
        # ids are at most 64 characters: a long code is cut, with a hash of the whole code so that two
        # codes sharing their first characters still give different ids
        code = strategy_code
        self._id_prefix = (
            code if len(code) <= 32 else f"{code[:23]}.{hashlib.sha256(code.encode()).hexdigest()[:8]}"
        )

    def submit(self, intent: OrderIntent) -> None:
        """Queue an intent; it is handled as soon as the current callback returns."""
        self.pending.append(intent)

    def next_intent_id(self) -> str:
        """A fresh intent id for this strategy: replays give the same ids, restarts new ones.

        The id carries the clock (the replay clock in a replay) as well as a counter: the counter
        starts again with the process, and an id that came back after a restart, the same day or
        the next, would be answered with the first intent's result instead of being placed.
        """
        return f"{self._id_prefix}-{self._now_ns()}-{next(self._ids)}"

    def position(self, symbol: str, product: str = "MIS") -> int:
        """The strategy's net quantity in ``symbol`` (``EXCHANGE:TRADINGSYMBOL``)."""
        pos = self._position_of(self.strategy_code, symbol, product)
        return pos.net_qty if pos is not None else 0

    def position_detail(self, symbol: str, product: str = "MIS") -> Position | None:
        """The strategy's full position record in ``symbol``."""
        return self._position_of(self.strategy_code, symbol, product)

    def now_ns(self) -> int:
        """The clock (the replay clock in a replay)."""
        return self._now_ns()


def strategy_contexts(
    strategies: list[Any],
    position_of: Callable[[str, str, str], Position | None],
    now_ns: Callable[[], int],
) -> list[tuple[Any, StrategyContext]]:
    """A context for each strategy, under its ``strategy_code`` (``S<n>`` for one without).

    Strategies may share a code (two instances of a class with its default code, or a team that
    shares positions): their contexts then share one counter of intent ids. Counted apart, both
    would make ``<code>-<now>-1`` on the same tick, and the second intent would be answered with
    the first one's result (idempotency) and never placed. Sharing is logged as a warning: two
    variants of one class left on its default code read each other's positions as their own.
    """
    counters: dict[str, Iterator[int]] = {}
    contexts = []
    for n, strategy in enumerate(strategies, start=1):
        code = getattr(strategy, "strategy_code", None) or f"S{n}"
        if code in counters:
            log.warning("strategies share strategy_code %r: they share its positions and results "
                        "(give each its own unless they are meant to trade as one)", code)  # fmt: skip
        ids = counters.setdefault(code, itertools.count(1))
        contexts.append((strategy, StrategyContext(code, position_of, now_ns, ids)))
    return contexts


def load_strategy(spec: str, params: dict[str, Any] | None = None) -> Any:
    """Instantiate ``MODULE:CLASS`` with keyword parameters.

    Raises:
        ConfigError: the module or class cannot be found, or the parameters do not fit.
    """
    module_name, sep, class_name = spec.partition(":")
    if not sep or not module_name or not class_name:
        raise ConfigError(f"strategy={spec!r}: expected MODULE:CLASS")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"strategy={spec!r}: cannot import {module_name}: {exc}") from exc
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigError(f"strategy={spec!r}: {module_name} has no {class_name}")
    if not isinstance(cls, type) or not callable(getattr(cls, "on_tick", None)):
        # checked before calling it: any other callable named here (a function, the CLI's main)
        # would otherwise be run with the parameters
        raise ConfigError(f"strategy={spec!r}: not a strategy class (a class with on_tick(tick, ctx))")
    try:
        strategy = cls(**(params or {}))
    except (TypeError, ValueError) as exc:  # the parameters do not fit, or the class refuses them
        raise ConfigError(f"strategy={spec!r}: bad parameters {short_repr(params)}: {exc}") from exc
    if not callable(getattr(strategy, "on_tick", None)):
        raise ConfigError(f"strategy={spec!r}: has no on_tick(tick, ctx)")
    return strategy
