"""Generate a deterministic sample NSE trading day of full-mode ticks.

``python -m scripts.gen_sample_day --out data/sample [--seed 7]`` writes, for 2026-11-20 (a Friday),
09:15:00 to 15:30:00 IST, four liquid NSE stocks:

- ``ticks.jsonl.gz``, ``ticks.csv.gz`` and ``ticks.kite.gz`` (raw Kite frames, full mode): the same
  ticks in the three formats of :mod:`execsvc.market.files`;
- ``instruments.csv``: the instruments in Kite's dump format (tick size 0.05, lot size 1).

Each symbol follows its own seeded ``random.Random`` walk in whole ticks (0.05) with about 1 %
intraday volatility; ticks arrive about every ``--interval`` seconds per symbol (busier near the
open and the close). Each tick is a trade (cumulative volume, VWAP, OHLC) or a book update, and
carries 5 + 5 depth levels with a 1-2 tick spread. Prices are built in integer paise and divided by
100 exactly as the Kite decoder does, so the three files decode to equal ticks. Running it twice
gives byte-identical files.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from execsvc.market.instruments import Instrument, Instruments
from execsvc.market.tick_writers import open_writer
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick

IST = timezone(timedelta(hours=5, minutes=30))
DAY = (2026, 11, 20)
TICK_PAISE = 5  # 0.05 rupee
DAILY_VOL = 0.01
# (tradingsymbol, instrument_token, name, previous close in paise)
SYMBOLS = (
    ("INFY", 408065, "INFOSYS", 157_045),
    ("RELIANCE", 738561, "RELIANCE INDUSTRIES", 142_380),
    ("HDFCBANK", 341249, "HDFC BANK", 198_215),
    ("SBIN", 779521, "STATE BANK OF INDIA", 88_760),
)
_NS = 1_000_000_000


@dataclass
class _Walk:
    """One symbol's state for the day; all prices in paise."""

    symbol: str
    token: int
    close: int
    rng: random.Random
    step_ticks: float  # standard deviation of one step, in ticks
    last: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    ltq: int = 0
    volume: int = 0
    turnover: int = 0
    last_trade_time: int = 0
    tbq: int = 0
    tsq: int = 0
    buyer: bool = True
    depth: Depth = field(default_factory=Depth)
    resting: dict[int, tuple[int, int]] = field(default_factory=dict)  # price -> (qty, orders)

    def step(self, t_ns: int) -> Tick:
        """Advance by one event at ``t_ns`` and return its tick."""
        rng = self.rng
        if self.volume == 0 or rng.random() < 0.8:
            self._trade(t_ns)
        self.tbq = max(10_000, self.tbq + int(rng.gauss(0, 4_000)))
        self.tsq = max(10_000, self.tsq + int(rng.gauss(0, 4_000)))
        self.depth = self._book()
        return Tick(
            symbol=f"NSE:{self.symbol}",
            last_price=self.last / 100,
            instrument_token=self.token,
            ts_event=t_ns,
            last_traded_quantity=self.ltq,
            average_traded_price=round(self.turnover / self.volume) / 100,
            volume_traded=self.volume,
            total_buy_quantity=self.tbq,
            total_sell_quantity=self.tsq,
            ohlc=OHLC(self.open / 100, self.high / 100, self.low / 100, self.close / 100),
            last_trade_time=self.last_trade_time,
            exchange_timestamp=t_ns // _NS,
            depth=self.depth,
            mode="full",
        )

    def _trade(self, t_ns: int) -> None:
        rng = self.rng
        if self.volume == 0:
            opening = self.close * (1 + rng.gauss(0, 0.004))
            self.last = round(opening / TICK_PAISE) * TICK_PAISE
            self.open = self.high = self.low = self.last
            self.tbq, self.tsq = rng.randint(200_000, 400_000), rng.randint(200_000, 400_000)
        else:
            move = round(rng.gauss(0, self.step_ticks))
            self.last = max(TICK_PAISE, self.last + move * TICK_PAISE)
            self.buyer = move > 0 or (move == 0 and rng.random() < 0.5)
        self.high = max(self.high, self.last)
        self.low = min(self.low, self.last)
        self.ltq = min(50_000, 1 + int(rng.lognormvariate(5.2, 1.1)))
        self.volume += self.ltq
        self.turnover += self.last * self.ltq
        self.last_trade_time = t_ns // _NS

    def _book(self) -> Depth:
        rng = self.rng
        spread = TICK_PAISE * (1 if rng.random() < 0.6 else 2)
        bid = self.last - spread if self.buyer else self.last
        ask = bid + spread
        buy: list[DepthLevel] = []
        sell: list[DepthLevel] = []
        book: dict[int, tuple[int, int]] = {}
        for levels, price, sign in ((buy, bid, -1), (sell, ask, 1)):
            for _ in range(5):
                # Resting orders persist: most levels keep their size from the last tick.
                qty, orders = self.resting.get(price) or (0, 0)
                if not qty or rng.random() < 0.35:
                    qty = 1 + int(rng.lognormvariate(4.5, 1.0))
                    orders = min(qty, 1 + int(rng.expovariate(1 / 3)))
                book[price] = qty, orders
                levels.append(DepthLevel(qty, max(price, TICK_PAISE) / 100, orders))
                price += sign * TICK_PAISE * (1 if rng.random() < 0.8 else 2)
        self.resting = book
        return Depth(tuple(buy), tuple(sell))


def _gap_ns(rng: random.Random, t_ns: int, open_ns: int, close_ns: int, interval: float) -> int:
    """Time to the next event: exponential, about twice as busy at the open and close as midday."""
    x = (t_ns - open_ns) / (close_ns - open_ns)
    busy = 0.5 + 0.5 * math.cos(2 * math.pi * x)  # 1 at the ends, 0 midday
    mean = interval * (1.4 - 0.7 * busy)
    return max(1_000_000, int(rng.expovariate(1 / mean) * 1000) * 1_000_000)  # whole milliseconds


def instruments() -> Instruments:
    """The sample day's instruments (NSE equities, tick 0.05, lot 1)."""
    return Instruments(
        Instrument(
            instrument_token=token,
            exchange_token=token >> 8,
            exchange="NSE",
            tradingsymbol=symbol,
            name=name,
            tick_size=0.05,
            lot_size=1,
            instrument_type="EQ",
            segment="NSE",
        )
        for symbol, token, name, _close in SYMBOLS
    )


def generate(out: Path, seed: int = 7, interval: float = 3.0) -> dict[str, int]:
    """Write the sample day into ``out``; return the number of ticks per symbol."""
    out.mkdir(parents=True, exist_ok=True)
    open_ns = int(datetime(*DAY, 9, 15, tzinfo=IST).timestamp()) * _NS
    close_ns = int(datetime(*DAY, 15, 30, tzinfo=IST).timestamp()) * _NS
    steps = (close_ns - open_ns) / _NS / interval
    walks = [
        _Walk(
            sym,
            token,
            close,
            random.Random(f"{seed}:{sym}"),
            close * DAILY_VOL / math.sqrt(steps) / TICK_PAISE,
        )
        for sym, token, _name, close in SYMBOLS
    ]
    timing = random.Random(f"{seed}:timing")
    queue = [(open_ns + timing.randrange(0, int(interval * 1000)) * 1_000_000, i) for i in range(len(walks))]
    heapq.heapify(queue)
    counts = dict.fromkeys((f"NSE:{w.symbol}" for w in walks), 0)
    instruments().write_csv(out / "instruments.csv")
    with (
        open_writer(out / "ticks.jsonl.gz") as jsonl,
        open_writer(out / "ticks.csv.gz") as csv_out,
        open_writer(out / "ticks.kite.gz", mode="full") as frames,
    ):
        while queue:
            t_ns, i = heapq.heappop(queue)
            tick = walks[i].step(t_ns)
            jsonl.write(tick)
            csv_out.write(tick)
            frames.write(tick)
            counts[tick.symbol] += 1
            t_next = t_ns + _gap_ns(timing, t_ns, open_ns, close_ns, interval)
            if t_next < close_ns:
                heapq.heappush(queue, (t_next, i))
    return counts


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m scripts.gen_sample_day --out data/sample [--seed 7]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("data/sample"), help="output directory")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    parser.add_argument("--interval", type=float, default=3.0, help="mean seconds between ticks per symbol")
    args = parser.parse_args(argv)
    counts = generate(args.out, args.seed, args.interval)
    total = sum(counts.values())
    print(f"wrote {total} ticks to {args.out}: " + ", ".join(f"{s} {n}" for s, n in counts.items()))


if __name__ == "__main__":
    main()
