"""Risk checks at their boundaries: health floor (`>=` keeps trading), leverage (at the
limit is allowed, a micro-USDC over is not), drawdown (reaching the limit halts), order
notional, and the size of the reduce orders (rounded *up* to a step: cut at least the
fraction).

Snapshots are built by hand: SOL-PERP (perp 0) and SOL spot (1) at $100, steps 0.01 SOL.
"""

from __future__ import annotations

from types import MappingProxyType

from drift_engine.core.types import (
    DriftMarginMetrics,
    DriftPosition,
    MarketType,
    OrderIntent,
    PositionDirection,
)
from drift_engine.risk import Deleverage, Halt, RiskLimits, RiskManager
from drift_engine.risk.checks import (
    HealthFloor,
    MaxDrawdown,
    MaxLeverage,
    MaxOrderNotional,
    gross_exposure,
    holdings_of,
    notional,
    reduce_orders,
)
from drift_engine.strategies.base import MarketSnapshot, StrategySnapshot, VaultSnapshot

USDC = 10**6
SOL = 10**9
STEP = 10**7
PERP, SPOT = MarketType.PERP, MarketType.SPOT


def snap(
    *,
    health: int = 100,
    equity: int = 1_000 * USDC,
    hwm: int = 0,
    positions: tuple[DriftPosition, ...] = (),
    price: int = 100 * USDC,
) -> StrategySnapshot:
    market = MarketSnapshot(
        symbol="SOL-PERP",
        perp_market_index=0,
        oracle_price=price,
        spot_market_index=1,
        spot_oracle_price=price,
        spot_decimals=9,
        perp_step_size=STEP,
        perp_min_order_size=STEP,
        spot_step_size=STEP,
        spot_min_order_size=STEP,
    )
    return StrategySnapshot(
        ts=0,
        markets=MappingProxyType({"SOL-PERP": market}),
        vault=VaultSnapshot("v", equity=equity, balance=equity, high_water_mark=hwm),
        positions=positions,
        margin=DriftMarginMetrics(0, 0, 0, 0, 0, health, 0, 0, 0),
    )


def order(market_type, direction: str, base: int, *, reduce_only: bool = False, index=None):
    idx = index if index is not None else (0 if market_type is PERP else 1)
    return OrderIntent(
        idx, market_type, PositionDirection(direction), base, reduce_only=reduce_only
    )


HEDGE = (
    DriftPosition(0, PERP, -12_340_000_000),  # short 12.34 SOL-PERP
    DriftPosition(1, SPOT, 12_340_000_000),  # long 12.34 SOL
    DriftPosition(0, SPOT, 500 * USDC, decimals=6),  # USDC: never "reduced"
)


# --------------------------------------------------------------------------- health floor


def test_health_exactly_at_the_floor_does_not_deleverage():
    check = HealthFloor(RiskLimits(health_floor=25, target_health=50))
    assert check.assess(snap(health=25, positions=HEALTH_POSITIONS)) is None
    assert check.assess(snap(health=26, positions=HEALTH_POSITIONS)) is None


HEALTH_POSITIONS = HEDGE


def test_health_one_below_the_floor_reduces_every_position_by_the_fraction_rounded_up():
    check = HealthFloor(RiskLimits(health_floor=25, target_health=50))
    directive = check.assess(snap(health=24, positions=HEDGE))
    assert isinstance(directive, Deleverage)
    # f = 1 - (1 - 0.50) / (1 - 0.24) = 1 - 0.5 / 0.76 = 0.342105...
    # 12_340_000_000 x f = 4_221_578_947.4 -> up to the 0.01 SOL step: 4_230_000_000
    sizes = {(o.market_type, o.direction, o.base_asset_amount) for o in directive.orders}
    assert sizes == {
        (PERP, PositionDirection.LONG, 4_230_000_000),
        (SPOT, PositionDirection.SHORT, 4_230_000_000),
    }
    assert all(o.reduce_only for o in directive.orders)
    assert "health 24 < floor 25" in directive.reason


def test_no_exposure_means_nothing_to_deleverage():
    check = HealthFloor(RiskLimits(health_floor=25, target_health=50))
    usdc_only = (DriftPosition(0, SPOT, 500 * USDC, decimals=6),)
    assert check.assess(snap(health=3, positions=usdc_only)) is None


def test_flatten_sells_whole_steps_of_spot_and_all_of_a_perp():
    dusty = (
        DriftPosition(0, PERP, 1_234_567_891),  # perp: closes everything
        DriftPosition(1, SPOT, 1_234_567_891),  # spot: whole steps, dust stays
    )
    orders = reduce_orders(dusty, 1.0, snap())
    got = {(o.market_type, o.direction, o.base_asset_amount) for o in orders}
    assert got == {
        (PERP, PositionDirection.SHORT, 1_234_567_891),
        (SPOT, PositionDirection.SHORT, 1_230_000_000),
    }


def test_reduce_orders_skip_sizes_below_the_minimum():
    tiny = (DriftPosition(0, PERP, 9_999_999),)  # below one 0.01 SOL step
    assert reduce_orders(tiny, 0.5, snap()) == []
    assert reduce_orders((), 1.0, snap()) == []


def test_manager_prefers_halt_over_deleverage_and_recovers_at_the_target():
    manager = RiskManager(RiskLimits(health_floor=25, target_health=50, max_drawdown=0.25))
    both = snap(health=10, positions=HEDGE, equity=750 * USDC, hwm=1_000 * USDC)
    assert isinstance(manager.assess(both), Halt)
    assert isinstance(manager.assess(snap(health=10, positions=HEDGE)), Deleverage)
    assert manager.recovered(snap(health=50)) and not manager.recovered(snap(health=49))


# --------------------------------------------------------------------------- drawdown


def test_drawdown_reaching_the_limit_halts():
    check = MaxDrawdown(RiskLimits(max_drawdown=0.25))
    halt = check.assess(snap(equity=750 * USDC, hwm=1_000 * USDC))  # exactly 25.00 %
    assert isinstance(halt, Halt) and "25.00%" in halt.reason
    assert check.assess(snap(equity=750 * USDC + 1, hwm=1_000 * USDC)) is None
    assert check.assess(snap(equity=1, hwm=0)) is None  # no high-water mark yet


# --------------------------------------------------------------------------- leverage


def test_leverage_exactly_at_the_limit_is_allowed_and_one_step_more_is_not():
    check = MaxLeverage(RiskLimits(max_leverage=3.0))
    # equity $1,000; 30 SOL-PERP at $100 = $3,000 of exposure: 3.0x exactly
    assert check.check([order(PERP, "short", 30 * SOL)], snap()) is None
    rejected = check.check([order(PERP, "short", 30 * SOL + STEP)], snap())
    assert rejected is not None and "3.00x exceeds max_leverage 3.0x" in rejected


def test_leverage_counts_spot_borrows_but_not_spot_deposits():
    check = MaxLeverage(RiskLimits(max_leverage=1.0))
    usdc = DriftPosition(0, SPOT, 1_000 * USDC, decimals=6)
    short = DriftPosition(0, PERP, -10 * SOL)  # $1,000 of perp: 1.0x of $1,000 equity
    # buying 10 SOL spot with the $1,000 of USDC adds an asset, no liability: still 1.0x
    assert check.check([order(SPOT, "long", 10 * SOL)], snap(positions=(usdc, short))) is None
    # 10.01 SOL leaves USDC $1 short (a borrow): $1,001 of exposure > 1.0x
    over = check.check([order(SPOT, "long", 10 * SOL + STEP)], snap(positions=(usdc, short)))
    assert over is not None and "1.00x" in over
    assert gross_exposure({(SPOT, 0): -1 * USDC, (SPOT, 1): 10 * SOL}, snap()) == 1 * USDC


def test_reduce_only_and_exposure_reducing_orders_pass_any_leverage():
    check = MaxLeverage(RiskLimits(max_leverage=1.0))
    short = (DriftPosition(0, PERP, -50 * SOL),)  # 5x already
    assert check.check([order(PERP, "long", 10 * SOL, reduce_only=True)], snap()) is None
    assert check.check([order(PERP, "long", 10 * SOL)], snap(positions=short)) is None
    assert check.check([order(PERP, "short", STEP)], snap(positions=short)) is not None


def test_leverage_check_refuses_when_equity_is_not_positive():
    check = MaxLeverage(RiskLimits(max_leverage=3.0))
    assert "not positive" in check.check([order(PERP, "short", STEP)], snap(equity=0))


# --------------------------------------------------------------------------- notional


def test_order_notional_at_the_limit_passes_and_above_is_refused():
    check = MaxOrderNotional(RiskLimits(max_order_notional_usdc=1_234.56))
    # 12.3456 SOL x $100 = $1,234.56 exactly; notional floors: 12_345_600_001 -> same
    assert notional(PERP, 0, 12_345_600_001, snap()) == 1_234_560_000
    assert check.check([order(PERP, "long", 12_345_600_000)], snap()) is None
    assert check.check([order(PERP, "long", 12_345_610_000)], snap()) is not None
    assert check.check([order(PERP, "long", 50 * SOL, reduce_only=True)], snap()) is None


def test_holdings_and_notional_of_spot_use_the_tokens_decimals():
    positions = (DriftPosition(1, SPOT, -2 * SOL), DriftPosition(0, PERP, 3 * SOL))
    assert holdings_of(positions) == {(SPOT, 1): -2 * SOL, (PERP, 0): 3 * SOL}
    # |perp| 300 + spot borrow 200 = $500
    assert gross_exposure(holdings_of(positions), snap()) == 500 * USDC


def test_working_orders_add_their_remaining_size_unless_reduce_only():
    # holdings_with_orders: positions + what each working order would still add at the
    # oracle. Perp: -12.34 SOL - (0.03 - 0.01 filled) + 1 base unit = -12_359_999_999;
    # spot: 12.34 + 0.01 = 12.35 SOL, paid from USDC: 500 - 0.01 x $100 = $499.
    # Reduce-only orders and fully filled ones add nothing.
    from dataclasses import replace

    from drift_engine.risk.checks import holdings_with_orders
    from drift_engine.strategies.base import OrderView

    long, short = PositionDirection.LONG, PositionDirection.SHORT
    orders = (
        OrderView(1, PERP, 0, short, 30_000_000, 10_000_000, "open"),
        OrderView(2, PERP, 0, long, 1, 0, "open"),  # one base unit still counts
        OrderView(3, SPOT, 1, long, STEP, 0, "in_flight"),
        OrderView(4, PERP, 0, long, 50_000_000, 0, "open", reduce_only=True),
        OrderView(5, PERP, 0, long, STEP, STEP, "open"),  # filled: nothing remains
    )
    got = holdings_with_orders(replace(snap(positions=HEDGE), orders=orders))
    assert got == {
        (PERP, 0): -12_359_999_999,
        (SPOT, 1): 12_350_000_000,
        (SPOT, 0): 499 * USDC,
    }


def test_order_notional_skips_reduce_only_orders_and_names_the_one_over():
    # a reduce-only order first does not end the check: the next one is over the limit
    # ($1,000.00 < 12.34 SOL x $100 = $1,234.00) and the refusal says so, in dollars
    check = MaxOrderNotional(RiskLimits(max_order_notional_usdc=1_000))
    orders = [order(PERP, "long", 20 * SOL, reduce_only=True), order(SPOT, "short", 12_340_000_000)]
    assert check.check(orders, snap()) == (
        "order notional 1,234.00 USDC on spot 1 exceeds max_order_notional 1,000.00"
    )


def test_health_floor_cut_fraction_by_hand():
    # fraction = 1 - (1 - target) / (1 - health), within [0, 1]; a health of 100 cuts nothing
    floor = HealthFloor(RiskLimits(health_floor=30, target_health=60))
    assert floor.fraction(100) == 0.0
    assert floor.fraction(20) == 1 - 0.4 / 0.8  # 0.5
    assert floor.fraction(70) == 0.0  # above the target: max(0, 1 - 0.4 / 0.3)
    assert floor.fraction(0) == 1 - 0.4  # 0.6


def test_risk_manager_names_the_check_that_rejects_and_skips_assess_only_plugins():
    # checks run in order; a plug-in without `check` (MaxDrawdown, HealthFloor) is skipped,
    # the first reason wins and is reported under the check's `name` (or its class name)
    from drift_engine.risk import Rejection

    class NoName:
        def check(self, orders, snap):
            return "no name given"

    limits = RiskLimits(max_order_notional_usdc=1_000)
    manager = RiskManager(limits)
    big = [order(PERP, "long", 12_340_000_000)]  # $1,234.00 > $1,000.00
    assert manager.check(big, snap()) == Rejection(
        "max_order_notional",
        "order notional 1,234.00 USDC on perp 0 exceeds max_order_notional 1,000.00",
    )
    assert manager.check([order(PERP, "long", 5 * SOL)], snap()) is None  # $500: fine
    assert RiskManager(limits, [MaxDrawdown(limits), NoName()]).check(big, snap()) == Rejection(
        "NoName", "no name given"
    )
    assert RiskManager().limits == RiskLimits()  # defaults when none are given


def test_halt_floor_halts_strictly_below_it_and_only_with_exposure():
    from drift_engine.risk.checks import HealthHalt

    halt = HealthHalt(RiskLimits(halt_health=20))
    assert halt.assess(snap(health=19, positions=HEDGE)) == Halt(
        "health 19 below the halt floor 20"
    )
    assert halt.assess(snap(health=20, positions=HEDGE)) is None  # at the floor: no halt
    usdc_only = (HEDGE[2], DriftPosition(3, PERP, 0))
    assert halt.assess(snap(health=19, positions=usdc_only)) is None  # nothing to flatten
    assert HealthHalt(RiskLimits()).assess(snap(health=1, positions=HEDGE)) is None  # off at 0


def test_flatten_orders_by_hand():
    # reduce_orders(..., 1.0): every exposed position closed by a reduce-only market order
    # tagged ("risk", "reduce"); flat and USDC positions are skipped (and do not end the
    # loop); a spot long sells whole steps (0.00567 SOL of dust stays); a market the
    # snapshot has no steps for is closed whole, down to one base unit
    positions = (
        DriftPosition(3, PERP, 0),
        HEDGE[2],
        DriftPosition(0, PERP, -12_340_000_000),
        DriftPosition(1, SPOT, 12_345_678_901),
        DriftPosition(7, PERP, 1),
    )
    tags = ("risk", "reduce")
    long, short = PositionDirection.LONG, PositionDirection.SHORT
    assert reduce_orders(positions, 1.0, snap()) == [
        OrderIntent(0, PERP, long, 12_340_000_000, reduce_only=True, tags=tags),
        OrderIntent(1, SPOT, short, 12_340_000_000, reduce_only=True, tags=tags),
        OrderIntent(7, PERP, short, 1, reduce_only=True, tags=tags),
    ]
