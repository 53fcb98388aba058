"""Optuna's study storage on PostgreSQL: the same database, its own schema `optuna`, so
its tables and its Alembic revision never meet ours (ADR-0017). Runs in the PostgreSQL
pass (scripts/with_postgres.sh sets DATABASE_URL)."""

from __future__ import annotations

import os

import pytest

from drift_engine.backtest.runner import parse_date
from drift_engine.research.data import load_market_data
from drift_engine.research.pools import InProcessPool
from drift_engine.research.space import SearchSpace
from drift_engine.research.sweep import SweepTask, run_optuna
from drift_engine.strategies import StrategyRef

START, END = parse_date("2026-01-15"), parse_date("2026-01-16")


def task(grid, **fixed) -> SweepTask:
    return SweepTask(
        StrategyRef.of("delta-neutral"), "SOL-PERP", START, END, SearchSpace.parse(grid), fixed
    )


@pytest.fixture
def data():
    return load_market_data("bundled", ["SOL-PERP"], START, END)


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="needs DATABASE_URL=postgresql://... (scripts/with_postgres.sh)",
)
def test_optuna_study_in_its_own_schema_postgresql(data):
    from sqlalchemy import text

    from drift_engine.research.study import open_storage
    from drift_engine.storage.database import Database

    url = os.environ["DATABASE_URL"]
    db = Database.open(url)
    storage, where = open_storage(url)
    assert where == "schema optuna"
    t = task(grid=["entry_apr=0.0:0.3:0.1"], exit_apr=-1.0)
    with InProcessPool(data) as pool:
        run_optuna(t, pool, 2, storage=storage, name="pg-study", seed=3)
        again = run_optuna(t, pool, 3, storage=storage, name="pg-study", seed=3)
    assert again.study["resumed_trials"] == 2 and len(again.results) == 3
    with db.engine.connect() as conn:
        ours = conn.execute(text("select version_num from public.alembic_version")).scalar_one()
        theirs = conn.execute(text("select version_num from optuna.alembic_version")).scalar_one()
        studies = conn.execute(text("select count(*) from optuna.studies")).scalar_one()
        tables = "select table_name from information_schema.tables where table_schema='public'"
        public = {r[0] for r in conn.execute(text(tables))}
    db.dispose()
    assert ours != theirs and ours[:4].isdigit() and studies >= 1
    assert "trials" not in public and "studies" not in public
