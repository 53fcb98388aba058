"""One backtest as a job that can travel to another process or machine, and its result.

`RunSpec` holds everything a run needs except the market data (shipped once per worker,
`data.MarketData`): the strategy (`StrategyRef`: spec, plus the source text of a file
strategy), the market, the window and the parameters. `execute` runs it through
`run_backtest` - the very function `drift-engine backtest` calls, with the same data -
so a sweep's per-run figures are the ones `backtest` prints for that configuration.

A run never raises: an error becomes a `RunResult` with `ok=False`, the error text and
the run's parameters, so one failing configuration does not stop the others.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any

from drift_engine.strategies.loading import StrategyRef

#: Report fields copied into a run's metrics (wall-clock figures are kept apart: they
#: differ from one run of the same configuration to the next).
METRIC_FIELDS = (
    "net_apr",
    "sharpe",
    "max_drawdown",
    "net_pnl",
    "initial_equity",
    "final_equity",
    "funding",
    "interest",
    "fees",
    "slippage",
    "time_in_market",
    "trades",
    "fills",
    "liquidations",
    "rejections",
    "events",
    "ticks",
    "ledger_funding",
    "ledger_balance",
)

#: Drawdown below this counts as this in the Calmar ratio (a run that never lost money
#: would otherwise have an infinite one).
CALMAR_MIN_DRAWDOWN = 1e-4

HOURS_PER_YEAR = 24 * 365


@dataclass(frozen=True)
class RunSpec:
    run_id: int
    strategy: StrategyRef
    market: str
    start: int
    end: int
    params: dict[str, Any]
    capital: int = 10_000_000_000
    interval_s: int = 60
    tag: str = ""  # e.g. "w3 train" in a walk-forward


@dataclass
class RunResult:
    run_id: int
    params: dict[str, Any]
    start: int
    end: int
    ok: bool
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    wall_seconds: float = 0.0
    tag: str = ""
    strategy_state: dict[str, Any] = field(default_factory=dict)
    #: the run's CPU seconds in its process (its wall time counts the other workers' and
    #: the machine's load too); 0.0 in results stored before it was kept
    cpu_seconds: float = 0.0

    def to_json_dict(self) -> dict[str, Any]:
        return asdict(self)


def returns_stats(equities: list[int]) -> dict[str, float]:
    """Hourly simple returns of an equity series: count, mean, std (sample), skewness
    and (non-excess) kurtosis, for the Sharpe ratio and its deflation."""
    rets = [b / a - 1 for a, b in zip(equities, equities[1:], strict=False) if a > 0]
    n = len(rets)
    if n < 2:
        return {"n": n, "mean": 0.0, "std": 0.0, "skew": 0.0, "kurtosis": 3.0, "sharpe": 0.0}
    mean = sum(rets) / n
    var = sum((r - mean) ** 2 for r in rets) / (n - 1)
    std = math.sqrt(var)
    if std == 0:
        return {"n": n, "mean": mean, "std": 0.0, "skew": 0.0, "kurtosis": 3.0, "sharpe": 0.0}
    m2 = sum((r - mean) ** 2 for r in rets) / n
    m3 = sum((r - mean) ** 3 for r in rets) / n
    m4 = sum((r - mean) ** 4 for r in rets) / n
    return {
        "n": n,
        "mean": mean,
        "std": std,
        "skew": m3 / m2**1.5 if m2 > 0 else 0.0,
        "kurtosis": m4 / m2**2 if m2 > 0 else 3.0,
        "sharpe": mean / std,  # per hour, not annualised
    }


def report_metrics(report: Any) -> dict[str, Any]:
    """The figures a sweep keeps from a BacktestReport, plus Calmar and return stats."""
    out = {name: getattr(report, name) for name in METRIC_FIELDS}
    out["calmar"] = report.net_apr / max(report.max_drawdown, CALMAR_MIN_DRAWDOWN)
    equities = [s.equity for s in report.samples] + [report.final_equity]
    out["returns"] = returns_stats(equities)
    out["data_label"] = report.data_label
    return out


def execute(spec: RunSpec, data: Any) -> RunResult:
    """Run `spec` on `data` (a MarketData covering its window); never raises."""
    from drift_engine.backtest.runner import run_backtest

    t0, c0 = time.perf_counter(), time.process_time()
    try:
        cls = spec.strategy.load()
        report = run_backtest(
            cls,
            spec.market,
            spec.start,
            spec.end,
            dict(spec.params),
            capital=spec.capital,
            interval_s=spec.interval_s,
            data=(data.window(spec.start, spec.end), data.label),
        )
    except Exception as exc:  # noqa: BLE001 - reported with the run's parameters
        last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
        where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
        return RunResult(
            spec.run_id,
            dict(spec.params),
            spec.start,
            spec.end,
            ok=False,
            error=f"{type(exc).__name__}: {exc}{where}",
            wall_seconds=time.perf_counter() - t0,
            tag=spec.tag,
            cpu_seconds=time.process_time() - c0,
        )
    # The heartbeat isolates an engine whose strategy raised (HALTED, error logged): for
    # a sweep that run failed, whatever figures it left.
    return RunResult(
        spec.run_id,
        dict(spec.params),
        spec.start,
        spec.end,
        ok=report.errors == 0,
        error=report.last_error or None,
        metrics=report_metrics(report),
        wall_seconds=time.perf_counter() - t0,
        tag=spec.tag,
        strategy_state=report.strategy_state,
        cpu_seconds=time.process_time() - c0,
    )


def failed(spec: RunSpec, error: str) -> RunResult:
    """A result for a run whose worker could not report one (a crashed process)."""
    return RunResult(
        spec.run_id, dict(spec.params), spec.start, spec.end, ok=False, error=error, tag=spec.tag
    )


__all__ = [
    "CALMAR_MIN_DRAWDOWN",
    "METRIC_FIELDS",
    "RunResult",
    "RunSpec",
    "execute",
    "failed",
    "report_metrics",
    "returns_stats",
]
