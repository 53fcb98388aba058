"""`FieldCachedEncoder` sees every kind of change: an integer, an enum variant replaced,
an array leaf changed in place, a field of a nested struct, an element of a fixed array
of structs; after each, its bytes equal anchorpy's full encode."""

from __future__ import annotations

from driftpy.types import OrderStatus

from drift_engine.core.program import FieldCachedEncoder, encode_account

from .conftest import BASE, QUOTE, T0, make_sim, perp


def test_each_kind_of_change_is_encoded() -> None:
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 1_000 * QUOTE, T0)
    sim.place_orders(k, [perp("short", 2 * BASE)], T0 + 1)
    user, market = sim.user(k), sim.perp_markets[0]
    users, markets = FieldCachedEncoder("User"), FieldCachedEncoder("PerpMarket")

    def same() -> bool:
        return users.encode(user) == encode_account("User", user) and markets.encode(
            market
        ) == encode_account("PerpMarket", market)

    assert same()
    changes = [
        lambda: setattr(user, "next_order_id", user.next_order_id + 5),
        lambda: user.name.__setitem__(3, 77),  # an array leaf, in place
        lambda: setattr(user.orders[7], "status", OrderStatus.Open()),
        lambda: setattr(user.orders[7], "base_asset_amount", 3),
        lambda: setattr(user.perp_positions[0], "quote_asset_amount", -12_345),
        lambda: setattr(market.amm.historical_oracle_data, "last_oracle_price", 123),
        lambda: setattr(market.amm, "total_fee", market.amm.total_fee + 9),
        lambda: market.name.__setitem__(0, 1),
        lambda: setattr(user.orders[7], "status", OrderStatus.Init()),
    ]
    for n, change in enumerate(changes):
        before = users.encode(user), markets.encode(market)
        change()
        assert same(), n
        assert (users.encode(user), markets.encode(market)) != before, n


def test_the_dump_encodes_user_stats_as_anchorpy_does() -> None:
    import base64

    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 1_000 * QUOTE, T0)
    for n in range(4):  # fees and 30-day volumes move at each fill
        sim.place_orders(k, [perp("short" if n % 2 else "long", 2 * BASE)], T0 + 1 + n)
        ((_, raw),) = sim.dump()["user_stats"]
        assert base64.b64decode(raw) == encode_account("UserStats", sim.user_stats()), n
