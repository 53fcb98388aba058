"""The market board's funding fields are worked out when a snapshot is read (a funding
hour only appends to the history): whenever it is read, a snapshot holds what the records
fed so far say (the newest 168 hours, their 24 h and 7 d averages added oldest first), the
same as a board read after every record, through backfills and a dump/load."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.engine.market_board import FUNDING_HISTORY_HOURS, MarketBoard
from drift_engine.strategies.base import HOURS_PER_YEAR

SYMBOL = "SOL-PERP"
T0 = 1_751_328_000

rate = st.floats(-1e-3, 1e-3, allow_nan=False, allow_subnormal=False)
op = st.one_of(
    st.tuples(st.just("funding"), rate, st.one_of(st.none(), rate), st.one_of(st.none(), rate)),
    st.tuples(st.just("hours"), st.integers(1, 200), rate),  # many hours, unread
    st.tuples(st.just("price"), st.integers(1, 10**9)),
    st.tuples(st.just("spot"), st.integers(1, 10**9)),
    st.tuples(st.just("backfill"), st.lists(st.tuples(st.integers(-30, 3), rate), max_size=30)),
    st.tuples(st.just("reload")),
)


def _expected(kept: list[tuple[int, float, float, float]]) -> dict:
    """The funding fields by their definition, from the (ts, rate, long, short) kept."""
    if not kept:
        return {"funding_history": (), "funding_apr_7d": 0.0}
    day = kept[-24:]
    ts, rate, lng, sht = kept[-1]
    return {
        "funding_rate": rate,
        "funding_rate_long": lng,
        "funding_rate_short": sht,
        "last_funding_ts": ts,
        "funding_history": tuple((t, r) for t, r, _, _ in kept),
        "funding_sides": tuple((t, lo, sh) for t, _, lo, sh in kept),
        "funding_apr_24h": sum(r for _, r, _, _ in day) / len(day) * HOURS_PER_YEAR,
        "funding_apr_7d": sum(r for _, r, _, _ in kept) / len(kept) * HOURS_PER_YEAR,
    }


@settings(max_examples=40, deadline=None)
@given(st.lists(op, max_size=200), st.lists(st.booleans(), min_size=200, max_size=200))
def test_a_snapshot_read_at_any_time_holds_the_funding_fed_so_far(ops, reads):
    every = MarketBoard([SYMBOL])  # read after every operation
    lazy = MarketBoard([SYMBOL])  # read only where `reads` says
    fed: list[tuple[int, float, float, float]] = []  # the history: newest 168, in order
    hour = 0
    for step, read in zip(ops, reads, strict=False):
        if step[0] == "funding":
            hour += 1
            ts = T0 + hour * 3600
            _, r, lng, sht = step
            for board in (every, lazy):
                board.add_funding(SYMBOL, ts, r, lng, sht)
            fed.append((ts, r, r if lng is None else lng, r if sht is None else sht))
            del fed[:-FUNDING_HISTORY_HOURS]
        elif step[0] == "hours":
            for i in range(step[1]):
                hour += 1
                ts, r = T0 + hour * 3600, step[2] * (i % 7 - 3)
                for board in (every, lazy):
                    board.add_funding(SYMBOL, ts, r)
                fed.append((ts, r, r, r))
            del fed[:-FUNDING_HISTORY_HOURS]
        elif step[0] in ("price", "spot"):
            for board in (every, lazy):
                board.set_price(SYMBOL if step[0] == "price" else "SOL", step[1], T0)
        elif step[0] == "backfill":
            rows = [(T0 + (hour + h) * 3600, r, r / 2, r * 2) for h, r in step[1]]
            for board in (every, lazy):
                board.backfill_funding(SYMBOL, rows)
            if rows:  # merged by funding time, in time order, the newest 168 kept
                merged = {row[0]: row for row in fed + rows}
                fed = [merged[ts] for ts in sorted(merged)][-FUNDING_HISTORY_HOURS:]
        else:  # a restart: what `dump` saved, loaded into a new board
            every, lazy = MarketBoard([SYMBOL]), _reloaded(lazy)
            every.load(lazy.dump())
        snap = every.snapshot(SYMBOL)
        if read:
            assert lazy.snapshot(SYMBOL) == snap
        want = _expected(fed)
        assert {k: getattr(snap, k) for k in want} == want
    assert lazy.snapshot(SYMBOL) == every.snapshot(SYMBOL)
    assert lazy.dump() == every.dump()
    assert lazy.last_ts == every.last_ts


def _reloaded(board: MarketBoard) -> MarketBoard:
    out = MarketBoard([SYMBOL])
    out.load(board.dump())
    return out


def test_funding_fed_between_reads_is_in_the_next_snapshot_only():
    board = MarketBoard([SYMBOL])
    before = board.snapshot(SYMBOL)
    board.add_funding(SYMBOL, T0, 1e-5)
    assert before.funding_history == ()  # a snapshot taken is frozen
    snap = board.snapshot(SYMBOL)
    assert snap.funding_history == ((T0, 1e-5),) and snap.last_funding_ts == T0
    assert board.snapshot(SYMBOL) is snap  # nothing new: the same snapshot
