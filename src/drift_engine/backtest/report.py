"""Backtest report: figures computed from the engine's booked totals and an equity series.

Money figures are micro-USDC integers (shown as USDC); ratios are floats. `funding` is
the sum of the funding the engine booked into the vault ledger, so it equals the
ledger's FUNDING total to the micro-USDC (tested).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

SECONDS_PER_YEAR = 365 * 24 * 3600


@dataclass
class Sample:
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
    ledger_funding: int | None = None
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

    def to_json_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("samples")
        d["in_market_periods"] = self.in_market_periods()
        d["start_iso"] = _iso(self.start)
        d["end_iso"] = _iso(self.end)
        d["units"] = "money fields are micro-USDC integers; ratios are fractions"
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_json_dict(), sort_keys=True)

    def rows(self) -> list[tuple[str, str]]:
        u = _usdc
        return [
            ("strategy", f"{self.strategy} on {self.market}"),
            ("window", f"{_iso(self.start)} -> {_iso(self.end)}"),
            ("data", self.data_label),
            ("initial equity", u(self.initial_equity)),
            ("final equity", u(self.final_equity)),
            ("net PnL", u(self.net_pnl)),
            ("net APR", f"{self.net_apr:.2%}"),
            ("funding earned", u(self.funding)),
            ("interest", u(self.interest)),
            ("fees", u(self.fees)),
            ("slippage", u(self.slippage)),
            ("max drawdown", f"{self.max_drawdown:.2%}"),
            ("Sharpe (hourly, annualised)", f"{self.sharpe:.2f}"),
            ("time in market", f"{self.time_in_market:.1%}"),
            ("trades / fills", f"{self.trades} / {self.fills}"),
            ("liquidations", str(self.liquidations)),
            ("risk rejections", str(self.rejections)),
            ("events processed", f"{self.events:,}"),
            ("events/s", f"{self.events_per_second:,.0f} ({self.wall_seconds:.1f} s wall)"),
        ] + ([("engine errors", f"{self.errors}: {self.last_error}")] if self.errors else [])


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M")


def _usdc(micro: int) -> str:
    return f"{micro / 1_000_000:,.2f} USDC"


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


# --------------------------------------------------------------------------- plots


def _svg_line(points: list[tuple[float, float]], w: int, h: int, color: str) -> str:
    if len(points) < 2:
        return ""
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if y1 == y0:
        y0, y1 = y0 - 1, y1 + 1
    sx = (w - 60) / ((x1 - x0) or 1)
    sy = (h - 30) / (y1 - y0)
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{50 + (x - x0) * sx:.1f},{h - 20 - (y - y0) * sy:.1f}"
        for i, (x, y) in enumerate(points)
    )
    return (
        f'<svg width="{w}" height="{h}" xmlns="http://www.w3.org/2000/svg">'
        f'<rect width="{w}" height="{h}" fill="#fff" stroke="#ccc"/>'
        f'<text x="4" y="14" font-size="11">{y1:,.2f}</text>'
        f'<text x="4" y="{h - 22}" font-size="11">{y0:,.2f}</text>'
        f'<path d="{path}" fill="none" stroke="{color}" stroke-width="1.5"/></svg>'
    )


#: Size of the .png chart: inches at PNG_DPI, so 1200 x 700 pixels.
PNG_SIZE_INCHES = (12.0, 7.0)
PNG_DPI = 100


def write_png(report: BacktestReport, path: str) -> None:
    """The equity and cumulative funding chart as a PNG, rendered with matplotlib's Agg
    backend (no display, no pyplot global state: safe in any thread)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    fig = Figure(figsize=PNG_SIZE_INCHES, dpi=PNG_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    equity_ax, funding_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    t = [datetime.fromtimestamp(s.ts, UTC) for s in report.samples]
    equity_ax.plot(t, [s.equity / 1e6 for s in report.samples], color="#1f77b4", lw=1.5)
    equity_ax.axhline(report.initial_equity / 1e6, color="#999999", lw=0.8, ls="--")
    equity_ax.set_ylabel("equity (USDC)")
    equity_ax.set_title(
        f"net APR {report.net_apr:+.2%}, max drawdown {report.max_drawdown:.2%}, "
        f"time in market {report.time_in_market:.0%}",
        fontsize=10,
    )
    for start, stop in report.in_market_periods():
        for ax in (equity_ax, funding_ax):
            ax.axvspan(
                datetime.fromtimestamp(start, UTC),
                datetime.fromtimestamp(stop, UTC),
                color="#2ca02c",
                alpha=0.08,
                lw=0,
            )
    funding_ax.plot(t, [s.funding / 1e6 for s in report.samples], color="#2ca02c", lw=1.5)
    funding_ax.axhline(0, color="#999999", lw=0.8)
    funding_ax.set_ylabel("cumulative funding (USDC)")
    locator = AutoDateLocator()
    funding_ax.xaxis.set_major_locator(locator)
    funding_ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    for ax in (equity_ax, funding_ax):
        ax.grid(True, color="#eeeeee")
    fig.suptitle(f"{report.strategy} {report.market} - {report.data_label}")
    fig.savefig(path, format="png", dpi=PNG_DPI)


def write_plot(report: BacktestReport, path: str) -> None:
    """Equity and cumulative funding chart: `.png` (matplotlib, Agg) or `.html` (inline
    SVG)."""
    if path.endswith(".png"):
        write_png(report, path)
        return
    if not path.endswith(".html"):
        raise ValueError("--plot needs a .html or .png file name")
    eq = [(s.ts, s.equity / 1e6) for s in report.samples]
    fu = [(s.ts, s.funding / 1e6) for s in report.samples]
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in report.rows()
    )
    doc = f"""<!doctype html><html><head><meta charset="utf-8">
<title>Backtest {html.escape(report.strategy)} {html.escape(report.market)}</title>
<style>body{{font-family:sans-serif;margin:2em}}th{{text-align:left;padding-right:1em}}</style>
</head><body><h1>{html.escape(report.strategy)} on {html.escape(report.market)}</h1>
<p>Data: {html.escape(report.data_label)}</p>
<h2>Equity (USDC)</h2>{_svg_line(eq, 900, 260, "#1f77b4")}
<h2>Cumulative funding (USDC)</h2>{_svg_line(fu, 900, 200, "#2ca02c")}
<h2>Report</h2><table>{rows}</table></body></html>"""
    with open(path, "w") as f:
        f.write(doc)


__all__ = [
    "BacktestReport",
    "Sample",
    "max_drawdown",
    "net_apr",
    "sharpe",
    "write_plot",
    "write_png",
]
