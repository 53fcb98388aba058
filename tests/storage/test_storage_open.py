"""Opening a database: what a command that only reads may and may not do (issue #10).

`Database.open(url, create=False)` never creates a database, a file or a directory: a
missing one is `DatabaseMissingError`; one at the newest schema is opened without a
write. Every way opening can fail is a `DatabaseError` with one line naming the
database (password masked). SQLite and PostgreSQL alike."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import inspect

from drift_engine.storage import Database
from drift_engine.storage.database import (
    DatabaseMissingError,
    DatabaseUnavailableError,
)
from drift_engine.storage.engine import DatabaseUrlError, check_url
from drift_engine.vaults import VaultRegistry


def test_a_missing_database_is_not_created_by_a_reader(database_url: str, tmp_path) -> None:
    with pytest.raises(DatabaseMissingError) as info:
        Database.open(database_url, create=False)
    assert "drift-engine run / demo" in str(info.value) and "\n" not in str(info.value)
    if database_url.startswith("sqlite"):
        assert not (tmp_path / "test.db").exists()
    else:  # the throwaway schema is still empty: no alembic_version, no tables
        db = Database(database_url)
        try:
            assert inspect(db.engine).get_table_names() == []
        finally:
            db.dispose()


def test_a_current_database_is_opened_for_reading_as_it_is(database_url: str) -> None:
    writer = Database.open(database_url)
    VaultRegistry(writer).create_vault("a", "e")
    writer.dispose()
    reader = Database.open(database_url, create=False)
    try:
        assert [v.name for v in VaultRegistry(reader).list_vaults()] == ["a"]
    finally:
        reader.dispose()


def test_a_reader_writes_nothing_to_a_current_sqlite_database(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    Database.open(f"sqlite:///{path}").dispose()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    ro = f"sqlite:///file:{path}?mode=ro&uri=true"  # a read-only open fails on any write
    db = Database.open(ro, create=False)
    assert VaultRegistry(db).list_vaults() == []
    db.dispose()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_missing_directory_is_not_created(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'x.db'}"
    with pytest.raises(DatabaseMissingError, match="does not exist"):
        Database.open(url, create=False)
    assert not (tmp_path / "no").exists()


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database, but long enough to have a header " * 20)
    with pytest.raises(DatabaseUnavailableError, match="file is not a database"):
        Database.open(f"sqlite:///{path}", create=False)
    with pytest.raises(DatabaseUnavailableError, match="file is not a database"):
        Database.open(f"sqlite:///{path}")


def test_a_data_dir_that_is_a_file_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "var").write_text("a file")
    with pytest.raises(DatabaseUnavailableError, match="cannot open the database"):
        Database.open(f"sqlite:///{tmp_path / 'var' / 'x.db'}")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("garbage", "not a database URL"),
        ("mysql://u@h/db", "unsupported database 'mysql'"),
        ("nope://x", "unsupported database 'nope'"),
        ("postgresql+asyncpg://u@h/db", "unsupported"),
    ],
)
def test_unusable_urls_are_refused_before_connecting(url: str, message: str) -> None:
    with pytest.raises(DatabaseUrlError, match=message):
        check_url(url)
    with pytest.raises(DatabaseUrlError, match=message):
        Database.open(url, create=False)


def test_postgresql_without_psycopg(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(__import__("sys").modules, "psycopg", None)
    with pytest.raises(DatabaseUrlError, match="needs psycopg"):
        check_url("postgresql://u@127.0.0.1/db")


def test_a_server_that_does_not_answer_names_it_with_the_password_masked() -> None:
    url = "postgresql://user:s3cret@127.0.0.1:1/db"
    with pytest.raises(DatabaseUnavailableError) as info:
        Database.open(url, create=False)
    text = str(info.value)
    assert "127.0.0.1:1" in text and "s3cret" not in text and "***" in text


def test_a_directory_where_the_database_should_be(tmp_path: Path) -> None:
    with pytest.raises(DatabaseMissingError, match="is a directory"):
        Database.open(f"sqlite:///{tmp_path}", create=False)
    with pytest.raises(DatabaseUnavailableError, match="cannot open the database"):
        Database.open(f"sqlite:///{tmp_path}")
