"""Backtest report: where the PnL came from, on which data, and an equity series.

Money figures are micro-USDC integers (shown as USDC); ratios are floats.

One sign convention for every money figure: its signed contribution to the net PnL
(+ gained, - cost). `funding` (+ received), `interest` (+ earned), `fees` (- paid, + a
maker rebate), `slippage` (- worse than the oracle) and `price_basis` (mark-to-oracle
change of the held positions, incl. Drift's integer `rounding`) add up to `net_pnl` =
`final_equity` - `initial_equity` exactly (`backtest.attribution`). `funding` equals the
vault ledger's FUNDING entries (`ledger_funding`) and `-fees` the ledger's fill and
liquidation fees (`ledger_fees`), to the micro-USDC.

`data` names every input series (funding, prices, intra-hour prices, spot rates): where it
comes from, whether it is real, synthetic or assumed, and how many records the window has;
`funding_hours` counts the hourly funding updates the run applied (booked into the
simulated market), `funding_payments` those that settled into the account.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from driftpy.constants.numeric_constants import ONE_YEAR

#: the program's year (365 days), as driftpy publishes it
SECONDS_PER_YEAR = ONE_YEAR


@dataclass
class Sample:
    """The account at a clock hour's funding update: one per hour of the run, so
    `sharpe` and `max_drawdown` read hourly returns (`run_backtest`'s `sample_due`)."""

    ts: int
    equity: int
    funding: int  # cumulative booked funding, micro-USDC
    in_market: bool
    health: int


@dataclass
class BacktestReport:
    strategy: str
    market: str
    start: int
    end: int
    params: dict[str, Any]
    data_label: str
    initial_equity: int
    final_equity: int
    net_pnl: int
    net_apr: float
    funding: int
    interest: int
    fees: int
    slippage: int
    price_basis: int
    max_drawdown: float
    sharpe: float
    time_in_market: float
    trades: int
    fills: int
    liquidations: int
    rejections: int
    events: int
    ticks: int
    wall_seconds: float
    events_per_second: float
    data: dict[str, Any] = field(default_factory=dict)
    rounding: int = 0  # part of price_basis
    funding_hours: int = 0
    funding_payments: int = 0
    ledger_funding: int | None = None
    ledger_fees: int | None = None
    ledger_balance: int | None = None
    strategy_state: dict[str, Any] = field(default_factory=dict)
    samples: list[Sample] = field(default_factory=list)
    #: steps in which the strategy or engine raised (the heartbeat halts the engine)
    errors: int = 0
    last_error: str = ""

    def in_market_periods(self) -> list[list[int]]:
        """[[first ts, last ts], ...] of the hourly samples with an open perp position."""
        out: list[list[int]] = []
        prev_ts: int | None = None
        for s in self.samples:
            if s.in_market:
                if out and out[-1][1] == prev_ts:
                    out[-1][1] = s.ts
                else:
                    out.append([s.ts, s.ts])
            prev_ts = s.ts
        return out

    @property
    def attribution(self) -> dict[str, int]:
        """The parts of the net PnL (signed contributions, micro-USDC) and their sum."""
        parts = {
            "funding": self.funding,
            "interest": self.interest,
            "fees": self.fees,
            "slippage": self.slippage,
            "price_basis": self.price_basis,
        }
        return {**parts, "total": sum(parts.values()), "rounding_in_price_basis": self.rounding}

    def to_json_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("samples")
        d["attribution"] = self.attribution
        d["in_market_periods"] = self.in_market_periods()
        d["start_iso"] = _iso(self.start)
        d["end_iso"] = _iso(self.end)
        d["units"] = (
            "money fields are micro-USDC integers, signed as contributions to net_pnl "
            "(+ gained, - cost); ratios are fractions"
        )
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), sort_keys=True)

    def rows(self) -> list[tuple[str, str]]:
        u = _usdc
        return [
            ("strategy", f"{self.strategy} on {self.market}"),
            ("window", f"{_iso(self.start)} -> {_iso(self.end)}"),
            *self.data_rows(),
            ("initial equity", u(self.initial_equity)),
            ("final equity", u(self.final_equity)),
            ("net PnL", u(self.net_pnl, sign=True)),
            ("net APR", f"{self.net_apr:.2%}"),
            ("  funding", u(self.funding, sign=True)),
            ("  interest", u(self.interest, sign=True)),
            ("  fees", u(self.fees, sign=True)),
            ("  slippage", u(self.slippage, sign=True)),
            ("  price/basis", u(self.price_basis, sign=True)),
            ("  = sum of the parts", u(sum(self.attribution[k] for k in _PARTS), sign=True)),
            ("funding hours (payments)", f"{self.funding_hours:,} ({self.funding_payments:,})"),
            ("max drawdown", f"{self.max_drawdown:.2%}"),
            ("Sharpe (hourly, annualised)", f"{self.sharpe:.2f}"),
            ("time in market", f"{self.time_in_market:.1%}"),
            ("trades / fills", f"{self.trades} / {self.fills}"),
            ("liquidations", str(self.liquidations)),
            ("risk rejections", str(self.rejections)),
            ("events processed", f"{self.events:,}"),
            ("events/s", f"{self.events_per_second:,.0f} ({self.wall_seconds:.1f} s wall)"),
        ] + ([("engine errors", f"{self.errors}: {self.last_error}")] if self.errors else [])

    def data_rows(self) -> list[tuple[str, str]]:
        """One row per input series: 'REAL'/'SYNTHETIC'/'ASSUMED', its label and source."""
        names = {
            "funding": "data: funding",
            "prices": "data: prices",
            "intra_hour_prices": "data: intra-hour prices",
            "spot_rates": "data: spot interest",
        }
        if not any(key in self.data for key in names):  # data handed in: its label only
            return [("data", self.data_label)]
        rows = []
        for key, name in names.items():
            info = self.data.get(key)
            if info is None:
                if key == "intra_hour_prices" and self.data:
                    rows.append((name, "none (prices change at the hourly records)"))
                continue
            count = f", {info['records']:,} records" if info.get("records") else ""
            kind, label, where = info["kind"].upper(), info["label"], info["source"]
            rows.append((name, f"{kind}: {label}{count} - {where}"))
        return rows or [("data", self.data_label)]


_PARTS = ("funding", "interest", "fees", "slippage", "price_basis")


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _usdc(micro: int, *, sign: bool = False) -> str:
    """Exact micro-USDC integer as USDC text (no float rounding)."""
    negative = micro < 0
    whole, frac = divmod(abs(micro), 1_000_000)
    text = f"{whole:,}.{frac:06d}".rstrip("0")
    text = text + "00" if text.endswith(".") else text
    if "." in text and len(text.split(".")[1]) == 1:
        text += "0"
    prefix = "-" if negative else ("+" if sign and micro > 0 else "")
    return f"{prefix}{text} USDC"


def max_drawdown(equities: list[int]) -> float:
    peak, worst = 0, 0.0
    for e in equities:
        peak = max(peak, e)
        if peak > 0:
            worst = max(worst, (peak - e) / peak)
    return worst


def sharpe(equities: list[int], periods_per_year: float) -> float:
    rets = [b / a - 1 for a, b in zip(equities, equities[1:], strict=False) if a > 0]
    if len(rets) < 2:
        return 0.0
    mean = sum(rets) / len(rets)
    var = sum((r - mean) ** 2 for r in rets) / (len(rets) - 1)
    if var <= 0:
        return 0.0
    return mean / math.sqrt(var) * math.sqrt(periods_per_year)


def net_apr(initial: int, final: int, seconds: int) -> float:
    if initial <= 0 or seconds <= 0:
        return 0.0
    return (final / initial - 1) * SECONDS_PER_YEAR / seconds


from drift_engine.backtest.plots import (  # noqa: E402 - plots need the report type
    PNG_DPI,
    PNG_SIZE_INCHES,
    write_plot,
    write_png,
)

__all__ = [
    "PNG_DPI",
    "PNG_SIZE_INCHES",
    "BacktestReport",
    "Sample",
    "max_drawdown",
    "net_apr",
    "sharpe",
    "write_plot",
    "write_png",
]
