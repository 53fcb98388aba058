"""What `drift-engine run` tells the user: whether the dashboard's controls are on, the
commands queued while no process ran the engines, each command it applies, a closing
summary like the demo's — and the run session it leaves for the dashboard's banner."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from drift_engine.storage import Database
from drift_engine.storage.models import RunSessionRow

CLI = [sys.executable, "-c", "from drift_engine.cli import app; app()"]


def _cli(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_run_announces_and_applies_queued_commands_and_ends_with_a_summary(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DRIFT_ENGINE_")}
    env.pop("DATABASE_URL", None)
    env.update(
        DRIFT_ENGINE_DATA_DIR=str(tmp_path / "var"),
        DRIFT_ENGINE__DATA__SPEED="1000000000",
        COLUMNS="200",
    )
    assert _cli("init", env=env, cwd=tmp_path).returncode == 0
    first = _cli("run", "--hours", "1", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "controls: dashboard not served" in first.stdout
    assert "summary" in first.stdout and "Delta-neutral SOL: running, equity " in first.stdout

    queued = _cli("engines", "pause", "dn-sol", env=env, cwd=tmp_path)
    assert queued.returncode == 0, queued.stderr
    assert queued.stderr.startswith("warning: no process runs dn-sol (")

    second = _cli("run", "--hours", "1", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    out = second.stdout
    assert "queued while no runner held it: #1 pause for dn-sol (from cli)" in out
    assert "applied queued command #1 pause for dn-sol: applied:" in out
    assert "Delta-neutral SOL: paused, equity " in out

    db = Database.open(f"sqlite:///{tmp_path / 'var' / 'drift_engine.db'}", create=False)
    try:
        with db.read() as s:
            sessions = s.query(RunSessionRow).order_by(RunSessionRow.id).all()
            assert [(r.kind, r.status) for r in sessions] == [
                ("run", "finished"),
                ("run", "finished"),
            ]
            assert sessions[-1].speed == 1e9
            assert sessions[-1].engines == ["dn-sol", "dn-btc"]
            # the series the run opened: real hourly Drift records by default
            assert sessions[-1].data["sources"] == {
                "funding": "real",
                "prices": "real",
                "spot_rates": "assumed",
            }
    finally:
        db.dispose()
