"""The one exception tree of execsvc.

Everything execsvc raises on purpose derives from :class:`ExecsvcError`. Library errors (aiohttp,
msgspec, OSError, kiteconnect) are translated at the edge with ``raise X from exc`` so callers only
ever catch these::

    ExecsvcError
    ├── ConfigError                 a config file or value is wrong (names the key path)
    ├── ValidationError             bad input: an intent, an HTTP body (names field and value)
    │   └── IntentValidationError   an OrderIntent failed validation; carries every FieldError
    ├── TickDataError               a bad line or frame in a tick file (file, line/offset, reason)
    ├── JournalError                the journal cannot be trusted
    │   ├── JournalCorruptError     an unreadable or broken record that is not a torn tail
    │   ├── JournalChainError       the hash chain is broken: an edited, dropped or reordered record
    │   └── JournalFencedError      a write refused: this instance lost the account's lease
    ├── ServiceError                the service was used wrongly
    │   ├── ServiceNotRunningError  a call on a service that is not started, or is stopping
    │   └── IntentRejectedError     raised by ``execute_intent(..., raise_on_reject=True)``
    └── BrokerError                 the broker said no, or could not be reached (keeps error_type, HTTP code)
        ├── BrokerDataError         a response that does not parse (names the field and value)
        ├── BrokerUnavailableError  network trouble, 5xx, timeouts: the outcome may be unknown
        ├── BrokerRateLimitError    HTTP 429
        ├── BrokerAuthError         HTTP 403 TokenException: log in again
        └── BrokerRejectError       the broker understood and refused (4xx, OrderException, ...)

Secrets never appear in a message: errors are built from field names and values the caller
supplied, and adapters redact credentials before mapping.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


class ExecsvcError(Exception):
    """Base of every error execsvc raises on purpose."""


class ConfigError(ExecsvcError):
    """A config file or value is wrong; the message names the key path and the value."""


def safe_repr(value: object) -> str:
    """``repr(value)``, or a placeholder for a value nested too deeply for ``repr`` (RecursionError).

    A field error quotes whatever a caller passed; a list nested thousands deep must come back as
    a named error, not end the intent's handling with the error that was meant to report it.
    """
    try:
        return repr(value)
    except RecursionError:
        return f"<{type(value).__name__} nested too deeply to show>"


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field that failed validation: its name, the offending value and why."""

    field: str
    value: Any
    reason: str

    def __str__(self) -> str:
        return f"{self.field}={safe_repr(self.value)}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form for HTTP error bodies and journal records."""
        value = self.value
        if not isinstance(value, str | int | float | bool | None):
            value = safe_repr(value)
        elif isinstance(value, float) and not math.isfinite(value):
            value = repr(value)  # JSON has no nan or inf: written as null, the error would lose its value
        if isinstance(value, str) and not value.isascii():  # a lone surrogate: UTF-8 cannot hold it
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return {"field": self.field, "value": value, "reason": self.reason}


class ValidationError(ExecsvcError):
    """Bad input; the message names the field and the value."""


class IntentValidationError(ValidationError):
    """An ``OrderIntent`` failed validation.

    Attributes:
        errors: every field that failed, in field order.
    """

    def __init__(self, errors: Sequence[FieldError], *, message: str | None = None) -> None:
        self.errors = tuple(errors)
        # ``message``: as first written, when the errors were rebuilt from a result's JSON (a value
        # JSON cannot hold, nan or inf, comes back as its text and would be shown quoted)
        super().__init__(message or "invalid intent: " + "; ".join(str(e) for e in self.errors))


class TickDataError(ExecsvcError):
    """A bad line or frame in a tick file.

    Attributes:
        path: the file.
        position: ``line N`` or ``offset N``.
        reason: what was wrong.
    """

    def __init__(self, path: str, position: str, reason: str) -> None:
        self.path = path
        self.position = position
        self.reason = reason
        super().__init__(f"{path}: {position}: {reason}")


class JournalError(ExecsvcError):
    """The journal cannot be trusted."""


class JournalCorruptError(JournalError):
    """A record that cannot be parsed and is not the torn last line of a crash."""


class JournalFencedError(JournalError):
    """A write refused because this instance lost the lease on the account (NATS failover)."""


class JournalChainError(JournalError):
    """The hash chain is broken: a record was edited, dropped or reordered."""


class ServiceError(ExecsvcError):
    """The service was used wrongly."""


class ServiceNotRunningError(ServiceError):
    """A call on a service that is not started, or is stopping."""


class IntentRejectedError(ServiceError):
    """Raised by ``execute_intent(..., raise_on_reject=True)`` for a REJECTED result.

    Attributes:
        result: the REJECTED ``ExecutionResult`` (it is journaled all the same).
    """

    def __init__(self, result: Any) -> None:
        self.result = result
        super().__init__(f"intent {result.intent_id} rejected: {result.message}")


class BrokerError(ExecsvcError):
    """The broker refused a request or could not be reached.

    Attributes:
        error_type: the broker's own error class name (Kite's ``error_type``), if any.
        http_status: the HTTP status code, if a response arrived.
    """

    def __init__(
        self, message: str, *, error_type: str | None = None, http_status: int | None = None
    ) -> None:
        self.error_type = error_type
        self.http_status = http_status
        super().__init__(message)


class BrokerDataError(BrokerError):
    """A broker response that does not have the expected shape; names the field and the value.

    After an order placement it means the outcome is unknown (the order may exist).
    """


class BrokerUnavailableError(BrokerError):
    """Network trouble, a 5xx or a timeout: whether the request took effect may be unknown.

    Attributes:
        maybe_sent: False only when the request provably never left (connection refused before
            sending); True means the broker may have acted on it, so it must not be sent again blindly.
    """

    def __init__(
        self,
        message: str,
        *,
        error_type: str | None = None,
        http_status: int | None = None,
        maybe_sent: bool = True,
    ) -> None:
        super().__init__(message, error_type=error_type, http_status=http_status)
        self.maybe_sent = maybe_sent


class BrokerRateLimitError(BrokerError):
    """HTTP 429: the broker's rate limit was exceeded (or the day's placements are used up)."""


class RateLimitDeadlineError(BrokerRateLimitError):
    """A request's rate-limit slot would come past its deadline (its intent's maximum age): not sent."""


class BrokerAuthError(BrokerError):
    """The session token was rejected (HTTP 403 TokenException): log in again."""


class BrokerRejectError(BrokerError):
    """The broker understood the request and refused it."""
