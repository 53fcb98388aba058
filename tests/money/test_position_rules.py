"""Position updates by the program's rules (`controller/position.rs`, `math/position.rs`)
on the account objects, with the market aggregates they move, worked out by hand:
open long 3 SOL for 450_000_001, sell 2 for 280_000_000, sell 3 for 420_000_003 (a flip
to short 2), buy 2 back for 250_000_000 (a close).
"""

from __future__ import annotations

import pytest

from drift_engine.sim import rules

from .conftest import BASE, funded

STEP = 10**7


@pytest.fixture
def fresh():
    sim, k = funded()
    market = sim.perp_market("SOL-PERP")
    market.amm.cumulative_funding_rate_long = 1_111
    market.amm.cumulative_funding_rate_short = -2_222
    pos = sim.user(k).perp_positions[0]
    assert rules.is_perp_position_available(pos)
    return pos, market


def test_position_update_types():
    assert rules.position_update_type(0, 5) == rules.OPEN
    assert rules.position_update_type(0, -5) == rules.OPEN
    assert rules.position_update_type(10, 5) == rules.INCREASE
    assert rules.position_update_type(-10, -5) == rules.INCREASE
    assert rules.position_update_type(10, -5) == rules.REDUCE
    assert rules.position_update_type(-10, 5) == rules.REDUCE
    assert rules.position_update_type(10, -10) == rules.CLOSE
    assert rules.position_update_type(-10, 10) == rules.CLOSE
    assert rules.position_update_type(10, -15) == rules.FLIP
    assert rules.position_update_type(-10, 15) == rules.FLIP


def test_open_reduce_flip_close_with_the_market_aggregates(fresh):
    pos, market = fresh
    amm = market.amm
    users, with_base = market.number_of_users, market.number_of_users_with_base
    quote0 = amm.quote_asset_amount

    # open long 3 for -450_000_001: nothing realized, entry and break-even take the quote
    assert rules.update_position_and_market(pos, market, 3 * BASE, -450_000_001) == 0
    assert (pos.base_asset_amount, pos.quote_asset_amount) == (3 * BASE, -450_000_001)
    assert pos.quote_entry_amount == pos.quote_break_even_amount == -450_000_001
    assert pos.last_cumulative_funding_rate == 1_111  # the long side's rate, stamped
    assert (market.number_of_users, market.number_of_users_with_base) == (users + 1, with_base + 1)
    assert (amm.base_asset_amount_long, amm.quote_entry_amount_long) == (3 * BASE, -450_000_001)
    assert amm.quote_break_even_amount_long == -450_000_001

    # reduce by 2: removes trunc(-450_000_001 x 2 / 3) = -300_000_000 of entry (toward zero)
    # realized -300_000_000 + 280_000_000 = -20_000_000
    assert rules.update_position_and_market(pos, market, -2 * BASE, 280_000_000) == -20_000_000
    assert pos.quote_entry_amount == pos.quote_break_even_amount == -150_000_001
    assert pos.quote_asset_amount == -170_000_001
    assert (amm.base_asset_amount_long, amm.quote_entry_amount_long) == (BASE, -150_000_001)
    assert amm.quote_break_even_amount_long == -150_000_001

    # flip: sell 3 with 1 held: the new short 2 starts at 420_000_003 - trunc(420_000_003 / 3)
    # = 280_000_002; realized -150_000_001 + 140_000_001 = -10_000_000
    assert rules.update_position_and_market(pos, market, -3 * BASE, 420_000_003) == -10_000_000
    assert pos.base_asset_amount == -2 * BASE
    assert pos.quote_entry_amount == pos.quote_break_even_amount == 280_000_002
    assert pos.last_cumulative_funding_rate == -2_222  # now the short side's
    assert (amm.base_asset_amount_long, amm.base_asset_amount_short) == (0, -2 * BASE)
    assert (amm.quote_entry_amount_long, amm.quote_entry_amount_short) == (0, 280_000_002)
    assert amm.quote_break_even_amount_short == 280_000_002
    assert amm.quote_break_even_amount_long == 0

    # close: buy 2 back for 250_000_000: realized 280_000_002 - 250_000_000 = 30_000_002
    assert rules.update_position_and_market(pos, market, 2 * BASE, -250_000_000) == 30_000_002
    assert (pos.base_asset_amount, pos.quote_entry_amount) == (0, 0)
    assert pos.last_cumulative_funding_rate == 0
    assert amm.base_asset_amount_short == 0 and amm.quote_entry_amount_short == 0
    # the quote left over (-450_000_001 + 280_000_000 + 420_000_003 - 250_000_000 = 2) keeps
    # the user counted until it is settled; the base counter is back
    assert pos.quote_asset_amount == 2
    assert (market.number_of_users, market.number_of_users_with_base) == (users + 1, with_base)
    assert amm.quote_asset_amount == quote0 + 2


def test_a_short_increase_and_reduce_move_the_short_aggregates(fresh):
    pos, market = fresh
    amm = market.amm
    rules.update_position_and_market(pos, market, -2 * BASE, 300_000_000)
    rules.update_position_and_market(pos, market, -BASE, 149_999_999)  # increase
    assert pos.quote_entry_amount == 449_999_999
    assert (amm.base_asset_amount_short, amm.quote_entry_amount_short) == (-3 * BASE, 449_999_999)
    assert amm.quote_break_even_amount_short == 449_999_999
    # reduce by 1 of 3: removes trunc(449_999_999 / 3) = 149_999_999; realized vs -140e6
    assert rules.update_position_and_market(pos, market, BASE, -140_000_000) == 9_999_999
    assert (amm.base_asset_amount_short, amm.quote_entry_amount_short) == (-2 * BASE, 300_000_000)
    assert amm.quote_break_even_amount_short == 300_000_000


def test_a_close_to_zero_quote_frees_the_user_slot(fresh):
    pos, market = fresh
    users = market.number_of_users
    rules.update_position_and_market(pos, market, BASE, -100_000_000)
    rules.update_position_and_market(pos, market, -BASE, 100_000_000)
    assert (pos.base_asset_amount, pos.quote_asset_amount) == (0, 0)
    assert market.number_of_users == users
    assert rules.is_perp_position_available(pos)


def test_a_position_change_needs_settled_funding_and_a_whole_step(fresh):
    pos, market = fresh
    rules.update_position_and_market(pos, market, BASE, -100_000_000)
    market.amm.cumulative_funding_rate_long += 5
    with pytest.raises(AssertionError, match="funding must be settled"):
        rules.update_position_and_market(pos, market, BASE, -100_000_000)
    market.amm.cumulative_funding_rate_long -= 5
    with pytest.raises(AssertionError, match="not a multiple of the step size"):
        rules.update_position_and_market(pos, market, STEP // 2, -1)


def test_quote_only_updates_count_users_and_break_even_follows_the_side(fresh):
    pos, market = fresh
    amm = market.amm
    users, q0 = market.number_of_users, amm.quote_asset_amount
    rules.update_quote_asset_amount(pos, market, 0)
    assert market.number_of_users == users and amm.quote_asset_amount == q0
    rules.update_quote_asset_amount(pos, market, 7)  # settled pnl lands on an empty slot
    assert market.number_of_users == users + 1 and amm.quote_asset_amount == q0 + 7
    rules.update_quote_asset_amount(pos, market, -7)
    assert market.number_of_users == users and pos.quote_asset_amount == 0
    # break-even moves only with a position, on its own side
    rules.update_quote_break_even_amount(pos, market, 5)
    assert pos.quote_break_even_amount == 0
    pos.base_asset_amount = BASE
    rules.update_quote_break_even_amount(pos, market, 5)
    assert pos.quote_break_even_amount == 5 and amm.quote_break_even_amount_long == 5
    pos.base_asset_amount = -BASE
    rules.update_quote_break_even_amount(pos, market, -3)
    assert amm.quote_break_even_amount_short == -3 and amm.quote_break_even_amount_long == 5
    pos.base_asset_amount = 0


def test_base_liquidator_fee_in_high_leverage_mode():
    sim, _ = funded()
    market = sim.perp_market("SOL-PERP")
    market.liquidator_fee = 30_000  # 3 %
    market.high_leverage_margin_ratio_initial = 500
    market.high_leverage_margin_ratio_maintenance = 333
    # HL mode: at most 80 % of 333 x 100 = 33_300 -> 33_300 - 6_660 = 26_640
    assert rules.base_liquidator_fee(market, True) == 26_640
    assert rules.base_liquidator_fee(market, False) == 30_000
    market.liquidator_fee = 26_639
    assert rules.base_liquidator_fee(market, True) == 26_639
    market.liquidator_fee = 30_000
    market.high_leverage_margin_ratio_initial = 0  # the mode is off for this market
    assert rules.base_liquidator_fee(market, True) == 30_000
    market.high_leverage_margin_ratio_initial = 500
    market.high_leverage_margin_ratio_maintenance = 0
    assert rules.base_liquidator_fee(market, True) == 30_000


def test_integer_division_helpers_round_as_the_program():
    assert [rules.div_trunc(a, b) for a, b in [(7, 2), (-7, 2), (7, -2), (-7, -2), (0, -3)]] == [
        3,
        -3,
        -3,
        3,
        0,
    ]
    assert [rules.div_ceil(a, 2) for a in (7, 6, 0)] == [4, 3, 0]


def test_unrealized_pnl_of_a_flat_position_and_a_negative_price(fresh):
    pos, market = fresh
    pos.quote_asset_amount = -5
    assert rules.unrealized_pnl(pos, 100_000_000) == -5
    pos.base_asset_amount = 1_230_000_000
    pos.quote_asset_amount = -100
    assert rules.unrealized_pnl(pos, -1) == -100  # a negative oracle counts as 0
    assert rules.unrealized_pnl(pos, 1) == -99  # trunc(1.23) = 1
    pos.base_asset_amount = -1_230_000_000
    assert rules.unrealized_pnl(pos, 1) == -101  # trunc(-1.23) = -1, toward zero
    pos.base_asset_amount, pos.quote_asset_amount = 0, 0


def test_a_one_micro_quote_update_and_the_user_count_it_adds_to(fresh):
    pos, market = fresh
    market.number_of_users = 5  # others are in the market
    rules.update_quote_asset_amount(pos, market, 1)  # even 1 micro-USDC opens the slot
    assert pos.quote_asset_amount == 1 and market.number_of_users == 6
    rules.update_quote_asset_amount(pos, market, -1)
    assert pos.quote_asset_amount == 0 and market.number_of_users == 5


def test_high_leverage_mode_at_the_smallest_ratios_and_the_fee_stays_an_integer():
    sim, _ = funded()
    market = sim.perp_market("SOL-PERP")
    market.liquidator_fee = 30_000
    # ratios of 1 (0.01 %) still enable the mode: 50 x 100 = 5_000 -> 5_000 - 1_000
    market.high_leverage_margin_ratio_initial = 1
    market.high_leverage_margin_ratio_maintenance = 50
    assert rules.base_liquidator_fee(market, True) == 4_000
    # 1 x 100 = 100 -> 100 - 20 = 80
    market.high_leverage_margin_ratio_initial = 50
    market.high_leverage_margin_ratio_maintenance = 1
    fee = rules.base_liquidator_fee(market, True)
    assert fee == 80 and type(fee) is int


def test_unrealized_pnl_of_one_base_unit_at_a_high_price(fresh):
    pos, _ = fresh
    pos.base_asset_amount, pos.quote_asset_amount = 1, 5
    assert rules.unrealized_pnl(pos, 2_000 * 10**6) == 7  # trunc(1 x 2e9 / 1e9) + 5
    pos.base_asset_amount, pos.quote_asset_amount = 0, 0


def test_claimable_pnl_of_one_micro_is_capped_at_the_realized_part(fresh):
    pos, _ = fresh
    # flat, quote 1 all of it entry: nothing realized, no pool excess -> 0 claimable
    pos.quote_asset_amount, pos.quote_entry_amount = 1, 1
    assert rules.claimable_pnl(pos, 100 * 10**6, 0) == 0
    assert rules.claimable_pnl(pos, 100 * 10**6, 1) == 1  # the pool's excess pays it
    pos.quote_asset_amount, pos.quote_entry_amount = 0, 0


def test_div_trunc_by_one():
    assert rules.div_trunc(7, 1) == 7
    assert rules.div_trunc(-7, 1) == -7


def test_a_quote_only_fill_settles_into_quote_and_is_all_realized(fresh):
    pos, market = fresh
    amm = market.amm
    amm.quote_asset_amount = 1_000
    users = market.number_of_users
    # no base change: the whole quote delta is realized and lands on the quote amounts
    assert rules.update_position_and_market(pos, market, 0, 123) == 123
    assert pos.quote_asset_amount == 123 and amm.quote_asset_amount == 1_123
    assert market.number_of_users == users + 1
    assert (pos.base_asset_amount, pos.quote_entry_amount) == (0, 0)
    rules.update_quote_asset_amount(pos, market, -123)
    assert amm.quote_asset_amount == 1_000 and market.number_of_users == users


def test_break_even_of_one_micro_and_one_base_unit_adds_to_the_side(fresh):
    pos, market = fresh
    amm = market.amm
    amm.quote_break_even_amount_long, amm.quote_break_even_amount_short = 500, -700
    pos.base_asset_amount = 1  # the smallest long
    rules.update_quote_break_even_amount(pos, market, 1)
    assert pos.quote_break_even_amount == 1 and amm.quote_break_even_amount_long == 501
    pos.base_asset_amount = -1
    rules.update_quote_break_even_amount(pos, market, -3)
    assert amm.quote_break_even_amount_short == -703 and amm.quote_break_even_amount_long == 501
    pos.base_asset_amount, pos.quote_break_even_amount = 0, 0


def test_rolling_30d_volume_decay_at_the_edges():
    window = 30 * 24 * 3600
    # an update in the same second counts as 1 s: 1000 x window x (window - 1) / window
    assert rules.rolling_30d(1_000 * window, 0, 5) == 1_000 * (window - 1) + 5
    # a whole window (or more) later nothing of the old sum is kept
    assert rules.rolling_30d(3 * window, window + 10, 7) == 7
