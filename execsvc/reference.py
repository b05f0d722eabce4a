"""Reference data named in the config: the instruments dump, the cost model and the freeze table."""

from __future__ import annotations

import logging
from pathlib import Path

from execsvc.config import Config
from execsvc.costs import CostModel, RateTable
from execsvc.errors import ConfigError
from execsvc.market.config import MarketConfig
from execsvc.market.freeze import BUNDLED_FREEZE_FILE, DEFAULT_FREEZE_FILE_SETTING, FreezeQuantities
from execsvc.market.instruments import Instruments

log = logging.getLogger("execsvc.reference")


def load_instruments(config: Config) -> Instruments:
    """The instruments dump named in the config, or an empty table when none is configured.

    The default path (``configs/instruments.csv``, not shipped) may be missing: a WARNING, and
    only ``market.default_tick_size`` is checked. A path the config names must be there: the
    lot-size, tick-grid, expiry and freeze checks rest on the dump, and a mistyped name would
    quietly drop them all.

    Raises:
        ConfigError: a path other than the default names no file.
    """
    path = config.market.instruments_file
    if path is None:
        return Instruments()
    if not Path(path).exists():
        if path != MarketConfig().instruments_file:
            raise ConfigError(
                f"market.instruments_file={path!r}: no such file (lot sizes, tick sizes, expiries and "
                "freeze quantities are checked against it; null for none)"
            )
        log.warning(
            "instruments file %s not found: default tick size %s", path, config.market.default_tick_size
        )
        return Instruments()
    return Instruments.from_csv(path)


def load_costs(config: Config) -> CostModel:
    """The cost model named in the config (zero charges when disabled)."""
    if not config.charges.enabled:
        return CostModel.zero()
    return CostModel(RateTable.load(config.charges.rates_file))


def load_freeze_quantities(config: Config) -> FreezeQuantities:
    """The freeze table of ``market.freeze_quantities_file`` (none when null) under the rows of
    ``market.freeze_quantities``. The default path, not found where the service runs, means the
    table bundled beside the package (none, with a WARNING, in an install without it).

    Raises:
        ConfigError: the file cannot be read or holds a bad entry.
    """
    market = config.market
    path: str | Path | None = market.freeze_quantities_file
    if path == DEFAULT_FREEZE_FILE_SETTING and not Path(path).exists():
        # the default, which configs written before the table existed name without knowing it, is
        # relative to the repository: a service started elsewhere (embedded, under systemd) takes the
        # table bundled beside the package, or none, as before, rather than fail to start
        path = BUNDLED_FREEZE_FILE if BUNDLED_FREEZE_FILE.exists() else None
        if path is None:
            log.warning(
                "freeze quantities file %s not found: no bundled table (set market.freeze_quantities_file)",
                DEFAULT_FREEZE_FILE_SETTING,
            )
    return FreezeQuantities.load(path, market.freeze_quantities)
