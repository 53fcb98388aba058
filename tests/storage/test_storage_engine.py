"""The engine factory: SQLite made safe for several processes; PostgreSQL URLs normalized."""

from __future__ import annotations

import sys
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


def _inside_begin(thread: threading.Thread) -> bool:
    """True while `thread` is executing the SQLite BEGIN of a write transaction (the
    engine's "begin" hook), read from its live Python stack."""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None:
        if frame.f_code.co_name == "_on_begin":
            return True
        frame = frame.f_back
    return False


def test_write_transactions_take_the_lock_at_begin(tmp_path: Path) -> None:
    """A second writer waits for the first (busy_timeout) instead of failing midway.

    No timing: the first writer holds the lock until the second is seen *inside* its
    BEGIN IMMEDIATE (its stack), then commits; the second then proceeds and sees the
    first's row, so its transaction began after the first one ended."""
    url = f"sqlite:///{tmp_path}/x.db"
    first, second = Database(url), Database(url, busy_timeout_ms=60_000)
    with first.write() as session:
        session.execute(text("CREATE TABLE t (v INTEGER)"))
    seen_at_start: list[int] = []
    errors: list[BaseException] = []

    def second_writer() -> None:
        try:
            with second.write() as session:  # BEGIN IMMEDIATE waits here
                seen_at_start.append(session.execute(text("SELECT count(*) FROM t")).scalar())
                session.execute(text("INSERT INTO t VALUES (2)"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with first.write() as session:
        session.execute(text("SELECT count(*) FROM t"))  # holds the write lock from BEGIN
        thread = threading.Thread(target=second_writer)
        thread.start()
        for _ in range(100_000):  # until the second writer is blocked in BEGIN
            if _inside_begin(thread) or not thread.is_alive():
                break
            time.sleep(0.001)
        assert _inside_begin(thread), "the second writer should be waiting in BEGIN"
        session.execute(text("INSERT INTO t VALUES (1)"))
    thread.join(timeout=60)
    assert not thread.is_alive() and errors == []
    assert seen_at_start == [1]  # it began after the first writer committed
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
