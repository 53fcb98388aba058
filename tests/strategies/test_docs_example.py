"""The complete example of docs/strategies.md runs as written, and its test passes."""

from __future__ import annotations

import re
from pathlib import Path

from drift_engine.backtest.runner import parse_date, run_backtest
from drift_engine.strategies import strategy_class

DOC = Path(__file__).resolve().parents[2] / "docs" / "strategies.md"


def test_the_worked_example_runs_through_the_engine(tmp_path):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    strategy_code = next(b for b in blocks if "class ShortFunding(" in b)
    path = tmp_path / "short_funding.py"
    path.write_text(strategy_code)
    cls = strategy_class(f"{path}:ShortFunding")
    r = run_backtest(cls, "SOL-PERP", parse_date("2026-03-01"), parse_date("2026-03-03"),
                     {"entry_apr": -10.0, "exit_apr": -20.0}, source="synthetic")  # fmt: skip
    assert r.strategy_state["entries"] == 1
    assert r.funding == r.ledger_funding == r.strategy_state["funding_earned"] != 0
