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


def test_aggregates_add_to_other_users_through_a_short_to_long_flip(fresh):
    pos, market = fresh
    amm = market.amm
    amm.base_asset_amount_long, amm.base_asset_amount_short = 10 * BASE, -20 * BASE
    amm.quote_entry_amount_long, amm.quote_entry_amount_short = -1_000, 2_000
    amm.quote_break_even_amount_long, amm.quote_break_even_amount_short = -1_100, 2_100
    market.number_of_users, market.number_of_users_with_base = 7, 4
    pos.quote_asset_amount = 50  # settled pnl: this user is already one of the 7

    # open short 3 for +300_000_001: counted once already, now also with a base
    assert rules.update_position_and_market(pos, market, -3 * BASE, 300_000_001) == 0
    assert (market.number_of_users, market.number_of_users_with_base) == (7, 5)
    assert amm.base_asset_amount_short == -23 * BASE
    assert amm.quote_entry_amount_short == 2_000 + 300_000_001
    assert amm.quote_break_even_amount_short == 2_100 + 300_000_001
    assert pos.quote_asset_amount == 50 + 300_000_001

    # buy 5 for -600_000_003 with 3 short: the new long 2 starts at
    # -600_000_003 - trunc(-600_000_003 x 3 / 5) = -600_000_003 + 360_000_001 = -240_000_002;
    # realized 300_000_001 + (-600_000_003 + 240_000_002) = -60_000_000
    assert rules.update_position_and_market(pos, market, 5 * BASE, -600_000_003) == -60_000_000
    assert pos.base_asset_amount == 2 * BASE
    assert pos.quote_entry_amount == pos.quote_break_even_amount == -240_000_002
    assert pos.last_cumulative_funding_rate == 1_111
    assert (amm.base_asset_amount_long, amm.base_asset_amount_short) == (12 * BASE, -20 * BASE)
    assert (amm.quote_entry_amount_long, amm.quote_entry_amount_short) == (-240_001_002, 2_000)
    assert amm.quote_break_even_amount_long == -240_001_102
    assert amm.quote_break_even_amount_short == 2_100
    assert (market.number_of_users, market.number_of_users_with_base) == (7, 5)

    # and back: sell 3 for +330_000_003 with 2 long: the new short 1 starts at
    # 330_000_003 - trunc(330_000_003 x 2 / 3) = 110_000_001; realized
    # -240_000_002 + (330_000_003 - 110_000_001) = -20_000_000
    assert rules.update_position_and_market(pos, market, -3 * BASE, 330_000_003) == -20_000_000
    assert pos.last_cumulative_funding_rate == -2_222
    assert (amm.base_asset_amount_long, amm.base_asset_amount_short) == (10 * BASE, -21 * BASE)
    assert (amm.quote_entry_amount_long, amm.quote_entry_amount_short) == (-1_000, 110_002_001)
    assert amm.quote_break_even_amount_long == -1_100
    assert amm.quote_break_even_amount_short == 110_002_101
    amm.cumulative_funding_rate_short -= 1  # unsettled funding on the short side
    with pytest.raises(
        AssertionError, match=r"^funding must be settled before a position changes \(short\)$"
    ):
        rules.update_position_and_market(pos, market, BASE, -110_000_000)


def test_positions_of_one_base_unit_stay_on_their_side(fresh):
    pos, market = fresh
    amm = market.amm
    amm.order_step_size = 1  # a market whose step is one base unit
    market.number_of_users, market.number_of_users_with_base = 7, 4
    # open long 1 for -1 from an empty slot: one more user, one more with a base
    rules.update_position_and_market(pos, market, 1, -1)
    assert (market.number_of_users, market.number_of_users_with_base) == (8, 5)
    assert (amm.base_asset_amount_long, amm.base_asset_amount_short) == (1, 0)
    assert (amm.quote_entry_amount_long, amm.quote_break_even_amount_long) == (-1, -1)
    # close it for +1: quote back to 0, the slot is free again
    assert rules.update_position_and_market(pos, market, -1, 1) == 0
    assert (market.number_of_users, market.number_of_users_with_base) == (7, 4)
    assert (amm.base_asset_amount_long, amm.base_asset_amount_short) == (0, 0)
    assert (amm.quote_entry_amount_long, amm.quote_entry_amount_short) == (0, 0)
    # short 2 for +2, then buy 3 for -3: a flip to a long of 1
    rules.update_position_and_market(pos, market, -2, 2)
    assert rules.update_position_and_market(pos, market, 3, -3) == 0  # 2 + (-3 + 1)
    assert (amm.base_asset_amount_long, amm.base_asset_amount_short) == (1, 0)
    assert (amm.quote_entry_amount_long, amm.quote_entry_amount_short) == (-1, 0)
    assert pos.last_cumulative_funding_rate == 1_111
    # even a one-unit long must settle its funding before it changes
    amm.cumulative_funding_rate_long += 1
    with pytest.raises(
        AssertionError, match=r"^funding must be settled before a position changes \(long\)$"
    ):
        rules.update_position_and_market(pos, market, 1, -1)


def test_position_update_types_at_one_base_unit():
    assert rules.position_update_type(1, 5) == rules.INCREASE
    assert rules.position_update_type(10, 1) == rules.INCREASE
    assert rules.position_update_type(-10, -1) == rules.INCREASE
    assert rules.position_update_type(1, -1) == rules.CLOSE


def test_a_deposit_scaled_balance_uses_the_deposit_index():
    sim, _ = funded()
    usdc = sim.spot_market("USDC")
    usdc.cumulative_deposit_interest = 10_300_000_000
    usdc.cumulative_borrow_interest = 10_500_000_000
    # 1e6 x 1e13 / 1.03e10 = 970_873_786.4 -> 970_873_786 (the borrow index: 952_380_952)
    assert rules.get_spot_balance(10**6, usdc, True, False) == 970_873_786
    assert rules.get_spot_balance(10**6, usdc, False, False) == 952_380_952
    assert rules.get_spot_balance(10**6, usdc, False, True) == 952_380_953  # rounded up


# --------------------------------------------------------------------------- spot balances
# controller/spot_balance.rs::update_spot_balances with deposit index 1.03 and borrow
# index 1.05 (USDC: token = scaled x index / 1e13), so using the wrong index, side or
# rounding gives a different integer.

DEP, BOR = 10_300_000_000, 10_500_000_000


def _usdc_position(scaled: int, deposit: bool):
    from driftpy.types import SpotBalanceType

    sim, k = funded()
    usdc = sim.spot_market("USDC")
    usdc.cumulative_deposit_interest, usdc.cumulative_borrow_interest = DEP, BOR
    usdc.deposit_balance, usdc.borrow_balance = 10**15, 10**14
    pos = sim.user(k).spot_positions[0]
    pos.scaled_balance = scaled
    pos.balance_type = SpotBalanceType.Deposit() if deposit else SpotBalanceType.Borrow()
    return pos, usdc


def test_get_spot_balance_rounds_up_only_a_non_zero_balance():
    _, usdc = _usdc_position(0, True)
    assert rules.get_spot_balance(0, usdc, True, True) == 0
    # 1 x 1e13 / 1.03e10 = 970.9 -> 970, rounded up 971
    assert rules.get_spot_balance(1, usdc, True, True) == 971


def test_spot_deposit_and_borrow_on_their_own_side():
    pos, usdc = _usdc_position(10**9, True)
    # deposit 1_234_567 more: 1_234_567 x 1e13 / 1.03e10 = 1_198_608_737.8 -> floor
    rules.update_spot_balances(1_234_567, True, usdc, pos)
    assert pos.scaled_balance == 10**9 + 1_198_608_737
    assert (usdc.deposit_balance, usdc.borrow_balance) == (10**15 + 1_198_608_737, 10**14)
    pos, usdc = _usdc_position(10**9, False)
    # borrow 1_234_567 more: / 1.05e10 = 1_175_778_095.2 -> rounded up 1_175_778_096
    rules.update_spot_balances(1_234_567, False, usdc, pos)
    assert pos.scaled_balance == 10**9 + 1_175_778_096
    assert (usdc.deposit_balance, usdc.borrow_balance) == (10**15, 10**14 + 1_175_778_096)


def test_spot_withdrawal_leaving_drift_rounds_the_scaled_amount_up():
    pos, usdc = _usdc_position(10**13, True)  # 10_300_000_000 tokens
    rules.update_spot_balances(1_234_567, False, usdc, pos, is_leaving_drift=True)
    # 1_198_608_737.8 rounded up: the user's balance loses 1_198_608_738
    assert pos.scaled_balance == 10**13 - 1_198_608_738
    assert (usdc.deposit_balance, usdc.borrow_balance) == (10**15 - 1_198_608_738, 10**14)
    pos, usdc = _usdc_position(10**13, True)
    rules.update_spot_balances(1_234_567, False, usdc, pos)  # staying in Drift: floor
    assert pos.scaled_balance == 10**13 - 1_198_608_737


def test_spot_withdrawal_of_everything_and_past_it():
    from driftpy.types import SpotBalanceType

    # 1_000_000_003 scaled = floor(1_030_000.003) = 1_030_000 tokens: taking all of them
    # clears the whole scaled balance (1_030_000 would only scale back to 1_000_000_000)
    pos, usdc = _usdc_position(1_000_000_003, True)
    rules.update_spot_balances(1_030_000, False, usdc, pos)
    assert pos.scaled_balance == 0 and usdc.deposit_balance == 10**15 - 1_000_000_003
    # a deposit of exactly 1 token (971 scaled: 1.0001) and a withdrawal of 5: the token
    # goes, then 4 are borrowed: ceil(4 x 1e13 / 1.05e10) = 3_810 scaled
    pos, usdc = _usdc_position(971, True)
    rules.update_spot_balances(5, False, usdc, pos)
    assert type(pos.balance_type) is SpotBalanceType.Borrow
    assert pos.scaled_balance == 3_810
    assert (usdc.deposit_balance, usdc.borrow_balance) == (10**15 - 971, 10**14 + 3_810)


def test_spot_repayment_past_a_one_token_borrow_leaves_a_one_token_deposit():
    from driftpy.types import SpotBalanceType

    # 1 scaled of borrow is ceil(1.05e10 / 1e13) = 1 token; repaying 2 clears it and
    # deposits the 1 left: 1 x 1e13 / 1.03e10 = 970.9 -> 970 scaled (a deposit floors)
    pos, usdc = _usdc_position(1, False)
    rules.update_spot_balances(2, True, usdc, pos)
    assert type(pos.balance_type) is SpotBalanceType.Deposit
    assert pos.scaled_balance == 970
    assert (usdc.deposit_balance, usdc.borrow_balance) == (10**15 + 970, 10**14 - 1)


def test_a_dust_deposit_worth_no_token_stays_in_the_balance_a_borrow_is_added_to():
    from driftpy.types import SpotBalanceType

    # controller/spot_balance.rs::update_spot_balances: the opposite balance is reduced
    # only when it is worth a token (`current_token_amount != 0`); otherwise the program
    # flips the balance type and *adds* the new scaled amount to what is there
    # (`increase_balance`). 500 scaled of deposit = floor(500 x 1.03e10 / 1e13) = 0 tokens;
    # borrowing 4: ceil(4 x 1e13 / 1.05e10) = ceil(3_809.5) = 3_810 scaled, on top of the
    # 500 of dust: 4_310 (the market's deposit total keeps the dust too)
    pos, usdc = _usdc_position(500, True)
    rules.update_spot_balances(4, False, usdc, pos)
    assert type(pos.balance_type) is SpotBalanceType.Borrow
    assert pos.scaled_balance == 500 + 3_810
    assert (usdc.deposit_balance, usdc.borrow_balance) == (10**15, 10**14 + 3_810)


def test_opening_a_long_adds_to_other_users_long_aggregates(fresh):
    pos, market = fresh
    amm = market.amm
    amm.base_asset_amount_long, amm.quote_entry_amount_long = 10 * BASE, -1_000
    amm.quote_break_even_amount_long = -1_100
    rules.update_position_and_market(pos, market, BASE, -100_000_001)
    assert amm.base_asset_amount_long == 11 * BASE
    assert amm.quote_entry_amount_long == -1_000 - 100_000_001
    assert amm.quote_break_even_amount_long == -1_100 - 100_000_001
