"""Market symbols and indexes, from driftpy's mainnet market constants (identity only).

driftpy is imported on first use: importing it takes seconds, and `--help` should not.
"""

from __future__ import annotations

from functools import cache


@cache
def _mainnet() -> object:
    from driftpy.constants.config import configs

    return configs["mainnet"]


@cache
def _perp_by_index() -> dict[int, str]:
    return {m.market_index: m.symbol for m in _mainnet().perp_markets}  # type: ignore[attr-defined]


@cache
def _spot_by_index() -> dict[int, str]:
    return {m.market_index: m.symbol for m in _mainnet().spot_markets}  # type: ignore[attr-defined]


def perp_symbol(market_index: int) -> str | None:
    return _perp_by_index().get(market_index)


def spot_symbol(market_index: int) -> str | None:
    return _spot_by_index().get(market_index)


def perp_index(symbol: str) -> int | None:
    wanted = symbol.upper()
    return next((i for i, s in _perp_by_index().items() if s.upper() == wanted), None)


def spot_index(symbol: str) -> int | None:
    wanted = symbol.upper()
    return next((i for i, s in _spot_by_index().items() if s.upper() == wanted), None)


def market_index(symbol: str) -> int | None:
    """Drift's index for a perp ("SOL-PERP") or spot ("SOL") symbol; None if unknown."""
    return perp_index(symbol) if symbol.upper().endswith("-PERP") else spot_index(symbol)


def canonical(symbol: str) -> str:
    """Drift's spelling of a known symbol ("sol-perp" -> "SOL-PERP", "wbtc" -> "wBTC")."""
    index = market_index(symbol)
    if index is None:
        return symbol.upper()
    return perp_symbol(index) if symbol.upper().endswith("-PERP") else spot_symbol(index)  # type: ignore[return-value]


__all__ = [
    "canonical",
    "market_index",
    "perp_index",
    "perp_symbol",
    "spot_index",
    "spot_symbol",
]
