"""Where a taker fills: oracle price +/- half-spread +/- size-dependent impact.

Drift fills takers through a short auction against makers/JIT and the AMM; for paper and
backtests we model the outcome: the fill price is the oracle price moved against the
taker by

    slippage_ppm = half_spread_ppm + impact_ppm_at_reference * sqrt(notional / reference)

(ppm = parts per million of the oracle price), then rounded to the market's tick against
the taker (buys up, sells down). The square-root impact is the usual empirical shape.

Default calibration (SOL-PERP, a liquid Drift market): half-spread 1 bp and 0.5 bp of
impact at $10,000, so a $10k taker slips 1.5 bps (~$1.50) and $1M slips 6 bps; with the
State's default tier-0 taker fee (10 bps, `FeeStructure::perps_default`) a $10k SOL-PERP
market order costs ~11.5 bps all-in. These are modelling assumptions, not measurements:
pass a `PriceModel` per market to change them (BTC/ETH are typically tighter).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt

PPM = 1_000_000
QUOTE_PRECISION = 10**6


@dataclass(frozen=True, slots=True)
class PriceModel:
    half_spread_ppm: int = 100  # 1 bp
    impact_ppm_at_reference: int = 50  # 0.5 bp at the reference notional
    reference_notional: int = 10_000 * QUOTE_PRECISION  # $10k

    def slippage_ppm(self, notional: int) -> int:
        """Half-spread plus impact for a taker of `notional` (QUOTE 1e6), in ppm (floored)."""
        if notional <= 0 or self.impact_ppm_at_reference == 0:
            return self.half_spread_ppm
        # sqrt(notional / reference) in 1e6 fixed point
        root = isqrt(notional * PPM * PPM // self.reference_notional)
        return self.half_spread_ppm + self.impact_ppm_at_reference * root // PPM

    def taker_price(self, oracle_price: int, long: bool, notional: int, tick: int = 1) -> int:
        """The fill price (PRICE 1e6) of a taker buying (`long`) or selling `notional`."""
        slip = self.slippage_ppm(notional)
        if long:
            price = -(-oracle_price * (PPM + slip) // PPM)
            if tick > 1 and price % tick:
                price += tick - price % tick
        else:
            price = oracle_price * (PPM - slip) // PPM
            if tick > 1:
                price -= price % tick
        return max(price, tick if tick > 0 else 1)

    def best_bid_ask(self, oracle_price: int, tick: int = 1) -> tuple[int, int]:
        """The model's top of book: the prices of an infinitesimal taker sell and buy."""
        return (
            self.taker_price(oracle_price, False, 0, tick),
            self.taker_price(oracle_price, True, 0, tick),
        )


#: The default model (calibrated on SOL-PERP as above).
DEFAULT_PRICE_MODEL = PriceModel()

__all__ = ["DEFAULT_PRICE_MODEL", "PriceModel"]
