"""The checks a config passes after it decoded: ranges and values that decode but cannot run.

Decoding (``config.config_from_dict``) checks types and keys; these check meaning: limits that
must be positive, fractions in (0, 1], ports, instrument tokens, no NaN or infinity anywhere;
what JetStream and nats-py accept; environment variable names, Kite URLs and paths that name
something (no empty path, no unexpanded ``~``); no feed entry or strategy listed twice. Each
refusal names the key path and the value.
"""

from __future__ import annotations

import math
import os.path
import re
from collections.abc import Callable, Hashable, Iterator, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from execsvc.calendar import BROKER_SQUARE_OFF_MINUTES
from execsvc.errors import ConfigError
from execsvc.market.freeze import check_freeze_quantities
from execsvc.market.multipliers import check_multipliers
from execsvc.session_hours import Segment, parse_hhmm

if TYPE_CHECKING:
    from execsvc.config import Config


def _positive(value: float) -> bool:
    """``value > 0`` and finite (NaN fails every comparison; ints too large for a float are finite)."""
    return value > 0 and (isinstance(value, int) or math.isfinite(value))


def _non_negative(value: float) -> bool:
    """``value >= 0`` and finite."""
    return value >= 0 and (isinstance(value, int) or math.isfinite(value))


_MAX_JETSTREAM_REPLICAS = 5
_MAX_PORT = 65_535
_MAX_TOKEN = 2**32 - 1  # Kite instrument tokens are uint32 on the wire
_MIN_JETSTREAM_AGE = 0.1  # seconds: a stream's max age and duplicate window, a bucket's TTL
_MAX_JETSTREAM_SECONDS = 9_223_372_036  # Go's time.Duration: int64 nanoseconds
_BUCKET_NAME = re.compile(r"[A-Za-z0-9_-]+")  # JetStream key-value bucket names (nats-py checks it too)


def _range_problems(config: Config) -> Iterator[tuple[str, Any, str]]:
    """``(key path, value, reason)`` for every number outside the breakers that is out of range."""
    kite, rl, nats, feed, daemon = (
        config.kite,
        config.kite.rate_limits,
        config.bus.nats,
        config.feed,
        config.daemon,
    )
    positive: dict[str, float] = {
        "feed.heartbeat_timeout_seconds": feed.heartbeat_timeout_seconds,
        "kite.timeout_seconds": kite.timeout_seconds,
        "kite.poll_interval_seconds": kite.poll_interval_seconds,
        "kite.unknown_give_up_seconds": kite.unknown_give_up_seconds,
        "bus.nats.retention_seconds": nats.retention_seconds,
        "bus.nats.duplicate_window_seconds": nats.duplicate_window_seconds,
        "bus.nats.lease_ttl_seconds": nats.lease_ttl_seconds,
        "bus.nats.ack_wait_seconds": nats.ack_wait_seconds,
        "bus.nats.connect_timeout_seconds": nats.connect_timeout_seconds,
        "bus.nats.fetch_batch": nats.fetch_batch,
        "market.default_tick_size": config.market.default_tick_size,
    }
    non_negative: dict[str, float] = {
        "kite.rate_limits.penalty_seconds": rl.penalty_seconds,
        "kite.rate_limits.margin_seconds": rl.margin_seconds,
        "daemon.drain_timeout_seconds": daemon.drain_timeout_seconds,
        "daemon.log_max_bytes": daemon.log_max_bytes,  # 0: no rotation
        "daemon.log_backups": daemon.log_backups,
    }
    non_negative.update(
        {f"kite.unknown_check_delays[{i}]": d for i, d in enumerate(kite.unknown_check_delays)}
    )
    for path, value in positive.items():
        if not _positive(value):
            yield path, value, "must be positive and finite"
    for path, value in non_negative.items():
        if not _non_negative(value):
            yield path, value, "must be zero or more, and finite"
    if daemon.log_max_bytes > 0 and daemon.log_backups == 0:  # RotatingFileHandler never rotates then
        yield (
            "daemon.log_backups",
            daemon.log_backups,
            f"must be at least 1 with daemon.log_max_bytes={daemon.log_max_bytes} (with no backup the log "
            "is never rotated and grows without bound); daemon.log_max_bytes: 0 turns rotation off",
        )
    if daemon.after_close_seconds is not None and not _non_negative(daemon.after_close_seconds):
        yield (
            "daemon.after_close_seconds",
            daemon.after_close_seconds,
            "must be zero or more, and finite, or null (serve until signalled)",
        )
    if feed.speed is not None and not _positive(feed.speed):
        yield "feed.speed", feed.speed, "must be positive and finite, or null (as fast as possible)"
    if not config.control.host.strip():  # binds every interface unannounced; the URL shows no host
        yield (
            "control.host",
            config.control.host,
            "must name an address: 127.0.0.1, or 0.0.0.0 for every interface (needs a token)",
        )
    if not 0 <= config.control.port <= _MAX_PORT:
        yield "control.port", config.control.port, f"must be a TCP port, 0 (any free) to {_MAX_PORT}"
    if not 1 <= nats.replicas <= _MAX_JETSTREAM_REPLICAS:
        yield (
            "bus.nats.replicas",
            nats.replicas,
            f"must be 1 to {_MAX_JETSTREAM_REPLICAS} (JetStream's limit)",
        )
    for i, token in enumerate(feed.tokens):
        if not 0 < token <= _MAX_TOKEN:
            yield f"feed.tokens[{i}]", token, f"must be an instrument token, 1 to {_MAX_TOKEN}"


def _nats_problems(config: Config) -> Iterator[tuple[str, Any, str]]:
    """``(key path, value, reason)`` for every ``bus.nats`` setting JetStream or nats-py cannot use.

    An empty server list is the worst of them: nats-py retries an empty pool forever without
    awaiting anything, so the event loop spins and the daemon never starts nor answers a signal.
    """
    nats = config.bus.nats
    if not nats.servers:
        yield "bus.nats.servers", nats.servers, "must list at least one server"
    for i, server in enumerate(nats.servers):
        if not server.strip():
            yield f"bus.nats.servers[{i}]", server, "must not be empty"
    if not nats.account.strip():
        yield "bus.nats.account", nats.account, "must not be empty (it names the subjects and streams)"
    if not _BUCKET_NAME.fullmatch(nats.lease_bucket):
        yield "bus.nats.lease_bucket", nats.lease_bucket, "must be letters, digits, '_' and '-' only"
    durations = {
        "bus.nats.retention_seconds": (nats.retention_seconds, _MIN_JETSTREAM_AGE),
        "bus.nats.duplicate_window_seconds": (nats.duplicate_window_seconds, _MIN_JETSTREAM_AGE),
        "bus.nats.lease_ttl_seconds": (nats.lease_ttl_seconds, _MIN_JETSTREAM_AGE),
        "bus.nats.ack_wait_seconds": (nats.ack_wait_seconds, 0.0),
    }
    for path, (seconds, least) in durations.items():
        if not least <= seconds <= _MAX_JETSTREAM_SECONDS:
            floor = f"at least {least:g} s and " if least else ""
            yield path, seconds, f"must be {floor}at most {_MAX_JETSTREAM_SECONDS} s (JetStream's limits)"
    if nats.duplicate_window_seconds > nats.retention_seconds:  # JetStream refuses the stream
        yield (
            "bus.nats.duplicate_window_seconds",
            nats.duplicate_window_seconds,
            f"must be at most bus.nats.retention_seconds ({nats.retention_seconds!r})",
        )


def _env_name_problems(config: Config) -> Iterator[tuple[str, Any, str]]:
    """``(key path, value, reason)`` for every environment variable name that no variable can have.

    A blank name, or one holding ``=`` or a NUL, is never set: the token or secret would silently be looked
    for elsewhere (the token file) or reported missing as ``$``.
    """
    names = {
        "kite.access_token_env": config.kite.access_token_env,
        "kite.api_secret_env": config.kite.api_secret_env,
        "control.token_env": config.control.token_env,
    }
    for path, name in names.items():
        if not name.strip() or "=" in name or "\0" in name:
            yield path, name, "must name an environment variable (not empty, no '=')"


def _url_problems(config: Config) -> Iterator[tuple[str, Any, str]]:
    """``(key path, value, reason)`` for a Kite root that is not a URL with a scheme and a host.

    Otherwise it is found only at the first request (the login, the start-up checks, the WebSocket
    connect). The WebSocket root may be http(s) as well: aiohttp's ``ws_connect`` takes either.
    """
    roots = (
        ("kite.root", config.kite.root, {"http", "https"}, "an http:// or https://"),
        ("kite.ws_root", config.kite.ws_root, {"ws", "wss", "http", "https"}, "a ws:// or wss://"),
    )
    for path, url, schemes, shown in roots:
        try:
            parts = urlsplit(url)
            usable = parts.scheme in schemes and bool(parts.hostname)
        except ValueError:  # e.g. an unclosed IPv6 bracket
            usable = False
        if not usable:
            yield path, url, f"must be {shown} URL with a host"


def _repeats(
    key: str, values: Sequence[Any], same: Callable[[Any], Hashable] = lambda value: value
) -> Iterator[tuple[str, Any, str]]:
    """``(key[i], value, reason)`` for every entry of a list that repeats an earlier one."""
    first: dict[Hashable, int] = {}
    for i, value in enumerate(values):
        j = first.setdefault(same(value), i)
        if j != i:
            yield f"{key}[{i}]", value, f"listed twice ({key}[{j}])"


def _repeat_problems(config: Config) -> Iterator[tuple[str, Any, str]]:
    """Feed entries listed twice: a token subscribed twice, a tick file replayed twice (the
    strategies would see, and trade, its day again)."""
    yield from _repeats("feed.tokens", config.feed.tokens)
    yield from _repeats("feed.ticks", config.feed.ticks, os.path.normpath)


def _strategy_problems(config: Config) -> Iterator[tuple[str, Any, str]]:
    """A spec that is not ``MODULE:CLASS`` (the shape ``load_strategy`` needs), or an entry that
    repeats another with the same params: a copy of an entry trades everything twice, into one
    position both count as theirs."""
    for i, strategy in enumerate(config.strategies):
        module, colon, cls = strategy.spec.partition(":")
        if not (colon and module.strip() and cls.strip()):
            yield f"strategies[{i}].spec", strategy.spec, "must be MODULE:CLASS"
        first = config.strategies.index(strategy)  # equal structs: the same spec and params
        if first != i:
            yield (
                f"strategies[{i}].spec",
                strategy.spec,
                f"listed twice with the same params (strategies[{first}])",
            )


def _path_problems(config: Config) -> Iterator[tuple[str, Any, str]]:
    """``(key path, value, reason)`` for every path that is empty or blank, or starts with ``~``.

    An empty path is the current directory: the journal, logs or snapshots would land wherever the
    daemon was started, and a file setting would fail later with "is a directory" and no key named.
    Only ``kite.access_token_file`` expands ``~``; elsewhere ``~/journal`` would be a directory
    named ``~`` under the current one.
    """
    paths: dict[str, str | None] = {
        "journal.dir": config.journal.dir,
        "daemon.logs_dir": config.daemon.logs_dir,
        "daemon.state_dir": config.daemon.state_dir,
        "market.instruments_file": config.market.instruments_file,
        "market.freeze_quantities_file": config.market.freeze_quantities_file,
        "charges.rates_file": config.charges.rates_file,
        "session.holidays_file": config.session.holidays_file,
        "kite.access_token_file": config.kite.access_token_file,
        "control.token_file": config.control.token_file,
    }
    paths.update({f"feed.ticks[{i}]": file for i, file in enumerate(config.feed.ticks)})
    # None is their "no file"
    optional = {"market.instruments_file", "market.freeze_quantities_file", "control.token_file"}
    expanded = {"kite.access_token_file"}  # read through os.path.expanduser
    for path, value in paths.items():
        if value is not None and not value.strip():
            hint = "; null for none" if path in optional else ""
            yield path, value, f"must not be empty (an empty path is the current directory){hint}"
        elif value is not None and value.startswith("~") and path not in expanded:
            yield path, value, "a leading ~ is not expanded here: write the home directory out"


_SQUARE_OFF_KEYS: dict[Segment, str] = {
    "equity": "square_off_equity",
    "fo": "square_off_fo",
    "cds": "square_off_cds",
}


def _square_off_problems(config: Config) -> Iterator[tuple[str, Any, str]]:
    """The service's MIS square-off must come before Zerodha's own, which closes what is left
    at ₹50 + GST an order: a square-off set after it never gets to run."""
    session = config.session
    for segment, key in _SQUARE_OFF_KEYS.items():
        close = parse_hhmm(f"session.{segment}_close", getattr(session, f"{segment}_close"))
        ours = parse_hhmm(f"session.{key}", getattr(session, key))
        broker = close - BROKER_SQUARE_OFF_MINUTES[segment]
        if ours >= broker:
            yield (
                f"session.{key}",
                getattr(session, key),
                (f"must be before Zerodha's auto square-off at {broker // 60:02d}:{broker % 60:02d}"),
            )
    margin = session.square_off_mcx_minutes_before_close
    if margin <= BROKER_SQUARE_OFF_MINUTES["mcx"]:
        yield (
            "session.square_off_mcx_minutes_before_close",
            margin,
            (f"must be more than Zerodha's {BROKER_SQUARE_OFF_MINUTES['mcx']} minutes before the close"),
        )


def check_semantics(config: Config, source: str) -> None:
    """Refuse values a config can hold but no service can run with.

    Raises:
        ConfigError: the first such value, naming the key path (prefixed by ``source``) and the value.
    """

    def bad(path: str, value: Any, reason: str) -> ConfigError:
        return ConfigError(f"{source}: {path}={value!r}: {reason}")

    ex = config.execution
    if not (math.isfinite(ex.slippage_bps) and 0 <= ex.slippage_bps <= 1000):
        raise bad("execution.slippage_bps", ex.slippage_bps, "must be between 0 and 1000")
    if ex.max_intent_age_seconds is not None and not _positive(ex.max_intent_age_seconds):
        reason = "must be positive and finite, or null"
        raise bad("execution.max_intent_age_seconds", ex.max_intent_age_seconds, reason)
    if ex.default_exchange not in {"NSE", "BSE", "NFO", "BFO", "MCX", "CDS", "BCD"}:
        raise bad("execution.default_exchange", ex.default_exchange, "unknown exchange")
    cb = ex.circuit_breakers
    for name in (
        "max_daily_loss_rupees",
        "max_trades_per_day",
        "max_trades_per_strategy_per_day",
        "max_loss_streak",
        "max_orders_per_second",
        "max_orders_per_second_per_strategy",
        "max_order_value_rupees",
        "max_position_per_symbol",
    ):
        value = getattr(cb, name)
        if value is not None and not _positive(value):
            raise bad(f"execution.circuit_breakers.{name}", value, "must be positive, or null to disable")
    dd = cb.max_daily_drawdown_pct
    if dd is not None and not (math.isfinite(dd) and 0 < dd <= 1):
        raise bad("execution.circuit_breakers.max_daily_drawdown_pct", dd, "must be a fraction in (0, 1]")
    if not _positive(cb.capital_rupees):
        raise bad("execution.circuit_breakers.capital_rupees", cb.capital_rupees, "must be positive")
    if config.bus.queue_size < 1:
        raise bad("bus.queue_size", config.bus.queue_size, "must be at least 1")
    if config.journal.max_unsynced_bytes < 1:
        raise bad("journal.max_unsynced_bytes", config.journal.max_unsynced_bytes, "must be at least 1")
    kite = config.kite
    mp = kite.market_protection
    if not (mp == -1 or 0 < mp <= 100):
        raise bad("kite.market_protection", mp, "must be -1 (automatic) or in (0, 100]; Kite rejects 0")
    for name in (
        "orders_per_second",
        "orders_per_minute",
        "orders_per_day",
        "modifications_per_order",
        "quote_per_second",
        "other_per_second",
    ):
        if getattr(kite.rate_limits, name) < 1:
            raise bad(f"kite.rate_limits.{name}", getattr(kite.rate_limits, name), "must be at least 1")
    for path, value, reason in chain(
        _range_problems(config),
        _nats_problems(config),
        _env_name_problems(config),
        _url_problems(config),
        _path_problems(config),
        _repeat_problems(config),
        _strategy_problems(config),
        _square_off_problems(config),
        check_multipliers(config.market.multipliers),
        check_freeze_quantities(config.market.freeze_quantities, "market.freeze_quantities"),
    ):
        raise bad(path, value, reason)
