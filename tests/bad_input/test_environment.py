"""Sweep, environment and files: misspelt variables, unusable database URLs, a data
directory that is a file, missing databases for commands that only read, a read-only
database, a full disk. One line each, nothing created or changed."""

from __future__ import annotations

import errno
import sys

import pytest

from .conftest import Case, ids, run_case

RUN = ["run", "-c", "{root}/good.toml", "--hours", "1"]
LIST = ["vaults", "list"]


def env(case_id: str, args, variables: dict, *expect: str, code: int = 2) -> Case:
    return Case(case_id, args, expect, code=code, env=variables)


VARIABLES = [
    env("misspelt-data-dir", LIST, {"DRIFT_ENGINE_DATADIR": "x"},
        "DRIFT_ENGINE_DATADIR", "did you mean DRIFT_ENGINE_DATA_DIR?"),
    env("misspelt-database-url", LIST, {"DRIFT_ENGINE_DATABASE_UR": "sqlite://"},
        "did you mean DRIFT_ENGINE_DATABASE_URL?"),
    env("misspelt-config", RUN, {"DRIFT_ENGINE_CONFG": "x.toml"},
        "did you mean DRIFT_ENGINE_CONFIG?"),
    env("misspelt-keypair", RUN, {"DRIFT_ENGINE_KEYPAIR": "id.json"},
        "did you mean DRIFT_ENGINE_KEYPAIR_PATH?"),
    env("unknown-variable", ["data", "list"], {"DRIFT_ENGINE_COLOUR": "red"},
        "DRIFT_ENGINE_COLOUR", "unknown setting", "known: DRIFT_ENGINE_CONFIG"),
    env("misspelt-on-engines-list", ["engines", "list"], {"DRIFT_ENGINE_DATA_DRI": "x"},
        "did you mean DRIFT_ENGINE_DATA_DIR?"),
    env("misspelt-on-dashboard", ["dashboard", "--port", "0"], {"DRIFT_ENGINE_TOKEN": "t"},
        "DRIFT_ENGINE_TOKEN", "did you mean DRIFT_ENGINE_DASHBOARD_TOKEN?"),
    env("busy-timeout-words", LIST, {"DRIFT_ENGINE_SQLITE_BUSY_TIMEOUT_MS": "soon"},
        "DRIFT_ENGINE_SQLITE_BUSY_TIMEOUT_MS"),
    env("busy-timeout-negative", LIST, {"DRIFT_ENGINE_SQLITE_BUSY_TIMEOUT_MS": "-1"},
        "DRIFT_ENGINE_SQLITE_BUSY_TIMEOUT_MS"),
    env("override-malformed", RUN, {"DRIFT_ENGINE___DATA": "1"}, "DRIFT_ENGINE___DATA"),
    env("override-bad-speed", RUN, {"DRIFT_ENGINE__DATA__SPEED": "0"},
        "DRIFT_ENGINE__DATA__SPEED", "data.speed"),
    env("override-unknown-key", RUN, {"DRIFT_ENGINE__DATA__SPEDD": "1"},
        "DRIFT_ENGINE__DATA__SPEDD"),
    env("override-index-out-of-range", RUN, {"DRIFT_ENGINE__ENGINES__5__ENABLED": "false"},
        "DRIFT_ENGINE__ENGINES__5__ENABLED"),
    env("override-capital-bool", RUN, {"DRIFT_ENGINE__ENGINES__0__CAPITAL_USDC": "true"},
        "DRIFT_ENGINE__ENGINES__0__CAPITAL_USDC", "capital_usdc"),
    env("override-capital-inf", RUN, {"DRIFT_ENGINE__ENGINES__1__CAPITAL_USDC": "inf"},
        "DRIFT_ENGINE__ENGINES__1__CAPITAL_USDC"),
    env("override-market-unknown", RUN, {"DRIFT_ENGINE__ENGINES__0__PARAMS__MARKET": "XYZ-PERP"},
        "DRIFT_ENGINE__ENGINES__0__PARAMS__MARKET", "XYZ-PERP"),
    env("config-variable-directory", ["run", "--hours", "1"], {"DRIFT_ENGINE_CONFIG": "{in}"},
        "is a directory"),
    env("config-variable-missing", ["run"], {"DRIFT_ENGINE_CONFIG": "{in}/nope.toml"},
        "does not exist"),
]  # fmt: skip

DATABASES = [
    env("database-url-garbage", LIST, {"DATABASE_URL": "garbage"},
        "DATABASE_URL", "not a database URL"),
    env("database-url-mysql", LIST, {"DATABASE_URL": "mysql://u@h/db"},
        "DATABASE_URL", "unsupported database 'mysql'"),
    env("database-url-asyncpg", LIST, {"DATABASE_URL": "postgresql+asyncpg://u@h/db"},
        "DATABASE_URL", "unsupported"),
    env("database-url-prefixed-garbage", RUN, {"DRIFT_ENGINE_DATABASE_URL": "::::"},
        "DRIFT_ENGINE_DATABASE_URL"),
    env("database-url-garbage-on-run", RUN, {"DATABASE_URL": "not a url"}, "DATABASE_URL"),
    env("postgres-not-listening", LIST, {"DATABASE_URL": "postgresql://u@127.0.0.1:1/x"},
        "cannot open the database", "127.0.0.1:1", code=1),
    env("postgres-password-masked", LIST,
        {"DATABASE_URL": "postgresql://u:s3cret@127.0.0.1:1/x"}, "***", code=1),
    env("database-is-a-text-file", LIST, {"DATABASE_URL": "sqlite:///{root}/good.toml"},
        "cannot open the database", code=1),
    env("database-is-a-directory", LIST, {"DATABASE_URL": "sqlite:///{var}"},
        "is a directory", code=1),
    env("database-in-missing-dir", LIST, {"DATABASE_URL": "sqlite:///{in}/no/such/x.db"},
        "does not exist", code=1),
    env("read-only-database-deposit", ["vaults", "deposit", "paper-a", "5"],
        {"DATABASE_URL": "sqlite:///file:{var}/drift_engine.db?mode=ro&uri=true"},
        "readonly database", code=1),
    env("read-only-database-kill", ["engines", "kill", "eng-a"],
        {"DATABASE_URL": "sqlite:///file:{var}/drift_engine.db?mode=ro&uri=true"},
        "readonly database", code=1),
    env("engines-database-url-garbage", ["engines", "--database-url", "garbage", "list"], {},
        "database URL"),
    env("dashboard-database-url-garbage", ["dashboard", "--database-url", "nope://x"], {},
        "database URL"),
]  # fmt: skip

DATA_DIRS = [
    env("data-dir-is-a-file-vaults", LIST, {"DRIFT_ENGINE_DATA_DIR": "{root}/good.toml"},
        "DRIFT_ENGINE_DATA_DIR", "is a file"),
    env("data-dir-is-a-file-run", RUN, {"DRIFT_ENGINE_DATA_DIR": "{root}/good.toml"},
        "DRIFT_ENGINE_DATA_DIR", "is a file"),
    env("data-dir-is-a-file-data-list", ["data", "list"],
        {"DRIFT_ENGINE_DATA_DIR": "{root}/good.toml"}, "is a file"),
    env("data-dir-is-a-file-demo", ["demo", "--no-dashboard", "--hours", "1"],
        {"DRIFT_ENGINE_DATA_DIR": "{root}/good.toml"}, "is a file"),
    Case("data-dir-option-is-a-file", ["data", "list", "--data-dir", "{root}/good.toml"],
         ["is a file", "--data-dir"]),
]  # fmt: skip

#: Commands that only read, where nothing has run yet: they say so and create nothing.
READ_NOTHING = [
    Case("vaults-list-no-db", LIST, ["does not exist"], code=1, empty=True),
    Case("vaults-show-no-db", ["vaults", "show", "x"], ["does not exist"], code=1, empty=True),
    Case("engines-list-no-db", ["engines", "list"], ["does not exist"], code=1, empty=True),
    Case("engines-kill-no-db", ["engines", "kill", "x"], ["does not exist"], code=1, empty=True),
    Case("engines-demo-no-db", ["engines", "--demo", "list"], ["demo.db"], code=1, empty=True),
    Case("dashboard-no-db", ["dashboard", "--port", "0"], ["does not exist"], code=1,
         empty=True),
    Case("vaults-list-no-pg-tables", LIST, ["does not exist"], code=1, empty=True,
         env={"DATABASE_URL": "sqlite:///{var}/sub/x.db"}),
]  # fmt: skip

CASES = VARIABLES + DATABASES + DATA_DIRS + READ_NOTHING


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_environment_is_refused_in_one_line(sweep, case: Case) -> None:
    sweep(case)


# ---------------------------------------------------------------- faults that need a hand
def test_postgresql_url_without_psycopg(worlds, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # `import psycopg` now fails
    case = Case(
        "postgres-without-psycopg", LIST, ["DATABASE_URL", "psycopg", "not installed"],
        env={"DATABASE_URL": "postgresql://u@127.0.0.1/db"},
    )  # fmt: skip
    run_case(worlds[False], case, monkeypatch)


def test_a_full_disk_during_an_import(worlds, monkeypatch) -> None:
    """ENOSPC while the store writes: one line, and the store as it was."""
    import drift_engine.data.store as store

    def full(_fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store.os, "fsync", full)
    case = Case(
        "disk-full-import",
        ["data", "import", "{in}/f.csv"],
        ["No space left on device", "the disk is full"],
        code=1,
        files={"f.csv": (
            "# drift-engine market-data v1; kind=oracle; market=ETH-PERP; source=real\n"
            "ts,price\n1,3000000000\n"
        )},
    )  # fmt: skip
    run_case(worlds[False], case, monkeypatch)


def test_a_full_disk_under_the_database(worlds, monkeypatch) -> None:
    """SQLITE_FULL on a write: one line, the transaction rolled back."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.exc import OperationalError

    import drift_engine.storage.database as database

    real = database.make_engine

    def full_engine(url, **kwargs):
        engine = real(url, **kwargs)

        @event.listens_for(engine, "before_cursor_execute")
        def _full(conn, cursor, statement, params, context, executemany):
            if statement.lstrip().upper().startswith("INSERT"):
                orig = sqlite3.OperationalError("database or disk is full")
                raise OperationalError(statement, params, orig)

        return engine

    monkeypatch.setattr(database, "make_engine", full_engine)
    case = Case(
        "disk-full-database",
        ["vaults", "deposit", "paper-a", "5"],
        ["database or disk is full"],
        code=1,
    )
    run_case(worlds[False], case, monkeypatch)


def test_environment_cases_are_many_and_distinct() -> None:
    assert len(CASES) >= 40
    assert len(set(ids(CASES))) == len(CASES)
