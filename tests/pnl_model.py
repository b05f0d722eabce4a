"""An independent model of the money a trader reads: charges, positions and P&L, from the rules.

It shares no code with execsvc: it reads journal files as JSON lines and computes in exact rational
arithmetic (``Fraction``) from the published rates, so a figure of ours that agrees with it agrees
with the rules, not with itself. The audit tests (``tests/property/test_pnl_audit_props.py``,
``tests/integration/test_pnl_hand_worked.py``) hold execsvc's figures to it.

The rules, FACTS' rates from 1 Oct 2024 (F&O STT raised on 1 Apr 2026), NSE exchange charges
without IPFT:

- Charges accrue per executed order on its traded value ``V = sum(price * qty) * multiplier``
  (FACTS.md section 7): brokerage per order (0.03 % capped at ₹20 for intraday, futures and
  commodity; a flat ₹20 for options; nothing for delivery); STT/CTT on the side that pays it,
  rounded to the nearest rupee per order (half up); the exchange's transaction charge; SEBI's ₹10 a
  crore; stamp duty on the buy side; GST 18 % on brokerage + exchange charge + SEBI fee. The
  broker's auto square-off of an MIS position adds ₹50 + GST to its one order (FACTS section 6).
- MCX (not in FACTS), Zerodha's charges page: futures: CTT 0.01 % sell (non-agri), MCX 0.0021 %,
  stamp 0.002 % buy, brokerage 0.03 % or ₹20; options: CTT 0.05 % of the premium sold, MCX
  0.0418 % of premium, stamp 0.003 % buy, a flat ₹20; SEBI ₹10 a crore on both.
- The broker's square-off is the account's: one order per symbol for the net MIS quantity (or,
  above the exchange's freeze quantity, orders of the most whole lots within it, each charged as
  an order: FACTS 5.2, ``broker_orders``; the bundled table ``configs/freeze-quantities.yaml``, read
  by ``pnl_contracts``); its charges fall on the positions on the side it trades, pro rata by
  quantity. BFO trades as NFO's but for BSE's transaction charge (FACTS 7: futures 0, options
  0.0325 % of premium).
- Positions are kept per (strategy, symbol, product) at average cost: the open quantity's cost basis
  is the sum of what opening it cost; a close takes its share of that basis pro rata and realizes
  the difference to what it traded at (times the multiplier); a fill through zero opens the rest
  at its own price. Overnight (CNC, NRML) positions carry their cost basis into the next day; MIS
  positions do not survive the date line.
- A CNC buy and sell of one scrip in the same session is intraday for charges (Zerodha nets the
  account's CNC buys of a scrip against its sells of the day): of the ``min(bought, sold)`` units
  matched, the first that many bought and the first that many sold, in journal order and across
  strategies, are charged at the intraday row, the rest at delivery's; each order pays both rows'
  charges per order on its two parts (``cnc_order_charges``). A fill is charged what it changes of
  the day's charges of the scrip's CNC orders (``_charge_cnc``), so the fill that makes a match
  carries the credit for the earlier leg's delivery STT and stamp.
- An F&O contract still held after its expiry day is settled by the exchange, which is no trade:
  no exchange charge, SEBI fee or stamp. An NFO or BFO option (monthly or weekly: its symbol, or
  the dump's row, read by ``pnl_contracts``) is exercised against its underlying's last price S
  (the index of its name, else the stock of its name on NSE for NFO, BSE for BFO), as the journal
  records it at the close or the date line: it settles at its intrinsic value (CE ``max(0, S - K)``, PE
  ``max(0, K - S)``). What Zerodha charges for it (support staff's public answers, UNCONFIRMED):
  an index option in the money (cash-settled): the holder of a long one pays STT on that value
  times the quantity (FACTS 7: 0.15 % from 1 Apr 2026, 0.125 % before, by the expiry day, not the
  day journaled, which is earlier when the service skipped the expiry), rounded to the rupee, and
  holder and writer pay ₹20 an order for the exit, its orders as the broker's square-off would
  slice it (``broker_orders``), plus GST (tradingqna.com/t/151973). A stock option in the money
  and a stock future are physically settled: buyer and seller pay STT 0.1 % of the shares' value
  (the strike, or the future's settlement price, times the quantity), rounded to the rupee, and
  brokerage 0.25 % of it plus GST, and no exercise STT (Zerodha's "policy on physical settlement";
  tradingqna.com/t/121585, /92674). An option out of the money and an index future pay nothing.
  Without a recorded S an option's settlement price is not checked and it costs nothing (the
  simulator closes at the last premium then); a future's is its fill's.
  The exchange settles the account's net position in a contract, as the broker squares it off:
  strategies long and short of it cross, the charges are those of the net quantity on its side
  (a net long option pays the exercise STT), and they fall on the positions on that side, pro rata
  by quantity; a contract that nets to flat costs nothing.
- A physically settled contract delivers shares of its stock (NSE for NFO, BSE for BFO): a net
  long future or call, or a net short put, receives its net quantity; a net short future or call,
  or a net long put, gives it. The account's deliveries of one stock net across its contracts.
  Received shares become CNC holdings at the contract's price per share (a future's settlement
  price, an option's underlying price S); given shares leave the account's CNC holdings at that
  price, as far as the account holds them free (less what a CNC sell still placed as the day ends,
  an after-market one, holds back); the rest is a short delivery (the exchange's auction, not
  modelled): holdings unchanged, said in the settlement's result (``expected_deliveries``). A
  delivery is no trade (no brokerage, STT, exchange charge or SEBI fee; no same-day CNC netting):
  received shares pay stamp duty at delivery's buy rate (FACTS 7: 0.015 %) on their value; given
  shares pay the DP charge once per stock a day (FACTS 7: ₹13.5 + GST, "2026 value
  UNCONFIRMED"), shared by the given orders pro rata by quantity.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any

from tests.pnl_contracts import Dump, contract, freeze_limit, read_instruments

F = Fraction
ZERO = F(0)
ONE = F(1)

INSTRUMENTS_CSV = """\
instrument_token,exchange_token,tradingsymbol,name,last_price,expiry,strike,tick_size,lot_size,instrument_type,segment,exchange
408065,1594,INFY,INFOSYS,0.0,,0.0,0.05,1,EQ,NSE,NSE
13239042,51715,NIFTY26DECFUT,NIFTY,0,2026-12-29,0,0.05,65,FUT,NFO-FUT,NFO
10690306,41759,NIFTY26DEC26000CE,NIFTY,0,2026-12-29,26000,0.05,65,CE,NFO-OPT,NFO
114700551,448049,CRUDEOIL26DECFUT,CRUDEOIL,0,2026-12-18,0,1,1,FUT,MCX-FUT,MCX
114802439,448446,CRUDEOIL26DEC6000CE,CRUDEOIL,0,2026-12-16,6000,0.1,1,CE,MCX-OPT,MCX
"""
"""The audit sessions' instruments (a fixture, not part of the model): an NSE stock, a NIFTY future
and call (lots of 65) and an MCX future and call (quantity in lots; multiplier 100 in the config)."""
PARTS = ("brokerage", "stt", "exchange", "sebi", "stamp", "gst", "auto_square_off", "dp")


def q(value: float | int | str) -> Fraction:
    """A journaled number as the decimal it was written as (``1500.05`` is 150005/100, not the double)."""
    return F(repr(value)) if isinstance(value, float) else F(value)


@dataclass(frozen=True)
class Row:
    """One segment's rates; percentages as written (0.03 means 0.03 %)."""

    brokerage_pct: Fraction = ZERO
    brokerage_cap: Fraction | None = None
    brokerage_flat: Fraction = ZERO
    stt_buy_pct: Fraction = ZERO
    stt_sell_pct: Fraction = ZERO
    exchange_pct: Fraction = ZERO
    stamp_buy_pct: Fraction = ZERO


SEBI_PER_CRORE = F(10)
GST_PCT = F(18)
AUTO_SQUARE_OFF_FEE = F(50)
ROWS = {
    # FACTS 7: intraday 0.03 % or ₹20; STT 0.025 % sell; NSE 0.00297 %; stamp 0.003 % buy
    "equity_intraday": Row(F("0.03"), F(20), ZERO, ZERO, F("0.025"), F("0.00297"), F("0.003")),
    # FACTS 7: delivery no brokerage; STT 0.1 % buy and sell; stamp 0.015 % buy
    "equity_delivery": Row(ZERO, None, ZERO, F("0.1"), F("0.1"), F("0.00297"), F("0.015")),
    # FACTS 7: futures 0.03 % or ₹20; STT 0.05 % sell from 1 Apr 2026; NSE 0.00173 %; stamp 0.002 %
    "futures": Row(F("0.03"), F(20), ZERO, ZERO, F("0.05"), F("0.00173"), F("0.002")),
    # FACTS 7: options flat ₹20; STT 0.15 % of premium, sell, from 1 Apr 2026; NSE 0.03503 %; stamp 0.003 %
    "options": Row(ZERO, None, F(20), ZERO, F("0.15"), F("0.03503"), F("0.003")),
    # Zerodha's charges page, MCX futures: CTT 0.01 % sell (non-agri); MCX 0.0021 %; stamp 0.002 %
    "commodity_futures": Row(F("0.03"), F(20), ZERO, ZERO, F("0.01"), F("0.0021"), F("0.002")),
    # Zerodha's charges page, MCX options: flat ₹20; CTT 0.05 % of premium sold; MCX 0.0418 %; stamp 0.003 %
    "commodity_options": Row(ZERO, None, F(20), ZERO, F("0.05"), F("0.0418"), F("0.003")),
}
# FACTS 7, BSE's transaction charge: cash 0.00375 % (A/B groups), futures 0, options 0.0325 % of
# premium (the rest as NSE's and NFO's)
ROWS |= {
    "bse_equity_intraday": replace(ROWS["equity_intraday"], exchange_pct=F("0.00375")),
    "bse_equity_delivery": replace(ROWS["equity_delivery"], exchange_pct=F("0.00375")),
    "bse_futures": replace(ROWS["futures"], exchange_pct=ZERO),
    "bse_options": replace(ROWS["options"], exchange_pct=F("0.0325")),
}


# FACTS 7: F&O STT from 1 Oct 2024 to 31 Mar 2026: futures 0.02 %, options 0.1 % of premium
BEFORE_BUDGET_2026 = {
    "futures": replace(ROWS["futures"], stt_sell_pct=F("0.02")),
    "options": replace(ROWS["options"], stt_sell_pct=F("0.1")),
    "bse_futures": replace(ROWS["bse_futures"], stt_sell_pct=F("0.02")),
    "bse_options": replace(ROWS["bse_options"], stt_sell_pct=F("0.1")),
}
BUDGET_2026 = "2026-04-01"
FIRST_DAY = "2024-10-01"  # the NSE charges of FACTS 7 start here
# FACTS 7: STT on an exercised option's intrinsic value, 0.15 % from 1 Apr 2026 ("was 0.125 %")
EXERCISE_STT_PCT, EXERCISE_STT_PCT_BEFORE_BUDGET_2026 = F("0.15"), F("0.125")
# support staff's answers (UNCONFIRMED): ₹20 an order for an index option's exit settled in the
# money; a physically settled stock contract's STT (equity delivery's) and brokerage, of its value
INDEX_EXERCISE_BROKERAGE = F(20)
PHYSICAL_STT_PCT, PHYSICAL_BROKERAGE_PCT = F("0.1"), F("0.25")
# FACTS 7's DP charge row: ₹13.5 + GST per scrip a day on shares leaving the demat (UNCONFIRMED)
DP_CHARGE = F("13.5")
DELIVERY_PREFIX = "expiry-delivery-"  # the intents that move a physical settlement's shares


def row_for(symbol: str, product: str, day: str) -> Row:
    """The rates of an instrument on a trade day (``YYYY-MM-DD``), read from its symbol (the
    exchange and the suffix)."""
    if day < FIRST_DAY:
        raise NotImplementedError(f"no rates in the model before {FIRST_DAY}")
    segment = _segment(symbol, product)
    if day < BUDGET_2026 and segment in BEFORE_BUDGET_2026:
        return BEFORE_BUDGET_2026[segment]
    return ROWS[segment]


def _segment(symbol: str, product: str) -> str:
    exchange, _, name = symbol.partition(":")
    if exchange in ("NSE", "BSE"):
        cash = "equity_intraday" if product == "MIS" else "equity_delivery"
        return cash if exchange == "NSE" else f"bse_{cash}"
    if exchange in ("NFO", "BFO") and name.endswith("FUT"):
        return "futures" if exchange == "NFO" else "bse_futures"
    if exchange in ("NFO", "BFO") and name.endswith(("CE", "PE")):
        return "options" if exchange == "NFO" else "bse_options"
    if exchange == "MCX" and name.endswith("FUT"):
        return "commodity_futures"
    if exchange == "MCX" and name.endswith(("CE", "PE")):
        return "commodity_options"
    raise NotImplementedError(f"no rates in the model for {symbol}")


def broker_orders(symbol: str, qty: int, dump: Dump | None = None) -> list[int]:
    """The quantities of the broker's orders for ``qty`` of ``symbol`` (none for 0): one order,
    or above the contract's freeze quantity (FACTS 5.2; the bundled table, ``pnl_contracts``)
    orders of the most whole lots within it, each with its brokerage and fee (FACTS 6: per order)."""
    c = contract(symbol, dump)
    limit = freeze_limit(c) if c is not None else None
    if c is not None and limit is not None and qty > limit:
        lot = c.lot or 1
        most = limit // lot * lot
        if most > 0:
            return [most] * (qty // most) + ([qty % most] if qty % most else [])
    return [qty] if qty else []


def exercise_stt_pct(expiry: str) -> Fraction:
    """The STT rate on an exercised option's intrinsic value, by its expiry (``YYYY-MM-DD``, or
    ``YYYY-MM`` when only the month is known: the rate changed on the 1st, so the month decides)."""
    return EXERCISE_STT_PCT if expiry >= BUDGET_2026[: len(expiry)] else EXERCISE_STT_PCT_BEFORE_BUDGET_2026


def half_up(value: Fraction) -> Fraction:
    """To the nearest rupee, halves up (STT's rounding)."""
    return F((value * 2 + 1) // 2)


def order_charges(
    row: Row, side: str, value: Fraction, *, auto_square_off: bool = False
) -> dict[str, Fraction]:
    """The charges of one executed order of traded ``value`` (rupees, multiplier included), exactly."""
    if value == 0:
        return dict.fromkeys((*PARTS, "total"), ZERO)
    brokerage = row.brokerage_flat + value * row.brokerage_pct / 100
    if row.brokerage_cap is not None:
        brokerage = min(brokerage, row.brokerage_cap)
    stt = half_up(value * (row.stt_buy_pct if side == "BUY" else row.stt_sell_pct) / 100)
    exchange = value * row.exchange_pct / 100
    sebi = value * SEBI_PER_CRORE / 10**7
    stamp = value * row.stamp_buy_pct / 100 if side == "BUY" else ZERO
    fee = AUTO_SQUARE_OFF_FEE if auto_square_off else ZERO
    gst = (brokerage + exchange + sebi + fee) * GST_PCT / 100
    parts = {"brokerage": brokerage, "stt": stt, "exchange": exchange, "sebi": sebi, "stamp": stamp,
             "gst": gst, "auto_square_off": fee, "dp": ZERO}  # fmt: skip
    return {**parts, "total": sum(parts.values(), ZERO)}


@dataclass
class Book:
    """One position of the model: signed quantity and the cost basis of the open quantity."""

    multiplier: Fraction = ONE
    qty: int = 0
    basis: Fraction = ZERO  # sum of price * signed qty of what is open (no multiplier)
    realized: Fraction = ZERO  # rupees
    charges: Fraction = ZERO  # the model's charges of the day's orders of this position
    buy_qty: int = 0
    sell_qty: int = 0
    buy_value: Fraction = ZERO  # rupees (multiplier included)
    sell_value: Fraction = ZERO

    @property
    def avg(self) -> Fraction:
        return self.basis / self.qty if self.qty else ZERO

    def fill(self, side: str, qty: int, price: Fraction) -> None:
        signed = qty if side == "BUY" else -qty
        value = price * qty * self.multiplier
        if side == "BUY":
            self.buy_qty, self.buy_value = self.buy_qty + qty, self.buy_value + value
        else:
            self.sell_qty, self.sell_value = self.sell_qty + qty, self.sell_value + value
        if self.qty == 0 or (self.qty > 0) == (signed > 0):
            self.qty += signed
            self.basis += price * signed
            return
        closed = min(qty, abs(self.qty))
        sign = 1 if self.qty > 0 else -1
        share = self.basis * closed / abs(self.qty)  # the closed units' cost basis (signed)
        self.realized += (sign * closed * price - share) * self.multiplier
        self.basis -= share
        self.qty -= sign * closed
        rest = qty - closed
        if rest:  # through zero: the rest opens the other side at this fill's price
            self.qty = -sign * rest
            self.basis = price * self.qty

    def carried(self) -> Book:
        """What the next day starts with: the open quantity and its cost basis, nothing of today."""
        return Book(multiplier=self.multiplier, qty=self.qty, basis=self.basis)


Key = tuple[str, str, str]  # (strategy, symbol, product)


@dataclass
class Order:
    """One order of a day, as the journal shows it, and the model's figures for it."""

    order_id: str
    intent_id: str
    strategy: str
    symbol: str
    product: str
    side: str
    multiplier: Fraction
    fills: list[tuple[int, Fraction]] = field(default_factory=list)
    journaled: dict[str, Fraction] = field(default_factory=dict)  # the sum of its fills' charges, ours

    @property
    def key(self) -> Key:
        return (self.strategy, self.symbol, self.product)

    @property
    def filled(self) -> int:
        return sum(qty for qty, _ in self.fills)

    @property
    def value(self) -> Fraction:
        return sum((price * qty for qty, price in self.fills), ZERO) * self.multiplier

    @property
    def broker_square_off(self) -> bool:
        return self.intent_id.startswith("auto-sqoff-")

    @property
    def settlement(self) -> bool:
        """The exchange's settlement of a contract held past its expiry."""
        return self.intent_id.startswith("expiry-") and not self.delivery

    @property
    def delivery(self) -> bool:
        """A physical settlement's shares moving into or out of CNC holdings."""
        return self.intent_id.startswith(DELIVERY_PREFIX)


@dataclass
class Day:
    """A journal day as the model folds it."""

    day: str
    books: dict[Key, Book]
    orders: dict[str, Order]
    model_charges: dict[str, dict[str, Fraction]]  # by order id (a square-off leg: its share)
    results: dict[str, dict[str, Any]]  # the latest result of each intent, as journaled
    carried_in: list[dict[str, Any]]  # positions_carried, as journaled
    expired: list[dict[str, Any]]
    square_offs: dict[str, dict[str, Fraction]]  # the broker's one order per symbol: model charges
    fills: int = 0
    # the account's CNC fills by symbol, in journal order: (order id, side, qty, price)
    cnc_fills: dict[str, list[tuple[str, str, int, Fraction]]] = field(default_factory=dict)
    # the last prices the journal records at an exchange's close and at the date line, by symbol
    closes: dict[str, Fraction] = field(default_factory=dict)
    # the instruments dump the service ran with, if the test gives it (``pnl_contracts``)
    instruments: Dump = field(default_factory=dict)

    def strategy_totals(self) -> dict[str, tuple[Fraction, Fraction]]:
        """(realized gross, charges) per strategy, exactly."""
        totals: dict[str, tuple[Fraction, Fraction]] = {}
        for (strategy, _, _), book in self.books.items():
            gross, charges = totals.get(strategy, (ZERO, ZERO))
            totals[strategy] = (gross + book.realized, charges + book.charges)
        return totals


def records(path: Path) -> Iterable[dict[str, Any]]:
    """The events of a journal file (the ``ev`` of each line)."""
    for line in path.read_text(encoding="utf-8").splitlines():
        yield json.loads(line)["ev"]


def fold_day(path: Path, carried: dict[Key, Book], instruments: Dump | None = None) -> Day:
    """Fold one journal day: the model's positions start from ``carried`` (the model's own, from the
    day before), never from what the journal says it carried (that is compared, not trusted).
    ``instruments``: the dump's rows, where a contract's symbol alone does not say enough."""
    books = {key: book.carried() for key, book in carried.items()}
    day = Day("", books, {}, {}, {}, [], [], {}, instruments=instruments or {})
    for ev in records(path):
        kind = ev["type"]
        if kind == "journal_opened":
            day.day = ev["day"]
        elif kind == "positions_carried":
            day.carried_in, day.expired = ev["positions"], ev.get("expired", [])
        elif kind == "order_accepted":
            day.orders[ev["order_id"]] = Order(
                ev["order_id"], ev["intent_id"], ev["strategy_code"], ev["symbol"], ev["product"],
                ev["side"], q(ev.get("multiplier", 1.0)),
            )  # fmt: skip
        elif kind == "fill":
            order = day.orders[ev["order_id"]]
            price = q(ev["price"])
            order.fills.append((ev["qty"], price))
            for name, value in ev.get("charges", {}).items():
                order.journaled[name] = order.journaled.get(name, ZERO) + q(value)
            book = day.books.setdefault(order.key, Book(multiplier=order.multiplier))
            book.multiplier = order.multiplier
            book.fill(ev["side"], ev["qty"], price)
            day.fills += 1
            if order.product == "CNC" and not order.delivery:
                day.cnc_fills.setdefault(order.symbol, []).append(
                    (order.order_id, order.side, ev["qty"], price)
                )
        elif kind == "result":
            day.results[ev["intent_id"]] = ev
        elif kind in ("session_closes", "day_closes"):
            day.closes.update((c["symbol"], q(c["last_price"])) for c in ev["closes"])
    _charge(day)
    return day


def _charge(day: Day) -> None:
    """The model's charges of each order, booked to its position (a square-off's shared out)."""
    by_symbol: dict[str, list[Order]] = {}
    settlements: dict[str, list[Order]] = {}
    deliveries: dict[str, list[Order]] = {}
    for order in day.orders.values():
        if not order.fills:
            continue
        if order.broker_square_off:
            by_symbol.setdefault(order.symbol, []).append(order)
            continue
        if order.settlement:
            settlements.setdefault(order.symbol, []).append(order)
            continue
        if order.delivery:
            deliveries.setdefault(order.symbol, []).append(order)
            continue
        if order.product == "CNC":
            continue  # _charge_cnc
        charges = order_charges(row_for(order.symbol, order.product, day.day), order.side, order.value)
        day.model_charges[order.order_id] = charges
        day.books[order.key].charges += charges["total"]
    for symbol, legs in by_symbol.items():
        net = sum(o.filled if o.side == "BUY" else -o.filled for o in legs)  # the closes' net
        [price] = {p for o in legs for _, p in o.fills}  # one square-off price for the symbol
        trading = [o for o in legs if net and (o.side == "BUY") == (net > 0)]
        side = "BUY" if net > 0 else "SELL"
        multiplier = legs[0].multiplier
        whole = dict.fromkeys((*PARTS, "total"), ZERO)
        for qty in broker_orders(symbol, abs(net), day.instruments):
            one = order_charges(
                row_for(symbol, "MIS", day.day), side, price * qty * multiplier, auto_square_off=True
            )
            whole = {name: whole[name] + one[name] for name in whole}
        day.square_offs[symbol] = whole
        on_the_order = sum(o.filled for o in trading)  # the other side is crossed within the account
        for o in legs:
            share = F(o.filled, on_the_order) if o in trading else ZERO
            charges = {name: value * share for name, value in whole.items()}
            day.model_charges[o.order_id] = charges
            day.books[o.key].charges += charges["total"]
    for legs in settlements.values():
        _charge_settlement(day, legs)
    for symbol, orders in deliveries.items():
        _charge_delivery(day, symbol, orders)
    _charge_cnc(day)


def _charge_delivery(day: Day, symbol: str, orders: list[Order]) -> None:
    """A stock's deliveries: stamp on what is received; one DP charge + GST on what is given."""
    given = sum(o.filled for o in orders if o.side == "SELL")
    stamp_pct = row_for(symbol, "CNC", day.day).stamp_buy_pct
    for o in orders:
        charges = dict.fromkeys((*PARTS, "total"), ZERO)
        if o.side == "BUY":
            charges["stamp"] = o.value * stamp_pct / 100
        else:
            charges["dp"] = DP_CHARGE * o.filled / given
            charges["gst"] = charges["dp"] * GST_PCT / 100
        charges["total"] = sum((charges[name] for name in PARTS), ZERO)
        day.model_charges[o.order_id] = charges
        day.books[o.key].charges += charges["total"]


@dataclass(frozen=True)
class Expected:
    """What a stock's physical settlement should move: shares received, given from holdings and
    short (given, not held), and the prices per share its contracts deliver at."""

    received: int
    given: int
    short: int
    prices: frozenset[Fraction]


def expected_deliveries(day: Day) -> dict[str, Expected]:
    """Each stock's delivery by the rules (the module docstring), from the day's settlements and the
    model's own CNC books of the stock before the deliveries (its delivery fills counted back out)."""
    shares: dict[str, int] = {}
    prices: dict[str, set[Fraction]] = {}
    for order in day.orders.values():
        c = contract(order.symbol, day.instruments)
        if not order.settlement or not order.fills or c is None or c.stock is None:
            continue
        position = order.filled if order.side == "SELL" else -order.filled  # a close's opposite
        if c.kind == "FUT":
            sign, price = 1, order.fills[0][1]
        else:
            spot = day.closes.get(c.stock)
            if spot is None or not settlement_price(day, order):
                continue  # out of the money, or no recorded S: nothing delivered
            sign, price = (1 if c.kind == "CE" else -1), spot
        shares[c.stock] = shares.get(c.stock, 0) + sign * position
        prices.setdefault(c.stock, set()).add(price)
    out = {}
    for stock, net in shares.items():
        if net > 0:
            out[stock] = Expected(net, 0, 0, frozenset(prices[stock]))
            continue
        held = sum(b.qty for k, b in day.books.items() if k[1:] == (stock, "CNC"))
        for o in day.orders.values():
            if o.delivery and o.symbol == stock:
                held += o.filled if o.side == "SELL" else -o.filled
            elif (o.symbol, o.product, o.side) == (stock, "CNC", "SELL"):
                # still placed as the day ends (an after-market sale waiting for the open): it
                # holds its shares back from the delivery
                r = day.results.get(o.intent_id, {})
                if r.get("status") == "PLACED":
                    held -= r["qty"] - r.get("filled_qty", 0)
        given = min(-net, max(held, 0))
        out[stock] = Expected(0, given, -net - given, frozenset(prices[stock]))
    return out


def _charge_settlement(day: Day, legs: list[Order]) -> None:
    """The exchange settles the account's net position in a contract: its charges, as one order of
    the net quantity, fall on the settlements on the net's side, pro rata; the others pay nothing."""
    net = sum(o.filled if o.side == "BUY" else -o.filled for o in legs)  # the closes' net
    trading = [o for o in legs if net and (o.side == "BUY") == (net > 0)]
    whole = dict.fromkeys((*PARTS, "total"), ZERO)
    if trading:
        [price] = {p for o in trading for _, p in o.fills}  # one settlement price for the contract
        whole = settlement_charges(day, replace(trading[0], fills=[(abs(net), price)]))
    on_the_net_side = sum(o.filled for o in trading)
    for o in legs:
        share = F(o.filled, on_the_net_side) if o in trading else ZERO
        charges = {name: value * share for name, value in whole.items()}
        day.model_charges[o.order_id] = charges
        day.books[o.key].charges += charges["total"]


def settlement_price(day: Day, order: Order) -> Fraction | None:
    """An expired NFO or BFO option's intrinsic value against its underlying's recorded last price;
    None for a future, or an option whose underlying's price the day's journal does not record."""
    c = contract(order.symbol, day.instruments)
    if c is None or c.strike is None or c.underlying is None:
        return None
    spot = day.closes.get(c.underlying)
    if spot is None:
        return None
    return max(ZERO, spot - c.strike if c.kind == "CE" else c.strike - spot)


def settlement_charges(day: Day, order: Order) -> dict[str, Fraction]:
    """A settlement's charges: a stock contract delivered pays delivery's STT and brokerage on both
    sides; an index option in the money its buyer's exercise STT (the rate of its expiry day, not
    of the day journaled: the service may have skipped the expiry) and ₹20 an order on both."""
    charges = dict.fromkeys((*PARTS, "total"), ZERO)
    c = contract(order.symbol, day.instruments)
    price = settlement_price(day, order)
    if c is not None and c.kind == "FUT" and not c.index:
        [(_, delivered_at)] = order.fills
        return _delivery_charges(delivered_at * order.filled * order.multiplier)
    if c is None or c.strike is None or not price:
        return charges
    if not c.index:
        return _delivery_charges(c.strike * order.filled * order.multiplier)
    if order.side == "SELL":  # a long position closes by selling
        pct = exercise_stt_pct(c.expiry)
        charges["stt"] = half_up(price * order.filled * order.multiplier * pct / 100)
    orders = broker_orders(order.symbol, order.filled, day.instruments)
    charges["brokerage"] = INDEX_EXERCISE_BROKERAGE * len(orders)
    charges["gst"] = charges["brokerage"] * GST_PCT / 100
    charges["total"] = charges["stt"] + charges["brokerage"] + charges["gst"]
    return charges


def _delivery_charges(value: Fraction) -> dict[str, Fraction]:
    """A physically settled contract's charges on the value of the shares delivered."""
    charges = dict.fromkeys((*PARTS, "total"), ZERO)
    charges["stt"] = half_up(value * PHYSICAL_STT_PCT / 100)
    charges["brokerage"] = value * PHYSICAL_BROKERAGE_PCT / 100
    charges["gst"] = charges["brokerage"] * GST_PCT / 100
    charges["total"] = charges["stt"] + charges["brokerage"] + charges["gst"]
    return charges


def cnc_order_charges(
    fills: list[tuple[str, str, int, Fraction]], day: str, symbol: str
) -> dict[str, dict[str, Fraction]]:
    """Each order's charges by the same-day rule, were ``fills`` (one scrip's CNC fills of the
    account, in order) all of the day: the first ``min(bought, sold)`` units of each side are
    intraday."""
    matched = min(sum(q for _, s, q, _ in fills if s == side) for side in ("BUY", "SELL"))
    units_before = {"BUY": 0, "SELL": 0}
    values: dict[str, tuple[str, Fraction, Fraction]] = {}  # order -> (side, delivery, intraday)
    for order_id, side, qty, price in fills:
        intraday_units = max(0, min(qty, matched - units_before[side]))
        units_before[side] += qty
        _, delivery, intraday = values.get(order_id, (side, ZERO, ZERO))
        values[order_id] = (
            side,
            delivery + price * (qty - intraday_units),
            intraday + price * intraday_units,
        )
    out = {}
    for order_id, (side, delivery, intraday) in values.items():
        at_delivery = order_charges(row_for(symbol, "CNC", day), side, delivery)
        at_intraday = order_charges(row_for(symbol, "MIS", day), side, intraday)
        out[order_id] = {name: at_delivery[name] + at_intraday[name] for name in at_delivery}
    return out


def _charge_cnc(day: Day) -> None:
    """A CNC fill is charged the change it makes to the day's charges of its scrip's CNC orders
    (the account's, every strategy's), booked to its own order and position."""
    for symbol, fills in day.cnc_fills.items():
        before: dict[str, Fraction] = dict.fromkeys((*PARTS, "total"), ZERO)
        for n, (order_id, _, _, _) in enumerate(fills, start=1):
            orders = cnc_order_charges(fills[:n], day.day, symbol).values()
            after = {name: sum((o[name] for o in orders), ZERO) for name in before}
            charged = day.model_charges.setdefault(order_id, dict.fromkeys(before, ZERO))
            for name in before:
                charged[name] += after[name] - before[name]
            day.books[day.orders[order_id].key].charges += after["total"] - before["total"]
            before = after


def fold_days(paths: Iterable[Path], instruments: Path | None = None) -> list[Day]:
    """Fold consecutive journal days, carrying the model's overnight positions from one to the next;
    ``instruments``: the dump the service ran with (a CSV file), read by the model's own means."""
    dump = read_instruments(instruments)
    days: list[Day] = []
    carried: dict[Key, Book] = {}
    for path in paths:
        day = fold_day(path, carried, dump)
        days.append(day)
        carried = {k: b for k, b in day.books.items() if b.qty and k[2] != "MIS"}
    return days


def same_day_cnc(day: Day) -> list[str]:
    """The symbols the account both bought and sold CNC in that day: a same-day round trip, charged
    at intraday rates (support.zerodha.com, "Why was the brokerage charged on delivery trades?")."""
    sides: dict[str, set[str]] = {}
    for order in day.orders.values():
        if order.product == "CNC" and order.fills:
            sides.setdefault(order.symbol, set()).add(order.side)
    return sorted(s for s, both in sides.items() if len(both) == 2)


def paise(value: Fraction) -> Fraction:
    """To the paisa, halves up: how the model shows a figure."""
    return F((value * 200 + 1) // 2, 100)
