"""Operator commands are a durable queue (ADR-0011): `engines kill` then `engines pause`
keeps the kill, commands apply in order and each outcome is recorded, a stop survives a
restart, and a command the running engine refuses to apply changes nothing else."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from drift_engine.cli import app
from tests.engine.run_helpers import engine_account, records, write_config

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    import os

    for name in list(os.environ):
        if name.upper().startswith("DRIFT_ENGINE"):
            monkeypatch.delenv(name)
    url = f"sqlite:///{tmp_path / 'engines.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return tmp_path, url, write_config(tmp_path)


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result


def run(config, hours: float):
    r = invoke("run", "--config", str(config), "--hours", str(hours))
    assert r.exit_code == 0, r.output
    return r


def test_kill_then_pause_keeps_the_kill_and_records_both(env):
    _, url, config = env
    run(config, 24)  # the SOL carry is open by now
    before = engine_account(url, "dn-sol")
    assert before["perp_base"] != 0 and before["spot_base"] != 0

    assert invoke("engines", "kill", "dn-sol").exit_code == 0
    assert invoke("engines", "pause", "dn-sol").exit_code == 0  # weaker: must not replace it
    run(config, 1)

    after = engine_account(url, "dn-sol")
    assert after["state"] == "halted"  # the kill held; the pause found a halted engine
    # flattened (spot interest below the market's order step stays as dust)
    assert after["perp_base"] == 0 and abs(after["spot_base"]) < abs(before["spot_base"]) / 1000
    assert invoke("engines", "commands", "dn-sol").exit_code == 0
    kill, pause = _history(url)
    assert (kill.kind, kill.status) == ("kill", "applied")
    assert kill.result.startswith("running -> halted")
    assert (pause.kind, pause.status, pause.result) == (
        "pause",
        "applied",
        "no change: the engine is halted",
    )


def _history(url: str) -> list:
    """The engine's commands, oldest first."""
    from drift_engine.engine.commands import CommandQueue
    from tests.engine.run_helpers import open_db

    db = open_db(url)
    try:
        return CommandQueue(db).history("dn-sol")[::-1]
    finally:
        db.dispose()


def test_commands_apply_in_order_each_recorded(env):
    _, url, config = env
    run(config, 2)
    for command in ("pause", "start", "pause", "start", "stop"):
        assert invoke("engines", command, "dn-sol").exit_code == 0
    run(config, 1)
    assert records(url)["dn-sol"].state == "stopped"

    history = _history(url)
    assert [c.kind for c in history] == ["pause", "start", "pause", "start", "stop"]
    assert [c.status for c in history] == ["applied"] * 5
    assert [c.result.split(":")[0] for c in history] == [
        "running -> paused",
        "paused -> running",
        "running -> paused",
        "paused -> running",
        "running -> stopped",
    ]
    assert len({c.due_ts for c in history}) == 1  # all in the first tick of the run


def test_a_stop_survives_a_restart(env):
    _, url, config = env
    run(config, 2)
    assert invoke("engines", "stop", "dn-sol").exit_code == 0
    run(config, 1)
    assert records(url)["dn-sol"].state == "stopped"
    r = run(config, 1)  # a new runner: the stopped engine is not started again
    assert records(url)["dn-sol"].state == "stopped"
    assert "stays stopped" in " ".join(r.output.split())
    assert invoke("engines", "start", "dn-sol").exit_code == 0
    run(config, 1)
    assert records(url)["dn-sol"].state == "running"


def test_a_command_for_an_unknown_engine_is_refused(env):
    _, _, config = env
    run(config, 1)
    r = invoke("engines", "kill", "nope")
    assert r.exit_code == 1 and "no engine 'nope'" in r.output
