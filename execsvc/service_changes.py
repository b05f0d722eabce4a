"""Changes to working orders through an :class:`~execsvc.service.ExecutionService`: cancels and
modifications.

Each is a submission of its own, keyed by what it changes, when, and this process's counter
(``intake.change_key``), so that a redelivered change is answered, not done twice; the engine
journals it and carries it out (``order_changes``). They sit in a base class of the service's
(declaring what they read of it) so that the service module stays about intake of new orders,
results and the lifecycle.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator

from execsvc.clock import Clock
from execsvc.engine import Engine, Submission
from execsvc.errors import ServiceNotRunningError, ValidationError
from execsvc.events import CancelIntent, ExecutionResult, ModifyIntent
from execsvc.intake import change_key


class ServiceOrderChanges:
    """``cancel_order`` and ``modify_order``: ``ExecutionService``'s changes to working orders."""

    engine: Engine
    clock: Clock
    _accepting: bool
    _changes: Iterator[int]
    _ask: Callable[[Submission], Awaitable[ExecutionResult]]

    async def cancel_order(
        self, order_id: str = "", *, intent_id: str = "", reason: str = ""
    ) -> ExecutionResult:
        """Cancel a working order (allowed even while halted); returns the order's result after it."""
        if not self._accepting:
            raise ServiceNotRunningError("cancel_order on a service that is not running")
        if not order_id and not intent_id:
            raise ValidationError("cancel_order needs order_id or intent_id")
        now = self.clock.now_ns()
        cancel = CancelIntent(order_id=order_id, intent_id=intent_id, reason=reason, ts_init=now)
        what = f"cancel:{order_id or intent_id}:{now}"
        key = change_key(self.engine.state.change_keys, self._changes, what)
        return await self._ask(Submission(cancel, key))

    async def modify_order(
        self,
        order_id: str,
        *,
        qty: int | None = None,
        price: float | None = None,
        trigger_price: float | None = None,
        order_type: str | None = None,
        reason: str = "",
    ) -> ExecutionResult:
        """Change a working order (None keeps a term); returns the order's result after the change.

        A refused change (a finished order, a halt, a bad value) comes back as the order's current
        result with the reason in ``message``; the order is untouched.
        """
        if not self._accepting:
            raise ServiceNotRunningError("modify_order on a service that is not running")
        now = self.clock.now_ns()
        change = ModifyIntent(
            order_id=order_id,
            qty=qty,
            price=price,
            trigger_price=trigger_price,
            order_type=order_type,
            reason=reason,
            ts_init=now,
        )
        key = change_key(self.engine.state.change_keys, self._changes, f"modify:{order_id}:{now}")
        return await self._ask(Submission(change, key))
