"""Rate limits (FACTS.md 5.1) and the counters that prove a client stayed within them.

Requests fall in three categories: ``orders`` (place, modify, cancel: the order limits),
``quote`` (``/quote*``) and ``other``. Only admitted requests use up a window, so a client that
keeps hammering gets 429 until its window frees up, as Kite users report. Every window reads the
simulator's clock, so tests drive them with a :class:`~execsvc.clock.ReplayClock`.
"""

from __future__ import annotations

from collections import Counter, deque
from typing import Any, Literal

from execsvc.clock import trading_day
from execsvc.sim.config import RateLimits

__all__ = ["Category", "RateLimiter", "SimStats"]

Category = Literal["orders", "quote", "other"]
_SECOND = 1_000_000_000
_MINUTE = 60 * _SECOND


class _Window:
    """At most ``limit`` admissions per ``span_ns``, sliding or fixed."""

    def __init__(self, limit: int, span_ns: int, sliding: bool) -> None:
        self.limit, self.span_ns, self.sliding = limit, span_ns, sliding
        self._times: deque[int] = deque()
        self._bucket = -1
        self._count = 0

    def allows(self, now_ns: int) -> bool:
        if self.sliding:
            times, start = self._times, now_ns - self.span_ns
            while times and times[0] <= start:
                times.popleft()
            return len(times) < self.limit
        if now_ns // self.span_ns != self._bucket:
            self._bucket, self._count = now_ns // self.span_ns, 0
        return self._count < self.limit

    def record(self, now_ns: int) -> None:
        if self.sliding:
            self._times.append(now_ns)
        else:
            self._count += 1


class RateLimiter:
    """Admits or refuses requests per category; see the module docstring."""

    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        sliding = limits.window == "sliding"

        def window(limit: int | None, span: int) -> list[_Window]:
            return [] if limit is None else [_Window(limit, span, sliding)]

        self._windows: dict[str, list[_Window]] = {
            "orders": window(limits.orders_per_second, _SECOND) + window(limits.orders_per_minute, _MINUTE),
            "quote": window(limits.quote_per_second, _SECOND),
            "other": window(limits.other_per_second, _SECOND),
        }
        self._day: object = None
        self._day_count = 0

    def admit(self, category: Category, now_ns: int, *, placement: bool = False) -> bool:
        """Whether the request is within every limit of its category; if so it is counted."""
        windows = self._windows[category]
        if not all(w.allows(now_ns) for w in windows):
            return False
        per_day = self.limits.orders_per_day
        if placement and per_day is not None:
            day = trading_day(now_ns)
            if day != self._day:
                self._day, self._day_count = day, 0
            if self._day_count >= per_day:
                return False
            self._day_count += 1
        for w in windows:
            w.record(now_ns)
        return True


class SimStats:
    """Counters served by ``GET /_admin/stats``.

    ``max_orders_in_1s``/``max_orders_in_60s`` are the most order requests (place, modify,
    cancel; admitted or not) received in any sliding 1 s / 60 s span of the sim clock.
    ``held_by_latency`` counts requests that arrived and were held by a latency fault (counted on
    arrival, so a test can await a request the broker is sitting on).
    """

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        self.requests: Counter[str] = Counter()
        self.rejected_429: Counter[str] = Counter()
        self.forced_429 = 0
        self.http_5xx = 0
        self.dropped_connections = 0
        self.placements = 0
        self.modifications = 0
        self.cancellations = 0
        self.cancel_requests = 0  # every DELETE that reached its handler, carried out or not
        self.cancels_seen = 0  # every DELETE that arrived, before any limit or fault (429, 5xx)
        self.cancels_refused = 0  # by a ``refuse_cancel`` fault
        self.placements_per_tag: Counter[str] = Counter()
        self.max_orders_in_1s = 0
        self.max_orders_in_60s = 0
        self.ws_connections = 0  # accepted, ever
        self.ws_open = 0  # open now
        self.ws_open_peak = 0  # the most open at once
        self.ws_refused = 0
        self.ws_dropped = 0
        self.ws_frames_dropped = 0
        self.postbacks_sent = 0
        self.postbacks_failed = 0
        self.postbacks_dropped = 0
        self.held_by_latency = 0
        self.sessions_revoked = 0
        self.token_refused = 0  # REST requests answered 403 TokenException
        self.ws_token_refused = 0  # WebSocket handshakes answered 403
        self._last_minute: deque[int] = deque()
        self._last_second: deque[int] = deque()

    def request(self, category: Category, now_ns: int) -> None:
        """Count one API request (before any limit or fault)."""
        self.requests[category] += 1
        if category != "orders":
            return
        # one sliding window per span, each trimmed from its old end: O(1) per request (a scan of
        # the last second cost the simulator ~50 us per order at thousands of orders a second)
        for window, span in ((self._last_minute, _MINUTE), (self._last_second, _SECOND)):
            window.append(now_ns)
            while window[0] <= now_ns - span:
                window.popleft()
        self.max_orders_in_60s = max(self.max_orders_in_60s, len(self._last_minute))
        self.max_orders_in_1s = max(self.max_orders_in_1s, len(self._last_second))

    def placement(self, tag: str | None) -> None:
        """Count one accepted placement and its tag (``""`` when untagged)."""
        self.placements += 1
        self.placements_per_tag[tag or ""] += 1

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly snapshot."""
        return {
            "requests": {c: self.requests[c] for c in ("orders", "quote", "other")},
            "rejected_429": {c: self.rejected_429[c] for c in ("orders", "quote", "other")},
            "rejected_429_total": sum(self.rejected_429.values()) + self.forced_429,
            "forced_429": self.forced_429,
            "http_5xx": self.http_5xx,
            "dropped_connections": self.dropped_connections,
            "placements": self.placements,
            "modifications": self.modifications,
            "cancellations": self.cancellations,
            "cancel_requests": self.cancel_requests,
            "cancels_seen": self.cancels_seen,
            "cancels_refused": self.cancels_refused,
            "placements_per_tag": dict(self.placements_per_tag),
            "max_orders_in_1s": self.max_orders_in_1s,
            "max_orders_in_60s": self.max_orders_in_60s,
            "ws_connections": self.ws_connections,
            "ws_open": self.ws_open,
            "ws_open_peak": self.ws_open_peak,
            "ws_refused": self.ws_refused,
            "ws_dropped": self.ws_dropped,
            "ws_frames_dropped": self.ws_frames_dropped,
            "postbacks_sent": self.postbacks_sent,
            "postbacks_failed": self.postbacks_failed,
            "postbacks_dropped": self.postbacks_dropped,
            "held_by_latency": self.held_by_latency,
            "sessions_revoked": self.sessions_revoked,
            "token_refused": self.token_refused,
            "ws_token_refused": self.ws_token_refused,
        }
