"""Backtests on the simulated clock: same engine, simulator and ledger as paper."""

from drift_engine.backtest.report import BacktestReport, write_plot
from drift_engine.backtest.runner import SOURCES, Progress, parse_date, run_backtest

__all__ = ["SOURCES", "BacktestReport", "Progress", "parse_date", "run_backtest", "write_plot"]
