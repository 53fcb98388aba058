"""A live perp liquidation, from the program's `LiquidationRecord` log: what it realizes.

The record carries the user's base and quote moved at the oracle and the fees; the cash it
realizes is that quote against the entry the liquidated base removes, truncated toward zero
like the program (`math/position.rs`: |entry| x |base moved| / |base|, with the entry's
sign), and several partial liquidations read in one poll each start from the previous one.
The logs are built with the IDL's own event layout (as the program logs them) and decoded
by the venue; expected amounts are worked out by hand below.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from drift_engine.core.program import program_id
from drift_engine.core.types import DriftPosition, MarketType
from drift_engine.engine.ports import LiquidationEvent
from drift_engine.live.client import DriftAccountState, DriftClient
from drift_engine.localnet.chain import encode_event
from drift_engine.localnet.events import liquidation_event, variant
from drift_engine.venues.live import LiveVenue
from tests.live.conftest import fast_config

SOL = 10**9
TS = 1_767_229_200


@pytest.fixture
def venue(keypair_file) -> LiveVenue:
    """A venue over an offline client (nothing here reads the network)."""
    client = DriftClient.from_keypair_file(fast_config("http://127.0.0.1:9"), keypair_file)
    return LiveVenue(client)


def remember(venue: LiveVenue, *perps: tuple[int, int, int]) -> None:
    """The venue's last read had these perp positions: (market, base, quote entry)."""
    positions = tuple(
        DriftPosition(
            market_index=m,
            market_type=MarketType.PERP,
            base_asset_amount=base,
            quote_asset_amount=entry,
            quote_entry_amount=entry,
        )
        for m, base, entry in perps
    )
    state = DriftAccountState(
        slot=1,
        authority=venue.client.authority,
        sub_account_id=venue.sub_account_id,
        user=None,
        user_stats=None,
        state=None,
        perp_markets={},
        spot_markets={},
        perp_prices={},
        spot_prices={},
        positions=positions,
    )
    venue._remember_entries(state)


def liquidation(venue, *, market=0, base, quote, liq_fee, if_fee, lid=1, kind="LiquidatePerp"):
    rec = SimpleNamespace(
        ts=TS,
        margin_requirement=0,
        total_collateral=0,
        liquidation_id=lid,
        bankrupt=False,
        canceled_order_ids=[],
        market_index=market,
        oracle_price=140_000_000,
        base_asset_amount=base,
        quote_asset_amount=quote,
        liquidator_fee=liq_fee,
        if_fee=if_fee,
    )
    values = liquidation_event(rec, venue.user)
    values["liquidation_type"] = variant("LiquidationType", kind)
    return f"Program data: {encode_event('LiquidationRecord', values)}"


def logs_of(*lines: str) -> list[str]:
    drift = str(program_id())
    return [f"Program {drift} invoke [1]", *lines, f"Program {drift} success"]


def test_partial_liquidations_of_a_long_realize_against_the_truncated_removed_entry(venue):
    # long 3 SOL, entry -450_000_002. First liquidation sells 2 SOL for 280_000_000:
    # removed entry 450_000_002 x 2 / 3 = 300_000_001.33 -> 300_000_001 (toward zero; a
    # floor of the signed value would give -300_000_002), signed like the entry.
    assert 450_000_002 * 2 % 3 != 0
    remember(venue, (0, 3 * SOL, -450_000_002))
    events = venue.events_of(
        "sigL",
        7,
        logs_of(
            liquidation(venue, base=-2 * SOL, quote=280_000_000, liq_fee=1_400_003, if_fee=700_001),
            # then the last 1 SOL for 140_000_000, against what is left of the entry:
            # -450_000_002 + 300_000_001 = -150_000_001 (1 SOL of 1: all of it)
            liquidation(
                venue, base=-SOL, quote=140_000_000, liq_fee=700_000, if_fee=350_000, lid=2
            ),
        ),
    )
    assert events == [
        LiquidationEvent(
            record_id="sigL:0",
            ts=TS,
            market_index=0,
            amount=280_000_000 - 300_000_001,  # -20_000_001
            fee=1_400_003 + 700_001,
            base_asset_amount=-2 * SOL,
            detail="liquidation 1 at 140000000",
        ),
        LiquidationEvent(
            record_id="sigL:1",
            ts=TS,
            market_index=0,
            amount=140_000_000 - 150_000_001,  # -10_000_001
            fee=700_000 + 350_000,
            base_asset_amount=-SOL,
            detail="liquidation 2 at 140000000",
        ),
    ]


def test_liquidating_a_short_buys_back_against_its_positive_entry(venue):
    # short 3 SOL in market 1, entry +450_000_002; 2 SOL bought back for -310_000_000:
    # removed entry +300_000_001 (truncated), realized -310_000_000 + 300_000_001
    remember(venue, (0, SOL, -1), (1, -3 * SOL, 450_000_002))
    (event,) = venue.events_of(
        "sigS",
        8,
        logs_of(
            liquidation(venue, market=1, base=2 * SOL, quote=-310_000_000, liq_fee=3, if_fee=0)
        ),
    )
    assert (event.market_index, event.amount, event.fee) == (1, -9_999_999, 3)
    assert event.base_asset_amount == 2 * SOL


def test_a_liquidation_with_no_remembered_position_realizes_just_its_quote(venue):
    # nothing remembered for market 2: no entry removed; the second liquidation of the
    # poll starts from the first one's (base -1 SOL, entry 0): still nothing removed
    first, second = venue.events_of(
        "sigN",
        9,
        logs_of(
            liquidation(venue, market=2, base=-SOL, quote=99_000_001, liq_fee=5, if_fee=6),
            liquidation(venue, market=2, base=-SOL, quote=98_000_003, liq_fee=0, if_fee=0),
        ),
    )
    assert (first.amount, first.fee) == (99_000_001, 11)
    assert (second.amount, second.fee) == (98_000_003, 0)


def test_a_spot_liquidation_is_not_a_perp_liquidation_event(venue):
    remember(venue, (0, 3 * SOL, -450_000_002))
    line = liquidation(
        venue, base=-SOL, quote=1, liq_fee=1, if_fee=1, kind="LiquidateBorrowForPerpPnl"
    )
    assert venue.events_of("sigX", 10, logs_of(line)) == []
