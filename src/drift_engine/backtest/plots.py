"""Backtest charts: equity and cumulative funding over time, with the in-market periods
shaded and the data's provenance (which series are real, which synthetic) written on them.

`.png`: matplotlib's Agg backend (no display, no pyplot global state: safe in any thread).
`.html`: a self-contained page with inline SVG charts (a UTC date axis, value gridlines,
green bands where a perp position was open) and the report table.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from drift_engine.backtest.report import BacktestReport

#: Size of the .png chart: inches at PNG_DPI, so 1200 x 700 pixels.
PNG_SIZE_INCHES = (12.0, 7.0)
PNG_DPI = 100
EQUITY_COLOR = "#1f77b4"
FUNDING_COLOR = "#2ca02c"
IN_MARKET_COLOR = "#2ca02c"
DAY = 86_400


def provenance(report: BacktestReport) -> str:
    """'data: funding REAL, prices REAL, intra-hour none, spot interest ASSUMED'."""
    names = (
        ("funding", "funding"),
        ("prices", "prices"),
        ("intra_hour_prices", "intra-hour"),
        ("spot_rates", "spot interest"),
    )
    if not any(key in report.data for key, _ in names):
        return f"data: {report.data_label}"
    parts = []
    for key, name in names:
        info = report.data.get(key)
        if info is None:
            if key == "intra_hour_prices" and report.data:
                parts.append(f"{name} none")
            continue
        parts.append(f"{name} {info['kind'].upper()}")
    return "data: " + (", ".join(parts) if parts else report.data_label)


# --------------------------------------------------------------------------- png


def write_png(report: BacktestReport, path: str) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure

    fig = Figure(figsize=PNG_SIZE_INCHES, dpi=PNG_DPI, layout="constrained")
    FigureCanvasAgg(fig)
    equity_ax, funding_ax = fig.subplots(2, 1, sharex=True, height_ratios=(3, 2))
    t = [datetime.fromtimestamp(s.ts, UTC) for s in report.samples]
    equity_ax.plot(t, [s.equity / 1e6 for s in report.samples], color=EQUITY_COLOR, lw=1.5)
    equity_ax.axhline(report.initial_equity / 1e6, color="#999999", lw=0.8, ls="--")
    equity_ax.set_ylabel("equity (USDC)")
    equity_ax.set_title(
        f"net APR {report.net_apr:+.2%}, max drawdown {report.max_drawdown:.2%}, "
        f"time in market {report.time_in_market:.0%} (shaded)",
        fontsize=10,
    )
    for start, stop in report.in_market_periods():
        for ax in (equity_ax, funding_ax):
            ax.axvspan(
                datetime.fromtimestamp(start, UTC),
                datetime.fromtimestamp(stop, UTC),
                color=IN_MARKET_COLOR,
                alpha=0.08,
                lw=0,
            )
    funding_ax.plot(t, [s.funding / 1e6 for s in report.samples], color=FUNDING_COLOR, lw=1.5)
    funding_ax.axhline(0, color="#999999", lw=0.8)
    funding_ax.set_ylabel("cumulative funding (USDC)")
    funding_ax.set_xlabel("time (UTC)")
    locator = AutoDateLocator()
    funding_ax.xaxis.set_major_locator(locator)
    funding_ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    for ax in (equity_ax, funding_ax):
        ax.grid(True, color="#eeeeee")
    fig.suptitle(f"{report.strategy} {report.market}\n{provenance(report)}", fontsize=9)
    fig.savefig(path, format="png", dpi=PNG_DPI)


# --------------------------------------------------------------------------- html/svg


def _time_ticks(t0: int, t1: int, target: int = 8) -> list[int]:
    """Round UTC boundaries (hours, days, weeks, months) giving about `target` ticks."""
    span = max(1, t1 - t0)
    for step in (3600, 6 * 3600, 12 * 3600, DAY, 2 * DAY, 7 * DAY, 14 * DAY):
        if span / step <= target:
            first = -(-t0 // step) * step
            return list(range(first, t1 + 1, step))
    out = []
    d = datetime.fromtimestamp(t0, UTC).replace(day=1, hour=0, minute=0, second=0)
    months = max(1, round(span / (30 * DAY) / target))
    while int(d.timestamp()) <= t1:
        if int(d.timestamp()) >= t0:
            out.append(int(d.timestamp()))
        month = d.month - 1 + months
        d = d.replace(year=d.year + month // 12, month=month % 12 + 1)
    return out


def _tick_label(ts: int, span: int) -> str:
    d = datetime.fromtimestamp(ts, UTC)
    if span <= 2 * DAY:
        return d.strftime("%m-%d %H:%M")
    return d.strftime("%Y-%m-%d")


def svg_chart(
    points: list[tuple[int, float]],
    periods: list[list[int]],
    *,
    width: int = 900,
    height: int = 260,
    color: str = EQUITY_COLOR,
    y_label: str = "",
) -> str:
    """A line chart over time: UTC date axis, gridlines, shaded in-market periods."""
    if len(points) < 2:
        return "<p>(not enough samples to draw)</p>"
    left, right, top, bottom = 70, 20, 10, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    t0, t1 = points[0][0], points[-1][0]
    ys = [y for _, y in points]
    y0, y1 = min(ys), max(ys)
    if y1 == y0:
        y0, y1 = y0 - 1, y1 + 1
    pad = (y1 - y0) * 0.05
    y0, y1 = y0 - pad, y1 + pad

    def x(ts: float) -> float:
        return left + (ts - t0) * plot_w / ((t1 - t0) or 1)

    def y(v: float) -> float:
        return top + plot_h - (v - y0) * plot_h / (y1 - y0)

    parts = [
        f'<svg class="chart" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="11">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" '
        'stroke="#ccc"/>',
    ]
    for start, stop in periods:
        a, b = max(start, t0), min(stop, t1)
        if b < a:
            continue
        parts.append(
            f'<rect class="in-market" x="{x(a):.1f}" y="{top}" width="{max(1.0, x(b) - x(a)):.1f}" '
            f'height="{plot_h}" fill="{IN_MARKET_COLOR}" fill-opacity="0.12">'
            f"<title>in market {_tick_label(a, 0)} .. {_tick_label(b, 0)} UTC</title></rect>"
        )
    for i in range(5):
        v = y0 + (y1 - y0) * i / 4
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,.2f}</text>'
        )
    span = t1 - t0
    for ts in _time_ticks(t0, t1):
        parts.append(
            f'<line class="x-tick" x1="{x(ts):.1f}" x2="{x(ts):.1f}" y1="{top}" '
            f'y2="{top + plot_h + 4}" stroke="#eee"/>'
            f'<text class="x-label" x="{x(ts):.1f}" y="{top + plot_h + 16}" '
            f'text-anchor="middle">{_tick_label(ts, span)}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.0f}" y="{height - 4}" text-anchor="middle">time (UTC)</text>'
    )
    if y_label:
        parts.append(
            f'<text x="12" y="{top + plot_h / 2:.0f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {top + plot_h / 2:.0f})">{html.escape(y_label)}</text>'
        )
    path = " ".join(
        f"{'M' if i == 0 else 'L'}{x(t):.1f},{y(v):.1f}" for i, (t, v) in enumerate(points)
    )
    parts.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="1.5"/></svg>')
    return "".join(parts)


def write_html(report: BacktestReport, path: str) -> None:
    periods = report.in_market_periods()
    eq = [(s.ts, s.equity / 1e6) for s in report.samples]
    fu = [(s.ts, s.funding / 1e6) for s in report.samples]
    rows = "".join(
        f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in report.rows()
    )
    data = "".join(
        f"<li><b>{html.escape(k.removeprefix('data: '))}</b>: {html.escape(v)}</li>"
        for k, v in report.data_rows()
    )
    title = f"{html.escape(report.strategy)} on {html.escape(report.market)}"
    doc = f"""<!doctype html><html><head><meta charset="utf-8">
<title>Backtest {title}</title>
<style>body{{font-family:sans-serif;margin:2em}}th{{text-align:left;padding-right:1em}}
.legend span{{display:inline-block;width:1em;height:0.8em;background:{IN_MARKET_COLOR};
opacity:0.25;margin-right:0.3em}}</style>
</head><body><h1>{title}</h1>
<h2>Data</h2><ul class="data">{data}</ul>
<p class="legend"><span></span>shaded: a perp position was open (in market)</p>
<h2>Equity (USDC)</h2>{svg_chart(eq, periods, y_label="USDC")}
<h2>Cumulative funding (USDC)</h2>{
        svg_chart(fu, periods, height=200, color=FUNDING_COLOR, y_label="USDC")
    }
<h2>Report</h2><table>{rows}</table></body></html>"""
    with open(path, "w", encoding="utf-8") as f:
        f.write(doc)


def write_plot(report: BacktestReport, path: str) -> None:
    """Equity and cumulative funding chart: `.png` (matplotlib, Agg) or `.html` (SVG)."""
    if path.endswith(".png"):
        write_png(report, path)
    elif path.endswith(".html"):
        write_html(report, path)
    else:
        raise ValueError("--plot needs a .html or .png file name")


__all__ = [
    "PNG_DPI",
    "PNG_SIZE_INCHES",
    "provenance",
    "svg_chart",
    "write_html",
    "write_plot",
    "write_png",
]
