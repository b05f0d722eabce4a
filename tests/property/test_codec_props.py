"""Hypothesis: the Kite codec round-trips every tick whose prices lie on its segment's grid."""

from __future__ import annotations

import struct

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from execsvc.market.kite_codec import decode_frame, decode_packet, encode_frame, encode_packet, price_divisor
from execsvc.market.ticks import OHLC, Depth, DepthLevel, Tick

INT32 = st.integers(-(2**31), 2**31 - 1)
NON_NEG = st.integers(0, 2**31 - 1)
SEGMENTS = (1, 2, 3, 4, 5, 6, 7, 8, 9, 12)
TRADABLE_SEGMENTS = tuple(s for s in SEGMENTS if s != 9)


def tokens(segments: tuple[int, ...]) -> st.SearchStrategy[int]:
    return st.builds(lambda n, seg: (n << 8) | seg, st.integers(0, 2**23 - 1), st.sampled_from(segments))


@st.composite
def ticks(draw: st.DrawFn, mode: str, segments: tuple[int, ...] = SEGMENTS) -> Tick:
    """A tick exactly as the decoder would build it for ``mode`` (prices = wire int / divisor)."""
    token = draw(tokens(segments))
    div = price_divisor(token)
    tradable = token & 0xFF != 9

    def price() -> float:
        return draw(INT32) / div

    common = {
        "symbol": f"TOKEN:{token}",
        "last_price": price(),
        "instrument_token": token,
        "ts_event": draw(st.integers(1, 2**63 - 1)),
        "mode": mode,
        "tradable": tradable,
    }
    if mode == "ltp":
        return Tick(**common)
    ohlc = OHLC(price(), price(), price(), price())
    if not tradable:
        return Tick(**common, ohlc=ohlc, exchange_timestamp=draw(INT32) if mode == "full" else 0)
    quote = Tick(
        **common,
        last_traded_quantity=draw(INT32),
        average_traded_price=price(),
        volume_traded=draw(INT32),
        total_buy_quantity=draw(INT32),
        total_sell_quantity=draw(INT32),
        ohlc=ohlc,
    )
    if mode == "quote":
        return quote
    levels = st.builds(lambda q, p, o: DepthLevel(q, p / div, o), INT32, INT32, st.integers(0, 0xFFFF))
    side = st.lists(levels, min_size=5, max_size=5).map(tuple)
    return msgspec.structs.replace(
        quote,
        mode="full",
        last_trade_time=draw(INT32),
        oi=draw(INT32),
        oi_day_high=draw(INT32),
        oi_day_low=draw(INT32),
        exchange_timestamp=draw(INT32),
        depth=Depth(buy=draw(side), sell=draw(side)),
    )


ANY_MODE_TICK = st.sampled_from(["ltp", "quote", "full"]).flatmap(ticks)


@given(ANY_MODE_TICK)
def test_packet_round_trip(tick: Tick) -> None:
    assert decode_packet(encode_packet(tick), recv_ns=tick.ts_event) == tick


@given(st.integers(1, 2**63 - 1), st.lists(ANY_MODE_TICK, max_size=8))
def test_frame_round_trip(recv_ns: int, batch: list[Tick]) -> None:
    same_time = [msgspec.structs.replace(t, ts_event=recv_ns) for t in batch]

    assert decode_frame(encode_frame(same_time), recv_ns=recv_ns) == same_time


@given(ticks("full"))
def test_full_tick_without_recv_time_uses_the_exchange_clock(tick: Tick) -> None:
    decoded = decode_packet(encode_packet(tick))

    seconds = tick.exchange_timestamp or tick.last_trade_time
    assert decoded.ts_event == seconds * 1_000_000_000
    assert decoded == msgspec.structs.replace(tick, ts_event=decoded.ts_event)


@given(st.sampled_from([8, 44, 184]), tokens(TRADABLE_SEGMENTS), st.data())
def test_bytes_to_tick_to_bytes(length: int, token: int, data: st.DataObject) -> None:
    body = bytearray(data.draw(st.binary(min_size=length, max_size=length)))
    body[0:4] = struct.pack(">i", token)
    for pad in range(64 + 10, length, 12):  # depth entries end in 2 pad bytes, always zero on encode
        body[pad : pad + 2] = b"\x00\x00"
    mode = {8: "ltp", 44: "quote", 184: "full"}[length]

    assert encode_packet(decode_packet(bytes(body)), mode) == bytes(body)
