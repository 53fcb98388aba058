"""Risk plug-ins. Each may veto an action (`check`) and/or demand something of the engine
at a tick (`assess`): deleverage, or halt and flatten.

A plug-in is any object with a `name` and either method; the `RiskManager` runs them in
order. Notional estimates use oracle prices; they are limits, not accounting.

Open and in-flight orders count: an order resting in its auction, or one whose send's
outcome is unknown, may still fill, so exposure limits are checked against the positions
plus what the engine's working orders would add (`holdings_with_orders`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

from drift_engine.core.steps import round_down_to_step, round_up_to_step
from drift_engine.core.types import DriftPosition, MarketType, OrderIntent, PositionDirection
from drift_engine.risk.limits import RiskLimits
from drift_engine.strategies.base import StrategySnapshot

QUOTE_SPOT_INDEX = 0


@dataclass(frozen=True, slots=True)
class Deleverage:
    """Bring health back to `target_health` with these reduce-only orders."""

    orders: tuple[OrderIntent, ...]
    reason: str


@dataclass(frozen=True, slots=True)
class Halt:
    """Stop trading and flatten (kill switch)."""

    reason: str


Directive = Deleverage | Halt


class RiskCheck(Protocol):
    name: str


def _prices(snap: StrategySnapshot) -> dict[tuple[MarketType, int], tuple[int, int]]:
    """(market type, index) -> (oracle price 1e6, token decimals) for known markets."""
    out: dict[tuple[MarketType, int], tuple[int, int]] = {
        (MarketType.SPOT, QUOTE_SPOT_INDEX): (1_000_000, 6)
    }
    for m in snap.markets.values():
        out[(MarketType.PERP, m.perp_market_index)] = (m.oracle_price, 9)
        if m.spot_market_index is not None:
            out[(MarketType.SPOT, m.spot_market_index)] = (
                m.spot_oracle_price or m.oracle_price,
                m.spot_decimals,
            )
    return out


Prices = dict[tuple[MarketType, int], tuple[int, int]]


def notional(market_type: MarketType, market_index: int, base: int, snap: StrategySnapshot) -> int:
    """|value| in micro-USDC of `base` units (perp 1e9 / spot token decimals); 0 for a
    market the snapshot has no price for (the checks refuse such orders first:
    `unpriced`)."""
    return _value(_prices(snap), market_type, market_index, base)


def _value(prices: Prices, market_type: MarketType, market_index: int, base: int) -> int:
    """`notional` with the snapshot's `_prices` built once by the caller (a check reads
    them for every order and holding)."""
    price, decimals = prices.get((market_type, market_index), (0, 9))
    return abs(base) * price // 10**decimals


def unpriced(
    keys: Iterable[tuple[MarketType, int]], snap: StrategySnapshot
) -> tuple[MarketType, int] | None:
    """The first market of `keys` the snapshot has no positive oracle price for, else None.

    A limit cannot be checked without a price: valuing such a market at 0 would let any
    size through the notional and leverage checks, so they refuse instead (fail closed).
    """
    return _first_unpriced(keys, _prices(snap))


def _first_unpriced(
    keys: Iterable[tuple[MarketType, int]], prices: Prices
) -> tuple[MarketType, int] | None:
    for key in keys:
        if prices.get(key, (0, 0))[0] <= 0:
            return key
    return None


def _no_price(key: tuple[MarketType, int], limit: str) -> str:
    return f"no oracle price for {key[0].value} {key[1]} in the snapshot: cannot check {limit}"


def gross_exposure(holdings: dict[tuple[MarketType, int], int], snap: StrategySnapshot) -> int:
    """Drift-style leverage numerator: |perp notionals| + spot liabilities (micro-USDC)."""
    return _gross(holdings, _prices(snap))


def _gross(holdings: dict[tuple[MarketType, int], int], prices: Prices) -> int:
    total = 0
    for (mt, idx), base in holdings.items():
        if mt is MarketType.PERP or base < 0:
            total += _value(prices, mt, idx, base)
    return total


def holdings_of(positions: Sequence[DriftPosition]) -> dict[tuple[MarketType, int], int]:
    return {(p.market_type, p.market_index): p.base_asset_amount for p in positions}


def holdings_with_orders(snap: StrategySnapshot) -> dict[tuple[MarketType, int], int]:
    """Positions plus what the engine's working (open, in-flight, unknown) orders would
    add if they filled at the oracle; reduce-only orders never add exposure."""
    return _with_orders(snap, _prices(snap))


def _with_orders(snap: StrategySnapshot, prices: Prices) -> dict[tuple[MarketType, int], int]:
    pending = [
        OrderIntent(
            market_index=o.market_index,
            market_type=o.market_type,
            direction=o.direction,
            base_asset_amount=o.remaining,
        )
        for o in snap.orders
        if o.remaining > 0 and not o.reduce_only
    ]
    return _apply(holdings_of(snap.positions), pending, prices)


def apply_orders(
    holdings: dict[tuple[MarketType, int], int],
    orders: Sequence[OrderIntent],
    snap: StrategySnapshot,
) -> dict[tuple[MarketType, int], int]:
    """Holdings after the orders fill at oracle (spot trades settle against USDC)."""
    return _apply(holdings, orders, _prices(snap))


def _apply(
    holdings: dict[tuple[MarketType, int], int], orders: Sequence[OrderIntent], prices: Prices
) -> dict[tuple[MarketType, int], int]:
    out = dict(holdings)
    for o in orders:
        key = (o.market_type, o.market_index)
        out[key] = out.get(key, 0) + o.signed_base
        if o.market_type is MarketType.SPOT:
            value = _value(prices, o.market_type, o.market_index, o.base_asset_amount)
            usdc = (MarketType.SPOT, QUOTE_SPOT_INDEX)
            out[usdc] = out.get(usdc, 0) - o.direction.sign * value
    return out


# --------------------------------------------------------------------------- plug-ins


class MaxOrderNotional:
    name = "max_order_notional"

    def __init__(self, limits: RiskLimits) -> None:
        self.limit = limits.max_order_notional

    def check(self, orders: Sequence[OrderIntent], snap: StrategySnapshot) -> str | None:
        prices = _prices(snap)  # once per check: the snapshot does not change in it
        for o in orders:
            if o.reduce_only:
                continue
            key = _first_unpriced([(o.market_type, o.market_index)], prices)
            if key is not None:
                return _no_price(key, self.name)
            value = _value(prices, o.market_type, o.market_index, o.base_asset_amount)
            if value > self.limit:
                return (
                    f"order notional {value / 1e6:,.2f} USDC on {o.market_type.value} "
                    f"{o.market_index} exceeds max_order_notional {self.limit / 1e6:,.2f}"
                )
        return None


class MaxLeverage:
    name = "max_leverage"

    def __init__(self, limits: RiskLimits) -> None:
        self.max_leverage = limits.max_leverage

    def check(self, orders: Sequence[OrderIntent], snap: StrategySnapshot) -> str | None:
        if all(o.reduce_only for o in orders):
            return None
        equity = snap.vault.equity
        if equity <= 0:
            return f"equity {equity} is not positive"
        prices = _prices(snap)  # once per check: the snapshot does not change in it
        held = _with_orders(snap, prices)
        adding = [(o.market_type, o.market_index) for o in orders if not o.reduce_only]
        key = _first_unpriced([*adding, *(k for k, base in held.items() if base)], prices)
        if key is not None:
            return _no_price(key, self.name)
        after = _gross(_apply(held, orders, prices), prices)
        before = _gross(held, prices)
        leverage = after / equity
        if leverage > self.max_leverage and after > before:
            pending = " (with the working orders)" if snap.orders else ""
            return (
                f"leverage after orders{pending} {leverage:.2f}x exceeds max_leverage "
                f"{self.max_leverage}x"
            )
        return None


class MaxDrawdown:
    name = "max_drawdown"

    def __init__(self, limits: RiskLimits) -> None:
        self.max_drawdown = limits.max_drawdown

    def assess(self, snap: StrategySnapshot) -> Directive | None:
        hwm = snap.vault.high_water_mark
        if hwm <= 0:
            return None
        drawdown = (hwm - snap.vault.equity) / hwm
        if drawdown >= self.max_drawdown:
            return Halt(f"drawdown {drawdown:.2%} from high-water mark >= {self.max_drawdown:.2%}")
        return None


class HealthFloor:
    """Below `health_floor`, cut every position by the fraction that should restore
    `target_health`, with reduce-only market orders.

    Health = 100 x (1 - MM / MTC). Scaling all positions by (1 - f) scales the
    maintenance requirement MM by about (1 - f) while the collateral MTC barely moves,
    so f = 1 - (1 - target) / (1 - health). The next tick re-checks and cuts again if
    the estimate fell short.
    """

    name = "health_floor"

    def __init__(self, limits: RiskLimits) -> None:
        self.floor = limits.health_floor
        self.target = limits.target_health

    def fraction(self, health: int) -> float:
        h, t = health / 100, self.target / 100
        if h >= 1:
            return 0.0
        return min(1.0, max(0.0, 1 - (1 - t) / (1 - h)))

    def assess(self, snap: StrategySnapshot) -> Directive | None:
        exposed = [
            p
            for p in snap.positions
            if p.base_asset_amount != 0
            and not (p.market_type is MarketType.SPOT and p.market_index == QUOTE_SPOT_INDEX)
        ]
        if not exposed or snap.margin.health >= self.floor:
            return None
        f = self.fraction(snap.margin.health)
        orders = reduce_orders(exposed, f, snap)
        if not orders:
            return None
        return Deleverage(
            tuple(orders),
            f"health {snap.margin.health} < floor {self.floor}: reduce {f:.0%} "
            f"toward target {self.target}",
        )


class HealthHalt:
    """Below `halt_health` (the hard floor under `health_floor`): halt and flatten. Off
    at 0. Reducing toward `target_health` comes first; this is for when it did not help
    (a fast move, a market that would not fill)."""

    name = "halt_health"

    def __init__(self, limits: RiskLimits) -> None:
        self.halt_health = limits.halt_health

    def assess(self, snap: StrategySnapshot) -> Directive | None:
        if not self.halt_health or snap.margin.health >= self.halt_health:
            return None
        exposed = any(
            p.base_asset_amount != 0
            and not (p.market_type is MarketType.SPOT and p.market_index == QUOTE_SPOT_INDEX)
            for p in snap.positions
        )
        if not exposed:
            return None
        return Halt(f"health {snap.margin.health} below the halt floor {self.halt_health}")


def _steps(snap: StrategySnapshot) -> dict[tuple[MarketType, int], tuple[int, int]]:
    out: dict[tuple[MarketType, int], tuple[int, int]] = {}
    for m in snap.markets.values():
        out[(MarketType.PERP, m.perp_market_index)] = (m.perp_step_size, m.perp_min_order_size)
        if m.spot_market_index is not None:
            out[(MarketType.SPOT, m.spot_market_index)] = (m.spot_step_size, m.spot_min_order_size)
    return out


def reduce_orders(
    positions: Sequence[DriftPosition], fraction: float, snap: StrategySnapshot
) -> list[OrderIntent]:
    """Reduce-only market orders cutting each position by `fraction` (1.0 = flatten)."""
    steps = _steps(snap)
    orders: list[OrderIntent] = []
    for p in positions:
        if p.base_asset_amount == 0:
            continue
        if p.market_type is MarketType.SPOT and p.market_index == QUOTE_SPOT_INDEX:
            continue
        step, min_size = steps.get((p.market_type, p.market_index), (1, 1))
        size = abs(p.base_asset_amount)
        if fraction < 1.0:
            size = int(size * fraction)
            size = round_up_to_step(size, step)  # cut at least `fraction`
            size = min(size, abs(p.base_asset_amount))
        elif p.market_type is MarketType.SPOT and p.base_asset_amount > 0:
            size = round_down_to_step(size, step)  # sell whole steps; dust below a step stays
        if size < min_size or size == 0:
            continue
        direction = PositionDirection.SHORT if p.base_asset_amount > 0 else PositionDirection.LONG
        orders.append(
            OrderIntent(
                market_index=p.market_index,
                market_type=p.market_type,
                direction=direction,
                base_asset_amount=size,
                reduce_only=True,
                tags=("risk", "reduce"),
            )
        )
    return orders
