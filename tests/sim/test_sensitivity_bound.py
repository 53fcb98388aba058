"""The kept liquidation check's price bound holds for large IMF size premiums.

After a full maintenance calculation the simulator keeps the free collateral and a
sensitivity per market (`LiquidationMixin._sensitivity`: an upper bound of
|d(collateral - requirement)| per unit of price), and a later check says "cannot be
liquidatable" while the price moves since, times the sensitivities, stay below the kept
free collateral. The bound used a flat 3 x size for a perp (uPnL weight <= 1 plus a
margin ratio <= 1, x1.5). The program's IMF size premium has no cap: a large position
in a market with a large `imf_factor` has a maintenance ratio above 100 %, its
requirement moves faster than the bound said, and a due liquidation was missed. These
tests draw such accounts (the simulator's mainnet markets with the IMF factor raised)
and check the bound against the program's calculation at the moved prices.
"""

from __future__ import annotations

from driftpy.math.margin import MarginCategory
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from drift_engine.core.program_math import calculate_margin
from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.sim import DriftSimulator
from drift_engine.sim.state import SimulationError

PERP = (MarketType.PERP, 0)
SOL = (MarketType.SPOT, 1)
PRICE = 100_000_000  # $100


def _sim(perp_imf: int | None = None, spot_imf: int | None = None) -> DriftSimulator:
    sim = DriftSimulator({"SOL-PERP": PRICE, "SOL": PRICE}, ts=DEFAULT_ORIGIN)
    if perp_imf is not None:
        sim.perp_markets[0].imf_factor = perp_imf
    if spot_imf is not None:
        sim.spot_markets[1].imf_factor = spot_imf
    return sim


def _free(sim: DriftSimulator, k) -> int:
    """The program's maintenance free collateral (collateral - requirement) now."""
    calc = calculate_margin(sim.user(k), sim.market_snapshot(), MarginCategory.MAINTENANCE)
    return calc.total_collateral - calc.margin_requirement


def test_a_large_premium_short_is_liquidated_when_the_price_rises():
    # IMF factor 10 %: a 1,000 SOL short has a maintenance ratio of ~316 %. 400k USDC
    # leaves ~81k of free collateral; +$25 moves the requirement by ~79k and the uPnL by
    # 25k, so the account is ~23k below maintenance, while 3 x size x $25 = 75k < 81k
    # (the flat bound) said it could not be
    sim = _sim(perp_imf=100_000)
    k = sim.open_account()
    sim.deposit(k, "USDC", 400_000 * 10**6, DEFAULT_ORIGIN)
    sim.place_order(
        k, OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, 1_000 * 10**9), DEFAULT_ORIGIN
    )
    assert sim.liquidate_if_needed(DEFAULT_ORIGIN) == []
    assert sim._account(k).safe is not None  # the kept check the next one reads
    ts = DEFAULT_ORIGIN + 60
    sim.set_oracle_price("SOL-PERP", PRICE * 5 // 4, ts)
    assert _free(sim, k) < 0  # below maintenance, by the program's calculation
    liquidations = sim.liquidate_if_needed(ts)
    assert [(r.kind, r.sub_account_id) for r in liquidations] == [("liquidation", 0)]
    assert liquidations[0].total_collateral < liquidations[0].margin_requirement


@settings(max_examples=80, deadline=None)
@given(
    imf=st.one_of(st.just(0), st.integers(1, 1_000_000)),
    base=st.integers(1, 20_000).map(lambda n: n * 10**8),  # 0.1 .. 2,000 SOL
    short=st.booleans(),
    cushion=st.floats(1.0, 1.6),  # collateral over the initial requirement
    move=st.floats(0.5, 1.5),
    spot_borrow=st.booleans(),
    spot_imf=st.integers(0, 1_000_000),
)
def test_a_not_liquidatable_from_the_kept_bound_is_never_wrong(
    imf, base, short, cushion, move, spot_borrow, spot_imf
):
    sim = _sim(perp_imf=imf, spot_imf=spot_imf)
    k = sim.open_account()
    side = PositionDirection.SHORT if short else PositionDirection.LONG
    probe = _sim(perp_imf=imf, spot_imf=spot_imf)
    pk = probe.open_account()
    probe.deposit(pk, "USDC", 10**15, DEFAULT_ORIGIN)
    probe.place_order(pk, OrderIntent(0, MarketType.PERP, side, base), DEFAULT_ORIGIN)
    calc = calculate_margin(probe.user(pk), probe.market_snapshot(), MarginCategory.INITIAL)
    need = calc.margin_requirement - (calc.total_collateral - 10**15)
    sim.deposit(k, "USDC", max(10**6, int(need * cushion)), DEFAULT_ORIGIN)
    try:
        if spot_borrow:  # SOL borrowed against the USDC (a liability priced at SOL's)
            sim.withdraw(k, "SOL", max(1, base // 50), DEFAULT_ORIGIN)
        sim.place_order(k, OrderIntent(0, MarketType.PERP, side, base), DEFAULT_ORIGIN)
    except SimulationError:
        assume(False)  # refused by the initial margin: nothing to check
    sim.liquidate_if_needed(DEFAULT_ORIGIN)
    acct = sim._account(k)
    assume(acct.safe is not None)  # a kept check (above maintenance at entry)
    ts = DEFAULT_ORIGIN + 60
    price = max(1_000_000, int(PRICE * move))
    sim.set_oracle_price("SOL-PERP", price, ts)
    sim.set_oracle_price("SOL", price, ts)
    free = _free(sim, k)
    # the bound itself: the moves times the sensitivities cover the change of free
    # collateral (a few units of the program's rounding aside)
    kept_free, sensitivity = acct.safe[0], acct.safe[1]
    moved = sum(s * abs(sim._prices[key] - p0) for key, (p0, s) in sensitivity.items())
    assert abs(free - kept_free) <= moved + 10, (free, kept_free, moved)
    # and the decision read from it
    if not sim._possibly_liquidatable(acct):
        assert free >= 0
