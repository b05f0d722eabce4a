"""The underlying of an exchange-traded option, and an option's intrinsic value against it.

At expiry the exchange exercises an option in the money and settles it at its intrinsic value, the
underlying's price past the strike (``executors.paper.expiry``). The paper broker prices the
underlying from its ticks, so it needs the underlying's key (``EXCHANGE:TRADINGSYMBOL``):

- a stock option's ``name`` column (the instruments dump, ``market/instruments.py``) is the stock's
  trading symbol on the cash exchange of the same side: NFO's on NSE, BFO's on BSE;
- an index option's ``name`` is the index's short name, whose index row has a longer trading symbol
  (``INDEX_UNDERLYINGS``).

Only NFO and BFO options are resolved: an MCX option is exercised into a future and a currency
option (CDS, BCD) against the RBI reference rate, neither of which the paper broker models.

Index derivatives settle in cash; stock derivatives (every stock future, a stock option in the
money) are physically settled, shares delivered (``physically_settled``), which costs otherwise
(``execsvc.settlement_costs``).
"""

from __future__ import annotations

from collections.abc import Callable

from execsvc.errors import ValidationError
from execsvc.market.instruments import Instrument
from execsvc.rounding import round_dp

OPTION_KINDS = ("CE", "PE")

_CASH_EXCHANGE = {"NFO": "NSE", "BFO": "BSE"}  # a stock option's stock trades on the same side

INDEX_UNDERLYINGS = {
    # FACTS.md 4.3 names the NIFTY 50 index packet (token 256265): confirmed
    "NIFTY": "NSE:NIFTY 50",
    # UNCONFIRMED (not in FACTS.md): the index rows' trading symbols as Kite's dump is remembered
    "BANKNIFTY": "NSE:NIFTY BANK",
    "FINNIFTY": "NSE:NIFTY FIN SERVICE",
    "MIDCPNIFTY": "NSE:NIFTY MID SELECT",
    "NIFTYNXT50": "NSE:NIFTY NEXT 50",
    "SENSEX": "BSE:SENSEX",
    "BANKEX": "BSE:BANKEX",
}
"""An index option's ``name`` -> its index's key (``EXCHANGE:TRADINGSYMBOL`` of the index row)."""


def underlying_of(instrument: Instrument) -> str | None:
    """The key of the instrument an option is exercised against.

    Args:
        instrument: a row of the instruments dump.

    Returns:
        ``NSE:NIFTY 50`` for a NIFTY option, ``NSE:<name>`` for an NFO stock option, ``BSE:<name>``
        for a BFO one; None for anything else (a future, a stock, an MCX or currency option, an
        option whose row has no ``name``).
    """
    cash = _CASH_EXCHANGE.get(instrument.exchange)
    if cash is None or instrument.instrument_type not in OPTION_KINDS or not instrument.name:
        return None
    index = INDEX_UNDERLYINGS.get(instrument.name)
    if index is not None:
        return index if index.startswith(f"{cash}:") else None
    return f"{cash}:{instrument.name}"


def cash_symbol(instrument: Instrument) -> str | None:
    """The key of the stock a stock F&O contract delivers: ``NSE:<name>`` for NFO, ``BSE:<name>``
    for BFO; None for another exchange or a row without a ``name`` (whether the contract is
    physically settled at all is :func:`physically_settled`'s)."""
    cash = _CASH_EXCHANGE.get(instrument.exchange)
    if cash is None or not instrument.name:
        return None
    return f"{cash}:{instrument.name}"


def physically_settled(
    instrument: Instrument, lookup: Callable[[str], Instrument | None] = lambda _key: None
) -> bool:
    """Whether a contract settles by delivery of shares: an NFO or BFO future or option on a stock.

    Args:
        instrument: the contract's row.
        lookup: the dump's rows by ``EXCHANGE:TRADINGSYMBOL``: a cash-side row of the contract's
            ``name`` in the ``INDICES`` segment says the underlying is an index that
            :data:`INDEX_UNDERLYINGS` does not list (a new index), so the contract is cash-settled.

    Returns:
        True for a stock future or option (its ``name`` is not an index); False for an index one,
        an MCX or currency contract, a stock, or a row without a ``name`` (nothing says it is a
        stock's).
    """
    cash = _CASH_EXCHANGE.get(instrument.exchange)
    if (
        cash is None
        or instrument.instrument_type not in (*OPTION_KINDS, "FUT")
        or not instrument.name
        or instrument.name in INDEX_UNDERLYINGS
    ):
        return False
    row = lookup(f"{cash}:{instrument.name}")
    return row is None or row.tradable


def priced_against(
    instrument: Instrument, lookup: Callable[[str], Instrument | None] = lambda _key: None
) -> str | None:
    """The other instrument whose last price an expiring contract's settlement needs: an option's
    underlying (:func:`underlying_of`: its intrinsic value), else the stock a physically settled
    future delivers (its last price marks the shares the next day holds); None for anything else."""
    underlying = underlying_of(instrument)
    if underlying is None and physically_settled(instrument, lookup):
        return cash_symbol(instrument)
    return underlying


def intrinsic_value(kind: str, strike: float, underlying_price: float) -> float:
    """An option's value if exercised now, per unit: CE ``max(0, S - K)``, PE ``max(0, K - S)``.

    Prices are in whole paise, so the difference is rounded to 2 dp (the float subtraction's noise,
    26237.35 - 26000 = 237.3499..., would otherwise be journaled).

    Raises:
        ValidationError: ``kind`` is not CE or PE.
    """
    if kind == "CE":
        value = underlying_price - strike
    elif kind == "PE":
        value = strike - underlying_price
    else:
        raise ValidationError(f"instrument_type={kind!r}: only an option (CE, PE) has an intrinsic value")
    return round_dp(value, 2) + 0.0 if value > 0 else 0.0
