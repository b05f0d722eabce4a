"""Kite credentials: where the access token lives, and the login flow.

The access token is read from the environment (``kite.access_token_env``) or from a file
(``kite.access_token_file``, default ``~/.config/execsvc/kite_access_token``), which ``execsvc
login`` writes with mode 0600. It never appears in a config file, a log line, a journal record, an
error or a repr (:class:`Secret`).
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

from execsvc.config import KiteConfig
from execsvc.errors import BrokerAuthError, ConfigError

log = logging.getLogger("execsvc.auth")


class Secret:
    """A string that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: only for building a request."""
        return self._value

    def __repr__(self) -> str:
        return "***"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def token_path(config: KiteConfig) -> Path:
    """The access-token file, with ``~`` expanded."""
    return Path(os.path.expanduser(config.access_token_file))


def checked_token(token: str, where: str) -> Secret:
    """``token`` as a :class:`Secret`, when an HTTP header can carry it.

    A token with a line break inside (a file holding two) or a control character fails every
    request with a ValueError deep in aiohttp (start-up's reconciliation, or a live order task's
    "internal error"); one with a space or a non-ASCII character is no Kite token either. The
    message names where the token came from, never the token.

    Raises:
        BrokerAuthError: the token holds such a character.
    """
    if not all("!" <= char <= "~" for char in token):
        raise BrokerAuthError(
            f"{where}: the access token holds a character an HTTP header cannot carry (a line break, "
            "a space, a control or non-ASCII character): run `execsvc login`"
        )
    return Secret(token)


def load_access_token(config: KiteConfig) -> Secret:
    """The access token from the environment or the token file.

    Raises:
        BrokerAuthError: neither holds a token (log in with ``execsvc login``), or it holds a
            character no HTTP header can carry.
        ConfigError: the token file is readable by others, or not UTF-8 text.
    """
    from_env = os.environ.get(config.access_token_env, "").strip()
    if from_env:
        return checked_token(from_env, f"${config.access_token_env}")
    path = token_path(config)
    if not path.exists():
        raise BrokerAuthError(
            f"no Kite access token: set ${config.access_token_env} or run `execsvc login` (file {path})"
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigError(f"{path}: mode {oct(mode)} lets others read the access token; chmod 600 it")
    try:
        token = path.read_text(encoding="utf-8").strip()
    except UnicodeDecodeError as exc:  # not chained: its bytes are the token's
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}): run `execsvc login`") from None
    if not token:
        raise BrokerAuthError(f"{path} is empty: run `execsvc login`")
    return checked_token(token, str(path))


def token_source(config: KiteConfig, given: str | None = None) -> str:
    """Where a live service's token comes from: ``argument`` (handed in), ``env`` or ``file``.

    Only the file can bring a new token to a running process (``execsvc login`` rewrites it).
    """
    if given:
        return "argument"
    return "env" if os.environ.get(config.access_token_env, "").strip() else "file"


def save_access_token(config: KiteConfig, token: str) -> Path:
    """Write the token file with mode 0600 (the directory 0700), atomically."""
    path = token_path(config)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, token.encode() + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    return path


def api_secret(config: KiteConfig) -> Secret:
    """The API secret from the environment.

    Raises:
        ConfigError: the variable is not set.
    """
    value = os.environ.get(config.api_secret_env, "").strip()
    if not value:
        raise ConfigError(f"the Kite API secret is read from ${config.api_secret_env}, which is not set")
    return Secret(value)


def login(config: KiteConfig, request_token: str) -> Path:
    """Exchange a request token for an access token with the official client; store it (0600).

    Raises:
        BrokerAuthError: Kite refused the exchange (the message carries Kite's reason, no secret),
            or could not be reached.
        ConfigError: the API secret is not set.
    """
    import kiteconnect  # the official client is only used for the login flow

    client = kiteconnect.KiteConnect(api_key=config.api_key, root=config.root)
    try:
        session = client.generate_session(request_token, api_secret=api_secret(config).reveal())
    except kiteconnect.exceptions.KiteException as exc:
        raise BrokerAuthError(
            f"login failed: {exc}", error_type=type(exc).__name__, http_status=getattr(exc, "code", None)
        ) from exc
    except OSError as exc:  # the client's requests errors (no network, a wrong kite.root) are OSErrors
        raise BrokerAuthError(f"login failed: cannot reach Kite at {config.root}: {exc}") from exc
    path = save_access_token(config, str(session["access_token"]))
    log.info("access token for %s stored in %s", session.get("user_id", "?"), path)
    return path


def login_url(config: KiteConfig) -> str:
    """The page where the user logs in to get a request token."""
    return f"https://kite.zerodha.com/connect/login?api_key={config.api_key}&v=3"
