"""Optuna's storage, kept apart from ours.

Optuna's RDB storage creates its own tables (`studies`, `trials`, ...) and stamps its
own Alembic revision in a table named `alembic_version` - the name our migrations use.
Sharing a namespace would let either side read the other's revision (Optuna refuses to
open a database stamped "0004"; our `upgrade` would find an Optuna revision). So:

- PostgreSQL (DATABASE_URL): the same database, in its own schema `optuna`
  (`search_path=optuna` on Optuna's connections; created if missing);
- SQLite (the default): SQLite has no schemas - an attached "schema" is another file
  anyway - so Optuna's tables live in `<our file>.optuna.db` beside ours, in the same
  directory with the same lifetime.

Study names derive from what was asked (strategy, market, window, space, fixed
parameters, objective, data), so running the same `sweep --optimize N` again resumes
the same study: finished trials are kept and only the missing ones run. Trials left
RUNNING by a driver that died are marked FAIL and their parameters queued again.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

OPTUNA_SCHEMA = "optuna"


def optuna_storage_target(database_url: str) -> tuple[str, dict[str, Any], str]:
    """(Optuna storage URL, engine kwargs, where it is in words) for our database."""
    from sqlalchemy.engine import make_url

    from drift_engine.storage.engine import normalize_url

    url = normalize_url(make_url(database_url))
    backend = url.get_backend_name()
    if backend == "sqlite":
        db = url.database
        if not db or db == ":memory:" or db.startswith("file::memory:"):
            raise ValueError(
                "DATABASE_URL: an Optuna study needs a database file, not an in-memory one"
            )
        path = Path(db)
        optuna_path = path.with_name(f"{path.stem}.optuna{path.suffix or '.db'}")
        optuna_path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{optuna_path}", {}, str(optuna_path)
    if backend == "postgresql":
        kwargs = {"connect_args": {"options": f"-csearch_path={OPTUNA_SCHEMA}"}}
        return url.render_as_string(hide_password=False), kwargs, f"schema {OPTUNA_SCHEMA}"
    raise ValueError(f"DATABASE_URL: Optuna studies support SQLite and PostgreSQL, not {backend}")


def open_storage(database_url: str) -> tuple[Any, str]:
    """Optuna's RDBStorage beside our database, and where it is."""
    import optuna
    from sqlalchemy import create_engine, text

    url, kwargs, where = optuna_storage_target(database_url)
    if kwargs:  # PostgreSQL: the schema must exist before Optuna creates its tables
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {OPTUNA_SCHEMA}"))
        finally:
            engine.dispose()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs), where


def study_name(definition: dict[str, Any]) -> str:
    """A stable name for a sweep definition (same question -> same study)."""
    blob = json.dumps(definition, sort_keys=True, default=str)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:12]
    return f"{definition.get('strategy', 'sweep')}-{definition.get('market', '')}-{digest}"


__all__ = ["OPTUNA_SCHEMA", "open_storage", "optuna_storage_target", "study_name"]
