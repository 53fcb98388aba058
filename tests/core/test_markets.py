"""The market catalog: identities from driftpy's constants, rules from the params file."""

import pytest
from driftpy.constants.perp_markets import mainnet_perp_market_configs
from driftpy.constants.spot_markets import mainnet_spot_market_configs

from drift_engine.core.accounts import make_perp_market
from drift_engine.core.markets import MarketCatalog, UnknownMarketError
from drift_engine.core.types import MarketType


@pytest.fixture(scope="module")
def catalog():
    return MarketCatalog.from_constants("mainnet")


@pytest.mark.parametrize("symbol", ["SOL-PERP", "BTC-PERP", "ETH-PERP"])
def test_perp_identity_comes_from_driftpy(catalog, symbol):
    spec = catalog.by_symbol(symbol)
    cfg = next(c for c in mainnet_perp_market_configs if c.symbol == symbol)
    assert (spec.market_type, spec.market_index, spec.oracle) == (
        MarketType.PERP,
        cfg.market_index,
        cfg.oracle,
    )
    assert spec.is_active
    assert spec.min_order_size % spec.order_step_size == 0


@pytest.mark.parametrize("symbol", ["USDC", "SOL", "wBTC", "wETH"])
def test_spot_identity_comes_from_driftpy(catalog, symbol):
    spec = catalog.by_symbol(symbol)
    cfg = next(c for c in mainnet_spot_market_configs if c.symbol == symbol)
    assert (spec.market_index, spec.oracle, spec.mint, spec.decimals) == (
        cfg.market_index,
        cfg.oracle,
        cfg.mint,
        cfg.decimals,
    )


def test_unknown_market_names_what_is_known(catalog):
    with pytest.raises(UnknownMarketError, match="DOGE-PERP.*SOL-PERP"):
        catalog.by_symbol("DOGE-PERP")
    with pytest.raises(UnknownMarketError, match="market_index 99"):
        catalog.get(MarketType.PERP, 99)


def test_rules_from_market_account_win(catalog):
    spec = catalog.by_symbol("SOL-PERP")
    account = make_perp_market(spec, 150_000_000)
    account.amm.order_step_size = spec.order_step_size * 10
    from driftpy.types import MarketStatus

    account.status = MarketStatus.ReduceOnly()
    updated = catalog.with_account(account).by_symbol("SOL-PERP")
    assert updated.order_step_size == spec.order_step_size * 10
    assert updated.status == "ReduceOnly" and not updated.is_active
    assert catalog.by_symbol("SOL-PERP").order_step_size == spec.order_step_size
