"""The simulator's precisions are driftpy's (one definition), except the two ratios
driftpy computes with `/`: floats there, the program's integers here (`constants.rs`
defines them as integer quotients). A float ratio in the integer rules would turn a
liquidation fee or an AMM quote amount into a float."""

from __future__ import annotations

import driftpy.constants.numeric_constants as sdk

from drift_engine.backtest import report
from drift_engine.data import synthetic
from drift_engine.sim import rules


def test_integer_precisions_are_driftpys() -> None:
    for name in (
        "PRICE_PRECISION",
        "QUOTE_PRECISION",
        "BASE_PRECISION",
        "FUNDING_RATE_BUFFER",
        "AMM_TO_QUOTE_PRECISION_RATIO",
        "MARGIN_PRECISION",
        "LIQUIDATION_FEE_PRECISION",
        "LIQUIDATION_PCT_PRECISION",
        "SPOT_RATE_PRECISION",
        "ONE_YEAR",
    ):
        assert getattr(rules, name) is getattr(sdk, name), name


def test_ratios_driftpy_makes_floats_are_integers_here() -> None:
    for name in (
        "PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO",
        "LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO",
    ):
        ours, theirs = getattr(rules, name), getattr(sdk, name)
        assert type(theirs) is float  # driftpy's `/`: the difference this test pins
        assert type(ours) is int and ours == theirs, name
    # e.g. a liquidation fee of 1 % in margin precision stays an integer
    assert type(10_000 // rules.LIQUIDATION_FEE_TO_MARGIN_PRECISION_RATIO) is int


def test_one_year_everywhere() -> None:
    """The report's APR, the synthetic data's rates and the interest rule use one year."""
    assert report.SECONDS_PER_YEAR == synthetic.SECONDS_PER_YEAR == rules.ONE_YEAR == 365 * 86_400
