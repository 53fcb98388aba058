"""The chain is the truth for markets: the catalog a live client trades with is built at
connect from the program's own PerpMarket and SpotMarket accounts.

For every market on chain (driftpy's `get_all_perp_market_accounts` /
`get_all_spot_market_accounts`, one `getProgramAccounts` each) the spec takes the
account's oracle and oracle source, order step/tick/min size, margin ratios, status and
fee adjustment (`MarketCatalog.with_account` for markets the configured catalog knows;
a spec made from the account alone — its name, decimals, mint — for the others: a
sub-account holding a market the built-in catalog never heard of still reads, values and
reduces it).

The configured catalog (driftpy's constants and the shipped mainnet parameters, or what
the operator gave) is an *expectation*: when the chain's oracle or oracle source of a
market differs from it, that market is **refused** for new orders with a message naming
both — prices read through an oracle nobody checked are not traded on — while its
positions are still valued at the chain's oracle (never at 0).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from drift_engine.core.markets import (
    MarketCatalog,
    MarketSpec,
    PerpParams,
    Provenance,
    SpotParams,
    UnknownMarketError,
)
from drift_engine.core.types import MarketType


def _variant(value: Any) -> str:
    return value if isinstance(value, str) else type(value).__name__


def market_name(account: Any) -> str:
    """The market's name as the program stores it (32 bytes, space padded)."""
    return bytes(account.name).decode("utf-8", errors="replace").strip(" \x00")


@dataclass(frozen=True, slots=True)
class ChainCatalog:
    """The catalog read from the chain and the markets refused for new orders."""

    catalog: MarketCatalog
    refused: dict[tuple[MarketType, int], str]

    def check_tradable(self, market_type: MarketType, market_index: int) -> None:
        """Raise `MarketRefusedError` for a refused market (before anything is sent)."""
        reason = self.refused.get((MarketType(market_type), market_index))
        if reason is not None:
            raise MarketRefusedError(reason)


class MarketRefusedError(ValueError):
    """New orders in a market whose on-chain identity conflicts with the expectation."""


def spec_from_account(account: Any, network: str) -> MarketSpec:
    """A market spec from its PerpMarket / SpotMarket account alone."""
    perp = hasattr(account, "amm")
    holder = account.amm if perp else account
    return MarketSpec(
        symbol=market_name(account) or f"{'PERP' if perp else 'SPOT'}-{account.market_index}",
        market_type=MarketType.PERP if perp else MarketType.SPOT,
        market_index=account.market_index,
        oracle=holder.oracle,
        oracle_source=holder.oracle_source,
        order_step_size=holder.order_step_size,
        order_tick_size=holder.order_tick_size,
        min_order_size=holder.min_order_size,
        status=_variant(account.status),
        decimals=9 if perp else account.decimals,
        mint=None if perp else account.mint,
        perp=PerpParams.from_account(account) if perp else None,
        spot=None if perp else SpotParams.from_account(account),
        provenance=Provenance(
            source=f"{'perp' if perp else 'spot'} market account {account.market_index} "
            "read from the chain (not in the configured catalog)",
            snapshot_ts=holder.last_funding_rate_ts if perp else account.last_interest_ts,
            network=network,
            verified=True,
            snapshot_oracle=str(holder.oracle),
            snapshot_oracle_source=_variant(holder.oracle_source),
        ),
    )


def catalog_from_accounts(
    perp_accounts: list[Any], spot_accounts: list[Any], expected: MarketCatalog
) -> ChainCatalog:
    """The chain's markets, checked against `expected` (see the module docstring)."""
    network = expected.env
    refused: dict[tuple[MarketType, int], str] = {}
    specs: list[MarketSpec] = []
    for accounts, mtype in ((perp_accounts, MarketType.PERP), (spot_accounts, MarketType.SPOT)):
        for account in sorted(accounts, key=lambda a: a.market_index):
            index = account.market_index
            holder = account.amm if mtype is MarketType.PERP else account
            try:
                want = expected.get(mtype, index)
            except UnknownMarketError:
                specs.append(spec_from_account(account, network))
                continue
            single = MarketCatalog([want], network).with_account(account)
            spec = single.get(mtype, index)
            spec = replace(spec, symbol=want.symbol, decimals=want.decimals, mint=want.mint)
            if str(holder.oracle) != str(want.oracle) or _variant(holder.oracle_source) != _variant(
                want.oracle_source
            ):
                refused[(mtype, index)] = (
                    f"market {want.symbol} ({mtype.value} {index}): the chain reads oracle "
                    f"{holder.oracle} ({_variant(holder.oracle_source)}), the configured "
                    f"catalog expects {want.oracle} ({_variant(want.oracle_source)}); new "
                    "orders in it are refused until the expectation is corrected"
                )
            specs.append(spec)
    return ChainCatalog(MarketCatalog(specs, network), refused)


__all__ = [
    "ChainCatalog",
    "MarketRefusedError",
    "catalog_from_accounts",
    "market_name",
    "spec_from_account",
]
