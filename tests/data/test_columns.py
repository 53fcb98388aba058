"""The columnar path (`data.columns`) is the object stream in other clothes: for random
sources and windows, the column chunks hold exactly the events the iterator yields, the
replay's `EventTape` built from the chunks equals the one built from the objects (every
array, at every refill), and a backtest through either gives the same report and ledger."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from unittest.mock import patch

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drift_engine import tape as tape_module
from drift_engine.backtest.runner import run_backtest
from drift_engine.data.columns import EventStream, LazyEvents, join
from drift_engine.data.pipeline import open_market_data
from drift_engine.data.store import LocalStore
from drift_engine.data.synthetic import DEFAULT_ORIGIN, SyntheticMarket
from drift_engine.storage.database import Database
from drift_engine.tape import EventTape
from drift_engine.vaults import VaultRegistry

DAY = 86_400
SOL_YEAR = 1_744_588_800  # 2025-04-14, the bundled real SOL-PERP file's first hour
PERPS = st.sampled_from([["SOL-PERP"], ["SOL-PERP", "BTC-PERP"], ["ETH-PERP"]])

sources = st.one_of(
    st.tuples(
        st.just("synthetic"),
        PERPS,
        st.integers(0, 20 * DAY),  # start after the origin
        st.integers(1, 3 * DAY),  # length
        st.just(0),
        st.integers(1, 99),
    ),
    st.tuples(
        st.just("bundled"),
        PERPS,
        st.integers(0, 200 * DAY).map(lambda s: SOL_YEAR + DAY + s),
        st.integers(1, 3 * DAY),
        st.sampled_from([0, 60, 300]),
        st.integers(1, 99),
    ),
)


def _open(case, data_dir=None):
    source, perps, start, length, bridge, seed = case
    if source == "synthetic":
        start += DEFAULT_ORIGIN
    return open_market_data(
        source, perps, start, start + length, seed=seed, bridge_s=bridge, data_dir=data_dir
    )


def _chunks_hold_the_events(case, data_dir=None) -> None:
    objects = list(_open(case, data_dir).events)
    codes, chunks = _open(case, data_dir).events.columns()
    whole = join(list(chunks))
    lazy = LazyEvents(codes, whole)
    assert lazy[0 : len(whole)] == objects
    # read one at a time (rows from the arrays), iterated (lists made once), from the end
    assert [lazy[i] for i in range(len(lazy))] == objects == list(lazy)
    if objects:
        assert lazy[-1] == objects[-1] and lazy[-len(objects)] == objects[0]
        assert lazy[len(objects) // 2 :: 3] == objects[len(objects) // 2 :: 3]
    assert np.array_equal(whole.time, [e.time for e in objects])


def _tapes_equal(case, wants, data_dir=None) -> None:
    """Refill both tapes by the same amounts, consuming part of each chunk between (the
    columns' reads of `want` rows, as the objects': `tape.LONG_READ` off; its long reads
    are held to these by tests/data/test_long_read.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tape_module, "LONG_READ", False)
        _refilled_alike(case, wants, data_dir)


def _refilled_alike(case, wants, data_dir=None) -> None:
    a = EventTape(iter(list(_open(case, data_dir).events)), 60)
    stream = _open(case, data_dir).events
    b = EventTape(stream, 60)
    assert b._columns is not None and a._columns is None
    for want, eat in wants:
        a.refill(want)
        b.refill(want)
        for name in ("time", "bound", "sym", "price", "is_price"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype and np.array_equal(x, y), name
        assert a.symbols == b.symbols and a.exhausted == b.exhausted
        assert len(a.buf) == len(b.buf) and a.pos == b.pos
        assert a.buf[a.pos :] == b.buf[b.pos :]
        rows_a, rows_b = a.rows(), b.rows()
        for name in ("bound", "sym", "tick_no", "tick_end", "next_other"):  # (`TapeRows`' facts)
            assert list(getattr(rows_a, name)) == list(getattr(rows_b, name)), name
        step = min(eat, len(a))
        a.pos += step
        b.pos += step


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sources, st.lists(st.tuples(st.integers(1, 5000), st.integers(0, 5000)), max_size=6))
def test_property_columns_equal_the_objects_and_the_tapes_are_equal(case, wants):
    _chunks_hold_the_events(case)
    _tapes_equal(case, [*wants, (16_384, 0)])


def test_a_stream_read_as_objects_offers_no_columns():
    data = open_market_data("synthetic", ["SOL-PERP"], DEFAULT_ORIGIN, DEFAULT_ORIGIN + DAY)
    first = next(data.events)
    assert data.events.columns() is None
    tape = EventTape(data.events, 60)  # the replay then reads objects, as before
    tape.refill()
    assert tape._columns is None and isinstance(tape.buf, list)
    assert first.time == DEFAULT_ORIGIN and len(tape) == len(tape.time) > 1000


def test_the_store_source_as_columns(tmp_path):
    market = SyntheticMarket(5)
    start, end = DEFAULT_ORIGIN, DEFAULT_ORIGIN + 3 * DAY
    store = LocalStore(tmp_path)
    with store.transaction() as txn:
        txn.put("SOL-PERP", "funding", "synthetic", market.funding_events("SOL-PERP", start, end))
        txn.put("SOL-PERP", "oracle", "synthetic", market.oracle_events("SOL-PERP", start, end))
    for case in (
        ("store", ["SOL-PERP"], start + 3_600, DAY, 0, 7),
        ("store", ["SOL-PERP"], start + 7_000, 2 * DAY - 7_000, 0, 7),
    ):
        _chunks_hold_the_events(case, tmp_path)
        _tapes_equal(case, [(1000, 999), (5000, 10), (16_384, 0)], tmp_path)


def _backtest(tmp_path: Path, name: str, case, data=None):
    source, perps, start, length, bridge, seed = case
    if source == "synthetic":
        start += DEFAULT_ORIGIN
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    report = run_backtest(
        "delta-neutral",
        perps[0],
        start,
        start + length,
        {"entry_apr": -1.0, "exit_apr": -2.0},
        source=source,
        seed=seed,
        bridge_s=bridge,
        database_url=url,
        data=data,
    )
    db = Database.open(url)
    try:
        entries = [
            (e.kind.value, e.amount, e.fee, e.key, e.market_index)
            + ((e.occurred_at,) if e.kind.value != "transfer_in" else ())
            for e in VaultRegistry(db).ledger.entries(f"backtest-{report.strategy}-{perps[0]}")
        ]
    finally:
        db.dispose()
    return report, entries


@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.tuples(
        st.sampled_from(["synthetic", "bundled"]),
        st.just(["SOL-PERP"]),
        st.integers(0, 30 * DAY),
        st.integers(DAY, 2 * DAY),
        st.sampled_from([0, 60]),
        st.integers(1, 99),
    )
)
def test_property_a_backtest_through_the_columns_equals_one_through_the_objects(tmp_path, case):
    if case[0] == "bundled":
        case = (case[0], case[1], SOL_YEAR + DAY + case[2], *case[3:])
    else:
        case = (*case[:4], 0, case[5])
    k = len(list(tmp_path.iterdir()))
    opened = _open(case)
    label = opened.label()
    objects = list(opened.events)
    # the product path: `run_backtest` opens the data; fast stepping reads its columns
    read: list[bool] = []
    columns = EventStream.columns

    def spied(self):
        out = columns(self)
        read.append(out is not None)
        return out

    with patch.object(EventStream, "columns", spied):
        columnar, col_entries = _backtest(tmp_path, f"columns{k}", case)
    assert read == [True]
    plain, plain_entries = _backtest(tmp_path, f"objects{k}", case, data=(objects, label))
    for f in dataclasses.fields(columnar):
        if f.name in {"wall_seconds", "events_per_second", "data"}:
            continue
        assert getattr(columnar, f.name) == getattr(plain, f.name), f.name
    assert col_entries == plain_entries
    assert columnar.events == len(objects)
