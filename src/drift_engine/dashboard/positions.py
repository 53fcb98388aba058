"""Positions as a trader reads them: each leg with entry, uPnL and liquidation price, and
a carry's two legs (spot + perp of one asset) as one hedged pair with its net delta.

A perp leg alone shows a loss when the price rises; its spot leg gains what the perp
loses. Showing them as one pair — net delta, combined uPnL — says what the position is.

Inputs are the latest vault snapshot (positions as the venue reported them), the market
prices (board or heartbeat), the engine's persisted margin metrics (liquidation prices,
`extra["margin"]["position_risks"]`) and its fill log (the spot leg's cost, which the
venue does not keep: Drift's spot balances carry no entry price).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from drift_engine.dashboard.money import money
from drift_engine.dashboard.schemas import HedgePairOut, PositionOut
from drift_engine.storage.models import VaultSnapshotRow
from drift_engine.strategies.base import MarketSnapshot

QUOTE_SPOT_INDEX = 0
PERP_DECIMALS = 9


def decimal_str(value: int, decimals: int) -> str:
    """An integer in 10^-decimals units as an exact, normalized decimal string."""
    text = format(Decimal(value).scaleb(-decimals), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class _Leg:
    market_type: str  # "perp" | "spot"
    market_index: int
    symbol: str
    base: int  # signed, perp 1e9 / spot token decimals
    decimals: int
    quote_entry: int  # perp: quote_entry_amount; spot: cost of the holding (micro, signed)
    cost_known: bool


def spot_costs(fills: Iterable[Mapping[str, Any]]) -> dict[int, tuple[int, int]]:
    """Spot market index -> (base held per the fills, net cash paid for it, micro),
    average cost: buying adds its cost, selling removes cost in proportion, a flip
    through zero starts a new holding at the flipping fill's price. `fills`: the
    engine's `fill` log entries' data, oldest first."""
    held: dict[int, tuple[int, int]] = {}
    for f in fills:
        if f.get("market_type") != "spot":
            continue
        try:
            index, db, q = int(f["market_index"]), int(f["base"]), int(f["quote"])
        except (KeyError, TypeError, ValueError):
            continue
        if db == 0:
            continue
        base, cost = held.get(index, (0, 0))
        if base == 0 or (base > 0) == (db > 0):
            base, cost = base + db, cost - q
        else:
            closed = min(abs(db), abs(base))
            cost = _scale(cost, abs(base) - closed, abs(base))
            new = base + db
            if new != 0 and (new > 0) == (db > 0):  # flipped: the rest opens at this price
                cost = _scale(-q, abs(new), abs(db))
            base = new
        held[index] = (base, cost)
    return held


def _scale(amount: int, num: int, den: int) -> int:
    """amount * num / den, truncated toward zero (cost basis never rounds up a loss)."""
    value = abs(amount) * num // den
    return value if amount >= 0 else -value


def _prices(markets: Mapping[str, MarketSnapshot]) -> dict[tuple[str, int], int]:
    prices: dict[tuple[str, int], int] = {}
    for snap in markets.values():
        if snap.oracle_price:
            prices[("perp", snap.perp_market_index)] = snap.oracle_price
        spot = snap.spot_oracle_price or snap.oracle_price
        if snap.spot_market_index is not None and spot:
            prices[("spot", snap.spot_market_index)] = spot
    return prices


def _names(markets: Mapping[str, MarketSnapshot]) -> dict[tuple[str, int], str]:
    names: dict[tuple[str, int], str] = {}
    for symbol, snap in markets.items():
        names[("perp", snap.perp_market_index)] = symbol
        if snap.spot_market_index is not None:
            names[("spot", snap.spot_market_index)] = symbol.removesuffix("-PERP")
    return names


def _liquidations(margin: Any) -> dict[tuple[str, int], int]:
    risks = margin.get("position_risks") if isinstance(margin, dict) else None
    out: dict[tuple[str, int], int] = {}
    for r in risks if isinstance(risks, list) else ():
        if not isinstance(r, dict):
            continue
        liq, kind, index = r.get("liquidation_price"), r.get("market_type"), r.get("market_index")
        if isinstance(liq, int) and liq > 0 and isinstance(index, int):
            out[(str(kind).lower(), index)] = liq
    return out


def _price_str(price: int) -> str:
    return decimal_str(price, 6)


def _entry_str(quote: int, base: int, decimals: int) -> str | None:
    if not base or not quote:
        return None
    price = Decimal(abs(quote)) * Decimal(10**decimals) / abs(base) / Decimal(10**6)
    return format(price.quantize(Decimal("0.0001")), "f")


def positions_of(
    snapshot: VaultSnapshotRow | None,
    markets: Mapping[str, MarketSnapshot] | None = None,
    *,
    margin: Any = None,
    fills: Iterable[Mapping[str, Any]] = (),
) -> list[PositionOut]:
    """Open positions of the latest snapshot, marked at the oracle when prices are known,
    each with its liquidation price (from the persisted margin metrics) when one exists."""
    from drift_engine.vaults.snapshots import position_from_json

    if snapshot is None:
        return []
    markets = markets or {}
    prices, names, liqs = _prices(markets), _names(markets), _liquidations(margin)
    costs = spot_costs(fills)
    out = []
    for data in snapshot.positions:
        p = position_from_json(data)
        kind = p.market_type.value
        if p.base_asset_amount == 0:
            continue
        if kind == "spot" and p.market_index == QUOTE_SPOT_INDEX:
            continue  # USDC in the sub-account is the vault's cash, not a position
        is_perp = kind == "perp"
        decimals = PERP_DECIMALS if is_perp else p.decimals
        if is_perp:
            entry = _entry_str(p.quote_entry_amount, p.base_asset_amount, decimals)
            cost: int | None = -p.quote_entry_amount
        else:
            held = costs.get(p.market_index)
            entry = cost = None
            if held is not None and held[0] != 0 and (held[0] > 0) == (p.base_asset_amount > 0):
                entry = _entry_str(held[1], held[0], decimals)
                cost = held[1]
        price = prices.get((kind, p.market_index))
        notional = upnl = None
        if price:
            # base (10^decimals) * price (1e6) -> micro-USDC
            notional = p.base_asset_amount * price // 10**decimals
            if cost is not None:
                upnl = notional - cost
        liq = liqs.get((kind, p.market_index))
        out.append(
            PositionOut(
                market=p.symbol or names.get((kind, p.market_index)) or f"{kind}-{p.market_index}",
                market_type=kind,
                market_index=p.market_index,
                size=decimal_str(p.base_asset_amount, decimals),
                side="long" if p.base_asset_amount > 0 else "short",
                entry_price=entry,
                oracle_price=_price_str(price) if price else None,
                quote_entry=money(p.quote_entry_amount) if is_perp else None,
                notional=money(notional) if notional is not None else None,
                unrealized_pnl=money(upnl) if upnl is not None else None,
                liquidation_price=_price_str(liq) if liq else None,
                liquidation_distance_pct=(
                    round(abs(price - liq) / price * 100, 2) if liq and price else None
                ),
            )
        )
    return out


def _asset(p: PositionOut) -> str:
    return p.market.removesuffix("-PERP") if p.market_type == "perp" else p.market


def hedge_pairs(
    positions: list[PositionOut],
    *,
    markets: Mapping[str, MarketSnapshot] | None = None,
    strategy_config: Mapping[str, Any] | None = None,
) -> list[HedgePairOut]:
    """Spot and perp legs of the same asset held in opposite directions, as one pair each:
    net delta (in the asset and in dollars), hedged size, combined uPnL, and the market's
    funding APR against the strategy's entry and exit thresholds when it has them."""
    by_asset: dict[str, dict[str, PositionOut]] = {}
    for p in positions:
        by_asset.setdefault(_asset(p), {})[p.market_type] = p
    cfg = dict(strategy_config or {})
    out = []
    for asset, legs in by_asset.items():
        perp, spot = legs.get("perp"), legs.get("spot")
        if perp is None or spot is None or perp.side == spot.side:
            continue
        net = Decimal(spot.size) + Decimal(perp.size)
        net_usd = hedged = None
        if spot.notional is not None and perp.notional is not None:
            net_usd = money(spot.notional.micro + perp.notional.micro)
            hedged = money(max(abs(spot.notional.micro), abs(perp.notional.micro)))
        upnl = None
        if spot.unrealized_pnl is not None and perp.unrealized_pnl is not None:
            upnl = money(spot.unrealized_pnl.micro + perp.unrealized_pnl.micro)
        apr, window = _funding_apr((markets or {}).get(perp.market), cfg)
        out.append(
            HedgePairOut(
                asset=asset,
                legs=[spot, perp],
                net_delta=_normal(net),
                net_delta_usd=net_usd,
                hedged_notional=hedged,
                unrealized_pnl=upnl,
                funding_apr=apr,
                funding_apr_window=window,
                entry_apr=_pct(cfg.get("entry_apr")),
                exit_apr=_pct(cfg.get("exit_apr")),
            )
        )
    return out


def _normal(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"


def _pct(fraction: Any) -> float | None:
    if isinstance(fraction, bool) or not isinstance(fraction, int | float):
        return None
    return round(float(fraction) * 100, 4)


def _funding_apr(snap: MarketSnapshot | None, cfg: Mapping[str, Any]) -> tuple[float | None, str]:
    """The funding APR the strategy judges by: its lookback's average where the market
    state has it (24 h, 7 d), else the last hourly rate annualised."""
    if snap is None or not snap.last_funding_ts:
        return None, ""
    lookback = cfg.get("lookback_hours")
    candidates = (
        (snap.funding_apr_7d, "7d") if lookback == 168 else (snap.funding_apr_24h, "24h"),
        (snap.funding_apr, "last 1h"),
    )
    for value, label in candidates:
        pct = _pct(value)
        if pct is not None and value == value:  # not NaN
            return pct, label
    return None, ""


__all__ = ["decimal_str", "hedge_pairs", "positions_of", "spot_costs"]
