"""`equity()` of the paper and live venues follows the program's user equity
(math/margin.rs `calculate_user_equity`): a short's value is divided toward zero and
unsettled funding is part of a perp position's pnl. Both tests failed before the fix
(floored short values, no funding)."""

from __future__ import annotations

from types import SimpleNamespace

from solders.pubkey import Pubkey

from drift_engine.core.types import (
    MarketType,
    OrderIntent,
    PositionDirection,
    positions_from_user,
)
from drift_engine.venues.live import LiveVenue
from drift_engine.venues.paper import PaperVenue
from tests.sim.conftest import PRICE, QUOTE, T0, make_sim

SHORT = OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, 10_000_000)  # 0.01 SOL
ODD_PRICE = 100_000_001  # 0.01 x $100.000001 = $1.00000001: not a whole micro-USDC
FUNDING = 10**9  # +$1 per SOL to shorts (FUNDING_RATE 1e9): $0.01 on 0.01 SOL


def _short_with_unsettled_funding():
    sim = make_sim(sol_price=100 * PRICE)
    venue = PaperVenue(sim)
    venue.fund(1_000 * QUOTE, T0)
    venue.place([SHORT], T0 + 1)  # quote +$1.00, fee 3.5 bps of $1: 350 micro-USDC, settled
    sim.set_oracle_price("SOL", ODD_PRICE, T0 + 2)
    # the market's cumulative short rate moves; the position has not settled it yet
    sim.perp_market("SOL-PERP").amm.cumulative_funding_rate_short += FUNDING
    return sim, venue


# USDC 1000 - 0.00035; perp: trunc(-0.01 x 100.000001) = -1.000000 (floor: -1.000001)
# + quote +1.000000 + unsettled funding +0.01
EXPECTED = 1_000 * QUOTE - 350 - 1_000_000 + 1_000_000 + 10_000


def test_paper_equity_is_the_programs_user_equity():
    _, venue = _short_with_unsettled_funding()
    assert venue.equity() == EXPECTED


def test_live_equity_is_the_programs_user_equity():
    """LiveVenue over a chain read holding the same accounts (no RPC needed for equity)."""
    sim, _ = _short_with_unsettled_funding()
    (key,) = sim.accounts
    client = SimpleNamespace(sub_account_id=0, user_pubkey=Pubkey.default())
    venue = LiveVenue(client)
    venue._state = SimpleNamespace(
        user=sim.user(key),
        perp_markets=sim.perp_markets,
        spot_markets=sim.spot_markets,
        perp_prices={0: ODD_PRICE},
        spot_prices={0: PRICE, 1: ODD_PRICE},
        positions=tuple(positions_from_user(sim.user(key), sim.spot_markets)),
    )
    assert venue.equity() == EXPECTED
    venue._state.user = None  # the sub-account does not exist (yet)
    assert venue.equity() == 0
