"""The engines' TOML config file: which engines run, on which market data, how fast.

`drift-engine init` writes `EXAMPLE_CONFIG` (commented). Loading validates everything
with pydantic (unknown keys and bad values are errors that name the key, e.g.
`engines[0].params.entry_apr`); each engine's `params` are validated by its strategy's
own config model, and its `risk` by `RiskLimits`. Database location and data directory
come from `drift_engine.config.Settings` (environment), not from this file.

Environment overrides: `DRIFT_ENGINE_CONFIG` names the file (default
./drift-engine.toml), and a variable `DRIFT_ENGINE__<SECTION>__<KEY>...` replaces one
key: parts separated by double underscores, case-insensitive, list items by their index
(`DRIFT_ENGINE__DATA__SEED=11`, `DRIFT_ENGINE__ENGINES__0__PARAMS__ENTRY_APR=0.08`,
`DRIFT_ENGINE__ENGINES__1__ENABLED=false`). The value is read as a TOML value (`0.08`,
`true`, `"text"`), or as a plain string when it is not one (`SOL-PERP`). An override of
an unknown key, or with a bad value, is an error naming the variable and the key.
"""

from __future__ import annotations

import copy
import math
import re
import tomllib
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from drift_engine.core.errors import DriftEngineError
from drift_engine.engine.admission import AdmissionError, check_capital, check_perp
from drift_engine.engine.execution import ExecutionConfig
from drift_engine.notify import NotifyConfig
from drift_engine.risk.limits import RiskLimits
from drift_engine.strategies import StrategyLoadError, strategy_class

DEFAULT_CONFIG_PATH = Path("drift-engine.toml")
#: A config file is a few kilobytes; anything this large is not one.
MAX_CONFIG_BYTES = 1_000_000
#: The vault registry's names (vaults/registry.py): never all digits, so "3" is an id.
VAULT_NAME = re.compile(r"^(?!\d+$)[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
#: Reserved by the Global Vault System for the paper treasury (vaults/vault.py).
TREASURY = "treasury"


class ConfigFileError(DriftEngineError, ValueError):
    """A key of the config file is unknown or has a bad value; `key` names it."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        super().__init__(f"{key}: {message}")


class _Strict(BaseModel):
    """Config tables: unknown keys are errors, and `load_config` validates in strict mode
    (a boolean is not a number, a float is not an integer, text is not a number)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class EngineSpec(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str | None = Field(
        None, min_length=1, max_length=64, description="Display name; default: the id"
    )
    strategy: str = "delta-neutral"
    mode: Literal["paper", "live"] = "paper"
    vault: str | None = Field(None, description="Vault name; default: the engine id")
    capital_usdc: float = Field(
        10_000.0,
        gt=0,
        allow_inf_nan=False,
        description="Virtual USDC for a new vault (finite, at most 6 decimals, at least "
        "the market's minimum order notional, at most 1e9)",
    )
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)
    risk: RiskLimits = Field(default_factory=RiskLimits)
    execution: ExecutionConfig = Field(
        default_factory=ExecutionConfig,
        description="Live engines: how takers are priced (worst-price band, auction, max_ts)",
    )
    unknown_orders: Literal["cancel", "adopt"] = Field(
        "cancel",
        description="Live engines, at start: chain orders the engine does not know are "
        "cancelled, or adopted as EXTERNAL (docs/reconciliation.md rule 4)",
    )

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, v: str) -> str:
        # a built-in or installed name, `module:Class` or `path/to/file.py:Class`
        try:
            strategy_class(v)
        except StrategyLoadError as exc:
            raise ValueError(str(exc).removeprefix(f"strategy {v!r}: ")) from None
        return v

    @property
    def vault_name(self) -> str:
        return self.vault or self.id

    def strategy_config(self) -> Any:
        return strategy_class(self.strategy).config_model.model_validate(self.params)


class DataSpec(_Strict):
    source: Literal["bundled", "store", "synthetic"] = "bundled"
    start: str | None = Field(None, description="ISO date; default: start of the data")
    seed: int = Field(7, ge=0, le=2**63 - 1)
    speed: float = Field(3600.0, gt=0, le=1e12, description="Simulated seconds per wall second")

    @field_validator("start", mode="before")
    @classmethod
    def _iso_date(cls, v: Any) -> Any:
        if isinstance(v, (date, datetime)):  # TOML's own date: start = 2026-01-10
            return v.isoformat()
        if not isinstance(v, str):
            return v
        try:
            datetime.fromisoformat(v)
        except ValueError:
            try:
                date.fromisoformat(v)
            except ValueError:
                raise ValueError(f"{v!r} is not an ISO date (YYYY-MM-DD)") from None
        return v


class HeartbeatSpec(_Strict):
    interval_s: int = Field(60, ge=1, le=86_400)
    snapshot_every_s: int = Field(3600, ge=1, le=30 * 86_400)
    lease_s: float = Field(
        30.0, ge=1, le=3600, description="How long a runner's lease on its engines lives"
    )


class DashboardSpec(_Strict):
    serve: bool = Field(False, description="`drift-engine run` also serves the dashboard")
    host: str = Field("127.0.0.1", min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$")
    port: int = Field(8765, ge=1, le=65535)


class RpcSpec(_Strict):
    url: str = Field("http://127.0.0.1:8899", description="Solana JSON-RPC for live engines")

    @field_validator("url")
    @classmethod
    def _http_url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{v!r} is not an http(s) URL, e.g. http://127.0.0.1:8899")
        try:
            parts.port  # noqa: B018 - raises on a bad port
        except ValueError as exc:
            raise ValueError(f"{v!r} has a bad port: {exc}") from None
        return v

    network: Literal["mainnet", "devnet", "localnet"] = "mainnet"
    compute_unit_price: int | None = Field(
        None,
        ge=0,
        description="Fixed priority fee, micro-lamports/CU (unset: from recent fees)",
    )
    priority_fee_percentile: int = Field(
        75, ge=1, le=100, description="Percentile of recent fees on the written accounts"
    )
    max_compute_unit_price: int = Field(
        2_000_000, ge=0, description="Cap on the dynamic priority fee, micro-lamports/CU"
    )


class EnginesConfig(_Strict):
    live: bool = Field(False, description="Allow engines with mode = 'live' (real money)")
    rpc: RpcSpec = Field(default_factory=RpcSpec)
    data: DataSpec = Field(default_factory=DataSpec)
    heartbeat: HeartbeatSpec = Field(default_factory=HeartbeatSpec)
    dashboard: DashboardSpec = Field(default_factory=DashboardSpec)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    engines: list[EngineSpec] = Field(default_factory=list)


def _key(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "config"


def _message(err: Any) -> str:
    return str(err["msg"]).removeprefix("Value error, ")


def _non_finite(node: Any, loc: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Keys holding `inf` or `nan` (TOML has both): no config value means either."""
    if isinstance(node, float) and not math.isfinite(node):
        yield loc
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _non_finite(v, (*loc, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _non_finite(v, (*loc, i))


def parse_config(data: dict[str, Any]) -> EnginesConfig:
    """Validate a parsed TOML document; the first error names its key.

    Strict types (a boolean is not a number), finite numbers only, and the checks that
    span keys: engine ids and vault names unique, no engine on the treasury, each
    engine's market named explicitly, known, and covered by `[data] source`, its capital
    within bounds for that market (engine/admission.py)."""
    for loc in _non_finite(data):
        raise ConfigFileError(_key(loc), "must be a finite number (not inf or nan)")
    try:
        cfg = EnginesConfig.model_validate(data, strict=True)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise ConfigFileError(_key(err["loc"]), _message(err)) from None
    ids: set[str] = set()
    vaults: dict[str, int] = {}
    for i, spec in enumerate(cfg.engines):
        if spec.id in ids:
            raise ConfigFileError(f"engines[{i}].id", f"duplicate engine id {spec.id!r}")
        ids.add(spec.id)
        if spec.id == TREASURY:
            raise ConfigFileError(f"engines[{i}].id", f"{TREASURY!r} is reserved for the treasury")
        vault_key = f"engines[{i}].vault" if spec.vault is not None else f"engines[{i}].id"
        if spec.vault_name == TREASURY:
            raise ConfigFileError(vault_key, f"vault {TREASURY!r} is reserved for the treasury")
        if not VAULT_NAME.match(spec.vault_name):
            raise ConfigFileError(
                vault_key,
                f"vault name {spec.vault_name!r} must be letters, digits, _ . - and not all "
                "digits (set `vault` to a name)",
            )
        if spec.vault_name in vaults:
            other = vaults[spec.vault_name]
            raise ConfigFileError(
                vault_key,
                f"vault {spec.vault_name!r} is already engines[{other}]'s; each engine needs "
                "its own vault",
            )
        vaults[spec.vault_name] = i
    for i, spec in enumerate(cfg.engines):
        model = strategy_class(spec.strategy).config_model
        try:
            strategy_config = model.model_validate(spec.params, strict=True)
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ("engines", i, "params", *err["loc"])
            raise ConfigFileError(_key(loc), _message(err)) from None
        for name in model.model_fields:  # no silent default market: SOL-PERP, BTC-PERP ...
            if (name == "market" or name.endswith("_market")) and name not in spec.params:
                raise ConfigFileError(
                    f"engines[{i}].params.{name}",
                    f'missing: name the perp market this engine trades, e.g. {name} = "SOL-PERP"',
                )
        markets = strategy_class(spec.strategy)(strategy_config).markets()
        source = cfg.data.source if spec.mode == "paper" else None
        for market in markets:
            try:
                check_perp(market, source=source)
            except AdmissionError as exc:
                raise ConfigFileError(f"engines[{i}].params.market", str(exc)) from None
        if spec.mode == "paper":
            try:  # enough for the minimum order of every market it trades
                for market in markets or [None]:
                    check_capital(spec.capital_usdc, market)
            except AdmissionError as exc:
                raise ConfigFileError(f"engines[{i}].capital_usdc", str(exc)) from None
    return cfg


def resolve_config_path(path: Path | str | None = None) -> Path:
    """`path` when given, else `DRIFT_ENGINE_CONFIG`, else ./drift-engine.toml."""
    if path is not None:
        return Path(path)
    from drift_engine.config import ConfigError, load_settings

    try:
        configured = load_settings().config
    except ConfigError as exc:
        raise ConfigFileError(exc.key, str(exc).removeprefix(f"{exc.key}: ")) from None
    return configured or DEFAULT_CONFIG_PATH


def _override_value(raw: str) -> Any:
    """A TOML value (`0.08`, `true`, `"x"`, `[1, 2]`), else the text itself."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_overrides(
    data: dict[str, Any], environ: Mapping[str, str] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """`data` with the `DRIFT_ENGINE__...` variables of `environ` applied, and which
    variable set which key (`engines[0].params.entry_apr` -> variable name)."""
    from drift_engine.config import config_override_path, config_overrides

    data = copy.deepcopy(data)
    origins: dict[str, str] = {}
    for variable, raw in sorted(config_overrides(environ).items()):
        parts = config_override_path(variable)
        if not all(parts):
            raise ConfigFileError(variable, "malformed override name (empty part)")
        node: Any = data
        loc: list[Any] = []
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    where = _key(tuple(loc))
                    raise ConfigFileError(
                        variable,
                        f"{where} has {len(node)} item(s); {part!r} is not one of their "
                        "indexes (override list items by index: ..._ENGINES__0__...)",
                    )
                index = int(part)
                loc.append(index)
                if last:
                    node[index] = _override_value(raw)
                else:
                    node = node[index]
            elif isinstance(node, dict):
                loc.append(part)
                if last:
                    node[part] = _override_value(raw)
                else:
                    child = node.setdefault(part, {})
                    if not isinstance(child, (dict, list)):
                        raise ConfigFileError(
                            variable, f"{_key(tuple(loc))} is a value, not a table"
                        )
                    node = child
            else:  # pragma: no cover - guarded above
                raise ConfigFileError(variable, f"{_key(tuple(loc))} is not a table")
        origins[_key(tuple(loc))] = variable
    return data, origins


def load_config(
    path: Path | str | None = None, *, environ: Mapping[str, str] | None = None
) -> EnginesConfig:
    """The config file at `path` (default: `DRIFT_ENGINE_CONFIG`, else ./drift-engine.toml)
    with the environment's `DRIFT_ENGINE__...` overrides applied, validated."""
    path = resolve_config_path(path)
    data = _read_toml(path)
    data, origins = apply_overrides(data, environ)
    try:
        return parse_config(data)
    except ConfigFileError as exc:
        variable = _origin(exc.key, origins)
        if variable is None:
            raise
        message = str(exc).removeprefix(f"{exc.key}: ")
        raise ConfigFileError(f"{variable} ({exc.key})", message) from None


def _read_toml(path: Path) -> dict[str, Any]:
    """The TOML document at `path`; every way a file can be wrong is one ConfigFileError
    naming it (missing, a directory, unreadable, too large, not UTF-8, not TOML)."""
    if not path.exists():
        raise ConfigFileError("config", f"{path} does not exist (create it: drift-engine init)")
    if path.is_dir():
        raise ConfigFileError("config", f"{path} is a directory, not a TOML file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigFileError("config", f"cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigFileError("config", f"{path} is {len(raw):,} bytes; not a config file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigFileError(
            "config", f"{path} is not UTF-8 text (byte {exc.start}: {raw[exc.start]:#04x})"
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigFileError("config", f"{path} is not valid TOML: {exc}") from None


def _origin(key: str, origins: dict[str, str]) -> str | None:
    """The override variable that set `key`, a table above it, or (a table the override
    created, e.g. a misspelt section) a key below it."""
    for set_key, variable in origins.items():
        if key == set_key or key.startswith((set_key + ".", set_key + "[")):
            return variable
    for set_key, variable in origins.items():
        if set_key.startswith((key + ".", key + "[")):
            return variable
    return None


EXAMPLE_CONFIG = """\
# drift-engine configuration (TOML). Written by `drift-engine init`.
# Unknown keys and bad values are errors that name the key.
# Where the database lives comes from the environment (DATABASE_URL,
# DRIFT_ENGINE_DATA_DIR), never from this file; keys never go in here either.
#
# Environment overrides:
#   DRIFT_ENGINE_CONFIG=path/to/file.toml      which file `drift-engine run` reads
#                                              (default: ./drift-engine.toml)
#   DRIFT_ENGINE__<SECTION>__<KEY>=value        replaces one key of this file: parts
#                                              joined by double underscores, any case,
#                                              [[engines]] items by index from 0
#   e.g. DRIFT_ENGINE__DATA__SEED=11
#        DRIFT_ENGINE__DATA__SOURCE=synthetic
#        DRIFT_ENGINE__ENGINES__0__PARAMS__ENTRY_APR=0.08
#        DRIFT_ENGINE__ENGINES__1__ENABLED=false
# Values are TOML values (0.08, true, "text"); anything else is taken as text.
# An unknown key or a bad value is an error naming the variable and the key.

[data]
# Market data the paper engines trade on:
#   "bundled"   - Drift's real hourly funding records with their hourly oracle TWAPs as
#                 prices (SOL-PERP 2025-04-14..2026-04-01, BTC-PERP ..2026-02-02); other
#                 markets: the synthetic market, labelled synthetic
#   "store"     - what `drift-engine data import` / `data synth` stored in the data dir
#   "synthetic" - seeded synthetic prices and funding
# (`drift-engine run --source PATH` replays a data file or folder; `--bridge 60` adds a
# labelled synthetic 1-minute path between the real hourly prices.)
source = "bundled"
# start = "2025-06-01"   # ISO date; default: the start of the data
seed = 7
speed = 3600.0           # simulated seconds per wall-clock second (1.0 = real time)

[heartbeat]
interval_s = 60          # one tick per simulated minute
snapshot_every_s = 3600  # vault snapshots (equity, health, positions) every hour
# lease_s = 30.0         # one runner per engine: a second `run` waits this long after
                         # the first one died before it takes the engines over

[dashboard]
serve = false            # true: `drift-engine run` also serves the dashboard here
host = "127.0.0.1"       # (`run --port P` serves it on port P whatever `serve` says)
port = 8765

# One [[engines]] table per engine. Each runs one strategy with its own vault.
[[engines]]
id = "dn-sol"
name = "Delta-neutral SOL" # display name on the dashboard (default: the id)
strategy = "delta-neutral"
mode = "paper"           # "paper" (simulator, virtual USDC) or "live" (see the end)
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
name = "Delta-neutral BTC"
strategy = "delta-neutral"
capital_usdc = 10000.0

[engines.params]
market = "BTC-PERP"

# ---------------------------------------------------------------------------- LIVE
# Real money: a live engine trades a Drift sub-account on chain. Everything below is
# commented out; read it all before uncommenting. Live and paper engines run in
# separate configs (a second file, e.g. drift-engine-live.toml).
#
# 1. The keypair that signs is a Solana CLI keypair file, named by the environment and
#    never by this file (keys and their paths stay out of configs and the database):
#      export DRIFT_ENGINE_KEYPAIR_PATH=~/.config/solana/id.json   # chmod 600 it
# 2. The RPC (a read+write Solana JSON-RPC endpoint of your own provider):
# live = true              # without it, mode = "live" is refused
#
# [rpc]
# url = "https://your-rpc.example"   # default http://127.0.0.1:8899 (drift-engine localnet)
# network = "mainnet"      # mainnet, devnet or localnet
# compute_unit_price = 0   # priority fee, micro-lamports per compute unit
#
# 3. The engine, booking into an ON_CHAIN vault (created with
#    drift-engine vaults create carry-live --engine dn-sol-live --type on_chain \\
#      --network mainnet --authority <YOUR WALLET PUBKEY> --sub-account 1
#    and funded with drift-engine vaults deposit carry-live 1,000):
# [[engines]]
# id = "dn-sol-live"
# strategy = "delta-neutral"
# mode = "live"
# vault = "carry-live"
#
# [engines.params]
# market = "SOL-PERP"
#
# Try it first against the local chain: `drift-engine localnet` serves a simulated
# Drift on http://127.0.0.1:8899 (network = "localnet").
"""


__all__ = [
    "DEFAULT_CONFIG_PATH",
    "EXAMPLE_CONFIG",
    "ConfigFileError",
    "DataSpec",
    "EngineSpec",
    "EnginesConfig",
    "apply_overrides",
    "load_config",
    "parse_config",
    "resolve_config_path",
]
