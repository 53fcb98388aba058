"""Drift account objects built offline from the catalog's real market parameters.

These are the same driftpy/anchorpy objects a chain read returns (zeroed from the IDL,
then the fields we model set), so driftpy's math, the simulator and the local RPC all
work on one representation. Nothing here touches the network or the clock: timestamps
and slots are arguments.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from driftpy.addresses import (
    get_insurance_fund_vault_public_key,
    get_spot_market_vault_public_key,
    get_user_account_public_key,
    get_user_stats_account_public_key,
)
from driftpy.constants.numeric_constants import SPOT_CUMULATIVE_INTEREST_PRECISION
from driftpy.types import MarketStatus, OraclePriceData

from drift_engine.core.fees import (
    FeeStructure,
    load_state_params,
    mainnet_perp_fee_structure,
    mainnet_spot_fee_structure,
)
from drift_engine.core.markets import MarketCatalog, MarketSpec, PerpParams
from drift_engine.core.program import new_account, program_id
from drift_engine.core.types import MarketType

#: Drift's funding period, seconds (PerpMarket.amm.funding_period on mainnet).
FUNDING_PERIOD_S = 3600

#: PerpParams / SpotParams fields that are enums on the account (kept there by name).
_ENUM_FIELDS = frozenset({"contract_tier", "contract_type", "asset_tier"})


def _set_params(account: Any, params: Any, amm: Any = None) -> None:
    """Copy a PerpParams/SpotParams onto an account. Enum names become variants of the
    IDL's own enum type (the one the account's zeroed field already holds), which is what
    the account coder encodes."""
    for f in fields(params):
        value = getattr(params, f.name)
        owner = amm if amm is not None and f.name in PerpParams.AMM_FIELDS else account
        if f.name in _ENUM_FIELDS:
            enum_type = type(getattr(owner, f.name)).__mro__[1]
            value = getattr(enum_type, value)()
        setattr(owner, f.name, value)


def _require(spec: MarketSpec, params: Any) -> Any:
    if params is None:
        raise ValueError(f"{spec.symbol} has no market parameters in the catalog")
    return params


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
    """A PerpMarket account for `spec` with the catalog's real (mainnet snapshot) margin,
    fee and funding parameters and a fresh AMM state at `oracle_price`."""
    if spec.market_type is not MarketType.PERP:
        raise ValueError(f"{spec.symbol} is not a perp market")
    params = _require(spec, spec.perp)
    m = new_account("PerpMarket")
    m.pubkey = spec.account_pubkey
    m.market_index = spec.market_index
    m.name = _name_bytes(spec.symbol)
    m.status = getattr(MarketStatus, spec.status)()
    amm = m.amm
    _set_params(m, params, amm)
    amm.oracle = spec.oracle
    amm.oracle_source = spec.oracle_source
    amm.order_step_size = spec.order_step_size
    amm.order_tick_size = spec.order_tick_size
    amm.min_order_size = spec.min_order_size
    period = amm.funding_period or FUNDING_PERIOD_S
    amm.last_funding_rate_ts = ts - ts % period
    amm.last_mark_price_twap = oracle_price
    amm.last_mark_price_twap5min = oracle_price
    amm.last_mark_price_twap_ts = ts
    amm.last_bid_price_twap = oracle_price
    amm.last_ask_price_twap = oracle_price
    _set_oracle_history(amm.historical_oracle_data, oracle_price, ts)
    return m


def make_spot_market(spec: MarketSpec, oracle_price: int, ts: int = 0) -> Any:
    """A SpotMarket account for `spec` with the catalog's real weights, IMF and interest
    curve, and unit cumulative interest (a fresh market: no deposits or borrows)."""
    if spec.market_type is not MarketType.SPOT:
        raise ValueError(f"{spec.symbol} is not a spot market")
    params = _require(spec, spec.spot)
    m = new_account("SpotMarket")
    m.pubkey = spec.account_pubkey
    m.market_index = spec.market_index
    m.name = _name_bytes(spec.symbol)
    m.status = getattr(MarketStatus, spec.status)()
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
    _set_params(m, params)
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


def make_state(
    number_of_markets: int = 0,
    number_of_spot_markets: int = 0,
    params: dict | None = None,
    *,
    perp_fee_structure: FeeStructure | None = None,
    spot_fee_structure: FeeStructure | None = None,
) -> Any:
    """The State account with Drift's fee structures and liquidation settings.

    Fee structures default to today's documented mainnet percentages
    (`core.fees.mainnet_perp_fee_structure`, core/params/state.json says where each
    number comes from); `params` overrides the `liquidation` section of state.json.
    """
    liquidation = params if params is not None else load_state_params()["liquidation"]
    s = new_account("State")
    (perp_fee_structure or mainnet_perp_fee_structure()).write_to(s.perp_fee_structure)
    (spot_fee_structure or mainnet_spot_fee_structure()).write_to(s.spot_fee_structure)
    s.liquidation_margin_buffer_ratio = liquidation["liquidation_margin_buffer_ratio"]
    s.initial_pct_to_liquidate = liquidation["initial_pct_to_liquidate"]
    s.liquidation_duration = liquidation["liquidation_duration"]
    s.number_of_markets = number_of_markets
    s.number_of_spot_markets = number_of_spot_markets
    # the program's default oracle guard rails (state.json says where they come from):
    # how stale or uncertain an oracle may be before margin and fills stop trusting it
    rails = load_state_params().get("oracle_guard_rails")
    if rails is not None:
        validity = s.oracle_guard_rails.validity
        for name in (
            "slots_before_stale_for_amm",
            "slots_before_stale_for_margin",
            "confidence_interval_max_size",
            "too_volatile_ratio",
        ):
            setattr(validity, name, rails[name])
    return s
