"""Objectives and honest statistics of a sweep.

Objectives (higher is better): `net_apr`; `sharpe` (hourly returns, annualised);
`calmar` (net APR / max drawdown, the drawdown floored at 0.01% so a run that never
lost money has a finite ratio).

A sweep reports how many configurations it tried, how their objective is spread (min,
quartiles, max, mean, std), and for the best one the *deflated Sharpe ratio* of Bailey
and Lopez de Prado ("The Deflated Sharpe Ratio: Correcting for Selection Bias, Backtest
Overfitting and Non-Normality", J. Portfolio Management 40(5), 2014):

    SR0 = sqrt(V[SR_n]) * ((1 - g) Z^-1(1 - 1/N) + g Z^-1(1 - 1/(N e)))
    DSR = Z( (SR* - SR0) sqrt(T - 1) / sqrt(1 - skew SR* + (kurt - 1)/4 SR*^2) )

with SR_n the per-period (hourly, not annualised) Sharpe ratios of the N configurations
tried, SR* the best one's, T its number of returns, skew and kurt (non-excess) of its
returns, g the Euler-Mascheroni constant and Z the standard normal CDF. SR0 is the Sharpe
ratio the best of N trials with no edge at all would be expected to show; DSR is the
probability that the best's true Sharpe ratio is above zero *after* that selection.
N counts every configuration tried; configurations of one grid are correlated, so the
effective number is smaller and the deflation is, if anything, conservative.
"""

from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any

OBJECTIVES = ("net_apr", "sharpe", "calmar")
EULER_GAMMA = 0.5772156649015329
_Z = NormalDist()


def objective_value(metrics: dict[str, Any], objective: str) -> float:
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r} (known: {', '.join(OBJECTIVES)})")
    return float(metrics[objective])


def spread(values: list[float]) -> dict[str, float | int | None]:
    """n, min, 25th/50th/75th percentiles (linear), max, mean, sample std."""
    xs = sorted(v for v in values if math.isfinite(v))
    n = len(xs)
    if n == 0:
        return {"n": 0, "min": None, "p25": None, "median": None, "p75": None, "max": None,
                "mean": None, "std": None}  # fmt: skip

    def pct(q: float) -> float:
        pos = q * (n - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)

    mean = sum(xs) / n
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1)) if n > 1 else 0.0
    return {"n": n, "min": xs[0], "p25": pct(0.25), "median": pct(0.5), "p75": pct(0.75),
            "max": xs[-1], "mean": mean, "std": std}  # fmt: skip


def expected_max_sharpe(sharpes: list[float]) -> float:
    """SR0: the expected best per-period Sharpe ratio of len(sharpes) no-skill trials
    with the trials' observed variance."""
    n = len(sharpes)
    if n < 2:
        return 0.0
    mean = sum(sharpes) / n
    var = sum((s - mean) ** 2 for s in sharpes) / (n - 1)
    if var <= 0:
        return 0.0
    g = EULER_GAMMA
    z = (1 - g) * _Z.inv_cdf(1 - 1 / n) + g * _Z.inv_cdf(1 - 1 / (n * math.e))
    return math.sqrt(var) * z


def probabilistic_sharpe(sr: float, benchmark: float, n: int, skew: float, kurt: float) -> float:
    """P(true SR > benchmark) given an observed per-period SR over n returns."""
    if n < 2:
        return float("nan")
    denom = 1 - skew * sr + (kurt - 1) / 4 * sr * sr
    if denom <= 0:
        return float("nan")
    return _Z.cdf((sr - benchmark) * math.sqrt(n - 1) / math.sqrt(denom))


def deflated_sharpe(best: dict[str, Any], trial_sharpes: list[float]) -> dict[str, Any]:
    """The deflated Sharpe ratio of `best` (its `returns` stats) among `trial_sharpes`
    (per-period Sharpe ratios of every configuration tried, the best included)."""
    r = best["returns"]
    sr0 = expected_max_sharpe(trial_sharpes)
    dsr = probabilistic_sharpe(r["sharpe"], sr0, r["n"], r["skew"], r["kurtosis"])
    psr = probabilistic_sharpe(r["sharpe"], 0.0, r["n"], r["skew"], r["kurtosis"])
    annual = math.sqrt(24 * 365)
    return {
        "trials": len(trial_sharpes),
        "sharpe_hourly": r["sharpe"],
        "sharpe_annualised": r["sharpe"] * annual,
        "expected_max_sharpe_hourly": sr0,
        "expected_max_sharpe_annualised": sr0 * annual,
        "returns": r["n"],
        "skew": r["skew"],
        "kurtosis": r["kurtosis"],
        "psr": None if math.isnan(psr) else psr,
        "dsr": None if math.isnan(dsr) else dsr,
    }


def summarize(results: list[Any], objective: str) -> dict[str, Any]:
    """Tried / ok / failed counts, the objective's spread, the best run and its DSR."""
    ok = [r for r in results if r.ok]
    values = [objective_value(r.metrics, objective) for r in ok]
    out: dict[str, Any] = {
        "objective": objective,
        "configurations_tried": len(results),
        "succeeded": len(ok),
        "failed": len(results) - len(ok),
        "spread": spread(values),
        "best": None,
        "deflated_sharpe": None,
    }
    if ok:
        best = max(ok, key=lambda r: objective_value(r.metrics, objective))
        out["best"] = {"run_id": best.run_id, "params": best.params,
                       objective: objective_value(best.metrics, objective)}  # fmt: skip
        out["deflated_sharpe"] = deflated_sharpe(
            best.metrics, [r.metrics["returns"]["sharpe"] for r in ok]
        )
    return out


__all__ = [
    "EULER_GAMMA",
    "OBJECTIVES",
    "deflated_sharpe",
    "expected_max_sharpe",
    "objective_value",
    "probabilistic_sharpe",
    "spread",
    "summarize",
]
