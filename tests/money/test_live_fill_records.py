"""A live fill, from the program's `OrderActionRecord` (action Fill): fee, signs, cash, price.

The record names a taker and a maker; the sub-account's side decides which fee it paid
(the maker's may be a rebate, below zero) and which `existing_*` fields realize its PnL.
A buy is +base and -quote, a sell the reverse; a spot fill's cash is -cost / +proceeds;
the price is quote x 10^decimals / base floored, with the spot market's own decimals.
The logs are built with the IDL's own event layout (as the program logs them) and decoded
by the venue; expected values are worked out by hand below.
"""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest
from solders.pubkey import Pubkey

from drift_engine.core.program import program_id
from drift_engine.core.types import MarketType, OpenOrder, OrderType, PositionDirection
from drift_engine.live.client import DriftAccountState, DriftClient
from drift_engine.localnet.chain import encode_event
from drift_engine.localnet.events import fill_event, variant
from drift_engine.strategies.base import FillEvent
from drift_engine.venues.live import LiveVenue
from tests.live.conftest import fast_config

SOL = 10**9
TS = 1_767_229_200
SOMEONE = Pubkey.from_string("9xQeWvG816bUx9EPjHmaT23yvVM2ZWbrrpZb9PusVFin")


@pytest.fixture
def venue(keypair_file) -> LiveVenue:
    """A venue over an offline client, given one account read (nothing reads the network):
    open orders (program ids 41 and 1, user ids 7 and 9) and, for spot, a 6-decimal
    market 5."""
    client = DriftClient.from_keypair_file(fast_config("http://127.0.0.1:9"), keypair_file)
    venue = LiveVenue(client)
    order = OpenOrder(
        order_id=41,
        user_order_id=7,
        market_index=0,
        market_type=MarketType.PERP,
        order_type=OrderType.LIMIT,
        direction=PositionDirection.LONG,
        base_asset_amount=2 * SOL,
        base_asset_amount_filled=0,
        price=150_000_000,
        reduce_only=False,
    )
    venue.preload(
        DriftAccountState(
            slot=1,
            authority=client.authority,
            sub_account_id=client.sub_account_id,
            user=None,
            user_stats=None,
            state=None,
            perp_markets={},
            spot_markets={5: SimpleNamespace(decimals=6)},  # what the venue reads of it
            perp_prices={},
            spot_prices={},
            open_orders=(order, replace(order, order_id=1, user_order_id=9)),
        )
    )
    venue.refresh()  # takes the preloaded read
    return venue


def fill(
    venue,
    *,
    role: str,
    direction: str,
    base: int,
    quote: int,
    fee: int | None,
    market=0,
    spot=False,
    entry=None,
    existing_base=None,
    order_id=41,
    absent=False,
) -> str:
    rec = SimpleNamespace(
        ts=TS,
        market_index=market,
        market_type=MarketType.SPOT if spot else MarketType.PERP,
        order_id=order_id,
        direction=PositionDirection(direction),
        base_asset_amount=base,
        quote_asset_amount=quote,
        fee=fee,
        is_maker=role == "maker",
        fill_record_id=3,
        oracle_price=150_000_000,
        # the position after the fill: an opening one (existing_* set below by hand)
        base_asset_amount_after=base if direction == "long" else -base,
        realized_pnl=0,
    )
    values = fill_event(rec, venue.user)
    values[f"{role}_existing_quote_entry_amount"] = entry
    values[f"{role}_existing_base_asset_amount"] = existing_base
    other = "taker" if role == "maker" else "maker"  # the counterparty: another account
    values[other] = SOMEONE
    values[f"{other}_order_id"] = 999
    values[f"{other}_order_direction"] = variant(
        "PositionDirection", "Short" if direction == "long" else "Long"
    )
    values[f"{other}_fee"] = 77_777
    values[f"{other}_existing_quote_entry_amount"] = 1
    if absent:  # the record's amounts and order id are options
        values["base_asset_amount_filled"] = values["quote_asset_amount_filled"] = None
        values[f"{role}_order_id"] = None
    return f"Program data: {encode_event('OrderActionRecord', values)}"


def events(venue, *lines: str) -> list:
    drift = str(program_id())
    return venue.events_of(
        "sigF", 5, [f"Program {drift} invoke [1]", *lines, f"Program {drift} success"]
    )


def test_a_taker_buy_closing_part_of_a_short_pays_the_taker_fee_and_realizes_the_entry(venue):
    # bought back 2 SOL for 300_000_001; the record's removed entry is 310_000_000:
    # realized 310_000_000 - 300_000_001 = 9_999_999; price 300_000_001 x 1e9 / 2e9 =
    # 150_000_000.5 -> 150_000_000
    (event,) = events(
        venue,
        fill(
            venue,
            role="taker",
            direction="long",
            base=2 * SOL,
            quote=300_000_001,
            fee=150_001,
            entry=310_000_000,
        ),
    )
    assert event == FillEvent(
        record_id="sigF:0",
        ts=TS,
        market_type=MarketType.PERP,
        market_index=0,
        base_asset_amount=2 * SOL,
        quote_asset_amount=-300_000_001,
        fee=150_001,
        price=150_000_000,
        cash=9_999_999,
        oracle_price=150_000_000,
        decimals=9,
        order_id=41,
        user_order_id=7,
    )


def test_a_maker_sell_gets_the_makers_rebate_and_its_own_existing_fields(venue):
    # a long of 1 SOL (entry -100_000_000) flipped by selling 3 SOL for 420_000_002 as the
    # maker: closed third floor(420_000_002 / 3) = 140_000_000, realized +40_000_000;
    # the maker's fee is a rebate of 2_345; price 420_000_002 x 1e9 / 3e9 -> 140_000_000
    (event,) = events(
        venue,
        fill(
            venue,
            role="maker",
            direction="short",
            base=3 * SOL,
            quote=420_000_002,
            fee=-2_345,
            market=1,
            entry=100_000_000,
            existing_base=SOL,
            order_id=42,
        ),
    )
    assert (event.base_asset_amount, event.quote_asset_amount) == (-3 * SOL, 420_000_002)
    assert (event.fee, event.cash, event.price) == (-2_345, 40_000_000, 140_000_000)
    assert (event.market_index, event.order_id, event.user_order_id) == (1, 42, 0)


def test_a_fill_without_a_fee_or_amounts_pays_and_moves_nothing(venue):
    maker, taker = events(
        venue,
        fill(venue, role="maker", direction="long", base=SOL, quote=150_000_000, fee=None),
        fill(venue, role="taker", direction="short", base=SOL, quote=150_000_000, fee=None),
    )
    assert (maker.fee, maker.cash, maker.quote_asset_amount) == (0, 0, -150_000_000)
    assert (taker.fee, taker.cash, taker.quote_asset_amount) == (0, 0, 150_000_000)
    # the record's amounts are options: absent, the fill moved nothing (no price either)
    (empty,) = events(
        venue, fill(venue, role="taker", direction="long", base=SOL, quote=1, fee=0, absent=True)
    )
    assert (empty.base_asset_amount, empty.quote_asset_amount, empty.price) == (0, 0, 0)
    assert (empty.cash, empty.order_id, empty.user_order_id) == (0, 0, 0)


def test_spot_fills_move_cash_by_cost_and_proceeds_at_the_markets_decimals(venue):
    # market 5 has 6 decimals: bought 1.5 tokens (1_500_000) for 1_499_999:
    # price 1_499_999 x 1e6 / 1_500_000 = 999_999.33 -> 999_999
    bought, sold, unknown = events(
        venue,
        fill(
            venue,
            role="taker",
            direction="long",
            base=1_500_000,
            quote=1_499_999,
            fee=3,
            market=5,
            spot=True,
        ),
        fill(
            venue,
            role="maker",
            direction="short",
            base=1_500_000,
            quote=1_500_001,
            fee=-1,
            market=5,
            spot=True,
        ),
        # market 9 is not in the read: 9 decimals; 2 SOL for 300_000_001 -> 150_000_000
        fill(
            venue,
            role="taker",
            direction="long",
            base=2 * SOL,
            quote=300_000_001,
            fee=0,
            market=9,
            spot=True,
        ),
    )
    assert (bought.market_type, bought.decimals, bought.price) == (MarketType.SPOT, 6, 999_999)
    assert (bought.cash, bought.base_asset_amount, bought.fee) == (-1_499_999, 1_500_000, 3)
    assert (sold.cash, sold.base_asset_amount, sold.quote_asset_amount) == (
        1_500_001,
        -1_500_000,
        1_500_001,
    )
    assert (sold.fee, sold.price) == (-1, 1_000_000)  # 1_500_001 x 1e6 / 1_500_000 -> 1_000_000
    assert (unknown.decimals, unknown.price, unknown.cash) == (9, 150_000_000, -300_000_001)


def test_a_fill_between_two_other_accounts_is_not_ours(venue):
    rec = SimpleNamespace(
        ts=TS,
        market_index=0,
        market_type=MarketType.PERP,
        order_id=41,
        direction=PositionDirection.LONG,
        base_asset_amount=SOL,
        quote_asset_amount=150_000_000,
        fee=75_000,
        is_maker=False,
        fill_record_id=3,
        oracle_price=150_000_000,
        base_asset_amount_after=SOL,
        realized_pnl=0,
    )
    values = fill_event(rec, SOMEONE)  # another account took from another
    values["maker"] = Pubkey.from_string("So11111111111111111111111111111111111111112")
    assert events(venue, f"Program data: {encode_event('OrderActionRecord', values)}") == []
