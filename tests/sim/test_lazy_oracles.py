"""A price move with each DriftClient's oracle entry made when driftpy reads it
(`sim.accounts.LAZY_ORACLES`, `_Oracles`) against the reference (every move stores it).

Two simulators fed the same drawn steps (price moves of the perp and its spot leg,
funding, rates, hours of interest, orders, settle_pnl, deposits and withdrawals, another
sub-account's deposits, another authority opened: its DriftClient priced by
`_push_price`), one with the flag on, one with it off; after every step, read or not
(an entry is made on the first read only), each DriftClient's oracle reads of every
market equal the reference's, driftpy's own margin math over the cache (`DriftUser`'s
total collateral, health) too, and the simulators' records and prices. Examples pin
what the drawn steps may not reach: an entry stored after a lazy move wins (as it would
overwrite the move's), an id never priced raises KeyError, a pickled cache reads its
kept prices, the flag turned off after a lazy move."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from solders.pubkey import Pubkey

from drift_engine.sim import accounts
from drift_engine.sim.accounts import _Oracles
from tests.backtest.attribution_steps import OPS, OTHER, PRICE, T0, apply_step, funded_simulator

_NEW = Pubkey.new_unique()


def _as(on: bool, fn, *args):
    was = accounts.LAZY_ORACLES
    accounts.LAZY_ORACLES = on
    try:
        return fn(*args)
    finally:
        accounts.LAZY_ORACLES = was


def _reads(sim) -> list:
    """Every DriftClient's oracle entry of every market, as driftpy reads them."""
    out = []
    for authority, drift in sim._drifts.items():
        client = drift.client
        for i in sorted(sim.perp_markets):
            out.append((authority, "perp", i, client.get_oracle_price_data_for_perp_market(i)))
        for i in sorted(sim.spot_markets):
            out.append((authority, "spot", i, client.get_oracle_price_data_for_spot_market(i)))
    return out


def _margins(sim) -> list:
    return [
        (key, acct.drift_user.get_total_collateral(), acct.drift_user.get_health())
        for key, acct in sim._accounts.items()
    ]


def _step(sim, venue, other, step, ts, prices):
    ts, event = apply_step(sim, venue, other, step, ts, prices)
    if event is not None:
        sim.apply(event)
    return ts


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.one_of(OPS, OTHER, st.just(("open",))),
            st.booleans(),  # read the caches after the step
        ),
        max_size=30,
    ),
    st.booleans(),
)
def test_property_driftpy_reads_the_prices_the_reference_stored(steps, auto_settle):
    sims = {on: funded_simulator(auto_settle, others=1) for on in (True, False)}
    ts = {on: T0 for on in sims}
    prices = {on: {"SOL-PERP": PRICE, "SOL": PRICE} for on in sims}
    opened = False
    for step, read in steps:
        for on, (sim, (venue, other)) in sims.items():
            if step[0] == "open":
                if not opened:
                    _as(on, sim.open_account, _NEW, 0)
                continue
            ts[on] = _as(on, _step, sim, venue, other, step, ts[on], prices[on])
        opened = opened or step[0] == "open"
        lazy, ref = sims[True][0], sims[False][0]
        assert lazy.records == ref.records and lazy._prices == ref._prices
        if read:
            assert _reads(lazy) == _reads(ref)
            assert _margins(lazy) == _margins(ref)
    lazy, ref = sims[True][0], sims[False][0]
    assert _reads(lazy) == _reads(ref)
    assert _margins(lazy) == _margins(ref)


def _moved(on: bool):
    sim, (venue,) = funded_simulator(True)
    _as(on, _step, sim, venue, None, ("price", "SOL", 120), T0, {"SOL-PERP": PRICE, "SOL": PRICE})
    return sim


def test_an_entry_stored_after_a_lazy_move_is_read_and_an_unpriced_id_raises():
    lazy, ref = _moved(True), _moved(False)
    oracles = next(iter(lazy._drifts.values())).client.account_subscriber.cache["oracle_price_data"]
    assert type(oracles) is _Oracles and oracles.prices  # (the perp and SOL: one oracle)
    assert not oracles.keys() & oracles.prices.keys()  # (no entry made yet)
    assert _reads(lazy) == _reads(ref)  # (made on the read)
    assert oracles.prices.keys() <= oracles.keys()
    lazy2 = _moved(True)
    for sim in (lazy2, ref):  # a write after the move: `OfflineDrift._put_oracle`
        for drift in sim._drifts.values():
            drift.set_perp_oracle_price(0, 77_000_000)
    assert _reads(lazy2) == _reads(ref)
    assert _reads(lazy2)[0][3].price == 77_000_000
    cache = next(iter(lazy._drifts.values())).client.account_subscriber.cache
    with pytest.raises(KeyError):
        cache["oracle_price_data"]["never priced"]


def test_a_pickled_cache_and_the_flag_turned_off_read_the_kept_prices():
    lazy, ref = _moved(True), _moved(False)
    caches = [d.client.account_subscriber.cache for d in lazy._drifts.values()]
    for cache in caches:  # (a checkpoint's copy of the cache: its kept prices with it)
        copy = pickle.loads(pickle.dumps(cache["oracle_price_data"]))
        assert type(copy) is _Oracles and copy.prices == cache["oracle_price_data"].prices
        cache["oracle_price_data"] = copy
    assert _reads(lazy) == _reads(ref)
    again = _moved(True)  # a lazy move, then the reference's moves
    for sim in (again, ref):
        _as(False, _step, sim, None, None, ("price", "SOL", -50), T0 + 60,
            {"SOL-PERP": PRICE, "SOL": PRICE})  # fmt: skip
    assert _reads(again) == _reads(ref)
    assert _margins(again) == _margins(ref)
