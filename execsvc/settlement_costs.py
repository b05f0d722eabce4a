"""What the exchange's settlement of an F&O contract at expiry costs: pure functions on a rate row.

A settlement is no trade (no exchange charge, SEBI fee or stamp), but Zerodha charges two kinds of
it (every rate a field of the versioned table, ``configs/charges.yaml``; the sources are public
answers by Zerodha's support staff and its support pages, none official, so each is UNCONFIRMED):

- an index option (cash-settled) in the money: the long side pays STT at the exercise rate on the
  intrinsic value (``stt_exercise_pct``, FACTS section 7), and both sides pay brokerage of
  ``exercise_brokerage_per_order`` (Rs 20) for each order the exchange's exit of the position
  would take, counted by the freeze quantity, plus GST. Source:
  https://tradingqna.com/t/itm-options-index-options-expiry-brokerage-stt/151973 (the short side's
  brokerage is our reading: it has an exit the exchange settled as well);
- a physically settled stock contract (every stock future, a stock option in the money): STT of
  ``physical_stt_pct`` (0.1 %, equity delivery's) of the contract value for buyer and seller, and
  brokerage of ``physical_brokerage_pct`` (0.25 %) of it, plus GST; no exercise STT. Sources:
  :data:`PHYSICAL_SETTLEMENT_SOURCES` (Zerodha's support page "Policy on physical settlement" and
  two answers on tradingqna.com).

STT is rounded to the rupee, half up, as an order's; the other parts to 4 dp (``rounded_charges``).
Only the parts charged are named, so a fill journals ``{"stt": 39.0, "total": 39.0}`` as before.
"""

from __future__ import annotations

import msgspec

from execsvc.costs import Rates, order_stt, rounded_charges
from execsvc.events import Charges
from execsvc.rounding import round_dp

INDEX_EXERCISE_SOURCE = "https://tradingqna.com/t/itm-options-index-options-expiry-brokerage-stt/151973"
PHYSICAL_SETTLEMENT_SOURCES = (
    "https://support.zerodha.com/category/trading-and-markets/"
    "margin-leverage-and-product-and-order-types/articles/policy-on-physical-settlement",
    "https://tradingqna.com/t/stt-applicable-in-physically-settled-contracts/121585",
    "https://tradingqna.com/t/so-if-you-sold-stock-put-and-expires-in-the-money-what-about-stt-taxes-etc/92674",
)
"""Where the settlement rates come from: Zerodha support staff's public answers, none official."""


def index_exercise_charges(rates: Rates, *, value: float, long: bool, orders: int) -> Charges:
    """The charges of a cash-settled (index) option position settled at expiry.

    Args:
        rates: the options row of the expiry day.
        value: the intrinsic value settled, ``price * qty * multiplier`` (0: out of the money).
        long: the position was long (its holder pays the exercise STT).
        orders: how many orders the exit would take (the quantity sliced by its freeze quantity;
            1 without one).

    Returns:
        STT (long side only) at ``stt_exercise_pct`` of ``value``, brokerage of
        ``exercise_brokerage_per_order`` per order and GST on it; nothing out of the money.
    """
    if value <= 0.0:
        return Charges()
    stt = order_stt(round_dp(value, 6), rates.stt_exercise_pct) if long else 0.0
    brokerage = rates.exercise_brokerage_per_order * orders
    return _named(brokerage, stt, brokerage * rates.gst_pct / 100)


def physical_settlement_charges(rates: Rates, *, contract_value: float) -> Charges:
    """The charges of a physically settled stock F&O position, either side.

    Args:
        rates: the row of the contract's segment (options or futures) of the expiry day; its
            ``physical_stt_pct`` None counts as 0.
        contract_value: the shares' value as delivered: strike x qty for an option, the
            settlement price x qty for a future (times the multiplier).

    Returns:
        STT at ``physical_stt_pct`` and brokerage at ``physical_brokerage_pct`` of
        ``contract_value``, and GST on the brokerage.
    """
    if contract_value <= 0.0:
        return Charges()
    value = round_dp(contract_value, 6)
    stt = order_stt(value, rates.physical_stt_pct or 0.0)
    brokerage = value * rates.physical_brokerage_pct / 100
    return _named(brokerage, stt, brokerage * rates.gst_pct / 100)


def _named(brokerage: float, stt: float, gst: float) -> Charges:
    return charged_parts(rounded_charges(brokerage, stt, 0.0, 0.0, 0.0, gst))


def charged_parts(charges: Charges) -> Charges:
    """``charges`` with only the parts charged given: msgspec omits a default by identity, so a
    0.0 passed in would be journaled (a settlement's fill names what it paid, as before)."""
    return Charges(**{name: value for name, value in msgspec.structs.asdict(charges).items() if value})
