"""Which futures the F&O pre-open call auction takes (``execsvc.market.auction_months``): the
current month's by the dump's expiries, the next month's too in the last five trading days before
the current one expires, never a far month's."""

from __future__ import annotations

import datetime as dt

import pytest

from execsvc.calendar import Holidays, MarketCalendar
from execsvc.market.auction_months import AuctionMonths
from execsvc.market.instruments import Instrument, Instruments
from execsvc.session_hours import SessionConfig
from execsvc.sim.config import DEFAULT_HOLIDAYS

CALENDAR = MarketCalendar(SessionConfig(), Holidays.load(DEFAULT_HOLIDAYS))
DEC, JAN, FEB = dt.date(2026, 12, 29), dt.date(2027, 1, 26), dt.date(2027, 2, 23)


def future(
    token: int, symbol: str, expiry: dt.date, name: str = "NIFTY", exchange: str = "NFO"
) -> Instrument:
    return Instrument(
        instrument_token=token, exchange=exchange, tradingsymbol=symbol, instrument_type="FUT",
        segment=f"{exchange}-FUT", name=name, expiry=expiry.isoformat(),
    )  # fmt: skip


INSTRUMENTS = Instruments(
    [
        future(1, "NIFTY26DECFUT", DEC),
        future(2, "NIFTY27JANFUT", JAN),
        future(3, "NIFTY27FEBFUT", FEB),
        future(4, "INFY27JANFUT", JAN, name="INFY"),  # its own underlying: January is its current month
        future(5, "SENSEX26DECFUT", dt.date(2026, 12, 24), name="SENSEX", exchange="BFO"),
        Instrument(
            instrument_token=6,
            exchange="NFO",
            tradingsymbol="NIFTY26DEC26000CE",
            instrument_type="CE",
            segment="NFO-OPT",
            name="NIFTY",
            expiry=DEC.isoformat(),
            strike=26000.0,
        ),
    ]
)


@pytest.mark.parametrize(
    ("day", "taken"),
    [
        (dt.date(2026, 11, 20), {"NIFTY26DECFUT"}),  # December is the current month
        (dt.date(2026, 12, 21), {"NIFTY26DECFUT"}),  # six trading days left: 21-24, 28, 29
        (dt.date(2026, 12, 22), {"NIFTY26DECFUT", "NIFTY27JANFUT"}),  # five (Christmas a holiday)
        (DEC, {"NIFTY26DECFUT", "NIFTY27JANFUT"}),  # the expiry day itself
        (DEC + dt.timedelta(days=1), {"NIFTY27JANFUT"}),  # December has expired: January is current
    ],
)
def test_the_auction_takes_the_current_month_and_the_next_in_the_last_five_trading_days(day, taken) -> None:
    months = AuctionMonths(INSTRUMENTS)
    symbols = ("NIFTY26DECFUT", "NIFTY27JANFUT", "NIFTY27FEBFUT")
    refused = {s for s in symbols if months.refusal(f"NFO:{s}", day, CALENDAR.is_trading_day) is not None}
    assert set(symbols) - refused == taken


def test_a_far_month_refusal_names_the_contract_and_the_months_taken() -> None:
    months = AuctionMonths(INSTRUMENTS)
    why = months.refusal("NFO:NIFTY27FEBFUT", dt.date(2026, 11, 20), CALENDAR.is_trading_day)
    assert why == (
        "tradingsymbol='NIFTY27FEBFUT' (expiry 2027-02-23) is not a contract the futures call auction "
        "takes: only NIFTY's current month (expiry 2026-12-29)"
    )
    rolling = months.refusal("NFO:NIFTY27FEBFUT", DEC, CALENDAR.is_trading_day)
    assert rolling is not None and "and the next month's (expiry 2027-01-26)" in rolling


@pytest.mark.parametrize(
    "key",
    [
        "NFO:INFY27JANFUT",  # each underlying has its own current month
        "BFO:SENSEX26DECFUT",  # and each exchange
        "NFO:NIFTY26DEC26000CE",  # not a future: the calendar refuses options, not this rule
        "NFO:NIFTY27MARFUT",  # not in the dump: nothing to tell its month by
    ],
)
def test_what_the_month_rule_does_not_refuse(key) -> None:
    assert AuctionMonths(INSTRUMENTS).refusal(key, dt.date(2026, 11, 20), CALENDAR.is_trading_day) is None


def test_the_eligible_months_are_worked_out_once_a_day_per_underlying() -> None:
    asked: list[tuple[str, dt.date]] = []

    def trades(exchange: str, day: dt.date) -> bool:
        asked.append((exchange, day))
        return day.weekday() < 5

    months, day = AuctionMonths(INSTRUMENTS), DEC - dt.timedelta(days=3)
    for _ in range(3):
        months.refusal("NFO:NIFTY27FEBFUT", day, trades)
        months.refusal("NFO:NIFTY26DECFUT", day, trades)
    once = list(asked)
    months.refusal("NFO:NIFTY27FEBFUT", day + dt.timedelta(days=1), trades)
    assert once == [("NFO", day + dt.timedelta(days=n)) for n in range(4)]  # the count, once
    assert len(asked) > len(once)  # a new day: worked out again
