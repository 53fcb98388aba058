"""Margin, health, leverage and liquidation prices of a Drift sub-account: `DriftMarginMonitor`.

The same code serves paper (simulator accounts) and live (accounts read from the chain):
it takes a driftpy `User` account, the market accounts it touches and oracle prices, and
returns `DriftMarginMetrics` in Drift's integer precisions. See
docs/adr/0003-margin-math-follows-the-program.md for why the numbers follow the on-chain
program (core/program_math.py) rather than driftpy's `DriftUser` where the two disagree.

What comes from where:
- total collateral, margin requirements, free collateral, LIQUIDATABLE: the program's
  margin calculation (`program_math.calculate_margin`), built on driftpy's math helpers.
- health, leverage, margin ratio, liquidation prices: not program concepts; they follow
  Drift's SDK (`sdk/src/user.ts`, the code driftpy's `DriftUser` ports) on the program's
  numbers, with the SDK's integer rounding (`health`, `liquidation_price`).
Nothing here reads the wall clock: `now` is stamped into the result as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from driftpy.constants.numeric_constants import (
    BASE_PRECISION,
    MARGIN_PRECISION,
    QUOTE_PRECISION,
    SPOT_WEIGHT_PRECISION,
)
from driftpy.oracles.oracle_id import get_oracle_id

from drift_engine.core.program_math import (
    DEFAULT_LIQUIDATION_MARGIN_BUFFER_RATIO,
    QUOTE_SPOT_MARKET_INDEX,
    MarginCalculation,
    MarginCategory,
    MarketSnapshot,
    calculate_margins,
    is_being_liquidated,
    is_high_leverage_mode,
    perp_margin_ratio,
    signed_token_amount,
    spot_asset_weight,
    spot_liability_weight,
    trunc_div,
)
from drift_engine.core.types import DriftMarginMetrics, MarketType, PositionRisk, RiskLevel

if TYPE_CHECKING:
    from drift_engine.core.offline import OfflineDrift

__all__ = [
    "UNBOUNDED",
    "DriftMarginMonitor",
    "MarginThresholds",
    "health",
    "leverage",
    "liquidation_price",
    "margin_ratio",
    "perp_free_collateral_delta",
    "snapshot_from_offline",
    "snapshot_of",
    "spot_free_collateral_delta",
]

#: Leverage when net assets are <= 0 with liabilities outstanding, and margin ratio with no
#: liabilities (the SDK returns BN_MAX there). The largest i64, so it fits a BIGINT column.
UNBOUNDED = 2**63 - 1


# --------------------------------------------------------------------------- SDK formulas


def health(total_collateral: int, margin_requirement: int) -> int:
    """Health 0–100 from Maintenance total collateral and requirement.

    SDK: sdk/src/user.ts `getHealth` — `Math.round(min(100, max(0, (1 - req/tc) * 100)))`,
    which rounds half up. driftpy 0.8.89 (`DriftUser.get_health`) uses Python's `round`,
    half to even (62.5 -> 62; the SDK and we say 63). Exact rational arithmetic here.
    """
    if margin_requirement == 0 and total_collateral >= 0:
        return 100
    if total_collateral <= 0:
        return 0
    # round_half_up(100 * (tc - req) / tc) = floor((200 * (tc - req) + tc) / (2 * tc))
    value = (200 * (total_collateral - margin_requirement) + total_collateral) // (
        2 * total_collateral
    )
    return min(100, max(0, value))


def perp_free_collateral_delta(perp_market: Any, base_asset_amount: int, margin_ratio: int):
    """Change of Maintenance free collateral per $1 of oracle move (QUOTE 1e6), or None if
    flat. SDK: sdk/src/user.ts `calculateFreeCollateralDeltaForPerp` (BN division truncates
    toward zero; driftpy floors, one unit more negative for shorts)."""
    if base_asset_amount == 0:
        return None
    margin_ratio_quote = margin_ratio * QUOTE_PRECISION // MARGIN_PRECISION
    if base_asset_amount > 0:
        return trunc_div((QUOTE_PRECISION - margin_ratio_quote) * base_asset_amount, BASE_PRECISION)
    return trunc_div((-QUOTE_PRECISION - margin_ratio_quote) * -base_asset_amount, BASE_PRECISION)


def spot_free_collateral_delta(spot_market: Any, signed_amount: int, oracle_price: int) -> int:
    """SDK: sdk/src/user.ts `calculateFreeCollateralDeltaForSpot` (Maintenance weights, BN
    truncation), with the program's size-discounted weights."""
    precision = 10**spot_market.decimals
    if signed_amount > 0:
        weight = spot_asset_weight(
            spot_market, signed_amount, oracle_price, MarginCategory.MAINTENANCE
        )
        return trunc_div(
            QUOTE_PRECISION * weight // SPOT_WEIGHT_PRECISION * signed_amount, precision
        )
    weight = spot_liability_weight(spot_market, -signed_amount, MarginCategory.MAINTENANCE)
    per_token = trunc_div(-QUOTE_PRECISION * weight, SPOT_WEIGHT_PRECISION)
    return trunc_div(per_token * -signed_amount, precision)


def liquidation_price(oracle_price: int, free_collateral: int, free_collateral_delta: int | None):
    """The oracle price (PRICE 1e6) at which Maintenance free collateral reaches 0, or None.

    SDK: sdk/src/user.ts `liquidationPrice` / `spotLiquidationPrice` —
    `oracle - free * QUOTE / delta` with BN division truncating toward zero, so the price
    always rounds toward the oracle (the conservative side). driftpy 0.8.89 floors, which
    for a short (negative delta) puts the price one unit past the true one. None where the
    SDK returns -1: no exposure, or no non-negative price liquidates.
    """
    if not free_collateral_delta:
        return None
    price = oracle_price - trunc_div(free_collateral * QUOTE_PRECISION, free_collateral_delta)
    return None if price < 0 else price


def leverage(calc: MarginCalculation) -> int:
    """Leverage in 1e4 (SDK `calculateLeverageFromComponents`): (perp + spot liabilities) /
    (spot assets + perp pnl - spot liabilities). UNBOUNDED when net assets are <= 0 with
    liabilities (the SDK would return 0 or a negative number; a risk check must not pass)."""
    liabilities = calc.total_perp_liability_value + calc.total_spot_liability_value
    net_assets = calc.total_spot_asset_value + calc.total_perp_pnl - calc.total_spot_liability_value
    if liabilities == 0:
        return 0
    if net_assets <= 0:
        return UNBOUNDED
    return liabilities * 10_000 // net_assets


def margin_ratio(calc: MarginCalculation) -> int:
    """Margin ratio in 1e4 (SDK `getMarginRatio`, i.e. 1 / leverage): net assets / total
    liabilities; UNBOUNDED with no liabilities (SDK: BN_MAX), floored at 0."""
    liabilities = calc.total_perp_liability_value + calc.total_spot_liability_value
    net_assets = calc.total_spot_asset_value + calc.total_perp_pnl - calc.total_spot_liability_value
    if liabilities == 0:
        return UNBOUNDED
    return max(0, net_assets * 10_000 // liabilities)


# --------------------------------------------------------------------------- inputs


def snapshot_from_offline(drift: OfflineDrift) -> MarketSnapshot:
    """Markets and oracle prices as driftpy's DriftClient (over our cached accounts) sees them."""
    client = drift.client
    perp_markets = {i: client.get_perp_market_account(i) for i in drift.perp_markets}
    spot_markets = {i: client.get_spot_market_account(i) for i in drift.spot_markets}
    return MarketSnapshot(
        perp_markets=perp_markets,
        spot_markets=spot_markets,
        perp_prices={i: int(drift.perp_oracle_price(i)) for i in perp_markets},
        spot_prices={i: int(drift.spot_oracle_price(i)) for i in spot_markets},
    )


#: (oracle address, source variant) -> its SDK id (`oracle_id`): one per oracle met
_ORACLE_IDS: dict[tuple[Any, type], str] = {}


def oracle_id(oracle: Any, source: Any) -> str:
    """driftpy's `get_oracle_id(oracle, source)`, the SDK's key of an oracle (its address
    and source), kept per address and source variant. The SDK's formats the address in
    base58 at each call; the margin metrics ask it ~5 times per computation (which
    positions read one oracle: `_position_risks`), ~2 % of a delta-neutral backtest's
    replay. The sources are Borsh enum variants without fields, so the variant's type
    is the source."""
    key = (oracle, type(source))
    found = _ORACLE_IDS.get(key)
    if found is None:
        found = _ORACLE_IDS[key] = get_oracle_id(oracle, source)
    return found


def snapshot_of(
    perp_markets: Mapping[int, Any],
    spot_markets: Mapping[int, Any],
    oracle_prices: Mapping[tuple[MarketType, int], int] | None = None,
) -> MarketSnapshot:
    """Markets with prices from `oracle_prices` or else their `last_oracle_price`.

    Markets reading the same oracle (e.g. SOL-PERP and SOL spot) share one price, as on
    chain: setting one sets both; giving them different prices is an error.
    """
    perp_oracle = {i: oracle_id(m.amm.oracle, m.amm.oracle_source) for i, m in perp_markets.items()}
    spot_oracle = {i: oracle_id(m.oracle, m.oracle_source) for i, m in spot_markets.items()}
    by_oracle: dict[str, int] = {}
    given: dict[str, tuple[MarketType, int]] = {}
    for (market_type, index), price in (oracle_prices or {}).items():
        market_type = MarketType(market_type)
        oracles = perp_oracle if market_type is MarketType.PERP else spot_oracle
        if index not in oracles:
            raise KeyError(f"oracle price given for unknown {market_type.value} market {index}")
        key = oracles[index]
        if key in by_oracle and by_oracle[key] != price:
            other = given[key]
            raise ValueError(
                f"{market_type.value} market {index} and {other[0].value} market {other[1]} "
                f"read the same oracle but were given different prices "
                f"({price} and {by_oracle[key]})"
            )
        by_oracle[key], given[key] = int(price), (market_type, index)
    # Defaults: each market's last oracle price; spot markets written last, as OfflineDrift does.
    defaults: dict[str, int] = {}
    for i, m in perp_markets.items():
        defaults[perp_oracle[i]] = m.amm.historical_oracle_data.last_oracle_price
    for i, m in spot_markets.items():
        defaults[spot_oracle[i]] = m.historical_oracle_data.last_oracle_price
    prices = {**defaults, **by_oracle}
    return MarketSnapshot(
        perp_markets=dict(perp_markets),
        spot_markets=dict(spot_markets),
        perp_prices={i: prices[k] for i, k in perp_oracle.items()},
        spot_prices={i: prices[k] for i, k in spot_oracle.items()},
    )


# --------------------------------------------------------------------------- monitor


@dataclass(frozen=True, slots=True)
class MarginThresholds:
    """Health (0–100) at or below which an account is WARNING / CRITICAL."""

    warning_health: int = 50
    critical_health: int = 20

    def __post_init__(self) -> None:
        for name in ("warning_health", "critical_health"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
                raise ValueError(f"{name} must be an integer in [0, 100], got {value!r}")
        if self.critical_health > self.warning_health:
            raise ValueError(
                f"critical_health ({self.critical_health}) must not exceed "
                f"warning_health ({self.warning_health})"
            )


class DriftMarginMonitor:
    """Computes `DriftMarginMetrics` for Drift sub-accounts and classifies their risk."""

    def __init__(self, thresholds: MarginThresholds = MarginThresholds()) -> None:
        self.thresholds = thresholds

    # ------------------------------------------------------------------ entry points

    def compute(
        self, drift: OfflineDrift, sub_account_id: int = 0, now: int = 0
    ) -> DriftMarginMetrics:
        """Metrics of a sub-account registered on `drift` (`OfflineDrift.add_user`), with
        the oracle prices its DriftClient holds."""
        user = drift.user(sub_account_id).get_user_account()
        state = drift.client.account_subscriber.cache.get("state")
        buffer = DEFAULT_LIQUIDATION_MARGIN_BUFFER_RATIO
        if state is not None and state.data is not None:
            buffer = state.data.liquidation_margin_buffer_ratio
        return self.compute_from(
            user, snapshot_from_offline(drift), now, liquidation_margin_buffer_ratio=buffer
        )

    def compute_for(
        self,
        user: Any,
        perp_markets: Mapping[int, Any],
        spot_markets: Mapping[int, Any],
        now: int = 0,
        oracle_prices: Mapping[tuple[MarketType, int], int] | None = None,
    ) -> DriftMarginMetrics:
        """Metrics of a User account from market accounts you hold (no DriftClient).

        Oracle prices: `oracle_prices[(MarketType, market_index)]` (PRICE 1e6), else each
        market's `historical_oracle_data.last_oracle_price`. Gives the same numbers as
        `compute` on an OfflineDrift holding the same accounts and prices, without the
        ~150 ms it takes driftpy to build a DriftClient.
        """
        return self.compute_from(user, snapshot_of(perp_markets, spot_markets, oracle_prices), now)

    def compute_from(
        self,
        user: Any,
        markets: MarketSnapshot,
        now: int = 0,
        *,
        liquidation_margin_buffer_ratio: int = DEFAULT_LIQUIDATION_MARGIN_BUFFER_RATIO,
    ) -> DriftMarginMetrics:
        being_liquidated = is_being_liquidated(user)
        initial, maintenance = calculate_margins(
            user,
            markets,
            maintenance_buffer=liquidation_margin_buffer_ratio if being_liquidated else 0,
        )
        # An account already in liquidation stays liquidatable until its collateral covers
        # the requirement plus the liquidation buffer (state/margin_calculation.rs
        # can_exit_liquidation); that is its maintenance requirement here.
        maintenance_requirement = (
            maintenance.margin_requirement_plus_buffer
            if being_liquidated
            else maintenance.margin_requirement
        )
        maintenance_tc = maintenance.total_collateral
        free_maintenance = max(0, maintenance_tc - maintenance_requirement)
        # SDK getHealth: 0 while the account is being liquidated.
        account_health = 0 if being_liquidated else health(maintenance_tc, maintenance_requirement)
        return DriftMarginMetrics(
            total_collateral=initial.total_collateral,
            maintenance_total_collateral=maintenance_tc,
            initial_margin_requirement=initial.margin_requirement,
            maintenance_margin_requirement=maintenance_requirement,
            free_collateral=initial.free_collateral,
            health=account_health,
            leverage=leverage(maintenance),
            margin_ratio=margin_ratio(maintenance),
            unrealized_pnl=maintenance.total_perp_pnl,
            position_risks=self._position_risks(user, markets, free_maintenance),
            timestamp=now,
            risk_level=self._level(maintenance_tc, maintenance_requirement, account_health),
        )

    def classify(self, metrics: DriftMarginMetrics) -> RiskLevel:
        """LIQUIDATABLE below maintenance (the program's `meets_margin_requirement` fails),
        else CRITICAL / WARNING at or below the thresholds' health, else HEALTHY."""
        return self._level(
            metrics.maintenance_total_collateral,
            metrics.maintenance_margin_requirement,
            metrics.health,
        )

    def _level(self, maintenance_tc: int, maintenance_requirement: int, health: int) -> RiskLevel:
        """`classify` of metrics with these three figures (`compute_from` builds its
        metrics once, with their level, instead of building them twice)."""
        if maintenance_tc < maintenance_requirement:
            return RiskLevel.LIQUIDATABLE
        if health <= self.thresholds.critical_health:
            return RiskLevel.CRITICAL
        if health <= self.thresholds.warning_health:
            return RiskLevel.WARNING
        return RiskLevel.HEALTHY

    # ------------------------------------------------------------------ liquidation prices

    def _position_risks(
        self, user: Any, markets: MarketSnapshot, free_collateral: int
    ) -> tuple[PositionRisk, ...]:
        hlm = is_high_leverage_mode(user, MarginCategory.MAINTENANCE)
        spot_amounts = {
            sp.market_index: signed_token_amount(sp, markets.spot(sp.market_index))
            for sp in user.spot_positions
            if sp.scaled_balance != 0
        }
        perp_bases = {
            pp.market_index: pp.base_asset_amount
            for pp in user.perp_positions
            if pp.base_asset_amount != 0
        }

        # each position's oracle and free-collateral delta, computed once (a hedged pair
        # asks for both of its legs' twice: for its own risk and for its sister's)
        perp_keys = {}
        for index in perp_bases:
            m = markets.perp(index)
            perp_keys[index] = oracle_id(m.amm.oracle, m.amm.oracle_source)
        spot_keys = {}
        for index in spot_amounts:
            m = markets.spot(index)
            spot_keys[index] = oracle_id(m.oracle, m.oracle_source)
        perp_deltas: dict[int, int | None] = {}
        spot_deltas: dict[int, int] = {}

        def perp_delta(index: int) -> int | None:
            if index not in perp_deltas:
                market = markets.perp(index)
                base = perp_bases.get(index, 0)
                ratio = perp_margin_ratio(market, base, MarginCategory.MAINTENANCE, hlm)
                perp_deltas[index] = perp_free_collateral_delta(market, base, ratio)
            return perp_deltas[index]

        def spot_delta(index: int) -> int:
            if index not in spot_deltas:
                spot_deltas[index] = spot_free_collateral_delta(
                    markets.spot(index), spot_amounts[index], markets.spot_price(index)
                )
            return spot_deltas[index]

        risks: list[PositionRisk] = []
        for index in sorted(perp_bases):
            delta = perp_delta(index)
            key = perp_keys[index]
            # The SDK adds the spot balance reading the same oracle (a hedge moves with it).
            sister = [i for i in spot_amounts if spot_keys[i] == key]
            if delta is not None:
                delta += sum(spot_delta(i) for i in sister[:1])
            price = markets.perp_price(index)
            risks.append(
                PositionRisk(
                    market_index=index,
                    market_type=MarketType.PERP,
                    oracle_price=price,
                    liquidation_price=liquidation_price(price, free_collateral, delta),
                )
            )
        for index in sorted(spot_amounts):
            if index == QUOTE_SPOT_MARKET_INDEX:
                continue  # the quote asset has no liquidation price
            delta = spot_delta(index)
            key = spot_keys[index]
            sister = [i for i in perp_bases if perp_keys[i] == key]
            for i in sister[:1]:
                delta += perp_delta(i) or 0
            price = markets.spot_price(index)
            risks.append(
                PositionRisk(
                    market_index=index,
                    market_type=MarketType.SPOT,
                    oracle_price=price,
                    liquidation_price=liquidation_price(price, free_collateral, delta),
                )
            )
        return tuple(risks)
