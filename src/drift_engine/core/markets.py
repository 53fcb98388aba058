"""The market catalog: what the builder and the simulator need to know about each market.

Every parameter comes from a real mainnet account, with its date and source beside it:
`params/mainnet_markets.jsonl` ships the bytes of the latest mainnet PerpMarket /
SpotMarket account we have for each market (accounts Drift's developers pasted into
drift-labs/protocol-v2's unit tests; scripts/build_market_params.py picks them), and the
catalog decodes them with driftpy's IDL when it is first built. Margin ratios (incl.
high leverage mode), IMF factors, uPnL weights, liquidation fees, order step/tick/min
size, contract tier, fee adjustment, spot weights and the interest-rate curve are the
account's own values; `Provenance` says from which account and when.

Identity (index, account address, mint) and the oracle the market reads *today* come
from driftpy's constants: an old snapshot's oracle (e.g. Pyth v1 before the move to Pyth
Lazer) no longer exists on chain. Where the two differ, `Provenance.note` says so and
`drift-engine markets` shows it. Market account data read from the chain
(`MarketCatalog.with_account`) always wins over the snapshot.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any, Literal

from driftpy.addresses import get_perp_market_public_key, get_spot_market_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID, configs
from driftpy.types import OracleSource
from solders.pubkey import Pubkey

from drift_engine.core.types import MarketType

DriftEnv = Literal["mainnet", "devnet"]

#: Status names of Drift's MarketStatus enum under which new risk may be taken.
ACTIVE_STATUSES = frozenset({"Active"})


class UnknownMarketError(KeyError):
    """Raised for a market symbol or index the catalog does not know."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0])


def _variant_name(value: Any) -> str:
    """Name of a driftpy/anchorpy enum variant (e.g. "Active"), or the string itself."""
    return value if isinstance(value, str) else type(value).__name__


@dataclass(frozen=True, slots=True)
class Provenance:
    """Where a market's parameters come from.

    `snapshot_ts` is the account's own clock (`amm.last_funding_rate_ts` for a perp,
    `last_interest_ts` for a spot market); `verified` is True only for values decoded
    from a real mainnet account (or read from the chain).
    """

    source: str
    snapshot_ts: int | None
    network: str
    verified: bool
    snapshot_oracle: str = ""
    snapshot_oracle_source: str = ""
    note: str = ""

    @property
    def snapshot_date(self) -> str:
        if self.snapshot_ts is None:
            return "-"
        return datetime.fromtimestamp(self.snapshot_ts, UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class PerpParams:
    """A PerpMarket's risk and fee parameters (fields of the same names on the account;
    `funding_period` and `max_open_interest` live in its AMM). Precisions: margin ratios
    and uPnL weights MARGIN 1e4, IMF factors 1e6, liquidation fees 1e6, open interest
    BASE 1e9, `fee_adjustment` percent (-100 … +100)."""

    contract_tier: str
    contract_type: str
    margin_ratio_initial: int
    margin_ratio_maintenance: int
    high_leverage_margin_ratio_initial: int
    high_leverage_margin_ratio_maintenance: int
    imf_factor: int
    unrealized_pnl_imf_factor: int
    unrealized_pnl_initial_asset_weight: int
    unrealized_pnl_maintenance_asset_weight: int
    unrealized_pnl_max_imbalance: int
    liquidator_fee: int
    if_liquidation_fee: int
    fee_adjustment: int
    funding_period: int
    max_open_interest: int
    quote_spot_market_index: int = 0

    #: Fields stored on the AMM rather than on the PerpMarket itself.
    AMM_FIELDS = ("funding_period", "max_open_interest")

    @classmethod
    def from_account(cls, account: Any) -> PerpParams:
        values: dict[str, Any] = {}
        for f in fields(cls):
            owner = account.amm if f.name in cls.AMM_FIELDS else account
            values[f.name] = getattr(owner, f.name)
        values["contract_tier"] = _variant_name(values["contract_tier"])
        values["contract_type"] = _variant_name(values["contract_type"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class SpotParams:
    """A SpotMarket's risk, fee and interest parameters. Weights SPOT_WEIGHT 1e4, IMF
    1e6, liquidation fees 1e6, `optimal_utilization` and borrow rates 1e6 (SPOT_RATE;
    `min_borrow_rate` in 0.5 % steps, /200), `scale_initial_asset_weight_start` QUOTE."""

    asset_tier: str
    initial_asset_weight: int
    maintenance_asset_weight: int
    initial_liability_weight: int
    maintenance_liability_weight: int
    imf_factor: int
    liquidator_fee: int
    if_liquidation_fee: int
    optimal_utilization: int
    optimal_borrow_rate: int
    max_borrow_rate: int
    min_borrow_rate: int
    scale_initial_asset_weight_start: int
    max_token_deposits: int
    fee_adjustment: int
    orders_enabled: bool

    @classmethod
    def from_account(cls, account: Any) -> SpotParams:
        values = {f.name: getattr(account, f.name) for f in fields(cls)}
        values["asset_tier"] = _variant_name(values["asset_tier"])
        return cls(**values)


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One market's identity, order rules and parameters, in Drift's integer precisions.

    Sizes are in the market's base precision (perp: BASE 1e9; spot: 10^decimals), the
    tick in PRICE precision (1e6). `perp` / `spot` hold the risk parameters of a perp /
    spot market (None only for hand-built specs in tests).
    """

    symbol: str
    market_type: MarketType
    market_index: int
    oracle: Pubkey
    oracle_source: Any
    order_step_size: int
    order_tick_size: int
    min_order_size: int
    status: str = "Active"
    decimals: int = 9
    mint: Pubkey | None = None
    perp: PerpParams | None = None
    spot: SpotParams | None = None
    provenance: Provenance | None = None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def account_pubkey(self) -> Pubkey:
        """Address of the PerpMarket / SpotMarket account (a PDA of the Drift program)."""
        if self.market_type is MarketType.PERP:
            return get_perp_market_public_key(DRIFT_PROGRAM_ID, self.market_index)
        return get_spot_market_public_key(DRIFT_PROGRAM_ID, self.market_index)


# --------------------------------------------------------------------------- snapshots


@dataclass(frozen=True, slots=True)
class AccountSnapshot:
    """One shipped mainnet account: its decoded object and where it comes from."""

    market_type: MarketType
    symbol: str
    market_index: int
    snapshot_ts: int
    network: str
    repo: str
    path: str
    commit: str
    account: Any

    @property
    def source(self) -> str:
        return f"{self.repo} {self.path} @ {self.commit[:10]}"


@cache
def load_mainnet_snapshots() -> tuple[AccountSnapshot, ...]:
    """The shipped mainnet PerpMarket/SpotMarket accounts, decoded with driftpy's IDL."""
    from drift_engine.core.program import decode_account

    text = resources.files("drift_engine.core").joinpath("params/mainnet_markets.jsonl")
    out = []
    for line in text.read_text().splitlines():
        entry = json.loads(line)
        account = decode_account(base64.b64decode(entry["b64"]))
        out.append(
            AccountSnapshot(
                market_type=MarketType.PERP if entry["kind"] == "perp" else MarketType.SPOT,
                symbol=entry["symbol"],
                market_index=account.market_index,
                snapshot_ts=entry["snapshot_ts"],
                network=entry["network"],
                repo=entry["repo"],
                path=entry["path"],
                commit=entry["commit"],
                account=account,
            )
        )
    return tuple(out)


def _spec_from_snapshot(snap: AccountSnapshot, config: Any) -> MarketSpec:
    account = snap.account
    perp = snap.market_type is MarketType.PERP
    holder = account.amm if perp else account
    snap_oracle, snap_source = holder.oracle, holder.oracle_source
    note = ""
    if str(snap_oracle) != str(config.oracle) or _variant_name(snap_source) != _variant_name(
        config.oracle_source
    ):
        note = (
            f"oracle from driftpy's current config ({_variant_name(config.oracle_source)}); "
            f"the snapshot read {_variant_name(snap_source)} {str(snap_oracle)[:8]}…"
        )
    provenance = Provenance(
        source=snap.source,
        snapshot_ts=snap.snapshot_ts,
        network=snap.network,
        verified=snap.network.startswith("mainnet"),
        snapshot_oracle=str(snap_oracle),
        snapshot_oracle_source=_variant_name(snap_source),
        note=note,
    )
    decimals = 9 if perp else account.decimals
    if not perp and config.decimals is not None and config.decimals != decimals:
        raise ValueError(
            f"{snap.symbol}: the snapshot has {decimals} decimals, driftpy {config.decimals}"
        )
    return MarketSpec(
        symbol=config.symbol,
        market_type=snap.market_type,
        market_index=snap.market_index,
        oracle=config.oracle,
        oracle_source=config.oracle_source,
        order_step_size=holder.order_step_size,
        order_tick_size=holder.order_tick_size,
        min_order_size=holder.min_order_size,
        status=_variant_name(account.status),
        decimals=decimals,
        mint=None if perp else config.mint,
        perp=PerpParams.from_account(account) if perp else None,
        spot=None if perp else SpotParams.from_account(account),
        provenance=provenance,
    )


class MarketCatalog:
    """Markets by (type, index) and by symbol; immutable once built."""

    def __init__(self, markets: list[MarketSpec], env: DriftEnv = "mainnet") -> None:
        self.env = env
        self._by_key = {(m.market_type, m.market_index): m for m in markets}
        self._by_symbol = {m.symbol.upper(): m for m in markets}

    @classmethod
    def from_constants(cls, env: DriftEnv = "mainnet") -> MarketCatalog:
        """Every market with a shipped mainnet snapshot; identities from driftpy's `env`
        config (on devnet: the markets of the same index and symbol)."""
        return _catalog(env)

    def with_account(self, account: Any) -> MarketCatalog:
        """A new catalog where one market's rules and parameters come from its
        PerpMarket/SpotMarket account (e.g. just read from the chain)."""
        if hasattr(account, "amm"):
            key = (MarketType.PERP, account.market_index)
            holder = account.amm
        else:
            key = (MarketType.SPOT, account.market_index)
            holder = account
        old = self._by_key.get(key)
        if old is None:
            raise UnknownMarketError(
                f"market_index {key[1]} ({key[0].value}) is not in the catalog"
            )
        perp = key[0] is MarketType.PERP
        new = replace(
            old,
            order_step_size=holder.order_step_size,
            order_tick_size=holder.order_tick_size,
            min_order_size=holder.min_order_size,
            oracle=holder.oracle,
            oracle_source=holder.oracle_source,
            status=_variant_name(account.status),
            perp=PerpParams.from_account(account) if perp else None,
            spot=None if perp else SpotParams.from_account(account),
            provenance=Provenance(
                source=f"{key[0].value} market account {key[1]} as given (chain read)",
                snapshot_ts=holder.last_funding_rate_ts if perp else account.last_interest_ts,
                network=self.env,
                verified=True,
                snapshot_oracle=str(holder.oracle),
                snapshot_oracle_source=_variant_name(holder.oracle_source),
            ),
        )
        markets = [new if m is old else m for m in self._by_key.values()]
        return MarketCatalog(markets, self.env)

    def get(self, market_type: MarketType, market_index: int) -> MarketSpec:
        try:
            return self._by_key[(market_type, market_index)]
        except KeyError:
            raise UnknownMarketError(
                f"market_index {market_index} is not a known {market_type.value} market "
                f"(known: {sorted(i for t, i in self._by_key if t is market_type)})"
            ) from None

    def by_symbol(self, symbol: str) -> MarketSpec:
        try:
            return self._by_symbol[symbol.upper()]
        except KeyError:
            raise UnknownMarketError(
                f"market {symbol!r} is not in the catalog (known: {sorted(self._by_symbol)})"
            ) from None

    def perp_markets(self) -> list[MarketSpec]:
        return sorted(
            (m for m in self._by_key.values() if m.market_type is MarketType.PERP),
            key=lambda m: m.market_index,
        )

    def spot_markets(self) -> list[MarketSpec]:
        return sorted(
            (m for m in self._by_key.values() if m.market_type is MarketType.SPOT),
            key=lambda m: m.market_index,
        )

    def __iter__(self):
        ordered = sorted(self._by_key.values(), key=lambda m: (m.market_type.value, m.market_index))
        return iter(ordered)

    def __len__(self) -> int:
        return len(self._by_key)


@cache
def _catalog(env: DriftEnv) -> MarketCatalog:
    config = configs[env]
    perp_cfg = {c.market_index: c for c in config.perp_markets}
    spot_cfg = {c.market_index: c for c in config.spot_markets}
    markets: list[MarketSpec] = []
    for snap in load_mainnet_snapshots():
        cfgs = perp_cfg if snap.market_type is MarketType.PERP else spot_cfg
        cfg = cfgs.get(snap.market_index)
        if cfg is None or (env != "mainnet" and cfg.symbol.upper() != snap.symbol.upper()):
            continue  # not listed in this environment
        spec = _spec_from_snapshot(snap, cfg)
        if env != "mainnet":
            note = f"{env} market with mainnet parameters"
            spec = replace(spec, provenance=replace(spec.provenance, note=note))
        markets.append(spec)
    return MarketCatalog(markets, env)


__all__ = [
    "AccountSnapshot",
    "DriftEnv",
    "MarketCatalog",
    "MarketSpec",
    "OracleSource",
    "PerpParams",
    "Provenance",
    "SpotParams",
    "UnknownMarketError",
    "load_mainnet_snapshots",
]
