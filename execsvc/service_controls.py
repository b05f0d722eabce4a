"""The operator's controls of an :class:`~execsvc.service.ExecutionService`: positions, halts,
breakers and limits.

The control API and SIGHUP drive them as well as code: each checks that the service runs and
that the operator's text can be journaled, has the engine journal the change, and flushes it
before it returns. They sit in a base class of the service's (declaring what they read of it)
so that the service module stays about intake, results and the lifecycle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execsvc.config import CircuitBreakerConfig
from execsvc.errors import ServiceNotRunningError
from execsvc.positions import Position
from execsvc.validation import check_text

if TYPE_CHECKING:
    from execsvc.engine import Engine
    from execsvc.journal.store import JournalWriter
    from execsvc.lifecycle import Lifecycle


class ServiceControls:
    """Positions, halt/resume, breakers and limits: ``ExecutionService``'s controls."""

    engine: Engine
    journal: JournalWriter
    _lifecycle: Lifecycle

    def positions(self) -> list[Position]:
        """Every position touched today (or carried in), by strategy, symbol and product."""
        return list(self.engine.state.positions.values())

    def _require_running(self, what: str, **text: object) -> None:
        if not self._lifecycle.running:
            raise ServiceNotRunningError(f"{what} on a service that is not running")
        check_text(what, **text)  # an operator's reason is journaled: a bad one must not be

    async def halt(self, reason: str, *, by: str = "api") -> None:
        """Halt trading (journaled): everything but cancels is refused until :meth:`resume`."""
        self._require_running("halt", reason=reason, by=by)
        self.engine.halt(reason, by)
        await self.journal.flush()

    async def resume(self, reason: str = "", *, by: str = "api") -> None:
        """Lift a halt (journaled)."""
        self._require_running("resume", reason=reason, by=by)
        self.engine.resume(reason, by)
        await self.journal.flush()

    async def reset_breakers(self, reason: str = "", *, by: str = "api") -> None:
        """Clear latched breakers (journaled); the day's figures stay."""
        self._require_running("reset_breakers", reason=reason, by=by)
        self.engine.reset_breakers(reason, by)
        await self.journal.flush()

    async def reload_limits(self, limits: CircuitBreakerConfig, *, reason: str, by: str = "api") -> None:
        """Replace the breaker limits (SIGHUP, the control API); journaled with the new values."""
        self._require_running("reload_limits", reason=reason, by=by)
        self.engine.change_limits(limits, reason, by)
        await self.journal.flush()

    @property
    def halted(self) -> bool:
        """Whether trading is halted."""
        return self.engine.state.breakers.halted_reason is not None

    def breaker_status(self) -> dict[str, Any]:
        """The breakers' figures and latches, for people and status pages."""
        return self.engine.state.breakers.summary()
