"""The market catalog: what the builder and the simulator need to know about each market.

Identity (index, oracle, oracle source, mint) comes from driftpy's mainnet/devnet
constants; trading rules (step, tick, minimum size, status) come from the versioned
parameter file `params/markets.json` or, when available, from market account data read
from the chain (`MarketCatalog.with_account`), which always wins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
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


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One market's identity and order rules, in Drift's integer precisions.

    Sizes are in the market's base precision (perp: BASE 1e9; spot: 10^decimals), the
    tick in PRICE precision (1e6).
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

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    @property
    def account_pubkey(self) -> Pubkey:
        """Address of the PerpMarket / SpotMarket account (a PDA of the Drift program)."""
        if self.market_type is MarketType.PERP:
            return get_perp_market_public_key(DRIFT_PROGRAM_ID, self.market_index)
        return get_spot_market_public_key(DRIFT_PROGRAM_ID, self.market_index)


@cache
def load_market_params() -> dict[str, Any]:
    """The versioned real market parameters shipped with the package."""
    text = resources.files("drift_engine.core").joinpath("params/markets.json").read_text()
    return json.loads(text)


def _status_name(status: Any) -> str:
    """Name of a driftpy/anchorpy MarketStatus variant (e.g. "Active")."""
    return type(status).__name__ if not isinstance(status, str) else status


class MarketCatalog:
    """Markets by (type, index) and by symbol; immutable once built."""

    def __init__(self, markets: list[MarketSpec], env: DriftEnv = "mainnet") -> None:
        self.env = env
        self._by_key = {(m.market_type, m.market_index): m for m in markets}
        self._by_symbol = {m.symbol.upper(): m for m in markets}

    @classmethod
    def from_constants(cls, env: DriftEnv = "mainnet") -> MarketCatalog:
        """Catalog of the markets in `params/markets.json`, identities from driftpy's env."""
        params = load_market_params()
        config = configs[env]
        perp_cfg = {c.market_index: c for c in config.perp_markets}
        spot_cfg = {c.market_index: c for c in config.spot_markets}
        markets: list[MarketSpec] = []
        for p in params["perp"]:
            c = perp_cfg[p["market_index"]]
            markets.append(
                MarketSpec(
                    symbol=c.symbol,
                    market_type=MarketType.PERP,
                    market_index=c.market_index,
                    oracle=c.oracle,
                    oracle_source=c.oracle_source,
                    order_step_size=p["order_step_size"],
                    order_tick_size=p["order_tick_size"],
                    min_order_size=p["min_order_size"],
                    status=p["status"],
                    decimals=9,
                )
            )
        for p in params["spot"]:
            c = spot_cfg[p["market_index"]]
            markets.append(
                MarketSpec(
                    symbol=c.symbol,
                    market_type=MarketType.SPOT,
                    market_index=c.market_index,
                    oracle=c.oracle,
                    oracle_source=c.oracle_source,
                    order_step_size=p["order_step_size"],
                    order_tick_size=p["order_tick_size"],
                    min_order_size=p["min_order_size"],
                    status=p["status"],
                    decimals=c.decimals if c.decimals is not None else p["decimals"],
                    mint=c.mint,
                )
            )
        return cls(markets, env)

    def with_account(self, account: Any) -> MarketCatalog:
        """A new catalog where one market's rules come from its PerpMarket/SpotMarket account."""
        if hasattr(account, "amm"):
            key = (MarketType.PERP, account.market_index)
            step, tick = account.amm.order_step_size, account.amm.order_tick_size
            min_size, oracle = account.amm.min_order_size, account.amm.oracle
            oracle_source = account.amm.oracle_source
        else:
            key = (MarketType.SPOT, account.market_index)
            step, tick, min_size = (
                account.order_step_size,
                account.order_tick_size,
                account.min_order_size,
            )
            oracle, oracle_source = account.oracle, account.oracle_source
        old = self._by_key.get(key)
        if old is None:
            raise UnknownMarketError(
                f"market_index {key[1]} ({key[0].value}) is not in the catalog"
            )
        new = replace(
            old,
            order_step_size=step,
            order_tick_size=tick,
            min_order_size=min_size,
            oracle=oracle,
            oracle_source=oracle_source,
            status=_status_name(account.status),
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


__all__ = [
    "DriftEnv",
    "MarketCatalog",
    "MarketSpec",
    "OracleSource",
    "UnknownMarketError",
    "load_market_params",
]
