"""The market catalog: identities from driftpy's constants, parameters from the shipped
mainnet account snapshots (decoded with driftpy's IDL), each with its provenance."""

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest
from driftpy.constants.perp_markets import mainnet_perp_market_configs
from driftpy.constants.spot_markets import mainnet_spot_market_configs

from drift_engine.core.accounts import make_perp_market, make_spot_market
from drift_engine.core.markets import (
    MarketCatalog,
    PerpParams,
    SpotParams,
    UnknownMarketError,
    load_mainnet_snapshots,
)
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
    with pytest.raises(UnknownMarketError, match="APT-PERP.*SOL-PERP"):
        catalog.by_symbol("APT-PERP")
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


# --------------------------------------------------------------------------- provenance

FIXTURE = Path(__file__).parent / "fixtures" / "mainnet_market_snapshots.csv"
PERP_COLUMNS = (
    "margin_ratio_initial",
    "margin_ratio_maintenance",
    "high_leverage_margin_ratio_initial",
    "high_leverage_margin_ratio_maintenance",
    "imf_factor",
    "unrealized_pnl_imf_factor",
    "unrealized_pnl_initial_asset_weight",
    "unrealized_pnl_maintenance_asset_weight",
    "unrealized_pnl_max_imbalance",
    "liquidator_fee",
    "if_liquidation_fee",
    "fee_adjustment",
    "funding_period",
    "max_open_interest",
)
SPOT_COLUMNS = (
    "initial_asset_weight",
    "maintenance_asset_weight",
    "initial_liability_weight",
    "maintenance_liability_weight",
    "imf_factor",
    "liquidator_fee",
    "if_liquidation_fee",
    "optimal_utilization",
    "optimal_borrow_rate",
    "max_borrow_rate",
    "min_borrow_rate",
    "scale_initial_asset_weight_start",
    "max_token_deposits",
)


def _rows() -> list[dict[str, str]]:
    return list(csv.DictReader(FIXTURE.open()))


def test_every_parameter_is_the_decoded_mainnet_account_value(catalog):
    """The catalog decodes the shipped account bytes with driftpy's IDL; every value must
    equal the collector's independent decoding of the same account (the fixture rows,
    copied from ../shared/real-data/drift_market_params_snapshots.csv)."""
    rows = _rows()
    assert len(rows) == len(catalog) == 21
    for row in rows:
        kind = MarketType.PERP if row["kind"] == "perp" else MarketType.SPOT
        spec = catalog.get(kind, int(row["market_index"]))
        assert row["network"].startswith("mainnet")
        assert spec.provenance.verified and spec.provenance.network == row["network"]
        snapshot = datetime.fromtimestamp(spec.provenance.snapshot_ts, UTC)
        assert snapshot.strftime("%Y-%m-%dT%H:%M:%SZ") == row["snapshot_ts"]
        assert row["source_commit"][:10] in spec.provenance.source
        assert row["source_path"] in spec.provenance.source
        assert spec.status == row["status"]
        assert spec.provenance.snapshot_oracle == row["oracle"]
        assert spec.provenance.snapshot_oracle_source == row["oracle_source"]
        for name in ("order_step_size", "order_tick_size", "min_order_size"):
            assert getattr(spec, name) == int(row[name]), (spec.symbol, name)
        if kind is MarketType.PERP:
            assert spec.perp.contract_tier == row["contract_tier"]
            for name in PERP_COLUMNS:
                assert getattr(spec.perp, name) == int(row[name]), (spec.symbol, name)
        else:
            assert spec.spot.asset_tier == row["contract_tier"]
            assert spec.decimals == int(row["decimals"])
            for name in SPOT_COLUMNS:
                assert getattr(spec.spot, name) == int(row[name]), (spec.symbol, name)


def test_only_the_latest_mainnet_snapshot_of_each_market_ships():
    """scripts/build_market_params.py picks, per market, the newest `mainnet` row of the
    collected snapshots (the full table lists devnet and older mainnet rows too)."""
    candidates = [
        parent / "shared" / "real-data" / "drift_market_params_snapshots.csv"
        for parent in Path(__file__).resolve().parents
    ]
    full = next((c for c in candidates if c.exists()), None)
    if full is None:
        pytest.skip("the collected snapshot table (shared/real-data) is not on this machine")
    latest: dict[tuple[str, str], str] = {}
    for row in csv.DictReader(full.open()):
        if row["network"].startswith("mainnet"):
            key = (row["kind"], row["market_index"])
            latest[key] = max(latest.get(key, ""), row["snapshot_ts"])
    assert {(r["kind"], r["market_index"]): r["snapshot_ts"] for r in _rows()} == latest


def test_shipped_accounts_are_the_markets_own_accounts(catalog):
    """Each decoded account's `pubkey` is the PDA of its market index: the bytes are the
    PerpMarket/SpotMarket accounts of those markets, not look-alikes."""
    for snap in load_mainnet_snapshots():
        spec = catalog.get(snap.market_type, snap.market_index)
        assert snap.account.pubkey == spec.account_pubkey
        assert bytes(snap.account.name).decode().strip() == snap.symbol


def test_simulated_accounts_carry_the_snapshot_parameters(catalog):
    """make_perp_market / make_spot_market copy every parameter of the snapshot onto the
    fresh account the simulator and the margin math read."""
    for snap in load_mainnet_snapshots():
        spec = catalog.get(snap.market_type, snap.market_index)
        if snap.market_type is MarketType.PERP:
            built = make_perp_market(spec, 100_000_000)
            assert PerpParams.from_account(built) == PerpParams.from_account(snap.account)
        else:
            built = make_spot_market(spec, 100_000_000)
            assert SpotParams.from_account(built) == SpotParams.from_account(snap.account)


def test_positive_upnl_counts_nothing_toward_initial_collateral_on_mainnet(catalog):
    # every perp snapshot we ship: unrealized_pnl_initial_asset_weight == 0
    assert {
        m.symbol: m.perp.unrealized_pnl_initial_asset_weight for m in catalog.perp_markets()
    } == {m.symbol: 0 for m in catalog.perp_markets()}


def test_moved_oracles_are_said_so(catalog):
    # TIA-PERP's 2023 snapshot read Pyth v1; the market reads Pyth Lazer today
    tia = catalog.by_symbol("TIA-PERP")
    assert tia.provenance.snapshot_oracle_source == "Pyth"
    assert type(tia.oracle_source).__name__ == "PythLazer"
    assert "snapshot read Pyth" in tia.provenance.note
    assert catalog.by_symbol("SOL-PERP").provenance.note == ""


def test_settlement_market_is_not_active(catalog):
    bet = catalog.by_symbol("KAMALA-POPULAR-VOTE-2024-BET")
    assert bet.status == "Settlement" and not bet.is_active
    assert bet.perp.contract_type == "Prediction"
