"""Fault injection: what can go wrong between a client and Kite, on demand.

A :class:`FaultSpec` is decoded (and validated) once at the trust boundary: a YAML/JSON file,
``POST /_admin/faults`` or ``KiteSimulator.set_faults``. Setting faults replaces the previous set.
Counted faults are consumed one request at a time; ``FaultState`` holds what is left. JSON shape
(every key optional)::

    {
      "latency_ms":        [{"pattern": "/orders*", "ms": 250, "method": "POST"}],
      "http_429":          {"count": 2},
      "http_5xx":          [{"pattern": "/orders*", "count": 1, "status": 503, "method": "POST",
                             "placed": true, "error_type": null}],
      "drop_after_accept": {"count": 1},
      "ws_disconnect":     {"now": true, "every_seconds": null},
      "reject_next":       {"count": 1, "message": null},
      "partial_fill":      {"count": 1, "fraction": 0.5},
      "refuse_cancel":     {"count": 1, "message": null}
    }

- ``latency_ms``: every matching request waits ``ms`` before it is handled (not consumed).
- ``http_429``: the next ``count`` order requests (place/modify/cancel) get Kite's 429.
- ``http_5xx``: the next ``count`` matching requests get ``status`` (500/502/503/504) with a
  ``GeneralException`` (500), ``DataException`` (502) or ``NetworkException`` (503/504) envelope
  unless ``error_type`` says otherwise; with ``placed`` the request takes effect first (the order is
  created, modified or cancelled) and only the answer is an error: the nasty case.
- ``drop_after_accept``: the next ``count`` placements create the order, then the connection is
  closed without a response.
- ``ws_disconnect``: ``now`` closes every WebSocket once; ``every_seconds`` keeps doing it.
- ``reject_next``: the next ``count`` placements are REJECTED by the RMS (Kite's margin message, or
  ``message``).
- ``partial_fill``: the next ``count`` marketable orders fill only ``fraction`` on arrival; the rest
  rests and fills on a later crossing tick.
- ``refuse_cancel``: the next ``count`` cancels of a working order are refused as Kite refuses one of
  an order in an interim state (an ``OrderException`` saying it is being processed, or ``message``);
  the order is left as it was.

``pattern`` is an ``fnmatch`` pattern on the request path; ``method`` is ``"*"`` or an HTTP method.
"""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from execsvc.errors import ConfigError

__all__ = [
    "Count",
    "FaultSpec",
    "FaultState",
    "Http5xx",
    "Latency",
    "PartialFill",
    "RefuseCancel",
    "RejectNext",
    "WsDisconnect",
    "decode_faults",
    "load_faults",
]

CANCEL_BEING_PROCESSED = "Order cannot be cancelled as it is being processed. Try later."
"""Kite's refusal of a cancel of an order in an interim state (``refuse_cancel``)."""
_DEFAULT_ERROR_TYPES = {500: "GeneralException", 502: "DataException"}
_MESSAGES = {
    500: "Internal server error (simulated).",
    502: "Couldn't parse the OMS response (simulated bad gateway).",
    503: "Service unavailable (simulated).",
    504: "Gateway timed out (simulated).",
}


class Latency(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Delay matching requests by ``ms`` milliseconds."""

    ms: float
    pattern: str = "*"
    method: str = "*"


class Count(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A fault applied to the next ``count`` requests it concerns."""

    count: int = 1


class Http5xx(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Answer the next ``count`` matching requests with a 5xx envelope."""

    pattern: str = "/orders*"
    count: int = 1
    status: Literal[500, 502, 503, 504] = 500
    method: str = "*"
    placed: bool = False
    error_type: str | None = None

    @property
    def kite_error_type(self) -> str:
        """The envelope's ``error_type``."""
        return self.error_type or _DEFAULT_ERROR_TYPES.get(self.status, "NetworkException")

    @property
    def message(self) -> str:
        """The envelope's message."""
        return _MESSAGES[self.status]


class WsDisconnect(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Close WebSocket connections now and/or every ``every_seconds``."""

    now: bool = False
    every_seconds: float | None = None


class RejectNext(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """RMS-reject the next ``count`` placements."""

    count: int = 1
    message: str | None = None


class RefuseCancel(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Refuse the next ``count`` cancels of working orders as Kite does while an order is processed."""

    count: int = 1
    message: str | None = None


class PartialFill(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Fill only ``fraction`` of the next ``count`` marketable orders on arrival."""

    count: int = 1
    fraction: float = 0.5


class FaultSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A set of faults; see the module docstring."""

    latency_ms: tuple[Latency, ...] = ()
    http_429: Count | None = None
    http_5xx: tuple[Http5xx, ...] = ()
    drop_after_accept: Count | None = None
    ws_disconnect: WsDisconnect | None = None
    reject_next: RejectNext | None = None
    partial_fill: PartialFill | None = None
    refuse_cancel: RefuseCancel | None = None


def _matches(method: str, pattern: str, req_method: str, path: str) -> bool:
    return (method == "*" or method.upper() == req_method) and fnmatch.fnmatchcase(path, pattern)


def decode_faults(data: Any) -> FaultSpec:
    """Validate a decoded JSON/YAML object as a :class:`FaultSpec`.

    Raises:
        ConfigError: an unknown fault, a bad field or value (names the path).
    """
    try:
        spec = msgspec.convert(data or {}, FaultSpec)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"faults: {exc}") from exc
    for rule in spec.http_5xx:
        if rule.count < 0:
            raise ConfigError(f"faults: http_5xx count={rule.count}: must be >= 0")
    ws = spec.ws_disconnect
    if ws is not None and ws.every_seconds is not None and ws.every_seconds <= 0:
        raise ConfigError(f"faults: ws_disconnect every_seconds={ws.every_seconds}: must be > 0")
    if spec.partial_fill is not None and not 0 <= spec.partial_fill.fraction < 1:
        raise ConfigError(f"faults: partial_fill fraction={spec.partial_fill.fraction}: must be in [0, 1)")
    return spec


def load_faults(path: str | Path) -> FaultSpec:
    """Read a faults file (``.json``, else YAML).

    Raises:
        ConfigError: unreadable file or invalid content (see :func:`decode_faults`).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
        data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read faults: {exc}") from exc
    return decode_faults(data)


class FaultState:
    """The faults in force and what is left of the counted ones."""

    def __init__(self, spec: FaultSpec | None = None) -> None:
        self.set(spec or FaultSpec())

    def set(self, spec: FaultSpec) -> None:
        """Replace every fault with ``spec``."""
        self.spec = spec
        self.http_429 = spec.http_429.count if spec.http_429 else 0
        self.http_5xx: list[tuple[Http5xx, int]] = [(rule, rule.count) for rule in spec.http_5xx]
        self.drop_after_accept = spec.drop_after_accept.count if spec.drop_after_accept else 0
        self.reject_next = spec.reject_next.count if spec.reject_next else 0
        self.partial_fill = spec.partial_fill.count if spec.partial_fill else 0
        self.refuse_cancel = spec.refuse_cancel.count if spec.refuse_cancel else 0

    def latency_s(self, method: str, path: str) -> float:
        """The delay for a request, in seconds (the largest matching rule)."""
        delays = [r.ms for r in self.spec.latency_ms if _matches(r.method, r.pattern, method, path)]
        return max(delays) / 1000 if delays else 0.0

    def take_429(self) -> bool:
        """Consume one forced 429 (order requests only)."""
        if self.http_429 > 0:
            self.http_429 -= 1
            return True
        return False

    def take_5xx(self, method: str, path: str) -> Http5xx | None:
        """Consume one forced 5xx for this request, if a rule matches."""
        for index, (rule, left) in enumerate(self.http_5xx):
            if left > 0 and _matches(rule.method, rule.pattern, method, path):
                self.http_5xx[index] = (rule, left - 1)
                return rule
        return None

    def take_drop(self) -> bool:
        """Consume one drop-after-accept."""
        if self.drop_after_accept > 0:
            self.drop_after_accept -= 1
            return True
        return False

    def take_reject(self) -> str | None:
        """Consume one RMS reject: its message (``""`` for Kite's margin message) or None."""
        if self.reject_next > 0 and self.spec.reject_next is not None:
            self.reject_next -= 1
            return self.spec.reject_next.message or ""
        return None

    def take_partial(self) -> float | None:
        """Consume one partial fill: its fraction, or None."""
        if self.partial_fill > 0 and self.spec.partial_fill is not None:
            self.partial_fill -= 1
            return self.spec.partial_fill.fraction
        return None

    def take_refuse_cancel(self) -> str | None:
        """Consume one cancel refusal: the refusal's message, or None."""
        if self.refuse_cancel > 0 and self.spec.refuse_cancel is not None:
            self.refuse_cancel -= 1
            return self.spec.refuse_cancel.message or CANCEL_BEING_PROCESSED
        return None

    def remaining(self) -> dict[str, Any]:
        """What is in force, for ``GET /_admin/faults``."""
        spec = msgspec.to_builtins(self.spec)
        assert isinstance(spec, dict)
        return {
            "spec": spec,
            "remaining": {
                "http_429": self.http_429,
                "http_5xx": [left for _, left in self.http_5xx],
                "drop_after_accept": self.drop_after_accept,
                "reject_next": self.reject_next,
                "partial_fill": self.partial_fill,
                "refuse_cancel": self.refuse_cancel,
            },
        }
