"""The builder's instructions are byte-identical to driftpy's own DriftClient builders.

For every case both sides build from the same inputs: ours from the catalog, the authority
and a `UserAccountsView` of the user account; driftpy's real `DriftClient` (offline, its
account cache holding the same market and user accounts) from the same `OrderParams`.
Instruction data, program id and every account meta (order, signer, writable) must match.
Users hold other positions, so the remaining accounts are not trivial.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from driftpy.types import MarketType as DpMarketType
from driftpy.types import OrderParams, PostOnlyParams
from driftpy.types import OrderType as DpOrderType
from driftpy.types import PositionDirection as DpDirection
from solders.instruction import Instruction
from solders.pubkey import Pubkey

from drift_engine.core.builder import DriftInstructionBuilder, UserAccountsView
from drift_engine.core.offline import OfflineDrift
from drift_engine.core.types import (
    MarketType,
    ModifyOrderPolicy,
    OrderIntent,
    OrderModification,
    OrderType,
    PositionDirection,
    PostOnly,
    TriggerCondition,
    positions_from_user,
)

from .conftest import PRICES

LONG, SHORT = PositionDirection.LONG, PositionDirection.SHORT

#: The markets the acceptance criteria name, as catalog symbols.
MARKETS = ["SOL-PERP", "BTC-PERP", "ETH-PERP", "SOL"]
USERS = ["busy", "small"]


def assert_same_ix(mine: Instruction, theirs: Instruction) -> None:
    assert mine.program_id == theirs.program_id
    assert bytes(mine.data) == bytes(theirs.data)
    assert list(mine.accounts) == list(theirs.accounts)
    assert bytes(mine) == bytes(theirs)


def _size(spec, multiple: int = 3) -> int:
    """A valid size: `multiple` x the smallest multiple of the step at or above the minimum."""
    steps = -(-spec.min_order_size // spec.order_step_size)
    return steps * spec.order_step_size * multiple


def _price(spec, bps: int = 0) -> int:
    """The oracle price moved by `bps`, on the market's tick."""
    raw = PRICES[spec.symbol] * (10_000 + bps) // 10_000
    return raw - raw % spec.order_tick_size


def _intent(spec, direction, **kw) -> OrderIntent:
    return OrderIntent(
        market_index=spec.market_index,
        market_type=spec.market_type,
        direction=direction,
        base_asset_amount=kw.pop("base_asset_amount", _size(spec)),
        **kw,
    )


CASES = {
    "market_long": lambda s: _intent(s, LONG),
    "market_short": lambda s: _intent(s, SHORT, user_order_id=7),
    "limit_long": lambda s: _intent(s, LONG, order_type=OrderType.LIMIT, price=_price(s, -50)),
    "limit_short": lambda s: _intent(
        s, SHORT, order_type=OrderType.LIMIT, price=_price(s, 50), user_order_id=255
    ),
    "post_only_limit": lambda s: _intent(
        s, LONG, order_type=OrderType.LIMIT, price=_price(s, -20), post_only=PostOnly.MUST_POST_ONLY
    ),
    "ioc_limit_max_ts": lambda s: _intent(
        s,
        SHORT,
        order_type=OrderType.LIMIT,
        price=_price(s, -10),
        immediate_or_cancel=True,
        max_ts=1_800_000_000,
    ),
    "oracle_auction": lambda s: _intent(
        s,
        LONG,
        order_type=OrderType.ORACLE,
        oracle_price_offset=s.order_tick_size * 5,
        auction_duration=10,
        auction_start_price=-s.order_tick_size * 5,
        auction_end_price=s.order_tick_size * 5,
    ),
    "trigger_limit": lambda s: _intent(
        s,
        SHORT,
        order_type=OrderType.TRIGGER_LIMIT,
        price=_price(s, -300),
        trigger_price=_price(s, -200),
        trigger_condition=TriggerCondition.BELOW,
    ),
}

#: For the reduce-only case: the user holding a position in the market, and the side that
#: reduces it (see conftest: busy is short SOL-PERP, long BTC-PERP, holds SOL; small is
#: short ETH-PERP).
REDUCING = {
    "SOL-PERP": ("busy", LONG),
    "BTC-PERP": ("busy", SHORT),
    "ETH-PERP": ("small", LONG),
    "SOL": ("busy", SHORT),
}


def _driftpy_place(drift: OfflineDrift, intent: OrderIntent, sub_account_id: int = 0):
    if intent.market_type is MarketType.PERP:
        return drift.client.get_place_perp_order_ix(intent.to_driftpy(), sub_account_id)
    return drift.client.get_place_spot_order_ix(intent.to_driftpy(), sub_account_id)


@pytest.fixture
def setup(catalog, offline_drift, wallet, make_test_user):
    """(builder, driftpy offline client, user factory registering into driftpy)."""

    def with_user(kind: str, sub_account_id: int = 0):
        user = make_test_user(kind, wallet.pubkey(), sub_account_id)
        offline_drift.add_user(user)
        return user

    builder = DriftInstructionBuilder(catalog, wallet.pubkey(), 0)
    return SimpleNamespace(builder=builder, drift=offline_drift, with_user=with_user)


# --------------------------------------------------------------------------- place orders


@pytest.mark.parametrize("user_kind", USERS)
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("symbol", MARKETS)
def test_place_order_matches_driftpy(setup, catalog, symbol, case, user_kind):
    spec = catalog.by_symbol(symbol)
    user = setup.with_user(user_kind)
    intent = CASES[case](spec)

    mine = setup.builder.place_order(intent, UserAccountsView.from_user(user))
    assert_same_ix(mine, _driftpy_place(setup.drift, intent))
    # state, user, authority + at least the order's market, its oracle and USDC.
    assert len(mine.accounts) >= 3 + 3


@pytest.mark.parametrize("symbol", MARKETS)
def test_reduce_only_order_matches_driftpy(setup, catalog, symbol):
    spec = catalog.by_symbol(symbol)
    user_kind, direction = REDUCING[symbol]
    user = setup.with_user(user_kind)
    intent = _intent(spec, direction, reduce_only=True, order_type=OrderType.MARKET)

    view = UserAccountsView.from_user(user)
    assert view.position_base(spec.market_type, spec.market_index) * direction.sign < 0
    assert_same_ix(setup.builder.place_order(intent, view), _driftpy_place(setup.drift, intent))


def test_perp_order_matches_hand_written_driftpy_params(setup, catalog):
    """Not only through OrderIntent.to_driftpy: driftpy params written out by hand."""
    setup.with_user("busy")
    spec = catalog.by_symbol("SOL-PERP")
    params = OrderParams(
        order_type=DpOrderType.Limit(),
        base_asset_amount=2 * 10**9,
        market_index=0,
        direction=DpDirection.Short(),
        market_type=DpMarketType.Perp(),
        user_order_id=3,
        price=151_000_000,
        post_only=PostOnlyParams.MustPostOnly(),
    )
    intent = OrderIntent(
        market_index=0,
        market_type=MarketType.PERP,
        direction=SHORT,
        base_asset_amount=2 * 10**9,
        order_type=OrderType.LIMIT,
        price=151_000_000,
        post_only=PostOnly.MUST_POST_ONLY,
        user_order_id=3,
    )
    assert spec.market_index == 0
    user = setup.drift.user(0).get_user_account()
    mine = setup.builder.place_perp_order(intent, user)
    assert_same_ix(mine, setup.drift.client.get_place_perp_order_ix(params, 0))


def test_views_from_positions_and_from_user_give_the_same_bytes(setup, catalog, market_accounts):
    user = setup.with_user("busy")
    _, spots = market_accounts
    intent = _intent(catalog.by_symbol("SOL"), SHORT, reduce_only=True)
    from_user = setup.builder.place_spot_order(intent, UserAccountsView.from_user(user))
    from_positions = setup.builder.place_spot_order(
        intent, UserAccountsView.from_positions(positions_from_user(user, spots))
    )
    raw_user = setup.builder.place_spot_order(intent, user)  # a User account is accepted as is
    assert from_user == from_positions == raw_user
    assert_same_ix(from_user, _driftpy_place(setup.drift, intent))


HEDGES = [("SOL", "SOL-PERP"), ("wBTC", "BTC-PERP"), ("wETH", "ETH-PERP")]


@pytest.mark.parametrize("user_kind", USERS)
@pytest.mark.parametrize(("spot_symbol", "perp_symbol"), HEDGES)
def test_two_leg_place_orders_matches_driftpy(setup, catalog, spot_symbol, perp_symbol, user_kind):
    """Both legs of a delta-neutral entry in one instruction: spot long + perp short."""
    user = setup.with_user(user_kind)
    spot, perp = catalog.by_symbol(spot_symbol), catalog.by_symbol(perp_symbol)
    legs = [
        _intent(spot, LONG, order_type=OrderType.LIMIT, price=_price(spot, 10), user_order_id=1),
        _intent(perp, SHORT, order_type=OrderType.LIMIT, price=_price(perp, -10), user_order_id=2),
    ]
    mine = setup.builder.place_orders(legs, UserAccountsView.from_user(user))
    theirs = setup.drift.client.get_place_orders_ix([leg.to_driftpy() for leg in legs], 0)
    assert_same_ix(mine, theirs)


def test_place_orders_with_several_markets_and_order_matters(setup, catalog):
    user = setup.with_user("small")
    specs = [catalog.by_symbol(s) for s in ("BTC-PERP", "wETH", "SOL-PERP", "SOL")]
    legs = [_intent(s, LONG if i % 2 else SHORT) for i, s in enumerate(specs)]
    mine = setup.builder.place_orders(legs, user)
    assert_same_ix(mine, setup.drift.client.get_place_orders_ix([x.to_driftpy() for x in legs], 0))
    flipped = setup.builder.place_orders(list(reversed(legs)), user)
    assert bytes(flipped.data) != bytes(mine.data)


@pytest.mark.parametrize("symbol", MARKETS)
def test_sub_account_one(setup, catalog, symbol):
    setup.with_user("small", 0)  # driftpy reads the active sub-account's slot
    user1 = setup.with_user("busy", 1)
    builder = DriftInstructionBuilder(catalog, setup.builder.authority, 1)
    intent = _intent(
        catalog.by_symbol(symbol),
        LONG,
        order_type=OrderType.LIMIT,
        price=_price(catalog.by_symbol(symbol), -100),
    )
    assert_same_ix(builder.place_order(intent, user1), _driftpy_place(setup.drift, intent, 1))
    assert builder.user_pubkey != setup.builder.user_pubkey


def test_delegate_signer_matches_driftpy(
    catalog, market_accounts, wallet, delegate, make_test_user
):
    """A delegate signs for the authority's sub-account (driftpy: wallet != authority)."""
    perps, spots = market_accounts
    drift = OfflineDrift(perps, spots, authority=wallet.pubkey(), wallet=delegate)
    user = make_test_user("busy", wallet.pubkey(), 0)
    drift.add_user(user)
    builder = DriftInstructionBuilder(catalog, wallet.pubkey(), 0, signer=delegate.pubkey())
    intent = _intent(catalog.by_symbol("ETH-PERP"), SHORT)
    mine = builder.place_perp_order(intent, user)
    assert_same_ix(mine, drift.client.get_place_perp_order_ix(intent.to_driftpy(), 0))
    signers = [a.pubkey for a in mine.accounts if a.is_signer]
    assert signers == [delegate.pubkey()]


# --------------------------------------------------------------------------- cancel / modify


@pytest.mark.parametrize("user_kind", [*USERS, "empty"])
@pytest.mark.parametrize("order_id", [None, 1, 4_000_000_000])
def test_cancel_order_by_id_matches_driftpy(setup, user_kind, order_id):
    user = setup.with_user(user_kind)
    mine = setup.builder.cancel_order(order_id, user)
    assert_same_ix(mine, setup.drift.client.get_cancel_order_ix(order_id, 0))


@pytest.mark.parametrize("user_kind", [*USERS, "empty"])
@pytest.mark.parametrize("user_order_id", [1, 42, 255])
def test_cancel_order_by_user_order_id_matches_driftpy(setup, user_kind, user_order_id):
    user = setup.with_user(user_kind)
    mine = setup.builder.cancel_order_by_user_id(user_order_id, user)
    assert_same_ix(mine, setup.drift.client.get_cancel_order_by_user_id_ix(user_order_id, 0))


@pytest.mark.parametrize("direction", [None, LONG, SHORT])
@pytest.mark.parametrize("symbol", MARKETS)
def test_cancel_all_in_a_market_matches_driftpy(setup, catalog, symbol, direction):
    setup.with_user("busy")
    spec = catalog.by_symbol(symbol)
    mine = setup.builder.cancel_orders(
        spec.market_type, spec.market_index, direction, setup.drift.user(0).get_user_account()
    )
    theirs = setup.drift.client.get_cancel_orders_ix(
        spec.market_type.to_driftpy(),
        spec.market_index,
        None if direction is None else direction.to_driftpy(),
        0,
    )
    assert_same_ix(mine, theirs)
    assert_same_ix(
        setup.builder.cancel_market_orders(
            spec.market_type, spec.market_index, setup.drift.user(0).get_user_account()
        ),
        setup.drift.client.get_cancel_orders_ix(
            spec.market_type.to_driftpy(), spec.market_index, None, 0
        ),
    )


def test_cancel_all_orders_matches_driftpy(setup):
    user = setup.with_user("busy")
    assert_same_ix(
        setup.builder.cancel_orders(user=user), setup.drift.client.get_cancel_orders_ix()
    )


MODIFICATIONS = {
    "price": OrderModification(price=149_000_000),
    "size_and_policy": OrderModification(
        base_asset_amount=5 * 10**9, policy=ModifyOrderPolicy.MUST_MODIFY
    ),
    "everything": OrderModification(
        direction=SHORT,
        base_asset_amount=10**9,
        price=151_000_000,
        reduce_only=True,
        post_only=PostOnly.MUST_POST_ONLY,
        immediate_or_cancel=False,
        max_ts=1_800_000_000,
        trigger_price=152_000_000,
        trigger_condition=TriggerCondition.ABOVE,
        oracle_price_offset=-100,
        auction_duration=0,
        auction_start_price=0,
        auction_end_price=0,
        policy=ModifyOrderPolicy.MUST_MODIFY | ModifyOrderPolicy.EXCLUDE_PREVIOUS_FILL,
    ),
}


@pytest.mark.parametrize("name", sorted(MODIFICATIONS))
def test_modify_order_matches_driftpy(setup, name):
    user = setup.with_user("busy")
    mod = MODIFICATIONS[name]
    mine = setup.builder.modify_order(17, mod, user, market_type=MarketType.PERP, market_index=0)
    assert_same_ix(mine, setup.drift.client.get_modify_order_ix(17, mod.to_driftpy(), 0))
    mine = setup.builder.modify_order_by_user_id(9, mod, user)
    assert_same_ix(mine, setup.drift.client.get_modify_order_by_user_id_ix(9, mod.to_driftpy(), 0))


# --------------------------------------------------------------------------- collateral


@pytest.mark.parametrize("reduce_only", [False, True])
@pytest.mark.parametrize("symbol", ["USDC", "SOL", "wBTC", "wETH"])
def test_deposit_matches_driftpy(setup, catalog, symbol, reduce_only):
    """driftpy's get_deposit_collateral_ix is async but reads only its cache here."""
    user = setup.with_user("busy")
    index = catalog.by_symbol(symbol).market_index
    ata = setup.builder.associated_token_account(index)
    mine = setup.builder.deposit(1_000_000, index, ata, user, reduce_only=reduce_only)
    theirs = asyncio.run(
        setup.drift.client.get_deposit_collateral_ix(1_000_000, index, ata, 0, reduce_only)
    )
    assert len(theirs) == 1
    assert_same_ix(mine, theirs[0])
    assert setup.builder.deposit(1_000_000, index, None, user, reduce_only=reduce_only) == mine


@pytest.mark.parametrize("symbol", ["USDC", "SOL", "wETH"])
def test_withdraw_matches_driftpy(setup, catalog, symbol, monkeypatch):
    """driftpy's get_withdraw_collateral_ix asks the RPC whether the token account exists
    (to prepend a create-ATA instruction); that one call is answered here with "exists",
    and the withdraw instruction itself is compared."""
    user = setup.with_user("small")
    index = catalog.by_symbol(symbol).market_index
    ata = setup.builder.associated_token_account(index)
    asked = []

    async def account_exists(pubkey, *args, **kwargs):
        asked.append(pubkey)
        return SimpleNamespace(value=object())

    monkeypatch.setattr(setup.drift.client.connection, "get_account_info", account_exists)
    theirs = asyncio.run(setup.drift.client.get_withdraw_collateral_ix(5_000, index, ata, True, 0))
    assert asked == [ata]
    assert len(theirs) == 1
    assert_same_ix(setup.builder.withdraw(5_000, index, ata, user, reduce_only=True), theirs[0])


@pytest.mark.parametrize("symbol", ["USDC", "SOL"])
def test_transfer_deposit_matches_driftpy(setup, catalog, symbol):
    """Both sub-accounts are in driftpy's cache, so it fetches nothing."""
    src = setup.with_user("busy", 0)
    dst = setup.with_user("small", 2)
    index = catalog.by_symbol(symbol).market_index
    mine = setup.builder.transfer_deposit(123_456, index, 2, src, dst)
    theirs = asyncio.run(setup.drift.client.get_transfer_deposit_ix(123_456, index, 0, 2))
    assert_same_ix(mine, theirs)


# --------------------------------------------------------------------------- purity


def test_no_network_and_no_clock(catalog, wallet, make_test_user, monkeypatch):
    """The builder never awaits and never reads the time: same input, same bytes."""
    import time

    def no_clock(*_a, **_k):
        raise AssertionError("the builder read the clock")

    monkeypatch.setattr(time, "time", no_clock)
    monkeypatch.setattr(time, "monotonic", no_clock)
    user = make_test_user("busy", wallet.pubkey())
    a = DriftInstructionBuilder(catalog, wallet.pubkey(), 0)
    b = DriftInstructionBuilder(catalog, Pubkey.from_bytes(bytes(wallet.pubkey())), 0)
    intent = _intent(
        catalog.by_symbol("SOL-PERP"),
        SHORT,
        order_type=OrderType.LIMIT,
        price=_price(catalog.by_symbol("SOL-PERP"), 5),
    )
    assert bytes(a.place_perp_order(intent, user)) == bytes(b.place_perp_order(intent, user))
    assert bytes(a.deposit(1, 0, None, user)) == bytes(b.deposit(1, 0, None, user))


def test_other_program_id_derives_its_own_addresses(catalog, wallet):
    other = Pubkey.from_bytes(bytes([9] * 32))
    b = DriftInstructionBuilder(catalog, wallet.pubkey(), 0, other)
    default = DriftInstructionBuilder(catalog, wallet.pubkey(), 0)
    intent = _intent(catalog.by_symbol("SOL-PERP"), LONG)
    ix = b.place_perp_order(intent, UserAccountsView.empty())
    assert ix.program_id == other
    assert ix.accounts[1].pubkey == b.user_pubkey != default.user_pubkey
    assert bytes(ix.data) == bytes(default.place_perp_order(intent, UserAccountsView.empty()).data)
