"""The engines' TOML config file: which engines run, on which market data, how fast.

`drift-engine init` writes `EXAMPLE_CONFIG` (commented). Loading validates everything
with pydantic (unknown keys and bad values are errors that name the key, e.g.
`engines[0].params.entry_apr`); each engine's `params` are validated by its strategy's
own config model, and its `risk` by `RiskLimits`. Database location and data directory
come from `drift_engine.config.Settings` (environment), not from this file.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from drift_engine.core.errors import DriftEngineError
from drift_engine.risk.limits import RiskLimits
from drift_engine.strategies import STRATEGIES, strategy_class

DEFAULT_CONFIG_PATH = Path("drift-engine.toml")


class ConfigFileError(DriftEngineError, ValueError):
    """A key of the config file is unknown or has a bad value; `key` names it."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EngineSpec(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    strategy: str = "delta-neutral"
    mode: Literal["paper", "live"] = "paper"
    vault: str | None = Field(None, description="Vault name; default: the engine id")
    capital_usdc: float = Field(10_000.0, gt=0, description="Virtual USDC for a new vault")
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)
    risk: RiskLimits = Field(default_factory=RiskLimits)

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        if v not in STRATEGIES:
            raise ValueError(f"unknown strategy {v!r} (known: {sorted(STRATEGIES)})")
        return v

    @property
    def vault_name(self) -> str:
        return self.vault or self.id

    def strategy_config(self) -> Any:
        return strategy_class(self.strategy).config_model.model_validate(self.params)


class DataSpec(_Strict):
    source: Literal["bundled", "synthetic"] = "bundled"
    start: str | None = Field(None, description="ISO date; default: start of the data")
    seed: int = 7
    speed: float = Field(3600.0, gt=0, description="Simulated seconds per wall second")


class HeartbeatSpec(_Strict):
    interval_s: int = Field(60, ge=1)
    snapshot_every_s: int = Field(3600, ge=1)


class DashboardSpec(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)


class EnginesConfig(_Strict):
    data: DataSpec = Field(default_factory=DataSpec)
    heartbeat: HeartbeatSpec = Field(default_factory=HeartbeatSpec)
    dashboard: DashboardSpec = Field(default_factory=DashboardSpec)
    engines: list[EngineSpec] = Field(default_factory=list)


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "config"


def parse_config(data: dict[str, Any]) -> EnginesConfig:
    """Validate a parsed TOML document; the first error names its key."""
    try:
        cfg = EnginesConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigFileError(_key(err["loc"]), err["msg"]) from None
    seen: set[str] = set()
    for i, spec in enumerate(cfg.engines):
        if spec.id in seen:
            raise ConfigFileError(f"engines[{i}].id", f"duplicate engine id {spec.id!r}")
        seen.add(spec.id)
        try:
            spec.strategy_config()
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ("engines", i, "params", *err["loc"])
            raise ConfigFileError(_key(loc), err["msg"]) from None
    return cfg


def load_config(path: Path | str) -> EnginesConfig:
    path = Path(path)
    if not path.exists():
        raise ConfigFileError("config", f"{path} does not exist (create it: drift-engine init)")
    try:
        data = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError("config", f"{path} is not valid TOML: {exc}") from None
    return parse_config(data)


EXAMPLE_CONFIG = """\
# drift-engine configuration (TOML). Written by `drift-engine init`.
# Unknown keys and bad values are errors that name the key.
# Where the database lives comes from the environment (DATABASE_URL,
# DRIFT_ENGINE_DATA_DIR), never from this file; keys never go in here either.

[data]
# Market data the paper engines trade on:
#   "bundled"   - Drift's real daily funding (Jan-Feb 2026, SOL/BTC/ETH) replayed hourly,
#                 with synthetic 1-minute prices consistent with it (labelled synthetic)
#   "synthetic" - seeded synthetic prices and funding
source = "bundled"
# start = "2026-01-10"   # ISO date; default: the start of the data
seed = 7
speed = 3600.0           # simulated seconds per wall-clock second (1.0 = real time)

[heartbeat]
interval_s = 60          # one tick per simulated minute
snapshot_every_s = 3600  # vault snapshots (equity, health, positions) every hour

[dashboard]
host = "127.0.0.1"
port = 8765

# One [[engines]] table per engine. Each runs one strategy with its own vault.
[[engines]]
id = "dn-sol"
strategy = "delta-neutral"
mode = "paper"           # "paper" (simulator, virtual USDC) or "live" (later)
vault = "dn-sol"         # vault name (default: the engine id)
capital_usdc = 10000.0   # virtual USDC allocated when the vault is created
enabled = true

[engines.params]         # the strategy's own config (see DeltaNeutralConfig)
market = "SOL-PERP"
entry_apr = 0.05         # enter when the expected funding APR exceeds 5%
exit_apr = 0.0           # exit when the carry stays below 0% ...
exit_window_hours = 24   # ... for 24 hours
lookback_hours = 24      # funding APR averaged over the last 24 hourly records
target_leverage = 0.9    # each leg's notional = 0.9 x vault equity
rebalance_band = 0.02    # rebalance when net delta > 2% of the hedged size
min_health = 20          # exit when account health falls below 20
allow_borrow = false     # allow the reverse carry (borrow spot) when funding < 0

[engines.risk]           # limits the engine enforces whatever the strategy does
health_floor = 25        # below: REDUCING, reduce-only orders ...
target_health = 50       # ... until health is back here
max_leverage = 3.0
max_drawdown = 0.25      # from the high-water mark: kill switch (flatten, HALTED)
max_order_notional_usdc = 1000000.0

[[engines]]
id = "dn-btc"
strategy = "delta-neutral"
capital_usdc = 10000.0

[engines.params]
market = "BTC-PERP"
"""


__all__ = [
    "DEFAULT_CONFIG_PATH",
    "EXAMPLE_CONFIG",
    "ConfigFileError",
    "DataSpec",
    "EngineSpec",
    "EnginesConfig",
    "load_config",
    "parse_config",
]
