"""`PaperVenue.margin` reads the simulator's live market snapshot (the one `equity`
reads) instead of building one from the markets' `last_oracle_price` per computation
(`DriftMarginMonitor.compute_for`): the same metrics, whatever the orders, price moves,
funding and time in between."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.core.margin import DriftMarginMonitor
from drift_engine.engine.ports import VenueError
from drift_engine.venues.paper import PaperVenue
from tests.sim.conftest import BASE, PRICE, QUOTE, SOL, T0, limit, make_sim, perp, spot

STEP = st.one_of(
    st.tuples(st.just("price"), st.integers(40, 250)),
    st.tuples(st.just("funding"), st.integers(-5_000_000, 5_000_000)),
    st.tuples(
        st.sampled_from(["spot_long", "spot_short", "perp_long", "perp_short", "bid", "ask"]),
        st.integers(1, 300),
    ),
)


def _order(kind: str, tenths: int):
    if kind.startswith("spot"):
        return spot(kind.removeprefix("spot_"), tenths * SOL // 10)
    if kind.startswith("perp"):
        return perp(kind.removeprefix("perp_"), tenths * BASE // 10)
    price = 95 * PRICE if kind == "bid" else 105 * PRICE
    return limit("long" if kind == "bid" else "short", tenths * BASE // 10, price)


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(STEP, min_size=1, max_size=8))
def test_paper_margin_equals_the_monitor_over_the_markets(steps):
    sim = make_sim()
    venue = PaperVenue(sim)
    venue.fund(2_000 * QUOTE, T0)
    monitor = DriftMarginMonitor()
    ts = T0
    for kind, value in steps:
        ts += 600
        if kind == "price":
            sim.set_oracle_price("SOL", value * PRICE, ts)
        elif kind == "funding":
            sim.update_funding("SOL-PERP", ts=ts, funding_rate=value)
        else:
            with contextlib.suppress(VenueError):  # a refused order is part of the walk
                venue.place([_order(kind, value)], ts)
        expected = monitor.compute_for(sim.user(venue.key), sim.perp_markets, sim.spot_markets, ts)
        venue._margin = None  # a computation, not the venue's cache (unchanged by this)
        assert venue.margin(ts) == expected
