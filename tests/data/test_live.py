"""The live source decodes recorded Drift accounts into the right prices and rates.

The "recording" is account bytes encoded with Drift's IDL (core.program.encode_account),
served by a stub with the shape of solana's AsyncClient.get_account_info. No network.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace

import pytest
from driftpy.addresses import get_perp_market_public_key, get_spot_market_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.types import OracleSource
from solders.pubkey import Pubkey

from drift_engine.clock import SimulatedClock
from drift_engine.core.program import encode_account, new_account
from drift_engine.data import FundingRecord, OracleTick, SpotRateRecord
from drift_engine.data.live import LiveRpcSource

T0 = 1_767_225_600
SOL_ORACLE = Pubkey.from_string("3m6i4RFWEDw2Ft4tFHPJtYgmpPe21k56M3FHeWYrgGBz")
USDC_ORACLE = Pubkey.from_string("9VCioxmni2gDLv11qufWzT3RDERhQE4iY5Gf7NTfYyAV")


def lazer_oracle(price: int, exponent: int = -8) -> bytes:
    oracle = new_account("PythLazerOracle")
    oracle.price, oracle.exponent, oracle.posted_slot, oracle.conf = price, exponent, 1, 1000
    return encode_account("PythLazerOracle", oracle)


def sol_perp(funding_ts: int, rate: int, cumulative: int) -> bytes:
    market = new_account("PerpMarket")
    market.market_index = 0
    amm = market.amm
    amm.oracle = SOL_ORACLE
    amm.oracle_source = OracleSource.PythLazer()
    amm.last_funding_rate = rate
    amm.last_funding_rate_long = rate
    amm.last_funding_rate_short = rate - 1
    amm.cumulative_funding_rate_long = cumulative
    amm.cumulative_funding_rate_short = cumulative - 5
    amm.last_funding_rate_ts = funding_ts
    amm.last_funding_oracle_twap = 145_100_000
    amm.last_mark_price_twap = 145_180_000
    amm.funding_period = 3600
    return encode_account("PerpMarket", market)


def sol_spot() -> bytes:
    market = new_account("SpotMarket")
    market.market_index = 1
    market.decimals = 9
    market.oracle = SOL_ORACLE
    market.oracle_source = OracleSource.PythLazer()
    market.cumulative_deposit_interest = 10_200_000_000  # 1.02 (1e10)
    market.cumulative_borrow_interest = 10_400_000_000  # 1.04
    market.deposit_balance = 1_040_000_000_000  # tokens: 1.04e12 x 1.02 / 1e10 = 1.0608e11 ...
    market.borrow_balance = 510_000_000_000  # ... and 5.1e11 x 1.04 / 1e10 = 5.304e10: 50%
    market.optimal_utilization = 800_000  # 80%
    market.optimal_borrow_rate = 100_000  # 10% APR at 80% utilization
    market.max_borrow_rate = 1_000_000
    market.insurance_fund.total_factor = 100_000  # 10% of interest to the insurance fund
    return encode_account("SpotMarket", market)


def usdc_spot() -> bytes:
    market = new_account("SpotMarket")
    market.market_index = 0
    market.decimals = 6
    market.oracle = USDC_ORACLE
    market.oracle_source = OracleSource.QuoteAsset()
    market.cumulative_deposit_interest = 10_000_000_000
    market.cumulative_borrow_interest = 10_000_000_000
    market.optimal_utilization = 900_000
    market.optimal_borrow_rate = 120_000
    market.max_borrow_rate = 1_000_000  # no deposits, no borrows: utilization 0, rates 0
    return encode_account("SpotMarket", market)


class RecordedRpc:
    """Serves the latest recorded frame at or before the clock's time."""

    def __init__(self, frames: dict[int, dict[Pubkey, bytes]], clock: SimulatedClock) -> None:
        self.frames = sorted(frames.items())
        self.clock = clock
        self.calls = 0

    async def get_account_info(self, pubkey, commitment=None, encoding="base64", data_slice=None):
        self.calls += 1
        frame = [f for t, f in self.frames if t <= self.clock.now()][-1]
        data = frame.get(pubkey)
        value = None if data is None else SimpleNamespace(data=data, owner=DRIFT_PROGRAM_ID)
        return SimpleNamespace(context=SimpleNamespace(slot=1000), value=value)


PERP = get_perp_market_public_key(DRIFT_PROGRAM_ID, 0)
SOL_SPOT = get_spot_market_public_key(DRIFT_PROGRAM_ID, 1)
USDC_SPOT = get_spot_market_public_key(DRIFT_PROGRAM_ID, 0)


def frame(price: int, funding_ts: int, rate: int, cumulative: int) -> dict[Pubkey, bytes]:
    return {
        PERP: sol_perp(funding_ts, rate, cumulative),
        SOL_SPOT: sol_spot(),
        USDC_SPOT: usdc_spot(),
        SOL_ORACLE: lazer_oracle(price),
    }


def test_snapshot_decodes_prices_funding_and_spot_rates():
    clock = SimulatedClock(T0)
    rpc = RecordedRpc({0: frame(14_525_000_000, T0 - 100, -4_750, 123_456_789)}, clock)
    source = LiveRpcSource(connection=rpc, clock=clock)
    events = asyncio.run(source.snapshot(["SOL-PERP", "SOL", "USDC"]))
    by_kind = {(type(e).__name__, e.market): e for e in events}
    # 14_525_000_000 x 1e-8 = $145.25 -> 145_250_000 in PRICE precision.
    assert by_kind[("OracleTick", "SOL-PERP")] == OracleTick(
        T0, "SOL-PERP", 145_250_000, "real (live rpc)"
    )
    assert by_kind[("OracleTick", "SOL")].price == 145_250_000
    assert ("OracleTick", "USDC") not in by_kind  # quote asset: no oracle account read
    funding = by_kind[("FundingRecord", "SOL-PERP")]
    assert funding == FundingRecord(
        ts=T0 - 100,
        market="SOL-PERP",
        market_index=0,
        funding_rate=-4_750,
        funding_rate_long=-4_750,
        funding_rate_short=-4_751,
        cumulative_funding_rate_long=123_456_789,
        cumulative_funding_rate_short=123_456_784,
        oracle_price_twap=145_100_000,
        mark_price_twap=145_180_000,
        source="real (live rpc)",
    )
    sol_rate = by_kind[("SpotRateRecord", "SOL")]
    # Utilization 50%: borrow = 50% x 10% / 80% = 6.25% (62_500 in 1e6);
    # deposit = 62_500 x (1 - 10% IF) x 50% = 28_125 -> 2.8125%.
    assert sol_rate.borrow_rate == Decimal("0.0625")
    assert sol_rate.deposit_rate == Decimal("0.028125")
    assert (sol_rate.cumulative_deposit_interest, sol_rate.cumulative_borrow_interest) == (
        10_200_000_000,
        10_400_000_000,
    )
    usdc = by_kind[("SpotRateRecord", "USDC")]
    assert (usdc.deposit_rate, usdc.borrow_rate, usdc.market_index) == (0, 0, 0)


def test_polling_yields_new_funding_once_and_unchanged_rates_once():
    clock = SimulatedClock(T0)
    frames = {
        0: frame(14_525_000_000, T0 - 100, -4_750, 1_000_000),  # funding before the window
        T0 + 60: frame(14_600_000_000, T0 + 30, -5_000, 995_000),  # new hourly update
        T0 + 120: frame(14_650_000_000, T0 + 30, -5_000, 995_000),  # same funding again
    }
    source = LiveRpcSource(connection=RecordedRpc(frames, clock), clock=clock, poll_interval=60)
    events = list(source.events(["SOL-PERP", "SOL"], T0, T0 + 180))
    source.close()
    summary = [(type(e).__name__, e.market, e.ts) for e in events]
    assert summary == [
        ("OracleTick", "SOL", T0),
        ("OracleTick", "SOL-PERP", T0),
        ("SpotRateRecord", "SOL", T0),
        ("FundingRecord", "SOL-PERP", T0 + 30),
        ("OracleTick", "SOL", T0 + 60),
        ("OracleTick", "SOL-PERP", T0 + 60),
        ("OracleTick", "SOL", T0 + 120),
        ("OracleTick", "SOL-PERP", T0 + 120),
    ]
    prices = [e.price for e in events if isinstance(e, OracleTick) and e.market == "SOL-PERP"]
    assert prices == [145_250_000, 146_000_000, 146_500_000]
    funding = next(e for e in events if isinstance(e, FundingRecord))
    assert (funding.funding_rate, funding.cumulative_funding_rate_long) == (-5_000, 995_000)
    assert not any(isinstance(e, SpotRateRecord) and e.ts > T0 for e in events)
    assert clock.now() == T0 + 120


def test_live_source_needs_a_url_or_connection():
    with pytest.raises(ValueError, match="RPC URL"):
        LiveRpcSource()
