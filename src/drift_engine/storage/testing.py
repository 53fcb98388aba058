"""Throwaway databases for tests: a SQLite file, or a fresh schema in the PostgreSQL
database that `DATABASE_URL` points at (dropped afterwards).

Each PostgreSQL test gets its own schema through the connection's `search_path`, so
tests, their subprocesses and their migrations never see each other's tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from drift_engine.storage.engine import make_engine, normalize_url

BACKENDS = ("sqlite", "postgresql")


def postgres_base_url() -> str | None:
    """DATABASE_URL when it names a PostgreSQL database, else None."""
    url = os.environ.get("DATABASE_URL")
    if url and normalize_url(url).get_backend_name() == "postgresql":
        return url
    return None


@contextmanager
def throwaway_database_url(backend: str, directory: Path) -> Iterator[str]:
    """A URL for an empty database of `backend`; it is removed when the block ends."""
    if backend == "sqlite":
        yield f"sqlite:///{directory / 'test.db'}"
        return
    if backend != "postgresql":
        raise ValueError(f"backend: {backend!r} is not one of {BACKENDS}")
    base = postgres_base_url()
    if base is None:
        raise RuntimeError("DATABASE_URL does not point at a PostgreSQL database")
    schema = f"test_{uuid.uuid4().hex[:16]}"
    admin = make_engine(base)
    try:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        url = normalize_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()
