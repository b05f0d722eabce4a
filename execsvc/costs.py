"""The Indian charges (cost) model: Zerodha brokerage and statutory charges of a fill.

Rates live in a versioned YAML table (``configs/charges.yaml``): a trade uses the newest version that
took effect on or before its trade day. The core, :func:`fill_charges`, is a pure function.

Charges accrue per executed *order*: brokerage is capped (or flat) per order and STT is rounded to
the nearest rupee per order. A fill's charges are therefore ``f(order value after it) - f(order value
before it)``, so the fills of one order always add up to the charges of the whole order.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import msgspec
import yaml

from execsvc.errors import ConfigError, ValidationError
from execsvc.events import Charges
from execsvc.rounding import round_dp

SEGMENTS = ("equity", "futures", "options", "currency", "commodity", "commodity_options")

_Pct = Annotated[float, msgspec.Meta(ge=0, le=100)]
_Rupees = Annotated[float, msgspec.Meta(ge=0)]

_ANY_TYPE_SEGMENT = {"NSE": "equity", "BSE": "equity", "MCX": "commodity"}
_DERIVATIVE_SEGMENT = {  # (exchange, instrument_type) -> segment; looked up before the exchange's
    **{
        (x, k): "currency" if x in ("CDS", "BCD") else "futures" if k == "FUT" else "options"
        for x in ("NFO", "BFO", "CDS", "BCD")
        for k in ("FUT", "CE", "PE")
    },
    # MCX options pay on the premium as NFO's do (a flat brokerage, CTT and MCX's charge of the
    # premium), not at the futures' rates
    ("MCX", "CE"): "commodity_options",
    ("MCX", "PE"): "commodity_options",
}
_EQUITY_ROW_BY_PRODUCT = {"CNC": "delivery", "MTF": "delivery", "NRML": "delivery", "MIS": "intraday"}


class Rates(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """One row of the rate table; ``*_pct`` are percent (0.03 means 0.03 %). ``exchange_pct_by_exchange``
    overrides ``exchange_pct`` per exchange (:meth:`RateTable.rates_for` applies it).
    ``stt_exercise_pct`` is the buyer's STT on an option exercised at expiry, of its intrinsic value
    (``executors.paper.expiry``); a table written before it has none (0). The settlement rates
    (``execsvc.settlement_costs``) came later still: ``exercise_brokerage_per_order`` (0: none) and
    ``physical_stt_pct`` (None: physical settlement unknown, charged as a cash exercise); then
    ``dp_charge_per_scrip`` (0: none), the depository's charge per scrip a day on shares a physical
    settlement takes from the demat (``executors.paper.delivery``)."""

    brokerage_pct: _Pct
    brokerage_cap: _Rupees | None
    brokerage_flat: _Rupees = 0.0
    auto_square_off_fee: _Rupees = 0.0
    stt_buy_pct: _Pct
    stt_sell_pct: _Pct
    stt_exercise_pct: _Pct = 0.0
    exercise_brokerage_per_order: _Rupees = 0.0
    physical_stt_pct: _Pct | None = None
    physical_brokerage_pct: _Pct = 0.0
    dp_charge_per_scrip: _Rupees = 0.0
    exchange_pct: _Pct
    exchange_pct_by_exchange: dict[str, _Pct] = msgspec.field(default_factory=dict)
    sebi_per_crore: _Rupees
    stamp_buy_pct: _Pct
    gst_pct: _Pct


class _EquityRates(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    delivery: Rates
    intraday: Rates


class _Version(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    effective_from: date
    equity: _EquityRates
    futures: Rates
    options: Rates
    currency: Rates
    commodity: Rates
    # grown later: a table written before it charges MCX options at ``commodity`` (RateTable.rates_for)
    commodity_options: Rates | None = None


class _TableFile(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    versions: Annotated[list[_Version], msgspec.Meta(min_length=1)]


_PATH_RE = re.compile(r"\s*- at `\$\.?(?P<path>[^`]*)`")  # msgspec's "- at `$.versions[0].futures`"
_FIELD_RE = re.compile(r"(?P<what>missing required|unknown) field `(?P<field>[^`]+)`")


def _translate(exc: msgspec.ValidationError, data: Any, source: str) -> ConfigError:
    path = match.group("path") if (match := _PATH_RE.search(str(exc))) else ""
    reason = _PATH_RE.sub("", str(exc)).strip()
    if field := _FIELD_RE.search(reason):
        return ConfigError(f"{source}: {field.group('what')} key {f'{path}.{field[2]}'.lstrip('.')!r}")
    value = data
    for part in filter(None, re.split(r"\.|\[(\d+|\.\.\.)\]", path)):
        if part == "..." or not isinstance(value, list | dict):
            break  # "[...]" is a dict key msgspec does not name: show the whole dict
        value = value[int(part)] if isinstance(value, list) else value.get(part)
    return ConfigError(f"{source}: {path or '<root>'}={value!r}: {reason}")


class RateTable:
    """The versioned rate table: versions sorted by ``effective_from``, looked up by trade day."""

    def __init__(self, versions: Sequence[_Version]) -> None:
        self._versions = tuple(versions)
        self._days = [v.effective_from for v in self._versions]

    @classmethod
    def load(cls, path: str | Path) -> RateTable:
        """Read and validate a rate table file.

        Args:
            path: the YAML file (see ``configs/charges.yaml`` for the layout).

        Returns:
            The table.

        Raises:
            ConfigError: naming the file, key and value: unreadable or not YAML, a missing or unknown
                key, a negative or non-numeric rate, a non-date or out-of-order ``effective_from``.
        """
        source = str(path)
        try:
            data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read rate table: {exc.strerror}") from exc
        except (yaml.YAMLError, ValueError) as exc:  # ValueError: a date-like scalar such as 2024-13-01
            raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: the top level must be a mapping with 'versions', got {data!r}")
        try:
            parsed = msgspec.convert(data, _TableFile, strict=True)
        except msgspec.ValidationError as exc:
            raise _translate(exc, data, source) from exc
        days = [v.effective_from for v in parsed.versions]
        for i in range(1, len(days)):
            if days[i] <= days[i - 1]:
                raise ConfigError(
                    f"{source}: versions[{i}].effective_from={days[i].isoformat()}: versions must be in "
                    f"strictly increasing effective_from order (previous is {days[i - 1].isoformat()})"
                )
        return cls(parsed.versions)

    def rates_for(self, segment: str, product: str, trade_day: date, exchange: str | None = None) -> Rates:
        """The rates for a trade: the newest version with ``effective_from <= trade_day``.

        Args:
            segment: one of :data:`SEGMENTS` (see :func:`segment_for`); ``commodity_options`` falls
                back to the ``commodity`` row in a version that has none.
            product: the Kite product; picks the equity row (MIS intraday; CNC, MTF, NRML delivery).
            trade_day: the trade's date (exchange time, IST).
            exchange: if given, applies the row's per-exchange ``exchange_pct`` override.

        Returns:
            The row.

        Raises:
            ConfigError: an unknown segment or equity product, or a day before every version.
        """
        index = bisect.bisect_right(self._days, trade_day) - 1
        if index < 0:
            raise ConfigError(f"no charges rates for trade_day={trade_day.isoformat()}: before every version")
        version = self._versions[index]
        if segment == "equity":
            row_name = _EQUITY_ROW_BY_PRODUCT.get(product)
            if row_name is None:
                raise ConfigError(f"no equity charges row for product={product!r}")
            rates: Rates = getattr(version.equity, row_name)
        elif segment in SEGMENTS:
            rates = getattr(version, segment) or version.commodity
        else:
            raise ConfigError(f"unknown charges segment={segment!r}; expected one of {SEGMENTS}")
        override = rates.exchange_pct_by_exchange.get(exchange) if exchange is not None else None
        return rates if override is None else msgspec.structs.replace(rates, exchange_pct=override)


def segment_for(exchange: str, instrument_type: str) -> str:
    """The charges segment of an instrument.

    Args:
        exchange: the Kite exchange (NSE, BSE, NFO, BFO, CDS, BCD, MCX).
        instrument_type: the Kite instrument type (EQ, FUT, CE, PE).

    Returns:
        ``"equity"``, ``"futures"``, ``"options"``, ``"currency"``, ``"commodity"`` or
        ``"commodity_options"`` (MCX CE and PE).

    Raises:
        ConfigError: an exchange, or exchange and instrument type pair, that has no segment.
    """
    segment = _DERIVATIVE_SEGMENT.get((exchange, instrument_type)) or _ANY_TYPE_SEGMENT.get(exchange)
    if segment is None:
        raise ConfigError(f"no charges segment for exchange={exchange!r} instrument_type={instrument_type!r}")
    return segment


_INF = math.inf


def order_stt(value: float, pct: float) -> float:
    """An order's STT (or CTT) at ``pct`` percent of its traded ``value``: whole rupees, half up."""
    # Whole rupees, half up. Rounding to 6 dp first removes binary noise, so an exact 100.5 is not
    # 100.4999... when it meets floor (values are whole paise, rates a few decimals).
    if pct == 0.0 or value == 0.0:
        return 0.0
    return float(math.floor(round_dp(value * pct / 100, 6) + 0.5))


def order_brokerage(value: float, rates: Rates) -> float:
    """An order's brokerage on its traded ``value``: flat plus a percentage, capped per order."""
    if value <= 0.0:
        return 0.0
    brokerage = rates.brokerage_flat + value * rates.brokerage_pct / 100
    return brokerage if rates.brokerage_cap is None else min(brokerage, rates.brokerage_cap)


def fill_charges(
    rates: Rates,
    *,
    side: str,
    price: float,
    qty: int,
    order_value_before: float = 0.0,
    auto_square_off: bool = False,
    multiplier: float = 1.0,
) -> Charges:
    """The charges of one fill: a pure function.

    Brokerage and STT are ``f(order value after) - f(order value before)``, so flat brokerage falls on
    the first fill; exchange, SEBI and stamp (buy only) are linear; GST is on brokerage + exchange +
    SEBI. Components are rounded to 4 dp; ``total`` is the rounded sum of the rounded components.

    Args:
        rates: the row, from :meth:`RateTable.rates_for`.
        side: ``"BUY"`` or ``"SELL"``.
        price: the fill price (for options, the premium).
        qty: the fill quantity (units, not lots).
        order_value_before: the same order's earlier fills' sum of price * qty (no multiplier).
        auto_square_off: the order is the broker's auto square-off of an intraday position: its
            fee (``auto_square_off_fee``, plus GST) falls on the first fill.
        multiplier: the contract's (MCX, CDS, BCD; else 1): every charge is on the turnover
            ``price * qty * multiplier`` (FACTS.md 7: each is a share of value, or per order).

    Returns:
        The fill's charges in rupees.

    Raises:
        ValidationError: an unknown side, a negative or non-finite price, quantity or prior value,
            or a multiplier that is not a finite positive number.
    """
    if side == "BUY":
        buy = True
    elif side == "SELL":
        buy = False
    else:
        raise ValidationError(f"side={side!r}: must be BUY or SELL")
    if not (0.0 <= price < _INF and 0 <= qty < _INF and 0.0 <= order_value_before < _INF):
        for name, number in (("price", price), ("qty", qty), ("order_value_before", order_value_before)):
            if not (math.isfinite(number) and number >= 0):
                raise ValidationError(f"{name}={number!r}: must be a finite non-negative number")
    if not 0.0 < multiplier < _INF:
        raise ValidationError(f"multiplier={multiplier!r}: must be a finite positive number")
    stt_pct = rates.stt_buy_pct if buy else rates.stt_sell_pct
    value = price * qty * multiplier
    # Rounded to 6 dp (values are whole paise) so that consecutive fills telescope exactly.
    after = round_dp(order_value_before * multiplier + value, 6)
    brokerage = order_brokerage(after, rates)
    stt = order_stt(after, stt_pct)
    if order_value_before:  # a first fill (most are) owes the whole order's: nothing came before
        before = round_dp(order_value_before * multiplier, 6)
        brokerage -= order_brokerage(before, rates)
        stt -= order_stt(before, stt_pct)
    exchange = value * rates.exchange_pct / 100
    sebi = value * rates.sebi_per_crore / 1e7
    stamp = value * rates.stamp_buy_pct / 100 if buy else 0.0
    fee = rates.auto_square_off_fee if auto_square_off and order_value_before == 0.0 else 0.0
    gst = (brokerage + exchange + sebi + fee) * rates.gst_pct / 100
    return rounded_charges(brokerage, stt, exchange, sebi, stamp, gst, fee)


def rounded_charges(
    brokerage: float, stt: float, exchange: float, sebi: float, stamp: float, gst: float, fee: float = 0.0
) -> Charges:
    """A fill's charges from its unrounded parts: each part to 4 dp, ``total`` the rounded sum of
    the rounded parts; ``auto_square_off`` (``fee``) is named only when charged."""
    # "+ 0.0" turns a -0.0 into 0.0, so the journal never shows a negative zero.
    b = round_dp(brokerage, 4) + 0.0
    s = round_dp(stt, 4) + 0.0
    e = round_dp(exchange, 4) + 0.0
    f = round_dp(sebi, 4) + 0.0
    m = round_dp(stamp, 4) + 0.0
    g = round_dp(gst, 4) + 0.0
    if fee:  # named only when charged: msgspec writes a float default that is given (0.0 too)
        total = round_dp(b + s + e + f + m + g + fee, 4)
        return Charges(
            brokerage=b, stt=s, exchange=e, sebi=f, stamp=m, gst=g, auto_square_off=fee, total=total
        )
    total = round_dp(b + s + e + f + m + g, 4)
    return Charges(brokerage=b, stt=s, exchange=e, sebi=f, stamp=m, gst=g, total=total)


class CostModel:
    """Charges of fills on the hot path: rows are cached by (exchange, instrument_type, product,
    trade_day), a handful per trading day, so the cache is left unbounded."""

    def __init__(self, table: RateTable | None) -> None:
        """Build a model on ``table``; ``None`` disables charges (prefer :meth:`zero`)."""
        self._table = table
        self._cache: dict[tuple[str, str, str, date], Rates] = {}

    @classmethod
    def zero(cls) -> CostModel:
        """A model whose every fill costs nothing (for configs with charges disabled).

        Returns:
            The model.
        """
        return cls(None)

    def rates(self, exchange: str, instrument_type: str, product: str, trade_day: date) -> Rates | None:
        """The row a fill is charged at (see :meth:`RateTable.rates_for`); None for :meth:`zero`.

        Raises:
            ConfigError: no segment, row or version fits.
        """
        if self._table is None:
            return None
        key = (exchange, instrument_type, product, trade_day)
        if (rates := self._cache.get(key)) is None:
            rates = self._table.rates_for(
                segment_for(exchange, instrument_type), product, trade_day, exchange
            )
            self._cache[key] = rates
        return rates

    def charges(
        self,
        *,
        exchange: str,
        instrument_type: str,
        product: str,
        side: str,
        price: float,
        qty: int,
        trade_day: date,
        order_value_before: float = 0.0,
        auto_square_off: bool = False,
        multiplier: float = 1.0,
    ) -> Charges:
        """The charges of one fill; see :func:`fill_charges`.

        Args:
            exchange, instrument_type: the Kite exchange and instrument type: pick the segment.
            product: the Kite product (MIS, CNC, NRML, MTF).
            side, price, qty, order_value_before, auto_square_off, multiplier: as for
                :func:`fill_charges`.
            trade_day: the trade's date (IST); picks the rate version.

        Returns:
            The fill's charges; all zero for the :meth:`zero` model.

        Raises:
            ConfigError: no segment, row or version fits the fill.
            ValidationError: a bad side, price, quantity or prior value.
        """
        rates = self.rates(exchange, instrument_type, product, trade_day)
        if rates is None:
            return Charges()
        return fill_charges(
            rates,
            side=side,
            price=price,
            qty=qty,
            order_value_before=order_value_before,
            auto_square_off=auto_square_off,
            multiplier=multiplier,
        )
