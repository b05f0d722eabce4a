"""A tiny Prometheus registry, with no dependency beyond the standard library.

:class:`Counter`, :class:`Gauge` and :class:`Histogram` are kept in a :class:`Registry`, whose
:meth:`Registry.render` writes the Prometheus text exposition format 0.0.4 (``# HELP`` and
``# TYPE`` lines, ``_bucket{le="..."}``, ``_sum`` and ``_count`` for histograms, escaped label
values). A counter or gauge may be backed by a callback read at scrape time: figures another
object already keeps (bus queue depths, rate-limiter waits) are read, never copied.

It is apart from :mod:`execsvc.metrics` because it knows nothing of the service: metric types and
the text format are one concept, and which figures the service exports, and where it reads them,
is another.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TypeVar

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
