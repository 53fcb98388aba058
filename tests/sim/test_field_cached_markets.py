"""The checkpoint's State and market bytes come from per-account field caches (nested
structs such as a market's AMM, and fixed arrays of structs such as a User's positions,
cached field by field): at every point of a busy run they equal anchorpy's full encode."""

from __future__ import annotations

from drift_engine.core.program import FieldCachedEncoder, encode_account

from .test_dump_load import scenario


def test_field_cached_state_markets_and_users_equal_a_full_encode() -> None:
    sim, events, step = scenario()
    users = {key: FieldCachedEncoder("User") for key in sim._accounts}
    hours = checked = 0
    for n, event in enumerate(events[:3000]):
        if event.kind == "funding":
            hours += 1
        step(sim, event, hours)
        if n % 23 and event.kind != "funding":
            continue
        assert sim._encode_cached("State", 0, sim.state) == encode_account("State", sim.state)
        for i, m in sim.perp_markets.items():
            assert sim._encode_cached("PerpMarket", i, m) == encode_account("PerpMarket", m), n
        for i, m in sim.spot_markets.items():
            assert sim._encode_cached("SpotMarket", i, m) == encode_account("SpotMarket", m), n
        for key, acct in sim._accounts.items():
            assert users[key].encode(acct.user) == encode_account("User", acct.user), n
        checked += 1
    assert checked > 100
