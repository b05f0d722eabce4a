"""Hypothesis: F&O expiry.

1. Validation refuses an intent for a contract exactly when its expiry is before the IST day of
   the clock, whatever the time of day.
2. The paper broker's date line settles exactly the positions in contracts that expired before
   the new day: each ends flat, having realized ``(last price - average price) * quantity`` more,
   at no charge; every other position is untouched; and a second pass settles nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from execsvc.clock import ist_ns, trading_day
from execsvc.costs import CostModel
from execsvc.errors import IntentValidationError
from execsvc.events import Charges, Fill, JournalOpened, OrderIntent
from execsvc.executors.paper.executor import PaperExecutor
from execsvc.executors.paper.expiry import settle_expired
from execsvc.executors.paper.fills import FillModel
from execsvc.market.instruments import Instrument, Instruments
from execsvc.market.ticks import Tick
from execsvc.state import ServiceState
from execsvc.validation import validate_intent

EXPIRY = dt.date(2026, 11, 24)
SECOND = 1_000_000_000
CONTRACTS = {
    "NFO:NIFTY26NOVFUT": "2026-11-24",
    "NFO:NIFTY26NOV26000CE": "2026-11-24",
    "NFO:NIFTY26DECFUT": "2026-12-29",
}
INSTRUMENTS = Instruments(
    Instrument(
        instrument_token=i + 1,
        exchange="NFO",
        tradingsymbol=symbol.partition(":")[2],
        instrument_type=symbol[-3:] if symbol.endswith("FUT") else symbol[-2:],
        expiry=expiry,
    )
    for i, (symbol, expiry) in enumerate(CONTRACTS.items())
)


@settings(max_examples=300, deadline=None)
@given(
    days=st.integers(min_value=-400, max_value=400),
    seconds=st.integers(min_value=0, max_value=86_399),
)
def test_validation_refuses_exactly_the_contracts_past_their_expiry(days: int, seconds: int) -> None:
    now = ist_ns(EXPIRY + dt.timedelta(days=days), 0, 0) + seconds * SECOND
    intent = OrderIntent(symbol="NFO:NIFTY26NOVFUT", strategy_code="s1", side="BUY", qty=1, product="NRML")
    try:
        validate_intent(
            intent,
            now_ns=now,
            default_exchange="NSE",
            default_tick_size=0.05,
            lookup=INSTRUMENTS.by_key,
            make_id=lambda i, ts: "x",
        )
        refused = False
    except IntentValidationError as exc:
        assert "NFO:NIFTY26NOVFUT expired on 2026-11-24" in str(exc)
        refused = True
    assert refused == (trading_day(now) > EXPIRY)


FILLS = st.lists(
    st.tuples(
        st.sampled_from(["s1", "s2"]),
        st.sampled_from(sorted(CONTRACTS)),
        st.sampled_from(["BUY", "SELL"]),
        st.integers(min_value=1, max_value=4),  # lots of 65
        st.integers(min_value=1, max_value=40_000),  # price in ticks of 0.05
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=200, deadline=None)
@given(
    fills=FILLS,
    lasts=st.lists(st.integers(min_value=1, max_value=40_000), min_size=3, max_size=3),
    day_offset=st.integers(min_value=-2, max_value=0),
    days_later=st.integers(min_value=1, max_value=4),
)
def test_the_date_line_settles_exactly_the_expired_contracts_at_their_last_price(
    fills: list[tuple[str, str, str, int, int]], lasts: list[int], day_offset: int, days_later: int
) -> None:
    day = EXPIRY + dt.timedelta(days=day_offset)
    state = ServiceState(500_000.0)
    events: list[Any] = []

    def emit(event: Any) -> int:
        events.append(event)
        state.apply(event)
        return len(events)

    paper = PaperExecutor(
        model=FillModel(0.0),
        instruments=INSTRUMENTS,
        default_tick_size=0.05,
        costs=CostModel.zero(),
        state=state,
        emit=emit,
    )
    emit(JournalOpened(day=day.isoformat()))
    now = ist_ns(day, 9, 15)
    for n, (strategy, symbol, side, lots, price) in enumerate(fills):
        emit(
            Fill(
                fill_id=f"f{n}", order_id=f"o{n}", intent_id=f"i{n}", strategy_code=strategy,
                symbol=symbol, side=side, qty=65 * lots, price=price * 0.05, product="NRML",
                charges=Charges(total=1.0), ts_event=now,
            )
        )  # fmt: skip
    last_price = {symbol: last * 0.05 for symbol, last in zip(sorted(CONTRACTS), lasts, strict=True)}
    for symbol, price in last_price.items():
        paper.on_tick(Tick(symbol=symbol, last_price=price, ts_event=now), now)
    before = dict(state.positions)
    new_day = day + dt.timedelta(days=days_later)

    settle_expired(paper, ist_ns(new_day, 9, 15))

    for key, was in before.items():
        now_pos = state.positions[key]
        expired = dt.date.fromisoformat(CONTRACTS[was.symbol]) < new_day
        if not expired or was.net_qty == 0:
            assert now_pos == was
            continue
        assert now_pos.net_qty == 0
        gained = now_pos.realized_gross - was.realized_gross
        assert abs(gained - (last_price[was.symbol] - was.avg_price) * was.net_qty) < 1e-6 * (1 + abs(gained))
        assert now_pos.charges == was.charges  # a settlement is no trade: no charges
    settled = len(events)
    settle_expired(paper, ist_ns(new_day, 9, 15))
    assert len(events) == settled
