"""A tiny Prometheus registry and the service's metrics, with no dependency beyond the standard library.

:class:`Counter`, :class:`Gauge` and :class:`Histogram` are kept in a :class:`Registry`, whose
:meth:`Registry.render` writes the Prometheus text exposition format 0.0.4 (``# HELP`` and
``# TYPE`` lines, ``_bucket{le="..."}``, ``_sum`` and ``_count`` for histograms, escaped label
values). A counter or gauge may be backed by a callback read at scrape time: figures another
object already keeps (bus queue depths, rate-limiter waits) are read, never copied.

:class:`ServiceMetrics` wires an :class:`~execsvc.service.ExecutionService` to a registry. It
subscribes to the ``results`` topic with a cheap synchronous callback and ``overflow="drop"``: a
metrics subscriber may lose events under a burst, but it must never slow the service down.

Hooks for other components:

- :meth:`ServiceMetrics.note_intent` (the control API's ``POST /intents``, or any intake) records an
  intent's ``ts_init`` so its first result yields an intent-to-result latency;
- :meth:`ServiceMetrics.observe_broker_rtt` (the live Kite client) records a broker round trip.

Resource handling: the results subscription is made by the constructor and removed by
:meth:`ServiceMetrics.close`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from execsvc.events import TERMINAL_STATUSES, ExecutionResult

if TYPE_CHECKING:
    from execsvc.service import ExecutionService

LATENCY_BUCKETS: tuple[float, ...] = (*(float(f"{m}e{e}") for e in range(-5, 1) for m in (1, 2.5, 5)), 10.0)
"""Upper bounds in seconds, 10 us to 10 s (``+Inf`` is implicit)."""

LabelValues = tuple[str, ...]
M = TypeVar("M", bound="_Metric")
Callback = Callable[[], "float | Mapping[LabelValues, float]"]
"""A scrape-time reading: one value, or one value per tuple of label values (in ``labelnames`` order)."""


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it (``+Inf``, ``-Inf``, ``NaN``, integers without ``.0``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def escape_label(value: str) -> str:
    """Escape a label value: backslash, double quote and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _labels(names: Sequence[str], values: Sequence[str], extra: str = "") -> str:
    parts = [f'{n}="{escape_label(v)}"' for n, v in zip(names, values)]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class _Metric:
    """Name, help text, label names and the children (one per tuple of label values)."""

    kind = "untyped"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)

    def _key(self, labels: Mapping[str, str]) -> LabelValues:
        if set(labels) != set(self.labelnames):
            raise ValueError(f"{self.name}: labels {sorted(labels)}, expected {sorted(self.labelnames)}")
        return tuple(str(labels[n]) for n in self.labelnames)

    def header(self) -> list[str]:
        """The ``# HELP`` and ``# TYPE`` lines."""
        return [f"# HELP {self.name} {_escape_help(self.documentation)}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        """The sample lines."""
        raise NotImplementedError


class _Valued(_Metric):
    """A counter or gauge: a float per tuple of label values, or a callback."""

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        callback: Callback | None = None,
    ) -> None:
        super().__init__(name, documentation, labelnames)
        self.callback = callback
        self._values: dict[LabelValues, float] = {} if labelnames else {(): 0.0}

    def _add(self, amount: float, labels: Mapping[str, str]) -> None:
        key = self._key(labels)
        self._values[key] = self._values.get(key, 0.0) + amount

    def value(self, **labels: str) -> float:
        """The current value (of one child), for tests and status pages."""
        if self.callback is not None:
            reading = self.callback()
            if isinstance(reading, int | float):
                return float(reading)
            return float(reading.get(self._key(labels), 0.0))
        return self._values.get(self._key(labels), 0.0)

    def samples(self) -> list[str]:
        """One line per child (callbacks are read now)."""
        if self.callback is None:
            items: Iterable[tuple[LabelValues, float]] = sorted(self._values.items())
        else:
            reading = self.callback()
            items = [((), float(reading))] if isinstance(reading, int | float) else sorted(reading.items())
        return [f"{self.name}{_labels(self.labelnames, k)} {format_value(v)}" for k, v in items]


class Counter(_Valued):
    """A monotonically increasing count. Name it ``..._total``."""

    kind = "counter"

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` (never negative) to the child named by ``labels``."""
        if amount < 0:
            raise ValueError(f"{self.name}: a counter cannot go down (amount={amount})")
        self._add(amount, labels)


class Gauge(_Valued):
    """A value that goes up and down, set directly or read from a callback at scrape time."""

    kind = "gauge"

    def set(self, value: float, **labels: str) -> None:
        """Set the child named by ``labels``."""
        self._values[self._key(labels)] = float(value)

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` (may be negative)."""
        self._add(amount, labels)


class Histogram(_Metric):
    """Observations counted into fixed cumulative buckets, with their sum and count (unlabelled)."""

    kind = "histogram"

    def __init__(self, name: str, documentation: str, buckets: Sequence[float] = LATENCY_BUCKETS) -> None:
        super().__init__(name, documentation)
        bounds = sorted(float(b) for b in buckets if not math.isinf(b))
        if not bounds:
            raise ValueError(f"{name}: a histogram needs at least one finite bucket")
        self.buckets: tuple[float, ...] = (*bounds, math.inf)
        self.counts = [0] * len(self.buckets)
        self.sum = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        """Record one observation (in seconds)."""
        for i, bound in enumerate(self.buckets):
            if seconds <= bound:
                self.counts[i] += 1
                break
        self.sum += seconds
        self.count += 1

    def samples(self) -> list[str]:
        """Cumulative ``_bucket`` lines, then ``_sum`` and ``_count``."""
        lines = []
        running = 0
        for bound, n in zip(self.buckets, self.counts):
            running += n
            lines.append(f'{self.name}_bucket{{le="{format_value(bound)}"}} {running}')
        lines.append(f"{self.name}_sum {format_value(self.sum)}")
        lines.append(f"{self.name}_count {self.count}")
        return lines


class Registry:
    """Metrics by name, rendered in registration order."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def register(self, metric: M) -> M:
        """Add a metric and return it.

        Raises:
            ValueError: a metric of that name exists already.
        """
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is registered already")
        self._metrics[metric.name] = metric
        return metric

    def get(self, name: str) -> _Metric | None:
        """A metric by name."""
        return self._metrics.get(name)

    def render(self) -> str:
        """Every metric in the text exposition format 0.0.4 (ends with a newline)."""
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.extend(metric.header())
            lines.extend(metric.samples())
        return "\n".join(lines) + "\n"


_MAX_PENDING = 65_536
"""Intents noted and not yet answered that are remembered for latency (oldest forgotten first)."""


class ServiceMetrics:
    """The service's metrics, fed by its results and read from its parts at scrape time.

    Args:
        svc: the service (started or not; the subscription starts with its bus).
        ticker: an optional WebSocket ticker with ``connects``, ``disconnects`` and ``state``.
        registry: where to register (a new one by default).

    Every name is prefixed ``execsvc_``; see :meth:`Registry.render` for the format.
    """

    def __init__(
        self, svc: ExecutionService, *, ticker: object | None = None, registry: Registry | None = None
    ) -> None:
        self.svc = svc
        self.ticker = ticker
        self.registry = registry or Registry()
        reg = self.registry.register
        self.intents = reg(Counter("execsvc_intents_total", "Intents answered (first result per intent)."))
        self.results = reg(Counter("execsvc_results_total", "Results by status.", ("status",)))
        self.rejects = reg(Counter("execsvc_rejects_total", "Rejected intents by reason.", ("reason",)))
        self.fills = reg(Counter("execsvc_fills_total", "Results that reported newly filled quantity."))
        self.filled_qty = reg(Counter("execsvc_filled_qty_total", "Quantity filled, over all orders."))
        self.charges = reg(Counter("execsvc_charges_rupees_total", "Charges paid on fills, in rupees."))
        reg(
            Gauge("execsvc_realized_pnl_net_rupees", "Realized P&L net of charges today.", callback=self._pnl)
        )
        reg(Gauge("execsvc_halted", "1 while trading is halted.", callback=lambda: float(svc.halted)))
        self.intent_latency = reg(
            Histogram("execsvc_intent_latency_seconds", "Intent ts_init to its first result's ts_event.")
        )
        self.broker_rtt = reg(Histogram("execsvc_broker_rtt_seconds", "Broker HTTP round trips."))
        sub_labels = ("topic", "subscription")
        reg(
            Gauge(
                "execsvc_bus_queue_depth",
                "Events queued per bus subscription.",
                sub_labels,
                callback=self._depths,
            )
        )
        reg(
            Counter(
                "execsvc_bus_dropped_total",
                "Events dropped per bus subscription.",
                sub_labels,
                callback=self._dropped,
            )
        )
        reg(
            Counter(
                "execsvc_bus_failed_total",
                "Handler failures per bus subscription.",
                sub_labels,
                callback=self._failed,
            )
        )
        reg(
            Counter(
                "execsvc_ws_reconnects_total",
                "WebSocket disconnects (each one reconnects).",
                callback=self._ws_disconnects,
            )
        )
        reg(Gauge("execsvc_ws_connected", "1 while the WebSocket is connected.", callback=self._ws_connected))
        reg(Gauge("execsvc_nats_lease_active", "1 while this instance holds the account's lease.",
                  callback=lambda: float(bool(self._nats("lease", {}).get("active")))))  # fmt: skip
        reg(Gauge("execsvc_nats_consumer_lag", "Intents in the stream not yet delivered to the executor.",
                  callback=lambda: float(self._nats("intake", {}).get("lag", 0))))  # fmt: skip
        reg(Counter("execsvc_nats_redeliveries_total", "Intents JetStream delivered more than once.",
                    callback=lambda: float(self._nats("intake", {}).get("redelivered", 0))))  # fmt: skip
        reg(Counter("execsvc_nats_reconnects_total", "Reconnections to NATS.",
                    callback=lambda: float(self._nats("reconnects", 0))))  # fmt: skip
        reg(
            Counter(
                "execsvc_ratelimit_waits_total",
                "Rate-limiter acquisitions that had to wait.",
                ("category",),
                callback=self._waits,
            )
        )
        reg(
            Counter(
                "execsvc_ratelimit_wait_seconds_total",
                "Time spent waiting on the rate limiter.",
                ("category",),
                callback=self._wait_seconds,
            )
        )
        self._seen: set[str] = set()
        self._pending: dict[str, int] = {}
        self._progress: dict[str, tuple[int, float]] = {}
        self.subscription = svc.bus.subscribe("results", self.on_result, name="metrics", overflow="drop")

    def close(self) -> None:
        """Stop listening to results."""
        self.svc.bus.unsubscribe(self.subscription)

    # -- hooks ------------------------------------------------------------------------------------

    def note_intent(self, intent_id: str, ts_init_ns: int) -> None:
        """Remember when an intent entered, so its first result gives an intent-to-result latency."""
        if not intent_id or ts_init_ns <= 0 or intent_id in self._seen:
            return
        pending = self._pending
        if len(pending) >= _MAX_PENDING and intent_id not in pending:
            del pending[next(iter(pending))]
        pending[intent_id] = ts_init_ns

    def observe_broker_rtt(self, seconds: float) -> None:
        """Record one broker round trip (the live client calls this per HTTP request)."""
        self.broker_rtt.observe(seconds)

    def on_result(self, result: ExecutionResult) -> None:
        """The results subscriber: counts, fills, charges and latency. Synchronous and cheap."""
        intent_id = result.intent_id
        self.results.inc(status=result.status)
        if intent_id not in self._seen:
            self._seen.add(intent_id)
            self.intents.inc()
            if result.status == "REJECTED":
                self.rejects.inc(reason=result.reject_reason or "other")
            ts_init = self._pending.pop(intent_id, 0) or _ts_init_of(result)
            if ts_init > 0 and result.ts_event >= ts_init:
                self.intent_latency.observe((result.ts_event - ts_init) / 1e9)
        filled, charged = self._progress.get(intent_id, (0, 0.0))
        if result.filled_qty > filled:
            self.fills.inc()
            self.filled_qty.inc(result.filled_qty - filled)
        if result.charges > charged:
            self.charges.inc(result.charges - charged)
        if result.status in TERMINAL_STATUSES:
            self._progress.pop(intent_id, None)
        elif result.filled_qty or result.charges:
            self._progress[intent_id] = (max(filled, result.filled_qty), max(charged, result.charges))

    # -- scrape-time readings ---------------------------------------------------------------------

    def _pnl(self) -> float:
        return float(self.svc.breaker_status()["realized_net"])

    def _subs(self, attr: str) -> dict[LabelValues, float]:
        return {(s.topic, s.name): float(getattr(s, attr)) for s in self.svc.bus.subscriptions()}

    def _nats(self, key: str, default: Any) -> Any:
        status = self.svc.bus_status()
        return status.get(key, default) if status.get("backend") == "nats" else default

    def _depths(self) -> dict[LabelValues, float]:
        return {(s.topic, s.name): float(s.depth()) for s in self.svc.bus.subscriptions()}

    def _dropped(self) -> dict[LabelValues, float]:
        return self._subs("dropped")

    def _failed(self) -> dict[LabelValues, float]:
        return self._subs("failed")

    def _ws_disconnects(self) -> float:
        return float(getattr(self.ticker, "disconnects", 0) or 0)

    def _ws_connected(self) -> float:
        return 1.0 if getattr(self.ticker, "state", None) == "connected" else 0.0

    def _waits(self) -> dict[LabelValues, float]:
        return {(k,): float(v) for k, v in self.svc.limiter.waits.items()}

    def _wait_seconds(self) -> dict[LabelValues, float]:
        return {(k,): float(v) for k, v in self.svc.limiter.wait_seconds.items()}


def _ts_init_of(result: ExecutionResult) -> int:
    """The intent's ``ts_init`` if the result carries it (a field, or ``raw["ts_init"]``), else 0."""
    value: Any = getattr(result, "ts_init", 0) or (result.raw or {}).get("ts_init", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
