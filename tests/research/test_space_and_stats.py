"""Grid parsing and the honest statistics (spread, deflated Sharpe ratio)."""

from __future__ import annotations

import math

import pytest

from drift_engine.research.space import SearchSpace, SpaceError, parse_dimension
from drift_engine.research.stats import (
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe,
    spread,
)
from drift_engine.research.walkforward import parse_walk_forward, windows


def test_ranges_are_inclusive_and_exact():
    d = parse_dimension("entry_apr=0.02:0.10:0.01")
    assert d.values == (0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.10)
    assert parse_dimension("lookback_hours=12:48:12").values == (12, 24, 36, 48)
    assert parse_dimension("allow_borrow=true,false").values == (True, False)
    space = SearchSpace.parse(["a=1:3:1", "b=x,y"])
    assert space.size == 6 and space.grid()[:2] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}]


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("entry_apr", "expected name=lo:hi:step"),
        ("entry_apr=0.1:0.2", "is not lo:hi:step"),
        ("entry_apr=0.1:0.2:0", "step 0 must be > 0"),
        ("entry_apr=a:b:c", "is not a number"),
        ("entry_apr=0:1:0.00001", "at most"),
        ("x=1,1", "listed twice"),
    ],
)
def test_bad_grid_items_name_themselves(text, needle):
    with pytest.raises(SpaceError, match=needle):
        parse_dimension(text)


def test_spread_quartiles():
    s = spread([1.0, 2.0, 3.0, 4.0, 5.0])
    assert (s["min"], s["p25"], s["median"], s["p75"], s["max"]) == (1, 2, 3, 4, 5)
    assert s["std"] == pytest.approx(math.sqrt(2.5))


def test_deflated_sharpe_matches_the_papers_example():
    # Bailey & Lopez de Prado (2014), section 5: N = 100 trials whose annualised Sharpe
    # ratios have variance 0.5, T = 1250 daily returns, the best SR 2.5 annualised,
    # skewness -3, kurtosis 10 -> SR0 = 0.1132 (daily) and DSR = 0.9004.
    days = 250
    sd = math.sqrt(0.5 / days)
    # trials with exactly that sample variance: +-sd*sqrt(99/100) alternating
    trials = [(-1) ** i * sd * math.sqrt(99 / 100) for i in range(100)]
    sr0 = expected_max_sharpe(trials)
    assert sr0 == pytest.approx(0.1132, abs=5e-4)
    best = 2.5 / math.sqrt(days)
    assert probabilistic_sharpe(best, sr0, 1250, -3, 10) == pytest.approx(0.9004, abs=1e-3)
    d = deflated_sharpe(
        {"returns": {"n": 1250, "sharpe": best, "skew": -3, "kurtosis": 10}}, trials
    )
    assert d["dsr"] == pytest.approx(0.9004, abs=1e-3) and d["trials"] == 100
    # one trial: nothing to deflate, DSR is the plain probabilistic Sharpe ratio
    one = deflated_sharpe(
        {"returns": {"n": 1250, "sharpe": best, "skew": 0, "kurtosis": 3}}, [best]
    )
    assert one["dsr"] == one["psr"]


def test_more_trials_deflate_more():
    best = {"returns": {"n": 2000, "sharpe": 0.05, "skew": 0.0, "kurtosis": 3.0}}
    few = deflated_sharpe(best, [0.05, 0.0, -0.02, 0.01])
    many = deflated_sharpe(best, [0.05, 0.0, -0.02, 0.01] * 50)
    assert many["dsr"] < few["dsr"] < few["psr"]


def test_walk_forward_windows_roll_by_the_test_length():
    train, test = parse_walk_forward("3d:1d")
    assert (train, test) == (3 * 86400, 86400)
    wins = windows(0, 6 * 86400, train, test)
    assert [(w.train_start // 86400, w.test_start // 86400, w.test_end // 86400) for w in wins] == [
        (0, 3, 4),
        (1, 4, 5),
        (2, 5, 6),
    ]
    with pytest.raises(ValueError, match="shorter than one train"):
        windows(0, 3 * 86400, train, test)
    with pytest.raises(ValueError, match="TRAIN:TEST"):
        parse_walk_forward("90d")
