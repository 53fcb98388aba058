"""The engine factory: SQLite made safe for several processes; PostgreSQL URLs normalized."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from drift_engine.storage import Database, make_engine, normalize_url


def test_sqlite_connections_get_wal_busy_timeout_fk_and_full_sync(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/nested/dir/x.db", busy_timeout_ms=1234)
    with engine.connect() as connection:
        pragma = lambda name: connection.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("busy_timeout") == 1234
        assert pragma("foreign_keys") == 1
        assert pragma("synchronous") == 2  # FULL
    assert (tmp_path / "nested" / "dir" / "x.db").exists()
    engine.dispose()


def test_write_transactions_take_the_lock_at_begin(tmp_path: Path) -> None:
    """A second writer waits for the first (busy_timeout) instead of failing midway."""
    url = f"sqlite:///{tmp_path}/x.db"
    first, second = Database(url), Database(url, busy_timeout_ms=5_000)
    with first.write() as session:
        session.execute(text("CREATE TABLE t (v INTEGER)"))
    waited: list[float] = []

    def second_writer() -> None:
        start = time.monotonic()
        with second.write() as session:
            session.execute(text("INSERT INTO t VALUES (2)"))  # BEGIN IMMEDIATE waits here
            waited.append(time.monotonic() - start)

    with first.write() as session:
        session.execute(text("SELECT count(*) FROM t"))  # holds the write lock from BEGIN
        thread = threading.Thread(target=second_writer)
        thread.start()
        time.sleep(0.3)
        assert thread.is_alive(), "the second writer should be waiting for the lock"
        session.execute(text("INSERT INTO t VALUES (1)"))
    thread.join(timeout=10)
    assert waited and waited[0] >= 0.25
    with first.read() as session:
        assert session.execute(text("SELECT v FROM t ORDER BY rowid")).scalars().all() == [1, 2]
    first.dispose()
    second.dispose()


def test_readers_do_not_block_on_a_writer(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/x.db"
    writer, reader = Database(url), Database(url, busy_timeout_ms=0)
    with writer.write() as session:
        session.execute(text("CREATE TABLE t (v INTEGER)"))
    with writer.write() as session:
        session.execute(text("INSERT INTO t VALUES (1)"))
        with reader.read() as read_session:  # deferred BEGIN: no lock needed under WAL
            assert read_session.execute(text("SELECT count(*) FROM t")).scalar() == 0
        # A writer with no patience is refused at BEGIN, before it has read or written.
        with pytest.raises(OperationalError, match="locked"), reader.write() as impatient:
            impatient.execute(text("SELECT 1"))
    writer.dispose()
    reader.dispose()


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg"),
        ("postgres://u@h/db", "postgresql+psycopg"),
        ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_normalize_url(url: str, driver: str) -> None:
    assert normalize_url(url).drivername == driver
