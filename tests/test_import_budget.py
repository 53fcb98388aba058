"""What a command or a sweep worker imports (issues #14, #15): the design that keeps
start-up cheap, checked by name in a fresh interpreter, never by the clock.

- `engines list` on a current SQLite file reads through `sqlite3`: no SQLAlchemy, no
  pydantic-settings, nothing of driftpy/solana; it shows exactly what the ORM path shows.
- `vaults list` needs SQLAlchemy and the ledger, but not driftpy's types or solana.
- The backtest worker path (research.runs -> backtest.runner) imports no live client and
  no Solana RPC/websocket stack.
Timings are printed by bench/cli_latency.py and bench/start_cost.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app

#: Packages no read-only listing needs (the live path's and the Solana client's).
CHAIN_STACK = ("anchorpy", "solana", "solders", "httpx", "aiohttp", "websockets", "jsonrpcclient")
PROBE = """
import json, sys
{body}
mods = sorted(sys.modules)
print("MODULES=" + json.dumps(mods))
"""


def _modules(body: str, env: dict[str, str]) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(body=body)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("MODULES="))
    return set(json.loads(line.removeprefix("MODULES=")))


def _loaded(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


@pytest.fixture(scope="module")
def demo_env(tmp_path_factory) -> dict[str, str]:
    data_dir = tmp_path_factory.mktemp("budget") / "var"
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DRIFT_ENGINE_")}
    env.pop("DATABASE_URL", None)
    env["DRIFT_ENGINE_DATA_DIR"] = str(data_dir)
    env["COLUMNS"] = "200"
    done = subprocess.run(
        [sys.executable, "-c", "from drift_engine.cli import app; app()", "demo", "--hours", "3"]
        + ["--no-dashboard", "--speed", "1e9"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (data_dir / "demo.db").is_file()
    return env


CLI = (
    "from drift_engine.cli import app\n"
    "try:\n    app({args!r})\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
)


def test_engines_list_imports_no_sqlalchemy_pydantic_settings_or_driftpy(demo_env) -> None:
    modules = _modules(CLI.format(args=["engines", "--demo", "list"]), demo_env)
    for package in ("sqlalchemy", "pydantic_settings", "driftpy", *CHAIN_STACK):
        assert not _loaded(modules, package), package
    assert "drift_engine.storage.quick" in modules  # the sqlite3 path answered


def test_vaults_list_imports_no_driftpy_types_or_solana(demo_env) -> None:
    modules = _modules(CLI.format(args=["vaults", "--demo", "list"]), demo_env)
    assert "driftpy.types" not in modules
    for package in CHAIN_STACK:
        assert not _loaded(modules, package), package


def test_backtest_worker_path_imports_no_live_client_server_or_frames(demo_env) -> None:
    # anchorpy and solana-py's RPC client do load here: the simulator's margin math is
    # driftpy's DriftUser on a DriftClient (core/offline.py), and driftpy builds its
    # anchorpy Program with an AsyncClient; that client is never contacted.
    body = "import drift_engine.research.pools, drift_engine.research.runs\n"
    body += "import drift_engine.backtest.runner\n"
    modules = _modules(body, demo_env)
    for package in (
        "drift_engine.live",
        "drift_engine.venues.live",
        "drift_engine.localnet",
        "drift_engine.data.live",
        "drift_engine.dashboard",
        "fastapi",
        "uvicorn",
        "pandas",
        "matplotlib",
        "ray",
        "optuna",
        "alembic",  # only when a database is migrated (once per worker: storage/scratch.py)
    ):
        assert not _loaded(modules, package), package


def test_scratch_databases_are_copies_at_the_newest_schema(tmp_path) -> None:
    from sqlalchemy import inspect

    from drift_engine.storage.migrate import current_revision, head_revision
    from drift_engine.storage.scratch import scratch_database

    db = scratch_database(tmp_path / "a.db")
    migrated = tmp_path / "b.db"
    from drift_engine.storage.database import Database

    reference = Database.open(f"sqlite:///{migrated}")
    try:
        assert current_revision(db.url) == head_revision()
        assert set(inspect(db.engine).get_table_names()) == set(
            inspect(reference.engine).get_table_names()
        )
        with pytest.raises(FileExistsError):
            scratch_database(tmp_path / "a.db")  # never over a file someone keeps
    finally:
        db.dispose()
        reference.dispose()


def _listing(url: str, quick: bool):
    from drift_engine.commands import engines

    engines._options.update(database_url=url, demo=False)
    got = engines._quick_listing() if quick else engines._orm_listing()
    assert got is not None
    rows, vaults, live = got
    return (
        [
            (r.engine_id, r.strategy, r.mode, r.state, r.vault_id, r.last_ts, r.high_water_mark)
            for r in rows
        ],
        [(v.id, v.name, v.engine_id, v.is_active) for v in vaults],
        {k: (x.process, x.last_tick_at, x.session and x.session.id) for k, x in live.items()},
    )


def test_the_sqlite3_listing_equals_the_orm_listing(demo_env) -> None:
    from drift_engine.sessions import RunSession
    from drift_engine.storage.database import Database

    url = f"sqlite:///{Path(demo_env['DRIFT_ENGINE_DATA_DIR']) / 'demo.db'}"
    db = Database.open(url)
    session = RunSession.begin(  # this process "runs" dn-sol: alive on both paths
        db, kind="run", engines=["dn-sol"], speed=None, sim_start=None, sim_end=None
    )
    try:
        quick, orm = _listing(url, quick=True), _listing(url, quick=False)
        assert quick == orm
        assert quick[2]["dn-sol"][0] == "running" and quick[2]["dn-btc"][0] == "finished"
        assert len(quick[0]) == 2 and any(v[3] for v in quick[1])
    finally:
        session.end("finished")
        db.dispose()


def test_engines_list_output_is_the_same_on_both_paths(demo_env, monkeypatch) -> None:
    from datetime import UTC, datetime

    from drift_engine import sessions
    from drift_engine.commands import engines

    for key, value in demo_env.items():
        monkeypatch.setenv(key, value)
    now = datetime.now(UTC)
    monkeypatch.setattr(sessions, "_now", lambda: now)  # the same "N s ago" on both
    runner = CliRunner()
    quick = runner.invoke(app, ["engines", "--demo", "list"])
    monkeypatch.setattr(engines, "_quick_listing", lambda: None)
    full = runner.invoke(app, ["engines", "--demo", "list"])
    assert quick.exit_code == full.exit_code == 0, (quick.output, full.output)
    assert quick.output == full.output and "dn-sol" in quick.output


def test_an_old_or_foreign_database_takes_the_full_path(tmp_path) -> None:
    import sqlite3

    from drift_engine.storage.quick import open_current_sqlite

    old = tmp_path / "old.db"
    with sqlite3.connect(old) as c:
        c.execute("CREATE TABLE alembic_version (version_num VARCHAR(32))")
        c.execute("INSERT INTO alembic_version VALUES ('0001')")
    (tmp_path / "junk.db").write_bytes(b"not a database at all" * 100)
    for url in (
        f"sqlite:///{old}",  # must be migrated first: Database.open does it
        f"sqlite:///{tmp_path / 'junk.db'}",  # the full path names the problem
        f"sqlite:///{tmp_path / 'missing.db'}",
        "sqlite://",
        f"sqlite:///{old}?mode=ro",
        "postgresql://user@localhost/db",
    ):
        assert open_current_sqlite(url) is None, url


def test_setting_names_match_the_settings_model() -> None:
    from drift_engine.config import Settings
    from drift_engine.settings_quick import SETTING_NAMES

    assert set(SETTING_NAMES) == set(Settings.model_fields)


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "sqlite:///var/demo.db"),
        ({"DRIFT_ENGINE_DATA_DIR": "/x/y"}, "sqlite:////x/y/demo.db"),
        ({"DRIFT_ENGINE_RPC_URL": "http://127.0.0.1:8899"}, "sqlite:///var/demo.db"),
        ({"drift_engine_data_dir": "/x"}, None),  # case-insensitive in pydantic: let it say
        ({"DRIFT_ENGINE_DATA_DRI": "/x"}, None),  # misspelt: the full check names it
        ({"DRIFT_ENGINE_DATA_DIR": ""}, None),
        ({"DATABASE_URL": "sqlite:///elsewhere.db"}, None),
        ({"DRIFT_ENGINE_DATABASE_URL": "sqlite:///elsewhere.db"}, None),
        ({"DRIFT_ENGINE_SQLITE_BUSY_TIMEOUT_MS": "-1"}, None),  # pydantic validates it
        ({"DRIFT_ENGINE_NETWORK": "moonnet"}, None),
        ({"DRIFT_ENGINE__DATA__SOURCE": "bundled"}, None),
    ],
)
def test_quick_settings_answer_only_when_exact(environ, expected) -> None:
    from drift_engine.settings_quick import quick_database_url

    assert quick_database_url(demo=True, environ=environ) == expected


def test_environment_known_only_when_the_full_check_would_pass() -> None:
    from drift_engine.config import ConfigError, check_environment
    from drift_engine.settings_quick import environment_known

    for environ in ({}, {"DRIFT_ENGINE_DATA_DIR": "x"}, {"drift_engine_rpc_url": "x"}, {"A": "b"}):
        assert environment_known(environ)
        check_environment(environ)  # passes, as promised
    for environ in ({"DRIFT_ENGINE_DATA_DRI": "x"}, {"DRIFT_ENGINE__A____B": "a"}):
        assert not environment_known(environ)
        with pytest.raises(ConfigError):
            check_environment(environ)
    # a config override: the full check looks at its shape
    assert not environment_known({"DRIFT_ENGINE__ENGINES__0__ID": "a"})
