"""Configuration: frozen msgspec Structs loaded from YAML, with errors that name the key path.

The ``execution`` block of the original design's ``configs/dev.yaml`` loads unchanged.
``execution.use_execution_engine_v2`` is accepted for compatibility and has no effect: execsvc *is*
the execution path, there is no legacy path to fall back to.

Relative paths in a config file are resolved against the current working directory.
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from execsvc.config_checks import check_semantics
from execsvc.errors import ConfigError
from execsvc.market.config import MarketConfig, market_table_problems
from execsvc.session_hours import SessionConfig

FsyncPolicy = Literal["always", "batch", "never"]
Mode = Literal["paper", "live"]


class _Section(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Base of every config section: unknown keys are errors, values are immutable."""


class CircuitBreakerConfig(_Section, frozen=True):
    """Breaker limits. ``None`` disables a breaker.

    The first five keys are the original design's; the rest are execsvc's additions.
    """

    max_daily_loss_rupees: float | None = 5000.0
    max_daily_drawdown_pct: float | None = 0.02
    max_trades_per_day: int | None = 100
    max_trades_per_strategy_per_day: int | None = 50
    max_loss_streak: int | None = 5
    capital_rupees: float = 500_000.0
    max_orders_per_second: int | None = 20
    max_orders_per_second_per_strategy: int | None = 10
    max_order_value_rupees: float | None = None
    max_position_per_symbol: int | None = None


LOSS_COUNT_AND_RATE_BREAKERS: tuple[str, ...] = (
    "max_daily_loss_rupees",
    "max_daily_drawdown_pct",
    "max_trades_per_day",
    "max_trades_per_strategy_per_day",
    "max_loss_streak",
    "max_orders_per_second",
    "max_orders_per_second_per_strategy",
)
"""The breakers that stop trading on losses, trade counts and order rates: the ones benchmarks,
soaks and tests switch off (``None``) to measure the path rather than the limits."""


class ExecutionConfig(_Section, frozen=True):
    """The execution block: mode switches, the paper fill model and the breakers.

    ``max_intent_age_seconds``: an intent older than this (from its ``ts_init``, stamped where it
    was submitted) is REJECTED ``stale`` and placed nowhere: a signal that sat in a NATS backlog
    while the executor was down, or a live order that queued that long for a rate-limit slot, is
    not sent late. ``null`` places intents of any age. The service's own square-off is never aged,
    and an after-market order sent while its exchange was closed not before the open it waits for
    (with the session calendar).
    """

    use_execution_engine_v2: bool = True
    dry_run: bool = False
    slippage_bps: float = 5.0
    use_bid_ask_spread: bool = False
    use_depth: bool = False
    default_exchange: str = "NSE"
    seed: int = 42
    max_intent_age_seconds: float | None = 30.0
    circuit_breakers: CircuitBreakerConfig = CircuitBreakerConfig()


class JournalConfig(_Section, frozen=True):
    """Where the journal lives and how hard it tries to be on disk.

    ``fsync``: ``always`` writes and fsyncs every record as it is appended; ``batch`` (default)
    group-commits: a background writer fsyncs whatever accumulated while the previous fsync ran;
    ``never`` writes without fsync (survives a process crash, not a power cut). Under ``always``
    and ``batch`` a result reaches its caller only after its record is on disk.

    ``max_unsynced_bytes`` bounds the records that may wait in memory for a slow disk: past it the
    engine waits for the journal before it handles more, so the bus queues fill and producers slow
    down instead of the service trading ever further ahead of what is durable. 8 MiB is about four
    thousand intents' records: a burst passes while an fsync takes its usual milliseconds, and a
    disk that stalls for seconds holds the service back within that much memory.
    """

    dir: str = "artifacts/journal"
    fsync: FsyncPolicy = "batch"
    max_unsynced_bytes: int = 8 * 1024 * 1024


class NatsConfig(_Section, frozen=True):
    """The NATS JetStream backend (``bus.backend: nats``).

    ``account`` names the broker account: subjects are ``execsvc.<account>.intents.<strategy>`` and
    ``execsvc.<account>.results.<strategy>.<intent>``; one executor per account holds the lease
    (a key in the ``lease_bucket`` key-value bucket, expiring ``lease_ttl_seconds`` after its last
    renewal). ``duplicate_window_seconds`` is JetStream's de-duplication window on ``Nats-Msg-Id``
    (the intent id); ``retention_seconds`` is how long intents and results stay in their streams.
    """

    servers: list[str] = msgspec.field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    account: str = "default"
    instance_id: str = ""
    retention_seconds: float = 7 * 86_400.0
    duplicate_window_seconds: float = 120.0
    replicas: int = 1
    lease_bucket: str = "execsvc_leases"
    lease_ttl_seconds: float = 5.0
    fetch_batch: int = 256
    ack_wait_seconds: float = 30.0
    connect_timeout_seconds: float = 5.0


class BusConfig(_Section, frozen=True):
    """The event bus: ``memory`` (in-process, the default: nothing to install) or ``nats``.

    ``queue_size`` bounds every subscriber queue: large enough to absorb a burst of a few thousand
    intents without blocking producers, small enough that a stuck subscriber is noticed within
    seconds rather than after gigabytes.
    """

    backend: Literal["memory", "nats"] = "memory"
    queue_size: int = 8192
    nats: NatsConfig = NatsConfig()


class ChargesConfig(_Section, frozen=True):
    """The Indian cost model: a versioned rate table."""

    rates_file: str = "configs/charges.yaml"
    enabled: bool = True


class RateLimitConfig(_Section, frozen=True):
    """Kite's API rate limits (FACTS.md section 5.1): the limiter queues rather than exceed them.

    Defaults are Kite's current figures; ``penalty_seconds`` is how long an HTTP 429 closes the gate;
    ``margin_seconds`` widens every window so that network jitter cannot make two grants a window
    apart arrive at the broker inside one window.
    """

    orders_per_second: int = 10
    orders_per_minute: int = 400
    orders_per_day: int = 5000
    modifications_per_order: int = 25
    quote_per_second: int = 1
    other_per_second: int = 10
    penalty_seconds: float = 1.0
    margin_seconds: float = 0.05


class KiteConfig(_Section, frozen=True):
    """The Kite Connect adapter.

    The access token is never written in a config file: it comes from the environment variable
    named by ``access_token_env`` or from ``access_token_file`` (a 0600 file outside the repository,
    written by ``execsvc login``). ``api_secret_env`` names the variable holding the API secret (for
    login and postback checksums).

    A placement whose outcome is unknown (a timeout) is looked up in the order book after each of
    ``unknown_check_delays`` seconds, then every ``poll_interval_seconds``: an empty list is valid
    and means no early checks, the first lookup comes one poll interval after the placement.
    """

    api_key: str = ""
    root: str = "https://api.kite.trade"
    ws_root: str = "wss://ws.kite.trade"
    access_token_env: str = "KITE_ACCESS_TOKEN"
    access_token_file: str = "~/.config/execsvc/kite_access_token"
    api_secret_env: str = "KITE_API_SECRET"
    timeout_seconds: float = 7.0
    market_protection: float = -1.0
    poll_interval_seconds: float = 5.0
    unknown_check_delays: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0)
    unknown_give_up_seconds: float = 60.0
    # halt when start-up reconciliation finds the journal's positions differ from the broker's
    # (CNC carried in from earlier days: when the broker's holdings are less than the journal's)
    halt_on_position_mismatch: bool = True
    rate_limits: RateLimitConfig = RateLimitConfig()
    # live (not a dry run): open the WebSocket as the service starts, for its order updates;
    # false: only once instruments are subscribed (``svc.feed.subscribe``, the daemon's feed)
    websocket: bool = True


class StrategySpec(_Section, frozen=True):
    """An embedded strategy: ``MODULE:CLASS`` and its keyword parameters."""

    spec: str
    params: dict[str, Any] = msgspec.field(default_factory=dict)


class ControlConfig(_Section, frozen=True):
    """The control API. Binding anywhere but loopback needs a token (env first, then a 0600 file)."""

    host: str = "127.0.0.1"
    port: int = 8080
    token_env: str = "EXECSVC_CONTROL_TOKEN"
    token_file: str | None = None


class FeedConfig(_Section, frozen=True):
    """Market data for the daemon: tick files replayed at real time x ``speed`` (paper), or the
    Kite WebSocket (live, dry-run) subscribed to ``tokens`` in ``mode``."""

    ticks: list[str] = msgspec.field(default_factory=list)
    speed: float | None = 1.0
    tokens: list[int] = msgspec.field(default_factory=list)
    mode: Literal["ltp", "quote", "full"] = "full"
    heartbeat_timeout_seconds: float = 10.0


class DaemonConfig(_Section, frozen=True):
    """Where the daemon writes logs and state snapshots, and how long a drain may take."""

    logs_dir: str = "artifacts/logs"
    state_dir: str = "artifacts/state"
    drain_timeout_seconds: float = 10.0
    after_close_seconds: float | None = 300.0  # null: serve until signalled
    log_max_bytes: int = 10_000_000
    log_backups: int = 5


class Config(_Section, frozen=True):
    """The whole service configuration."""

    mode: Mode = "paper"
    execution: ExecutionConfig = ExecutionConfig()
    journal: JournalConfig = JournalConfig()
    bus: BusConfig = BusConfig()
    market: MarketConfig = MarketConfig()
    charges: ChargesConfig = ChargesConfig()
    kite: KiteConfig = KiteConfig()
    strategies: list[StrategySpec] = msgspec.field(default_factory=list)
    control: ControlConfig = ControlConfig()
    feed: FeedConfig = FeedConfig()
    daemon: DaemonConfig = DaemonConfig()
    session: SessionConfig = SessionConfig()


_PATH_RE = re.compile(r"- at `\$(?P<path>[^`]*)`")
_KEY_RE = re.compile(r"- at `key` in `\$(?P<path>[^`]*)`")
_UNKNOWN_RE = re.compile(r"unknown field `(?P<field>[^`]+)`")
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother, _SHORT.maxlong = 2, 80, 80, 80
_SHORT.maxlist = _SHORT.maxtuple = _SHORT.maxdict = _SHORT.maxset = 4


def short_repr(value: Any) -> str:
    """A repr of bounded size and cost: a value built from YAML aliases may hold billions of items."""
    return _SHORT.repr(value)


def _lookup(data: Any, dotted: str) -> Any:
    node = data
    for part in filter(None, re.split(r"\.|\[(\d+)\]", dotted)):
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, TypeError, ValueError):
            return None
    return node


def _translate(exc: msgspec.ValidationError, data: Any, source: str) -> ConfigError:
    message = str(exc)
    key_match = _KEY_RE.search(message)
    if key_match:  # a mapping key that is not a string (YAML reads `1:`, `yes:`, `null:` as others)
        path = key_match.group("path").lstrip(".")
        node = _lookup(data, path) if path else data
        keys = [k for k in node if not isinstance(k, str)] if isinstance(node, dict) else []
        shown = short_repr(keys[0]) if keys else "?"
        return ConfigError(f"{source}: {path or '<root>'}: key {shown}: keys must be strings")
    match = _PATH_RE.search(message)
    path = match.group("path").lstrip(".") if match else ""
    unknown = _UNKNOWN_RE.search(message)
    if unknown:
        key = f"{path}.{unknown.group('field')}" if path else unknown.group("field")
        return ConfigError(f"{source}: unknown key {key!r}")
    reason = _PATH_RE.sub("", message).strip()
    value = _lookup(data, path)
    return ConfigError(f"{source}: {path or '<root>'}={short_repr(value)}: {reason}")


def config_from_dict(data: Any, source: str = "<config>") -> Config:
    """Build a :class:`Config` from parsed YAML/JSON data.

    Raises:
        ConfigError: an unknown key or a bad value, naming the key path and the value.
    """
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping, got {type(data).__name__}")
    for path, value, reason in market_table_problems(data):  # before decoding: it names no key
        raise ConfigError(f"{source}: {path}={short_repr(value)}: {reason}")
    try:
        config = msgspec.convert(data, Config, strict=True)
    except msgspec.ValidationError as exc:
        raise _translate(exc, data, source) from exc
    except ConfigError as exc:  # SessionConfig's own checks name the key but cannot know the file
        raise ConfigError(f"{source}: {exc}") from exc
    check_semantics(config, source)
    return config


class _DuplicateKeyError(yaml.YAMLError):
    """A mapping repeats a key; YAML's last-one-wins would silently drop the first value."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key repeated in one mapping.

    Plain YAML keeps the last value of a repeated key, so ``max_daily_loss_rupees: 1000`` followed by
    ``max_daily_loss_rupees: 900000`` would load as 900000 without a word. Keys brought in by a merge
    (``<<: *base``) may still be overridden: only keys written in the mapping itself are compared.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        """Construct a mapping after checking that no key is written twice.

        Raises:
            _DuplicateKeyError: a repeated key, naming it and both lines.
        """
        seen: dict[Any, int] = {}
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=deep)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader reports it below
                continue
            if first is not None:
                raise _DuplicateKeyError(f"line {line}: duplicate key {key!r} (first on line {first})")
            seen[key] = line
        return super().construct_mapping(node, deep=deep)


def load_config(path: str | Path) -> Config:
    """Read a YAML config file.

    Raises:
        ConfigError: the file is missing, is not UTF-8 or not YAML, repeats a key in one mapping,
            or a key or value is wrong.
    """
    source = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        byte = raw[exc.start : exc.start + 1].hex()
        raise ConfigError(
            f"{source}: line {line}: not UTF-8 text (byte 0x{byte} at offset {exc.start})"
        ) from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # a SafeLoader: no arbitrary objects
    except _DuplicateKeyError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from exc
    except RecursionError as exc:
        raise ConfigError(f"{source}: not valid YAML: nested too deeply") from exc
    return config_from_dict(data, source)


def replace(config: Config, **changes: Any) -> Config:
    """A copy of ``config`` with top-level sections replaced (a convenience for tests and the CLI)."""
    return msgspec.structs.replace(config, **changes)
