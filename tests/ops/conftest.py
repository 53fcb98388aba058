"""Fixtures: the operations tests run on SQLite, and on PostgreSQL when DATABASE_URL is set
(`scripts/with_postgres.sh`)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from drift_engine.storage.testing import throwaway_database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "postgresql" and not os.environ.get("DATABASE_URL"):
        pytest.skip("PostgreSQL variant runs when DATABASE_URL is set")
    with throwaway_database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def postgres_url(tmp_path: Path) -> Iterator[str]:
    """Only PostgreSQL: several runners on several machines share one."""
    if not os.environ.get("DATABASE_URL"):
        pytest.skip("runs on PostgreSQL: DATABASE_URL (scripts/with_postgres.sh)")
    with throwaway_database_url("postgresql", tmp_path) as url:
        yield url
