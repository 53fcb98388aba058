"""The local store: generations, manifest, real/synthetic separation, replay."""

from __future__ import annotations

import json

import pytest

from drift_engine.clock import SimulatedClock
from drift_engine.data import LocalStore, OracleTick, StoreSource, replay
from drift_engine.data.models import FundingRecord
from drift_engine.data.source import OutOfOrderError

from .helpers import store_snapshot


def ticks(market, start, n, price, label):
    return [OracleTick(start + 60 * i, market, price + i, label) for i in range(n)]


def test_transaction_commits_manifest_and_files(tmp_path):
    store = LocalStore(tmp_path)
    assert store.entries() == []
    with store.transaction() as txn:
        entry = txn.put("SOL-PERP", "oracle", "real", ticks("SOL-PERP", 0, 5, 100, "real"))
    assert store.entries() == [entry]
    assert (entry.first_ts, entry.last_ts, entry.rows) == (0, 240, 5)
    manifest = json.loads((store.root / "gen-000001" / "manifest.json").read_text())
    assert manifest["entries"][0]["file"] == "SOL-PERP.oracle.real.csv"
    assert (store.root / "CURRENT").read_text().strip() == "gen-000001"


def test_an_exception_inside_a_transaction_writes_nothing(tmp_path):
    store = LocalStore(tmp_path)
    with store.transaction() as txn:
        txn.put("SOL-PERP", "oracle", "real", ticks("SOL-PERP", 0, 5, 100, "real"))
    snapshot = store_snapshot(store.root)

    def exploding():
        yield from ticks("SOL-PERP", 0, 3, 1, "synthetic")
        raise RuntimeError("generator failed half way")

    with pytest.raises(RuntimeError), store.transaction() as txn:
        txn.put("BTC-PERP", "oracle", "real", ticks("BTC-PERP", 0, 5, 100, "real"))
        txn.put("SOL-PERP", "oracle", "synthetic", exploding())
    assert store_snapshot(store.root) == snapshot


def test_out_of_order_records_are_refused(tmp_path):
    store = LocalStore(tmp_path)
    bad = [OracleTick(10, "X", 1), OracleTick(10, "X", 2)]
    with pytest.raises(ValueError, match="out of order"), store.transaction() as txn:
        txn.put("X", "oracle", "real", bad)
    assert store.entries() == []


def test_unchanged_series_are_carried_into_the_next_generation(tmp_path):
    store = LocalStore(tmp_path)
    with store.transaction() as txn:
        sol = txn.put("SOL-PERP", "oracle", "real", ticks("SOL-PERP", 0, 5, 100, "real"))
    with store.transaction() as txn:
        txn.put("BTC-PERP", "oracle", "real", ticks("BTC-PERP", 0, 5, 100, "real"))
    assert {e.market for e in store.entries()} == {"SOL-PERP", "BTC-PERP"}
    assert list(store.read(sol)) == ticks("SOL-PERP", 0, 5, 100, "real")
    assert sorted(p.name for p in store.root.iterdir()) == ["CURRENT", "gen-000002"]


def test_store_source_prefers_real_data_and_never_mixes(tmp_path):
    store = LocalStore(tmp_path)
    with store.transaction() as txn:
        txn.put("SOL-PERP", "oracle", "synthetic", ticks("SOL-PERP", 0, 10, 500, "synthetic"))
        txn.put("SOL-PERP", "oracle", "real", ticks("SOL-PERP", 0, 10, 100, "real"))
        txn.put("BTC-PERP", "oracle", "synthetic", ticks("BTC-PERP", 0, 10, 900, "synthetic"))
    events = list(StoreSource(store).events(["SOL-PERP", "BTC-PERP"], 60, 240))
    assert [(e.market, e.ts, e.source) for e in events] == [
        (m, t, s)
        for t in (60, 120, 180)
        for m, s in (("BTC-PERP", "synthetic"), ("SOL-PERP", "real"))
    ]
    synthetic_only = StoreSource(store, prefer=("synthetic",))
    assert {e.price for e in synthetic_only.events(["SOL-PERP"], 0, 60)} == {500}
    with pytest.raises(KeyError, match="ETH-PERP"):
        StoreSource(store).events(["ETH-PERP"], 0, 10)


def test_replay_drives_the_clock_to_each_event(tmp_path):
    store = LocalStore(tmp_path)
    with store.transaction() as txn:
        txn.put("SOL-PERP", "oracle", "real", ticks("SOL-PERP", 1000, 4, 100, "real"))
    clock = SimulatedClock(0)
    seen = [(e.ts, clock.now()) for e in replay(StoreSource(store), ["SOL-PERP"], 0, 10**6, clock)]
    assert seen == [(1000, 1000), (1060, 1060), (1120, 1120), (1180, 1180)]


def test_replay_refuses_a_source_out_of_time_order():
    class Backwards:
        label = "test"

        def events(self, markets, start, end):
            yield OracleTick(20, "X", 1)
            yield FundingRecord(10, "X", None, 0, 0, 0, 0, 0, 1, 1)

    with pytest.raises(OutOfOrderError):
        list(replay(Backwards(), ["X"], 0, 100, SimulatedClock()))
