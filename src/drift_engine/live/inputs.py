"""What a live strategy sees of a market, read from the chain as the program reads it.

Paper engines get their market inputs from data events (`data.models`: `FundingRecord`,
`SpotRateRecord`, `OracleTick`) fed into the `MarketBoard`; a live engine's board is fed
from the accounts its client reads (`live.start.ChainMarketData`). This module turns
those accounts into the *same* board fields, so a strategy cannot tell paper from live:

* **Funding, per side.** `amm.last_funding_rate_long` / `_short` are what longs paid and
  shorts received in the last period — they differ from `last_funding_rate` when the AMM
  caps what it pays (`math/funding.rs::calculate_funding_rate_long_short`). Each is an
  hourly fraction of notional over the period's oracle TWAP (`funding_sides`).
* **Spot rates.** The borrow and deposit APR of a SpotMarket from its utilisation and
  interest curve, as `math/spot_balance.rs::calculate_borrow_rate` /
  `calculate_deposit_rate` compute them (`spot_rates`). driftpy's
  `calculate_borrow_rate` has the program's curve but computes the utilisation through
  float divisions (its deposit token amount and the ratio); the program divides
  integers, so the utilisation is ours, over the program's token amounts
  (`core.program_math.token_amount`).
* **Oracle validity.** `oracle_validity` follows `math/oracle.rs::oracle_validity` (the
  State's `oracle_guard_rails.validity`, the market's confidence multiplier by contract
  or asset tier); an oracle the program would not use for margin
  (`is_oracle_valid_for_action(.., MarginCalc)`: non-positive, too volatile, too
  uncertain, stale for margin) blocks new risk (`oracle_block_reason`).
* **Funding history at start.** `backfill_funding` reads each perp market's
  `FundingRateRecord` events from the market account's transaction history (the
  `update_funding_rate` transactions write it) over the strategy's lookback, so a
  restarted engine has its history at once instead of after `lookback_hours`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from driftpy.types import SpotBalanceType

from drift_engine.core.program_math import token_amount

log = logging.getLogger("drift_engine.live.inputs")

FUNDING_RATE_BUFFER = 10**3
#: PERCENTAGE / SPOT_RATE / SPOT_UTILIZATION / BID_ASK_SPREAD precision (1e6)
PERCENTAGE = 10**6
#: math/constants.rs INTEREST_RATE_SEGMENT_AND_WEIGHTS: (utilisation end, weight / 1000)
INTEREST_RATE_SEGMENTS = (
    (850_000, 50),
    (900_000, 100),
    (950_000, 150),
    (990_000, 200),
    (995_000, 250),
    (1_000_000, 250),
)


def _variant(value: Any) -> str:
    return type(value).__name__


# --------------------------------------------------------------------------- funding


@dataclass(frozen=True, slots=True)
class FundingSides:
    """One funding period of a perp market: ts and hourly rates (fractions of notional;
    positive: longs pay, shorts receive)."""

    ts: int
    rate: float
    long: float
    short: float


def funding_sides(
    ts: int, rate: int, rate_long: int, rate_short: int, oracle_twap: int
) -> FundingSides:
    """Hourly fractions from FUNDING_RATE (1e9, quote per base) rates and the period's
    oracle TWAP (PRICE 1e6): `rate / (twap × 1000)`, as `hourly_rate` does for paper."""
    scale = oracle_twap * FUNDING_RATE_BUFFER
    if scale <= 0:
        return FundingSides(ts, 0.0, 0.0, 0.0)
    return FundingSides(ts, rate / scale, rate_long / scale, rate_short / scale)


def amm_funding(amm: Any) -> FundingSides | None:
    """The last funding period an AMM recorded, or None before its first."""
    twap = amm.last_funding_oracle_twap or amm.historical_oracle_data.last_oracle_price_twap
    if not amm.last_funding_rate_ts or twap <= 0:
        return None
    return funding_sides(
        int(amm.last_funding_rate_ts),
        int(amm.last_funding_rate),
        int(amm.last_funding_rate_long),
        int(amm.last_funding_rate_short),
        int(twap),
    )


# --------------------------------------------------------------------------- spot rates


def utilization(spot_market: Any) -> int:
    """`math/spot_balance.rs::calculate_spot_market_utilization` (1e6): integer
    division (driftpy divides floats); borrows without deposits are 100 %."""
    deposits = token_amount(spot_market.deposit_balance, spot_market, SpotBalanceType.Deposit())
    borrows = token_amount(spot_market.borrow_balance, spot_market, SpotBalanceType.Borrow())
    if deposits == 0:
        return 0 if borrows == 0 else PERCENTAGE
    return borrows * PERCENTAGE // deposits


def borrow_rate(spot_market: Any, util: int) -> int:
    """`calculate_borrow_rate` (SPOT_RATE 1e6 per year): linear to the optimal rate up to
    the optimal utilisation, then the program's weighted segments up to the max rate,
    never below `min_borrow_rate × 1e6 / 200`."""
    optimal_util = int(spot_market.optimal_utilization)
    optimal_rate = int(spot_market.optimal_borrow_rate)
    max_rate = int(spot_market.max_borrow_rate)
    min_rate = int(spot_market.min_borrow_rate) * (PERCENTAGE // 200)
    if optimal_util <= 0:
        return min_rate  # no interest curve (the program would divide by zero)
    if util <= optimal_util:
        rate = util * (optimal_rate * PERCENTAGE // optimal_util) // PERCENTAGE
    else:
        extra = max_rate - optimal_rate
        rate, start = optimal_rate, optimal_util
        for end, weight in INTEREST_RATE_SEGMENTS:
            segment = extra * weight // 1000
            if util <= end:
                rate += segment * (util - start) // (end - start)
                break
            rate += segment
            start = end
    return max(rate, min_rate)


def spot_rates(spot_market: Any) -> tuple[float, float]:
    """(deposit APR, borrow APR) as fractions per year (0.05 = 5 %), the program's
    integers (`calculate_deposit_rate`: borrow × (1 − insurance total factor) ×
    utilisation) divided once at the end."""
    util = utilization(spot_market)
    borrow = borrow_rate(spot_market, util)
    if_factor = int(spot_market.insurance_fund.total_factor)
    deposit = borrow * (PERCENTAGE - if_factor) * util // PERCENTAGE // PERCENTAGE
    return deposit / PERCENTAGE, borrow / PERCENTAGE


# --------------------------------------------------------------------------- oracles

#: state/perp_market.rs::get_max_confidence_interval_multiplier by contract tier
_PERP_CONF_MULTIPLIER = {
    "A": 1,
    "B": 1,
    "C": 2,
    "Speculative": 10,
    "HighlySpeculative": 50,
    "Isolated": 50,
}
#: state/spot_market.rs::get_max_confidence_interval_multiplier by asset tier
_SPOT_CONF_MULTIPLIER = {
    "Collateral": 1,
    "Protected": 1,
    "Cross": 5,
    "Isolated": 50,
    "Unlisted": 50,
}
_STABLE_SOURCES = {"PythStableCoinPull", "PythLazerStableCoin"}
#: `is_oracle_valid_for_action(.., MarginCalc)` is false for these
MARGIN_INVALID = ("NonPositive", "TooVolatile", "TooUncertain", "StaleForMargin")


@dataclass(frozen=True, slots=True)
class OracleCheck:
    """An oracle's validity at a slot, with the figures that decided it."""

    validity: str  # NonPositive | TooVolatile | TooUncertain | StaleForMargin |
    # InsufficientDataPoints | StaleForAMM | Valid (math/oracle.rs OracleValidity)
    delay: int  # slots since the oracle posted
    confidence_pct: int  # confidence / price, 1e6
    max_delay: int  # slots_before_stale_for_margin (× 3 for stablecoin sources)
    max_confidence_pct: int  # confidence_interval_max_size × tier multiplier

    @property
    def blocks_risk(self) -> bool:
        return self.validity in MARGIN_INVALID


def oracle_validity(
    price_data: Any,
    slot: int,
    last_oracle_twap: int,
    guard_rails: Any,
    multiplier: int,
    oracle_source: Any,
) -> OracleCheck:
    """`math/oracle.rs::oracle_validity`, in its order of severity. `price_data` is a
    driftpy `OraclePriceData` (price, confidence PRICE 1e6, posted `slot`); `slot` the
    clock slot (the read's); `guard_rails` the State's `oracle_guard_rails.validity`."""
    price = int(price_data.price)
    delay = int(slot) - int(price_data.slot)
    conf_pct = int(price_data.confidence) * PERCENTAGE // price if price > 0 else 0
    max_conf = int(guard_rails.confidence_interval_max_size) * multiplier
    max_delay = int(guard_rails.slots_before_stale_for_margin)
    if _variant(oracle_source) in _STABLE_SOURCES:
        max_delay *= 3
    twap = int(last_oracle_twap)
    if price <= 0:
        validity = "NonPositive"
    elif max(price, twap) // max(min(twap, price), 1) > int(guard_rails.too_volatile_ratio):
        validity = "TooVolatile"
    elif conf_pct > max_conf:
        validity = "TooUncertain"
    elif delay > max_delay:
        validity = "StaleForMargin"
    elif not price_data.has_sufficient_number_of_data_points:
        validity = "InsufficientDataPoints"
    elif delay > int(guard_rails.slots_before_stale_for_amm):
        validity = "StaleForAMM"
    else:
        validity = "Valid"
    return OracleCheck(validity, delay, conf_pct, max_delay, max_conf)


def check_perp_oracle(market: Any, price_data: Any, slot: int, state: Any) -> OracleCheck:
    amm = market.amm
    return oracle_validity(
        price_data,
        slot,
        amm.historical_oracle_data.last_oracle_price_twap,
        state.oracle_guard_rails.validity,
        _PERP_CONF_MULTIPLIER.get(_variant(market.contract_tier), 1),
        amm.oracle_source,
    )


def check_spot_oracle(market: Any, price_data: Any, slot: int, state: Any) -> OracleCheck:
    return oracle_validity(
        price_data,
        slot,
        market.historical_oracle_data.last_oracle_price_twap,
        state.oracle_guard_rails.validity,
        _SPOT_CONF_MULTIPLIER.get(_variant(market.asset_tier), 1),
        market.oracle_source,
    )


def oracle_block_reason(name: str, check: OracleCheck) -> str:
    """One line saying why new risk in market `name` is refused ("" when it is not)."""
    if not check.blocks_risk:
        return ""
    if check.validity == "StaleForMargin":
        why = (
            f"oracle stale: posted {check.delay} slots ago, more than the "
            f"{check.max_delay} the State's oracle guard rails allow "
            "(slots_before_stale_for_margin)"
        )
    elif check.validity == "TooUncertain":
        why = (
            f"oracle confidence {check.confidence_pct / 1e4:.2f}% of price, wider than "
            f"{check.max_confidence_pct / 1e4:.2f}% (confidence_interval_max_size × tier)"
        )
    elif check.validity == "TooVolatile":
        why = "oracle price too far from its TWAP (too_volatile_ratio)"
    else:
        why = "oracle price not positive"
    return f"{name}: {why}; new risk refused, reduce-only orders allowed"


# --------------------------------------------------------------------------- backfill


async def market_funding_history(
    client: Any,
    market: Any,
    since_ts: int,
    *,
    page: int = 100,
    max_transactions: int = 5_000,
) -> list[FundingSides]:
    """The `FundingRateRecord`s of perp `market` (a PerpMarket account) with ts after
    `since_ts`, oldest first, read from the market account's transaction history
    (`getSignaturesForAddress` + `getTransaction`, newest first, through the client's
    retrying reads). The walk stops at the first record at or before `since_ts`, at the
    end of the history, or after `max_transactions` (a mainnet market account is in
    every trade's transaction: the bound keeps a start from reading for minutes)."""
    from solana.rpc.commitment import Confirmed

    from drift_engine.live.client import drift_events

    address = market.pubkey
    index = int(market.market_index)
    found: dict[int, FundingSides] = {}
    before = None
    read = 0
    done = False
    while not done and read < max_transactions:
        resp = await client._read(
            "getSignaturesForAddress",
            lambda before=before: client._rpc.get_signatures_for_address(
                address, before=before, limit=page, commitment=Confirmed
            ),
        )
        batch = list(resp.value)
        for info in batch:
            read += 1
            if info.err is not None:
                continue
            tx = await client._confirmed_transaction(info.signature)
            if tx.value is None or tx.value.transaction.meta is None:
                continue  # pruned or not visible yet: its records are not knowable here
            for name, data in drift_events(tx.value.transaction.meta.log_messages or []):
                if name != "FundingRateRecord" or data.market_index != index:
                    continue
                if data.ts <= since_ts:
                    done = True
                    continue
                found[int(data.ts)] = funding_sides(
                    int(data.ts),
                    int(data.funding_rate),
                    int(data.funding_rate_long),
                    int(data.funding_rate_short),
                    int(data.oracle_price_twap),
                )
            if done or read >= max_transactions:
                break
        if len(batch) < page:
            break
        before = batch[-1].signature
    return [found[ts] for ts in sorted(found)]


def backfill_funding(
    client: Any, board: Any, lookback_hours: int, now: int, *, state: Any = None
) -> dict[str, int]:
    """Put each board perp's funding records of the last `lookback_hours` (ts after
    `now - lookback_hours` hours: one record per hour, read from the chain by
    `market_funding_history`) into `board`; returns {symbol: records added}."""
    state = state or client.last_state or client.run(client.refresh())
    since = now - lookback_hours * 3600
    added: dict[str, int] = {}
    for symbol in board.symbols:
        index = board.market_index(symbol)
        market = state.perp_markets.get(index) if index is not None else None
        if market is None:
            continue
        records = client.run(market_funding_history(client, market, since))
        added[symbol] = board.backfill_funding(
            symbol, [(r.ts, r.rate, r.long, r.short) for r in records]
        )
        log.info(
            "%s: %d funding records since %d backfilled from the chain",
            symbol,
            added[symbol],
            since,
        )
    return added


__all__ = [
    "FundingSides",
    "OracleCheck",
    "amm_funding",
    "backfill_funding",
    "borrow_rate",
    "check_perp_oracle",
    "check_spot_oracle",
    "funding_sides",
    "market_funding_history",
    "oracle_block_reason",
    "oracle_validity",
    "spot_rates",
    "utilization",
]
