"""Liquidation by the program's rules (`controller/liquidation.rs::liquidate_perp`,
`math/liquidation.rs`), worked out by hand at prices where every floor shows.

Market parameters are set in the test: maintenance margin 3 % (300), initial 10 %, no IMF
size premium, liquidator fee 0.5 % (5_000 / 1e6), insurance fee up to 1 % (10_000),
liquidation buffer 2 % (200); taker fee 10 bps. The account: $22.50 of USDC, long 1 SOL
bought at $100 (fee $0.10 settled at once: USDC 22_400_000).
"""

from __future__ import annotations

from .conftest import BASE, PRICE, T0, funded, limit, perp

BEING_LIQUIDATED, BANKRUPT = 1, 2


def liquidation_sim():
    sim, k = funded(100 * PRICE, usdc=22_500_000)
    tier = sim.state.perp_fee_structure.fee_tiers[0]
    tier.fee_numerator, tier.fee_denominator = 100, 100_000
    market = sim.perp_market("SOL-PERP")
    market.margin_ratio_initial, market.margin_ratio_maintenance, market.imf_factor = 1000, 300, 0
    market.liquidator_fee, market.if_liquidation_fee = 5_000, 10_000
    market.fee_adjustment = 0
    sim.state.liquidation_margin_buffer_ratio = 200
    sim.place_order(k, perp("long", BASE), T0 + 1)
    assert sim.token_amount(k, "USDC") == 22_400_000
    return sim, k


def test_collateral_equal_to_the_requirement_is_not_liquidated():
    sim, k = liquidation_sim()
    sim.set_oracle_price("SOL", 80_000_000, T0 + 2)
    # collateral 22.40 + 1 x (80 - 100) = 2.40; requirement 80 x 3 % = 2.40: equal is safe
    assert sim.maintenance(k) == (2_400_000, 2_400_000)
    assert sim.liquidate_if_needed(T0 + 2) == []
    assert sim.user(k).status & BEING_LIQUIDATED == 0


def test_hand_computed_liquidation_just_below_maintenance():
    sim, k = liquidation_sim()
    sim.set_oracle_price("SOL", 79_999_990, T0 + 3)
    # collateral 22_400_000 + 79_999_990 - 100_000_000 = 2_399_990
    # requirement floor(79_999_990 x 300 / 1e4) = floor(2_399_999.7) = 2_399_999 > collateral
    assert sim.maintenance(k) == (2_399_990, 2_399_999)
    (rec,) = sim.liquidate_if_needed(T0 + 3)
    # + buffer: 2_399_999 + floor(79_999_990 x 200 / 1e4) = 2_399_999 + 1_599_999 = 3_999_998
    assert (rec.margin_requirement, rec.total_collateral) == (3_999_998, 2_399_990)
    # shortage 3_999_998 - 2_399_990 = 1_600_008
    # IF fee: implied = 1_600_008 x 1e6 / 79_999_990 = 20_000 (floor)
    #         min(10_000, 50_000 - 5_000 - 20_000 = 25_000) = 10_000 (1 %)
    # base to cover: divisor floor(79_999_990 x 45_000 / 1e6) - floor(79_999_990 x 10_000 / 1e6)
    #   = 3_599_999 - 799_999 = 2_800_000; 1_600_008 x 1e9 / 2_800_000 = 571_431_428
    #   -> up to the 0.01 SOL step: 0.58 SOL
    assert rec.base_asset_amount == -580_000_000
    # value floor(0.58 x 79_999_990) = floor(46_399_994.2) = 46_399_994
    assert rec.quote_asset_amount == 46_399_994
    # liquidator fee floor(46_399_994 x 5_000 / 1e6) = floor(231_999.97) = 231_999
    # IF fee floor(46_399_994 x 10_000 / 1e6) = floor(463_999.94) = 463_999
    assert (rec.liquidator_fee, rec.if_fee) == (231_999, 463_999)
    # realized: the closed 58 % of the -100 entry against the value: -58_000_000 + 46_399_994
    assert rec.realized_pnl == -11_600_006
    assert not rec.bankrupt and rec.canceled_order_ids == ()
    # margin freed: the shortage; the account leaves liquidation (it covered it)
    assert sim.user(k).liquidation_margin_freed == 1_600_008
    assert sim.user(k).status & BEING_LIQUIDATED == 0
    # left: 0.42 SOL; its loss 33_599_995 - 42_000_000 = -8_400_005 and both fees settle:
    # USDC 22_400_000 - 11_600_006 - 231_999 - 463_999 - 8_400_005 = 1_703_991
    assert sim.token_amount(k, "USDC") == 1_703_991
    # requirement floor(floor(0.42 x 79_999_990) x 300 / 1e4) = floor(33_599_995 x 0.03)
    assert sim.maintenance(k) == (1_703_991, 1_007_999)
    assert sim.liquidate_if_needed(T0 + 4) == []


def test_liquidation_cancels_the_accounts_open_orders_first():
    sim, k = liquidation_sim()
    bid = sim.place_order(k, limit("long", BASE, 60 * PRICE), T0 + 2)
    assert bid.status == "open" and sim.user(k).open_orders == 1
    sim.set_oracle_price("SOL", 79_000_000, T0 + 3)
    (rec,) = sim.liquidate_if_needed(T0 + 3)
    assert rec.canceled_order_ids == (bid.order_id,)
    assert sim.user(k).open_orders == 0
    assert not [o for o in sim.user(k).orders if o.order_id and type(o.status).__name__ == "Open"]
    # with the bid gone the requirement is the position's alone: 79 x 3 % + 2 % buffer
    assert rec.margin_requirement == 3_950_000 and rec.total_collateral == 1_400_000


def test_a_liquidation_that_leaves_only_debt_marks_the_account_bankrupt():
    sim, k = liquidation_sim()
    # the account's collateral sits in unsettled perp PnL, its USDC withdrawn earlier:
    # move the 22.40 USDC into the position's quote (the value stays the same)
    user = sim.user(k)
    (usdc,) = [sp for sp in user.spot_positions if sp.market_index == 0 and sp.scaled_balance]
    sim.spot_markets[0].deposit_balance -= usdc.scaled_balance
    usdc.scaled_balance = 0
    pos = sim.perp_position(k, "SOL-PERP")
    pos.quote_asset_amount += 22_400_000
    sim.perp_market("SOL-PERP").amm.quote_asset_amount += 22_400_000
    assert sim.maintenance(k) == (22_400_000, 3_000_000)
    sim.set_oracle_price("SOL", 1_000_000, T0 + 3)  # $100 -> $1
    (rec,) = sim.liquidate_if_needed(T0 + 3)
    # worth less than $50: closed whole. value $1, liquidator fee floor(1e6 x 0.5 %) = 5_000;
    # IF fee: the implied fee (shortage 76_650_000 over $1 of base) is far above the 4.5 %
    # left, so max(0, ...) = 0 (the program does not charge what would only deepen the hole)
    assert rec.base_asset_amount == -BASE and rec.quote_asset_amount == 1_000_000
    assert (rec.liquidator_fee, rec.if_fee) == (5_000, 0)
    assert rec.realized_pnl == -99_000_000
    # no asset left, a quote debt of -77_600_000 + 1_000_000 - 5_000 = -76_605_000
    assert rec.bankrupt
    assert sim.perp_position(k, "SOL-PERP").quote_asset_amount == -76_605_000
    assert sim.user(k).status & BANKRUPT
