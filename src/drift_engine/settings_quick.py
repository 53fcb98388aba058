"""The settings a read-only command needs, read without pydantic when that is exact.

`drift_engine.config` (pydantic-settings) costs ~0.25 s of CPU to import: more than
`drift-engine engines list` spends on everything else once it reads through `sqlite3`.
These helpers answer only when the answer is certainly what `load_settings()` would
give; otherwise they return None/False and the caller uses `drift_engine.config`, which
also reports every bad value. `SETTING_NAMES` must equal `config.Settings`' fields
(tests/cli/test_import_budget.py checks).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENV_PREFIX = "DRIFT_ENGINE_"
CONFIG_OVERRIDE_PREFIX = "DRIFT_ENGINE__"
SETTING_NAMES = (
    "data_dir",
    "database_url",
    "keypair_path",
    "rpc_url",
    "network",
    "dashboard_token",
    "sqlite_busy_timeout_ms",
    "config",
    "ray_address",
)
#: Settings whose value any string is (a path or free text): they cannot fail
#: validation, so their presence does not need pydantic to read `data_dir`.
_FREE_TEXT = ("keypair_path", "rpc_url", "dashboard_token", "config", "ray_address")
_KNOWN = {f"{ENV_PREFIX}{name}".upper() for name in SETTING_NAMES}
_QUICK = {f"{ENV_PREFIX}{name}".upper() for name in ("data_dir", *_FREE_TEXT)}


def environment_known(environ: Mapping[str, str] | None = None) -> bool:
    """True when `config.check_environment` would certainly pass: every DRIFT_ENGINE_*
    variable names a setting and none is a config-file override (those are checked by
    the full path)."""
    env = os.environ if environ is None else environ
    for variable in env:
        upper = variable.upper()
        if upper.startswith(ENV_PREFIX) and (
            upper.startswith(CONFIG_OVERRIDE_PREFIX) or upper not in _KNOWN
        ):
            return False
    return True


def quick_data_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """`load_settings().data_dir` when no database URL is set and every DRIFT_ENGINE_*
    variable is spelt exactly and cannot be invalid; None when pydantic must decide."""
    env = os.environ if environ is None else environ
    for variable in env:
        upper = variable.upper()
        if upper == "DATABASE_URL":
            return None  # the database is elsewhere: the full settings name it
        if upper.startswith(ENV_PREFIX) and (variable != upper or upper not in _QUICK):
            return None
    value = env.get(f"{ENV_PREFIX}DATA_DIR")
    if value == "":
        return None
    data_dir = Path("./var" if value is None else value)
    if data_dir.exists() and not data_dir.is_dir():
        return None  # the full path reports it
    return data_dir


#: the file of `drift-engine demo`'s database in the data directory (reset at every start;
#: `--demo` of `engines`, `vaults` and `dashboard` reads it)
DEMO_DATABASE = "demo.db"


def demo_database_path(data_dir: str | Path) -> Path:
    """The demo's database file in `data_dir`."""
    return Path(data_dir) / DEMO_DATABASE


def demo_database_url(data_dir: str | Path) -> str:
    """The SQLAlchemy URL of the demo's database in `data_dir`."""
    return f"sqlite:///{demo_database_path(data_dir)}"


def quick_database_url(*, demo: bool, environ: Mapping[str, str] | None = None) -> str | None:
    """The SQLite URL a command reads (`demo.db` for `--demo`, else the default
    database file) when `quick_data_dir` knows the data directory; else None."""
    data_dir = quick_data_dir(environ)
    if data_dir is None:
        return None
    if demo:
        return demo_database_url(data_dir)
    return f"sqlite:///{data_dir / 'drift_engine.db'}"
