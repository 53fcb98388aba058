"""`drift-engine strategies new NAME`: a commented, runnable strategy and its test.

The template is a complete small strategy (short a perp while its funding pays shorts,
flat otherwise) rather than a skeleton of TODOs: it runs in `backtest`, `run` and
`sweep` as written, and its test runs it through the real engine and simulator. The
user edits it from there.
"""

from __future__ import annotations

import keyword
import re

NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


def names(name: str) -> tuple[str, str, str]:
    """(strategy name, module name, class name) for NAME ("my-carry" ->
    "my-carry", "my_carry", "MyCarryStrategy")."""
    if not NAME_PATTERN.match(name):
        raise ValueError(
            f"{name!r} is not a strategy name: lower-case letters and digits, words joined "
            "by - or _, starting with a letter (e.g. my-carry)"
        )
    module = name.replace("-", "_")
    if keyword.iskeyword(module):
        raise ValueError(f"{name!r} is a Python keyword")
    cls = "".join(part.capitalize() for part in re.split(r"[-_]", name)) + "Strategy"
    return name, module, cls


STRATEGY_TEMPLATE = '''\
"""{name}: a drift-engine strategy (written by `drift-engine strategies new {name}`).

Short the perp while its funding pays shorts, flat otherwise. Funding on Drift is paid
hourly between longs and shorts: when the funding rate is positive, longs pay shorts.
This strategy shorts `market` when the mean hourly funding over `lookback_hours`,
annualised, exceeds `entry_apr`, and closes when it falls below `exit_apr`. It is NOT
price-neutral (a naked short): a starting point to edit, not a recommendation.

Run it:
    drift-engine backtest --strategy {module}.py:{cls} --market SOL-PERP \\
        --start 2026-01-10 --end 2026-02-15 --param entry_apr=0.08
    drift-engine sweep --strategy {module}.py:{cls} --market SOL-PERP \\
        --start 2026-01-10 --end 2026-02-15 --grid entry_apr=0.04:0.12:0.02
    in drift-engine.toml:  strategy = "{module}.py:{cls}"
Test it (anchorpy, which driftpy installs, registers a pytest plugin that needs
pytest-asyncio; `-p no:pytest_anchorpy` leaves it out):
    python -m pytest -p no:pytest_anchorpy test_{module}.py

The rules (docs/strategies.md): a strategy is pure. It sees a frozen snapshot and
returns actions; it never reads the clock, the network or a database, so the same code
runs in backtest, paper and live. Money is integers: prices PRICE 1e6, perp base
amounts BASE 1e9, USDC amounts micro-USDC (1e6).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.strategies import (
    Action,
    AtTime,
    DriftStrategy,
    FundingEvent,
    HealthBelow,
    NextFunding,
    PlaceOrders,
    StrategyConfig,
    StrategySnapshot,
    StrategyState,
    WakeCondition,
)

BASE_PRECISION = 10**9


class {cls}Config(StrategyConfig):
    """Parameters, validated when the strategy is built: an unknown key or a bad value
    is one error naming the key (`--param`, `[engines.params]`, `--grid`)."""

    market: str = Field("SOL-PERP", pattern=r"^[A-Z0-9]+-PERP$", description="Perp market")
    entry_apr: float = Field(0.08, description="Short when funding APR exceeds this")
    exit_apr: float = Field(0.0, description="Close when funding APR falls below this")
    lookback_hours: int = Field(24, ge=1, le=168, description="Funding APR lookback")
    leverage: float = Field(0.5, gt=0, le=3, description="Position notional / equity")
    min_health: int = Field(40, ge=0, le=100, description="Close below this health")
    retry_after_s: int = Field(300, ge=0, description="Wait before re-sending an action")

    @model_validator(mode="after")
    def _thresholds(self) -> {cls}Config:
        if self.exit_apr > self.entry_apr:
            raise ValueError("exit_apr must not exceed entry_apr")
        return self


class {cls}State(StrategyState):
    """The strategy's own memory: JSON, persisted by the engine after every step, so a
    restarted engine resumes where it was."""

    side: Literal["flat", "short"] = "flat"
    last_action_ts: int | None = None
    entries: int = 0
    funding_earned: int = 0  # micro-USDC


class {cls}(DriftStrategy[{cls}Config, {cls}State]):
    name: ClassVar[str] = "{name}"
    config_model = {cls}Config
    state_model = {cls}State

    def markets(self) -> list[str]:
        # The perps whose MarketSnapshot this strategy reads (and whose data is loaded).
        return [self.config.market]

    def on_tick(self, snapshot: StrategySnapshot) -> list[Action]:
        cfg, st = self.config, self.state
        m = snapshot.markets.get(cfg.market)
        if m is None or m.oracle_price <= 0:
            return []
        ts = snapshot.ts
        if st.last_action_ts is not None and ts - st.last_action_ts < cfg.retry_after_s:
            return []  # an action is in flight or was refused: give it time
        base = snapshot.base(MarketType.PERP, m.perp_market_index)  # signed, BASE 1e9
        apr = m.funding_apr_over(cfg.lookback_hours)  # None until enough history
        if apr is None:
            return []

        if base == 0 and apr > cfg.entry_apr and snapshot.margin.health >= cfg.min_health:
            notional = int(snapshot.vault.equity * cfg.leverage)  # micro-USDC
            size = notional * BASE_PRECISION // m.oracle_price
            size -= size % m.perp_step_size  # whole order steps only
            if size < m.perp_min_order_size:
                return []
            st.side, st.last_action_ts = "short", ts
            st.entries += 1
            order = OrderIntent(
                market_index=m.perp_market_index,
                market_type=MarketType.PERP,
                direction=PositionDirection.SHORT,
                base_asset_amount=size,
            )
            return [PlaceOrders((order,), reason=f"funding {{apr:.2%}} > {{cfg.entry_apr:.2%}}")]

        if base != 0 and (apr < cfg.exit_apr or snapshot.margin.health < cfg.min_health):
            st.side, st.last_action_ts = "flat", ts
            order = OrderIntent(
                market_index=m.perp_market_index,
                market_type=MarketType.PERP,
                direction=PositionDirection.LONG if base < 0 else PositionDirection.SHORT,
                base_asset_amount=abs(base),
                reduce_only=True,
            )
            return [PlaceOrders((order,), reason=f"close: funding {{apr:.2%}}")]
        return []

    def on_funding(self, payment: FundingEvent) -> None:
        # Booked funding (micro-USDC, + received) after the engine wrote it to the ledger.
        self.state.funding_earned += payment.amount

    def wake_conditions(self, snapshot: StrategySnapshot) -> tuple[WakeCondition, ...]:
        # Optional: when on_tick can next do something. Decisions change only when a
        # funding record arrives, the health falls below the floor, or a retry is due.
        # (Today every tick is stepped; a faster backtest will use this promise.)
        out: list[WakeCondition] = [NextFunding(self.config.market)]
        out.append(HealthBelow(self.config.min_health))
        if self.state.last_action_ts is not None:
            out.append(AtTime(self.state.last_action_ts + self.config.retry_after_s))
        return tuple(out)
'''

TEST_TEMPLATE = '''\
"""Tests of the {name} strategy: its config, and a run through the real engine,
simulator and vault ledger (written by `drift-engine strategies new {name}`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from drift_engine.backtest.runner import parse_date, run_backtest
from drift_engine.strategies import strategy_class

SPEC = f"{{Path(__file__).with_name('{module}.py')}}:{cls}"


def test_a_bad_parameter_is_refused_naming_it():
    cls = strategy_class(SPEC)
    with pytest.raises(ValidationError) as exc:
        cls({{"entry_apr": 0.01, "exit_apr": 0.02}})
    assert "exit_apr" in str(exc.value)
    with pytest.raises(ValidationError) as exc:
        cls({{"lookback_hourz": 3}})
    assert "lookback_hourz" in str(exc.value)


def test_it_trades_on_the_simulator_and_the_ledger_agrees():
    # Two days of seeded synthetic data; entry_apr=-10 makes it enter at the first
    # decision so the run exercises entry, funding and the ledger.
    report = run_backtest(
        strategy_class(SPEC),
        "SOL-PERP",
        parse_date("2026-03-01"),
        parse_date("2026-03-03"),
        {{"entry_apr": -10.0, "exit_apr": -20.0}},
        source="synthetic",
    )
    assert report.strategy_state["entries"] == 1
    assert report.fills >= 1 and report.liquidations == 0
    # Every funding payment the engine booked is in the vault ledger, to the micro-USDC.
    assert report.funding == report.ledger_funding != 0
    assert report.strategy_state["funding_earned"] == report.funding
'''


def render(name: str) -> dict[str, str]:
    """{file name: text} of the strategy module and its test."""
    name, module, cls = names(name)
    fields = {"name": name, "module": module, "cls": cls}
    return {
        f"{module}.py": STRATEGY_TEMPLATE.format(**fields),
        f"test_{module}.py": TEST_TEMPLATE.format(**fields),
    }


__all__ = ["names", "render"]
