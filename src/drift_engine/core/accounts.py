"""Drift account objects built offline from the catalog's real market parameters.

These are the same driftpy/anchorpy objects a chain read returns (zeroed from the IDL,
then the fields we model set), so driftpy's math, the simulator and the local RPC all
work on one representation. Nothing here touches the network or the clock: timestamps
and slots are arguments.
"""

from __future__ import annotations

from typing import Any

from driftpy.addresses import (
    get_insurance_fund_vault_public_key,
    get_spot_market_vault_public_key,
    get_user_account_public_key,
    get_user_stats_account_public_key,
)
from driftpy.constants.numeric_constants import SPOT_CUMULATIVE_INTEREST_PRECISION
from driftpy.types import ContractTier, MarketStatus, OraclePriceData

from drift_engine.core.markets import MarketCatalog, MarketSpec, load_market_params
from drift_engine.core.program import new_account, program_id
from drift_engine.core.types import MarketType

#: Drift's funding period, seconds (PerpMarket.amm.funding_period on mainnet).
FUNDING_PERIOD_S = 3600


def _params_for(spec: MarketSpec) -> dict[str, Any]:
    key = "perp" if spec.market_type is MarketType.PERP else "spot"
    for p in load_market_params()[key]:
        if p["market_index"] == spec.market_index:
            return p
    raise KeyError(f"no parameters for {spec.symbol} in params/markets.json")


def _name_bytes(symbol: str) -> list[int]:
    raw = symbol.encode()[:32]
    return list(raw + b" " * (32 - len(raw)))


def _set_oracle_history(hist: Any, price: int, ts: int) -> None:
    hist.last_oracle_price = price
    hist.last_oracle_conf = 0
    hist.last_oracle_delay = 0
    hist.last_oracle_price_twap = price
    hist.last_oracle_price_twap5min = price
    hist.last_oracle_price_twap_ts = ts


def make_perp_market(spec: MarketSpec, oracle_price: int, ts: int = 0) -> Any:
    """A PerpMarket account for `spec`, Active, with its real margin and fee parameters."""
    if spec.market_type is not MarketType.PERP:
        raise ValueError(f"{spec.symbol} is not a perp market")
    p = _params_for(spec)
    m = new_account("PerpMarket")
    m.pubkey = spec.account_pubkey
    m.market_index = spec.market_index
    m.name = _name_bytes(spec.symbol)
    m.status = getattr(MarketStatus, p["status"])()
    m.contract_tier = getattr(ContractTier, p["contract_tier"])()
    m.margin_ratio_initial = p["margin_ratio_initial"]
    m.margin_ratio_maintenance = p["margin_ratio_maintenance"]
    m.imf_factor = p["imf_factor"]
    m.unrealized_pnl_initial_asset_weight = p["unrealized_pnl_initial_asset_weight"]
    m.unrealized_pnl_maintenance_asset_weight = p["unrealized_pnl_maintenance_asset_weight"]
    m.unrealized_pnl_imf_factor = p["unrealized_pnl_imf_factor"]
    m.liquidator_fee = p["liquidator_fee"]
    m.if_liquidation_fee = p["if_liquidation_fee"]
    m.quote_spot_market_index = 0
    amm = m.amm
    amm.oracle = spec.oracle
    amm.oracle_source = spec.oracle_source
    amm.order_step_size = spec.order_step_size
    amm.order_tick_size = spec.order_tick_size
    amm.min_order_size = spec.min_order_size
    amm.funding_period = FUNDING_PERIOD_S
    amm.last_funding_rate_ts = ts - ts % FUNDING_PERIOD_S
    amm.last_mark_price_twap = oracle_price
    amm.last_mark_price_twap5min = oracle_price
    amm.last_mark_price_twap_ts = ts
    amm.last_bid_price_twap = oracle_price
    amm.last_ask_price_twap = oracle_price
    _set_oracle_history(amm.historical_oracle_data, oracle_price, ts)
    return m


def make_spot_market(spec: MarketSpec, oracle_price: int, ts: int = 0) -> Any:
    """A SpotMarket account for `spec` with real weights and unit cumulative interest."""
    if spec.market_type is not MarketType.SPOT:
        raise ValueError(f"{spec.symbol} is not a spot market")
    p = _params_for(spec)
    m = new_account("SpotMarket")
    m.pubkey = spec.account_pubkey
    m.market_index = spec.market_index
    m.name = _name_bytes(spec.symbol)
    m.status = getattr(MarketStatus, p["status"])()
    m.oracle = spec.oracle
    m.oracle_source = spec.oracle_source
    if spec.mint is not None:
        m.mint = spec.mint
    m.decimals = spec.decimals
    # The token vaults are PDAs of the program; driftpy's withdraw/transfer builders read
    # `vault` from the account, so it must hold the chain's value.
    m.vault = get_spot_market_vault_public_key(program_id(), spec.market_index)
    m.insurance_fund.vault = get_insurance_fund_vault_public_key(program_id(), spec.market_index)
    m.order_step_size = spec.order_step_size
    m.order_tick_size = spec.order_tick_size
    m.min_order_size = spec.min_order_size
    m.orders_enabled = spec.market_index != 0
    m.initial_asset_weight = p["initial_asset_weight"]
    m.maintenance_asset_weight = p["maintenance_asset_weight"]
    m.initial_liability_weight = p["initial_liability_weight"]
    m.maintenance_liability_weight = p["maintenance_liability_weight"]
    m.imf_factor = p["imf_factor"]
    m.liquidator_fee = p["liquidator_fee"]
    m.if_liquidation_fee = p["if_liquidation_fee"]
    m.cumulative_deposit_interest = SPOT_CUMULATIVE_INTEREST_PRECISION
    m.cumulative_borrow_interest = SPOT_CUMULATIVE_INTEREST_PRECISION
    m.last_interest_ts = ts
    m.last_twap_ts = ts
    _set_oracle_history(m.historical_oracle_data, oracle_price, ts)
    m.historical_index_data.last_index_price_twap = oracle_price
    m.historical_index_data.last_index_bid_price = oracle_price
    m.historical_index_data.last_index_ask_price = oracle_price
    m.historical_index_data.last_index_price_twap5min = oracle_price
    m.historical_index_data.last_index_price_twap_ts = ts
    return m


def make_user(authority: Any, sub_account_id: int = 0) -> Any:
    """An empty User (sub-account) owned by `authority`."""
    u = new_account("User")
    u.authority = authority
    u.sub_account_id = sub_account_id
    u.name = _name_bytes(f"Subaccount {sub_account_id}" if sub_account_id else "Main Account")
    u.next_order_id = 1
    return u


def make_user_stats(authority: Any) -> Any:
    s = new_account("UserStats")
    s.authority = authority
    return s


def user_pubkey(authority: Any, sub_account_id: int = 0) -> Any:
    return get_user_account_public_key(program_id(), authority, sub_account_id)


def user_stats_pubkey(authority: Any) -> Any:
    return get_user_stats_account_public_key(program_id(), authority)


def oracle_price_data(price: int, slot: int = 0, twap: int | None = None, confidence: int = 0):
    """driftpy's OraclePriceData for a price in PRICE precision."""
    return OraclePriceData(
        price=price,
        slot=slot,
        confidence=confidence,
        twap=price if twap is None else twap,
        twap_confidence=0,
        has_sufficient_number_of_data_points=True,
    )


def default_markets(
    catalog: MarketCatalog, prices: dict[str, int], ts: int = 0
) -> tuple[dict[int, Any], dict[int, Any]]:
    """Perp and spot market accounts for every catalog market with a price in `prices`.

    `prices` maps a catalog symbol ("SOL-PERP", "SOL", "USDC", ...) to PRICE-precision
    oracle prices; USDC defaults to $1.
    """
    prices = {"USDC": 1_000_000, **prices}
    perps = {
        s.market_index: make_perp_market(s, prices[s.symbol], ts)
        for s in catalog.perp_markets()
        if s.symbol in prices
    }
    spots = {
        s.market_index: make_spot_market(s, prices[s.symbol], ts)
        for s in catalog.spot_markets()
        if s.symbol in prices
    }
    return perps, spots


def _set_fee_structure(target: Any, params: dict[str, Any]) -> None:
    tiers = params["fee_tiers"]
    for i, tier in enumerate(target.fee_tiers):
        values = tiers[i] if i < len(tiers) else None
        for name in (
            "fee_numerator",
            "maker_rebate_numerator",
            "referrer_reward_numerator",
            "referee_fee_numerator",
        ):
            setattr(tier, name, values[name] if values else 0)
        for name in (
            "fee_denominator",
            "maker_rebate_denominator",
            "referrer_reward_denominator",
            "referee_fee_denominator",
        ):
            # The program's FeeTier::default() has non-zero denominators; keep them so.
            default = 100 if name.startswith("refer") else 100_000
            setattr(tier, name, values[name] if values else default)
    filler = params["filler_reward_structure"]
    target.filler_reward_structure.reward_numerator = filler["reward_numerator"]
    target.filler_reward_structure.reward_denominator = filler["reward_denominator"]
    target.filler_reward_structure.time_based_reward_lower_bound = filler[
        "time_based_reward_lower_bound"
    ]
    target.referrer_reward_epoch_upper_bound = params["referrer_reward_epoch_upper_bound"]
    target.flat_filler_fee = params["flat_filler_fee"]


def make_state(
    number_of_markets: int = 0, number_of_spot_markets: int = 0, params: dict | None = None
) -> Any:
    """The State account with Drift's fee structures and liquidation settings.

    Values come from the `state` section of params/markets.json (the program's
    `FeeStructure::perps_default()` / `spot_default()` and initialize() defaults).
    """
    p = params if params is not None else load_market_params()["state"]
    s = new_account("State")
    _set_fee_structure(s.perp_fee_structure, p["perp_fee_structure"])
    _set_fee_structure(s.spot_fee_structure, p["spot_fee_structure"])
    s.liquidation_margin_buffer_ratio = p["liquidation_margin_buffer_ratio"]
    s.initial_pct_to_liquidate = p["initial_pct_to_liquidate"]
    s.liquidation_duration = p["liquidation_duration"]
    s.number_of_markets = number_of_markets
    s.number_of_spot_markets = number_of_spot_markets
    return s
