"""The service's metrics, on the Prometheus registry of :mod:`execsvc.prometheus`.

:class:`ServiceMetrics` wires an :class:`~execsvc.service.ExecutionService` to a registry. It
subscribes to the ``results`` topic with a cheap synchronous callback and ``overflow="drop"``: a
metrics subscriber may lose events under a burst, but it must never slow the service down. Figures
other parts already keep (bus queue depths, rate-limiter waits, the NATS lease) are read from them
at scrape time, never copied.

Hooks for other components:

- :meth:`ServiceMetrics.note_intent` (the control API's ``POST /intents``, or any intake) records an
  intent's ``ts_init`` so its first result yields an intent-to-result latency;
- :meth:`ServiceMetrics.observe_broker_rtt` (the live Kite client) records a broker round trip.

Resource handling: the results subscription is made by the constructor and removed by
:meth:`ServiceMetrics.close`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from execsvc.events import ExecutionResult
from execsvc.prometheus import Counter, Gauge, Histogram, LabelValues, Registry

if TYPE_CHECKING:
    from execsvc.service import ExecutionService

_MAX_PENDING = 65_536
"""Intents noted and not yet answered that are remembered for latency (oldest forgotten first)."""


class ServiceMetrics:
    """The service's metrics, fed by its results and read from its parts at scrape time.

    Args:
        svc: the service (started or not; the subscription starts with its bus).
        ticker: an optional WebSocket ticker with ``connects``, ``disconnects`` and ``state``
            (default: the service's own, ``svc.feed``, once it is open).
        registry: where to register (a new one by default).

    Every name is prefixed ``execsvc_``; see :meth:`~execsvc.prometheus.Registry.render` for the format.
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
        self.charge_credits = reg(
            Counter(
                "execsvc_charge_credits_rupees_total",
                "Charges taken back on fills, in rupees (a same-day CNC match moves an earlier leg to "
                "intraday rates): the charges paid are the one counter less this one.",
            )
        )
        reg(
            Gauge("execsvc_realized_pnl_net_rupees", "Realized P&L net of charges today.", callback=self._pnl)
        )
        reg(Gauge("execsvc_halted", "1 while trading is halted.", callback=lambda: float(svc.halted)))
        reg(Gauge("execsvc_broker_session_valid", "1 while the Kite session works (live; 1 otherwise).",
                  callback=lambda: float(self._session("state", "valid") == "valid")))  # fmt: skip
        reg(Counter("execsvc_broker_session_expirations_total", "Kite sessions seen expired or invalidated.",
                    callback=lambda: float(self._session("expirations", 0))))  # fmt: skip
        reg(Counter("execsvc_broker_session_refused_total", "Intents refused: Kite session down.",
                    callback=lambda: float(self._session("intents_refused", 0))))  # fmt: skip
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
        self._progress: dict[tuple[str, str | None], tuple[int, float]] = {}  # by (intent, order)
        # what the journal already answered (a restart): a strategy that sends an intent again gets
        # its result published again, which is not a new intent, fill or charge
        for done in svc.engine.state.latest_results.values():
            self._seen.add(done.intent_id)
            self._progress[(done.intent_id, done.order_id)] = (done.filled_qty, done.charges)
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
        # what an order had reported stays known once it ends: a repeated intent, or a cancel of a
        # finished order, is answered with its result published again (not a new fill)
        order = (intent_id, result.order_id)
        filled, charged = self._progress.get(order, (0, 0.0))
        if result.filled_qty > filled:
            self.fills.inc()
            self.filled_qty.inc(result.filled_qty - filled)
        if result.filled_qty > filled:
            # a new fill moves the order's charges either way: a same-day CNC match carries a credit
            change = result.charges - charged
            if change > 0:
                self.charges.inc(change)
            elif change < 0:
                self.charge_credits.inc(-change)
            self._progress[order] = (result.filled_qty, result.charges)
        elif result.charges > charged:
            self.charges.inc(result.charges - charged)
            self._progress[order] = (filled, result.charges)

    # -- scrape-time readings ---------------------------------------------------------------------

    def _pnl(self) -> float:
        return float(self.svc.breaker_status()["realized_net"])

    def _subs(self, attr: str) -> dict[LabelValues, float]:
        return {(s.topic, s.name): float(getattr(s, attr)) for s in self.svc.bus.subscriptions()}

    def _session(self, key: str, default: Any) -> Any:
        client = getattr(self.svc, "kite_client", None)  # live only: the Kite session's status
        return client.auth.to_dict().get(key, default) if client is not None else default

    def _nats(self, key: str, default: Any) -> Any:
        status = self.svc.bus_status()
        return status.get(key, default) if status.get("backend") == "nats" else default

    def _depths(self) -> dict[LabelValues, float]:
        return {(s.topic, s.name): float(s.depth()) for s in self.svc.bus.subscriptions()}

    def _dropped(self) -> dict[LabelValues, float]:
        return self._subs("dropped")

    def _failed(self) -> dict[LabelValues, float]:
        return self._subs("failed")

    def ws_ticker(self) -> object | None:
        """The WebSocket ticker watched: the one given, else the service's own (None until open)."""
        return self.ticker if self.ticker is not None else self.svc.feed.ticker

    def _ws_disconnects(self) -> float:
        return float(getattr(self.ws_ticker(), "disconnects", 0) or 0)

    def _ws_connected(self) -> float:
        return 1.0 if getattr(self.ws_ticker(), "state", None) == "connected" else 0.0

    def _waits(self) -> dict[LabelValues, float]:
        return {(k,): float(v) for k, v in self.svc.limiter.waits.items()}

    def _wait_seconds(self) -> dict[LabelValues, float]:
        return {(k,): float(v) for k, v in self.svc.limiter.wait_seconds.items()}


def _ts_init_of(result: ExecutionResult) -> int:
    """The intent's ``ts_init`` if the result carries it (a field, or ``raw["ts_init"]``), else 0."""
    value: Any = getattr(result, "ts_init", 0) or (result.raw or {}).get("ts_init", 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
