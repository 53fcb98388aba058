"""The rules of live/inputs.py against the program's, and where driftpy differs
(protocol-v2 `math/oracle.rs::oracle_validity`, `math/spot_balance.rs`), plus the
board's per-side funding history (one shape for paper and live)."""

from __future__ import annotations

import copy

import pytest
from driftpy.math.oracles import is_oracle_valid
from driftpy.math.spot_balance import calculate_borrow_rate, calculate_utilization
from driftpy.types import ContractTier, OraclePriceData, OracleSource

from drift_engine.core.accounts import make_state
from drift_engine.data.models import FundingRecord
from drift_engine.engine.market_board import MarketBoard
from drift_engine.live.inputs import (
    borrow_rate,
    check_perp_oracle,
    check_spot_oracle,
    oracle_block_reason,
    spot_rates,
    utilization,
)
from drift_engine.sim.simulator import DriftSimulator

T0 = 1_767_225_600
PRICE = 150_000_000


@pytest.fixture(scope="module")
def sim() -> DriftSimulator:
    return DriftSimulator({"SOL-PERP": PRICE, "SOL": PRICE}, ts=T0)


def _oracle(price=PRICE, conf=0, posted=1_000, enough=True) -> OraclePriceData:
    return OraclePriceData(price, posted, conf, price, conf, enough)


# --------------------------------------------------------------------------- oracles


@pytest.mark.parametrize(
    ("data", "slot", "validity", "blocks"),
    [
        (_oracle(), 1_000, "Valid", False),
        (_oracle(), 1_010, "Valid", False),  # delay 10 = slots_before_stale_for_amm
        (_oracle(), 1_011, "StaleForAMM", False),  # the AMM waits; margin does not
        (_oracle(), 1_120, "StaleForAMM", False),  # delay 120 = ..._for_margin
        (_oracle(), 1_121, "StaleForMargin", True),
        (_oracle(conf=PRICE * 2 // 100), 1_000, "Valid", False),  # 2 % (tier B x1)
        (_oracle(conf=PRICE * 2 // 100 + 150), 1_000, "TooUncertain", True),
        (_oracle(price=0), 1_000, "NonPositive", True),
        (_oracle(price=PRICE * 6), 1_000, "TooVolatile", True),  # 6x the TWAP > 5
        (_oracle(enough=False), 1_000, "InsufficientDataPoints", False),
        # severity order: too uncertain before stale
        (_oracle(conf=PRICE // 10), 5_000, "TooUncertain", True),
    ],
)
def test_perp_oracle_validity_follows_the_program(sim, data, slot, validity, blocks):
    market = sim.perp_markets[0]
    assert type(market.contract_tier).__name__ == "B"
    check = check_perp_oracle(market, data, slot, sim.state)
    assert check.validity == validity
    assert check.blocks_risk is blocks
    assert bool(oracle_block_reason("SOL-PERP", check)) is blocks


def test_confidence_multiplier_by_tier_and_stablecoin_staleness(sim):
    perp = copy.deepcopy(sim.perp_markets[0])
    wide = _oracle(conf=PRICE * 3 // 100)  # 3 %
    assert check_perp_oracle(perp, wide, 1_000, sim.state).validity == "TooUncertain"
    perp.contract_tier = ContractTier.C()  # x2: 4 %
    assert check_perp_oracle(perp, wide, 1_000, sim.state).validity == "Valid"
    usdc = copy.deepcopy(sim.spot_markets[0])
    usdc.oracle_source = OracleSource.PythLazerStableCoin()
    one = _oracle(price=1_000_000)
    usdc.historical_oracle_data.last_oracle_price_twap = 1_000_000
    # a stablecoin's oracle may be 3 x slots_before_stale_for_margin old
    assert check_spot_oracle(usdc, one, 1_000 + 360, sim.state).validity == "StaleForAMM"
    assert check_spot_oracle(usdc, one, 1_000 + 361, sim.state).validity == "StaleForMargin"


def test_driftpy_calls_an_oracle_stale_that_the_program_still_margins_with(sim):
    """driftpy's `is_oracle_valid` treats any delay over slots_before_stale_for_amm (10)
    as invalid; the program still uses such an oracle for margin (MarginCalc allows
    StaleForAMM), so our guard does not refuse orders for it."""
    market = sim.perp_markets[0]
    data = _oracle(posted=1_000)
    assert not is_oracle_valid(market, data, sim.state.oracle_guard_rails, 1_050)
    check = check_perp_oracle(market, data, 1_050, sim.state)
    assert check.validity == "StaleForAMM" and not check.blocks_risk


def test_the_state_carries_the_programs_default_guard_rails():
    rails = make_state().oracle_guard_rails.validity
    assert (
        rails.slots_before_stale_for_amm,
        rails.slots_before_stale_for_margin,
        rails.confidence_interval_max_size,
        rails.too_volatile_ratio,
    ) == (10, 120, 20_000, 5)


# --------------------------------------------------------------------------- spot rates


def test_borrow_rate_curve_agrees_with_driftpy_at_exact_utilisations(sim):
    spot = copy.deepcopy(sim.spot_markets[1])
    for deposits, borrows in [(1_000, 0), (1_000, 300), (1_000, 800), (1_000, 900), (100, 99)]:
        spot.deposit_balance = deposits * 10**9
        spot.borrow_balance = borrows * 10**9
        util = utilization(spot)
        assert util == calculate_utilization(spot)
        assert borrow_rate(spot, util) == calculate_borrow_rate(spot)


def test_utilisation_divides_integers_as_the_program_does_not_floats_as_driftpy(sim):
    """80 % minus 1e-17: the program's integer token amounts and division give 799999
    (1e-6); driftpy's float divisions round to 800000; the borrow rate differs by one."""
    spot = copy.deepcopy(sim.spot_markets[1])
    spot.deposit_balance = 10**17 + 1
    spot.borrow_balance = 8 * 10**16
    assert utilization(spot) == 799_999
    assert calculate_utilization(spot) == 800_000
    assert borrow_rate(spot, utilization(spot)) == calculate_borrow_rate(spot) - 1
    deposit_apr, borrow_apr = spot_rates(spot)
    assert borrow_apr == borrow_rate(spot, 799_999) / 1e6


def test_no_borrows_pay_the_minimum_rate_and_deposits_earn_nothing(sim):
    spot = copy.deepcopy(sim.spot_markets[1])
    spot.deposit_balance, spot.borrow_balance = 10**12, 0
    deposit_apr, borrow_apr = spot_rates(spot)
    assert deposit_apr == 0.0
    assert borrow_apr == spot.min_borrow_rate * 5_000 / 1e6


# --------------------------------------------------------------------------- board


def _record(ts: int, rate: int, long_: int, short: int) -> FundingRecord:
    return FundingRecord(ts, "SOL-PERP", 0, rate, long_, short, 0, 0, PRICE, PRICE)


def test_paper_funding_records_feed_both_sides_in_one_shape():
    board = MarketBoard(["SOL-PERP"])
    board.apply(_record(T0 + 3600, 2_000_000, 2_000_000, 200_000))
    snap = board.snapshot("SOL-PERP")
    unit = PRICE * 1000
    assert snap.funding_history == ((T0 + 3600, 2_000_000 / unit),)
    assert snap.funding_sides == ((T0 + 3600, 2_000_000 / unit, 200_000 / unit),)
    assert snap.funding_apr_over(1, side="short") == 200_000 / unit * 8760
    assert snap.funding_apr_over(1, side="long") == snap.funding_apr_over(1)
    with pytest.raises(ValueError, match="side"):
        snap.funding_apr_over(1, side="both")


def test_backfill_merges_each_funding_time_once_in_order():
    board = MarketBoard(["SOL-PERP"])
    board.add_funding("SOL-PERP", T0 + 3 * 3600, 0.3, 0.3, 0.2)
    added = board.backfill_funding(
        "SOL-PERP",
        [(T0 + h * 3600, h / 10, h / 10, h / 10) for h in range(1, 4)],
    )
    assert added == 2  # hour 3 was known already
    snap = board.snapshot("SOL-PERP")
    assert [ts for ts, _ in snap.funding_history] == [T0 + h * 3600 for h in (1, 2, 3)]
    assert len(snap.funding_sides) == 3 and snap.last_funding_ts == T0 + 3 * 3600


def test_a_board_saved_before_the_sides_existed_loads_with_both_sides_at_the_rate():
    board = MarketBoard(["SOL-PERP"])
    board.add_funding("SOL-PERP", T0 + 3600, 0.001)
    saved = board.dump()
    for market in saved["markets"].values():  # as an older version wrote it
        market.pop("sides")
        for key in ("funding_sides", "funding_rate_long", "funding_rate_short"):
            market["values"].pop(key)
        for key in ("oracle_invalid", "spot_oracle_invalid"):
            market["values"].pop(key)
    again = MarketBoard(["SOL-PERP"])
    again.load(saved)
    snap = again.snapshot("SOL-PERP")
    assert snap.funding_sides == ((T0 + 3600, 0.001, 0.001),)
    again.set_oracle_status("SOL-PERP", "stale")
    assert again.snapshot("SOL-PERP").oracle_invalid == "stale"
