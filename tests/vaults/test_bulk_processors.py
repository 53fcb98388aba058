"""The processors `vaults.bulk` applies itself, through SQLAlchemy's public API, must be
the ones Core applies (its private per-dialect memos, the reference here): the bind
processors of a `DriverStatement`'s parameters (`_statement_processor`: the engine
record UPDATE's, `engine.store`) and the result processors of the vault rows
`_vault_rows` reads (`_vault_processors`), on SQLite and on PostgreSQL (psycopg): the
same columns processed, by the same code, with the same outcome for each value a
column holds (enum members, booleans, aware datetimes, JSON, None)."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from psycopg.types.json import Json, Jsonb
from sqlalchemy import JSON, create_engine

from drift_engine.engine import store
from drift_engine.storage.models import UTCDateTime, VaultRow
from drift_engine.vaults import bulk

#: no connection is made: a dialect's processors need none
URLS = ("sqlite://", "postgresql+psycopg://user@127.0.0.1:1/none")

#: values by column type (JSON and `UTCDateTime`: by the type itself)
SAMPLES: dict[type, tuple[Any, ...]] = {
    int: (0, -1, 2**62),
    str: ("", "hold-short", "é" * 40),
    bool: (True, False),
    JSON: ({}, {"a": [1, -0.0, 2.5, None], "b": {"c": "d"}}, [{"x": 1}]),
    UTCDateTime: (
        datetime(2025, 4, 14, 12, 0, 0, 1, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 1, 1),  # naive: UTCDateTime refuses it
    ),
}


@pytest.fixture(params=URLS)
def dialect(request: pytest.FixtureRequest) -> Any:
    return create_engine(request.param).dialect


def _samples(type_: Any) -> tuple[Any, ...]:
    """Values a column of `type_` holds, None too (by the type itself where its Python
    type says `object`)."""
    for kind in (JSON, UTCDateTime):
        if isinstance(type_, kind):
            return (*SAMPLES[kind], None)
    python = type_.python_type
    if issubclass(python, enum.Enum):
        return (*python, None)
    return (*SAMPLES[python], None)


def _outcome(process: Any, value: Any) -> tuple[Any, ...]:
    try:
        out = process(value)
    except Exception as e:  # noqa: BLE001 (the same refusal either way)
        return ("raised", type(e), str(e))
    if isinstance(out, Json | Jsonb):  # (psycopg's wrappers have no equality)
        return ("ok", type(out), out.obj, out.dumps)
    return ("ok", type(out), out)


def _same(ours: Any, core: Any, values: tuple[Any, ...]) -> None:
    assert (ours is None) == (core is None)
    if core is not None:
        assert ours is core or ours.__code__ is core.__code__
        for value in values:
            assert _outcome(ours, value) == _outcome(core, value)


def test_statement_processors_are_cores(dialect: Any) -> None:
    statement = store._UPDATE_RECORD_ROWS
    compiled = statement.statement.compile(dialect=dialect)
    processed = 0
    for name in statement.columns:
        param = compiled.binds[name]
        core = compiled._bind_processors.get(name)
        processed += core is not None
        _same(bulk._statement_processor(param, dialect), core, _samples(param.type))
    assert processed  # (the JSON columns: a test that compares something)
    # the compiled statement `run` uses holds the same processors
    assert [p is None for p in statement._compile(dialect)[2]] == [
        compiled._bind_processors.get(name) is None for name in statement.columns
    ]


def test_vault_result_processors_are_cores(dialect: Any) -> None:
    ours = dict(bulk._vault_processors(dialect))
    assert bulk._vault_processors(dialect) is bulk._vault_processors(dialect)  # made once
    assert ours  # (enums and datetimes everywhere)
    for i, column in enumerate(VaultRow.__table__.c):
        core = column.type._cached_result_processor(dialect, None)
        bind = column.type._cached_bind_processor(dialect)
        # the values as the database gives them back: as bound (enum values, naive UTC
        # datetimes on SQLite, 0/1 for booleans there)
        raw = []
        for value in _samples(column.type):
            outcome = _outcome(bind, value) if bind is not None else ("ok", None, value)
            if outcome[0] == "ok":
                raw.append(outcome[2])
        if column.type.python_type is bool:
            raw += [0, 1]
        _same(ours.get(i), core, tuple(raw))
