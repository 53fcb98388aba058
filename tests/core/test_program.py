"""The offline Drift program: zeroed accounts, exact sizes, byte round trips."""

import copy

import pytest
from solders.pubkey import Pubkey

from drift_engine.core.program import (
    ACCOUNT_NAMES,
    account_name_of,
    account_size,
    decode_account,
    encode_account,
    new_account,
)

# On-chain sizes of Drift v2 accounts (8-byte discriminator + struct), as the program
# allocates them (`size_of::<User>() + 8` etc. in programs/drift/src/state/*.rs).
EXPECTED_SIZES = {
    "User": 4376,
    "PerpMarket": 1216,
    "SpotMarket": 776,
    "State": 992,
    "UserStats": 240,
}


@pytest.mark.parametrize("name", ACCOUNT_NAMES)
def test_zeroed_account_encodes_to_its_on_chain_size(name):
    data = encode_account(name, new_account(name))
    assert len(data) == account_size(name) == EXPECTED_SIZES[name]
    assert data[8:] == bytes(len(data) - 8)
    assert account_name_of(data) == name


def test_new_account_is_a_fresh_copy():
    a, b = new_account("User"), new_account("User")
    a.perp_positions[0].base_asset_amount = 7
    assert b.perp_positions[0].base_asset_amount == 0


def test_round_trip_keeps_every_field_we_set():
    user = new_account("User")
    key = Pubkey.new_unique()
    user.authority = key
    user.sub_account_id = 3
    user.perp_positions[2].base_asset_amount = -123_456_789
    user.perp_positions[2].quote_entry_amount = 42
    user.spot_positions[1].scaled_balance = 10**15
    back = decode_account(encode_account("User", user))
    assert back.authority == key
    assert back.sub_account_id == 3
    assert back.perp_positions[2].base_asset_amount == -123_456_789
    assert back.perp_positions[2].quote_entry_amount == 42
    assert back.spot_positions[1].scaled_balance == 10**15
    assert encode_account("User", back) == encode_account("User", user)


def test_accounts_with_pubkeys_deep_copy():
    user = new_account("User")
    user.authority = Pubkey.new_unique()
    assert copy.deepcopy(user).authority == user.authority


def test_encode_account_equals_anchorpys_own_build_of_each_account_type():
    """`encode_account` hands anchorpy a plain dict tree instead of letting it deep-copy
    the dataclasses: the bytes are the same for every account type the simulator keeps."""
    from anchorpy.coder.accounts import AccountToSerialize

    from drift_engine.core.program import _coder, encode_account
    from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
    from drift_engine.sim import DriftSimulator

    sim = DriftSimulator({"SOL-PERP": 150_000_000, "SOL": 150_000_000}, ts=1_700_000_000)
    k = sim.open_account()
    sim.deposit(k, "USDC", 10**10, 1_700_000_000)
    short = OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, 10**9)
    sim.place_order(k, short, 1_700_000_001)
    accounts = [("User", sim.user(k)), ("State", sim.state), ("UserStats", sim.user_stats())]
    accounts += [("PerpMarket", m) for m in sim.perp_markets.values()]
    accounts += [("SpotMarket", m) for m in sim.spot_markets.values()]
    for name, obj in accounts:
        assert encode_account(name, obj) == _coder().build(AccountToSerialize(data=obj, name=name))
