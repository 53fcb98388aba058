"""Liquidation (controller/liquidation.rs::liquidate_perp, math/liquidation.rs).

Trigger: maintenance total collateral < maintenance requirement (driftpy's DriftUser on
the simulator's accounts). Then: margin shortage = requirement with the 2% liquidation
buffer - collateral; the base to close covers it at the oracle price net of the
liquidator fee and insurance-fund fee (SOL-PERP's mainnet snapshot: 0.75% and up to
0.75%); the user pays both out of the position's quote.
"""

from __future__ import annotations

from drift_engine.data.bundled import luna_ticks
from drift_engine.sim import DriftSimulator, LiquidationRecord

from .conftest import AT_ORACLE, BASE, PRICE, QUOTE, SOL, T0, make_sim, perp, spot


def test_hand_computed_perp_liquidation():
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 100 * QUOTE, T0)
    sim.place_order(k, perp("long", 5 * BASE), T0 + 1)  # $500 at $100: 5x; fee $0.175 settled
    assert sim.token_amount(k, "USDC") == 99_825_000
    assert sim.liquidate_if_needed(T0 + 2) == []

    sim.set_oracle_price("SOL", 82 * PRICE, T0 + 3)
    # collateral = 99.825 + 5 x (82 - 100) = 9.825; requirement = 5 x 82 x 3% = 12.30
    assert sim.maintenance(k) == (9_825_000, 12_300_000)
    (rec,) = sim.liquidate_if_needed(T0 + 3)
    # with buffer: 5 x 82 x (3% + 2%) = 20.50 -> shortage 20.50 - 9.825 = 10.675
    assert (rec.margin_requirement, rec.total_collateral) == (20_500_000, 9_825_000)
    # IF fee = min(0.75%, 5% - 0.75% - 10.675e6 x 1e9 / 5e9 x 1e6 / 82e6 [= 2.6036%]) = 0.75%
    # base to cover = 10.675e6 x 1e9 / (82e6 x (50_000 - 7_500) / 1e6 - 82e6 x 7_500 / 1e6)
    #               = 10.675e15 / (3_485_000_000 - 615_000_000) = 3_719_512_195
    #               -> ceil to 0.01 SOL: 3.72 SOL
    assert rec.base_asset_amount == -3_720_000_000
    # value = 3.72 x 82 = 305.04; liquidator fee 0.75% = 2.2878; IF fee 0.75% = 2.2878
    assert rec.quote_asset_amount == 305_040_000
    assert (rec.liquidator_fee, rec.if_fee) == (2_287_800, 2_287_800)
    # realized = 3.72 x (82 - 100) = -66.96
    assert rec.realized_pnl == -66_960_000
    assert rec.oracle_price == 82 * PRICE and not rec.bankrupt
    pos = sim.perp_position(k, "SOL-PERP")
    assert pos.base_asset_amount == 1_280_000_000
    # left: 99.825 - 66.96 - 2.2878 - 2.2878 + 1.28 x (82 - 100) = 5.2494 of collateral,
    # above requirement + buffer (1.28 x 82 x 5% = 5.248): the account left liquidation
    tc, req = sim.maintenance(k)
    assert tc == 5_249_400 and req == 3_148_800
    assert not sim.user(k).status & 1
    assert sim.user(k).next_liquidation_id == 2
    assert sim.liquidate_if_needed(T0 + 4) == []


def _luna_sim(initial_price: int, ts: int) -> DriftSimulator:
    # markets configured like SOL-PERP / SOL (their real parameters) driven by LUNA's oracle
    return DriftSimulator(
        {"SOL-PERP": initial_price, "SOL": initial_price}, ts=ts, default_price_model=AT_ORACLE
    )


def test_luna_crash_5x_long_is_liquidated_at_the_first_tick_drift_says_so():
    ts, prices = luna_ticks()
    sim = _luna_sim(prices[0], ts[0] - 1)
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, ts[0] - 1)
    # 5x: $50,000 of SOL-PERP at the first LUNA price (step 0.01)
    base = (50_000 * QUOTE * BASE // prices[0]) // 10**7 * 10**7
    sim.place_order(k, perp("long", base), ts[0] - 1)
    du = sim.drift_user(k)
    from driftpy.math.margin import MarginCategory

    first_liq = None
    previous = None
    for i, (t, p) in enumerate(zip(ts, prices, strict=True)):
        sim.set_oracle_price("SOL", p, t)
        tc = int(du.get_total_collateral(MarginCategory.MAINTENANCE))
        req = int(du.get_margin_requirement(MarginCategory.MAINTENANCE))
        liqs = sim.liquidate_if_needed(t)
        if liqs:
            first_liq = i
            # driftpy on the same account: at this tick collateral < requirement ...
            assert tc < req
            assert liqs[0].total_collateral == tc
            # ... and at the tick before it was still >= (health > 0)
            assert previous is not None and previous[0] >= previous[1]
            break
        previous = (tc, req)
    assert first_liq is not None
    # the first tick where price x base breaks maintenance: computed independently
    # collateral(p) = USDC after the settled fee + base x p - entry quote;
    # requirement(p) = base x p x 3% (SOL-PERP maintenance ratio 300, no IMF)
    fill = next(r for r in sim.records if type(r).__name__ == "FillRecord")
    usdc = 10_000 * QUOTE - fill.fee
    expected = next(
        i
        for i, p in enumerate(prices)
        if usdc + base * p // BASE - fill.quote_asset_amount < base * p // BASE * 300 // 10_000
    )
    assert first_liq == expected
    print(
        f"LUNA 5x long liquidated at tick {first_liq}: ts {ts[first_liq]}, "
        f"price {prices[first_liq] / PRICE}"
    )


def test_luna_crash_2x_hedged_spot_long_perp_short_is_never_liquidated():
    ts, prices = luna_ticks()
    sim = _luna_sim(prices[0], ts[0] - 10)
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, ts[0] - 10)
    # $10k equity: buy ~$9.9k of SOL spot with it and short the same base on SOL-PERP: 2x gross
    base = (9_900 * QUOTE * SOL // prices[0]) // 10**7 * 10**7
    sim.place_order(k, spot("long", base), ts[0] - 9)
    sim.place_order(k, perp("short", base), ts[0] - 8)
    lowest_health = 100
    for i, (t, p) in enumerate(zip(ts, prices, strict=True)):
        sim.set_oracle_price("SOL", p, t)
        assert sim.liquidate_if_needed(t) == []
        if i % 500 == 0:
            lowest_health = min(lowest_health, sim.drift_user(k).get_health())
    assert not any(isinstance(r, LiquidationRecord) for r in sim.records)
    assert lowest_health > 0
    # the hedge held its value: equity within a few dollars of the start after a 98% crash
    tc, _ = sim.maintenance(k)
    assert sim.perp_position(k, "SOL-PERP").base_asset_amount == -base
    assert tc > 0
