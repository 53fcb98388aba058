"""Figures a trader judges an engine by, and its risk limits in dollars.

Net APR is simple (not compounded): PnL / net deposits x 365 / simulated days, over the
time the engine's vault has snapshots. Drawdown is measured from the engine's high-water
mark, as the kill switch measures it. Each limit is shown as the engine enforces it (a
fraction as %, a leverage as x) and as the dollars it means now.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from drift_engine.dashboard.money import money
from drift_engine.dashboard.schemas import KpisOut, LimitOut, MarginOut, PositionOut

DAY = 86_400
#: Below a simulated day an annualised figure says more about the entry fees than the engine.
MIN_APR_SECONDS = DAY


def kpis(
    summary: Any,
    *,
    high_water_mark: int,
    first_at: datetime | None,
    last_ts: int | None,
    time_in_market_pct: float | None,
) -> KpisOut:
    """`summary`: the booking vault's `VaultSummary`."""
    equity, deposits = summary.equity, summary.net_deposits
    pnl = equity - deposits
    seconds = None
    if first_at is not None and last_ts:
        seconds = max(0, last_ts - int(first_at.timestamp()))
    ret = round(pnl / deposits * 100, 4) if deposits > 0 else None
    apr = None
    if ret is not None and seconds is not None and seconds >= MIN_APR_SECONDS:
        apr = round(ret * 365 * DAY / seconds, 2)
    drawdown = drawdown_usd = None
    if high_water_mark > 0:
        below = max(0, high_water_mark - equity)
        drawdown = round(below / high_water_mark * 100, 4)
        drawdown_usd = money(below)
    return KpisOut(
        net_deposits=money(deposits),
        pnl=money(pnl),
        return_pct=ret,
        net_apr_pct=apr,
        days=round(seconds / DAY, 3) if seconds is not None else None,
        drawdown_pct=drawdown,
        drawdown_usd=drawdown_usd,
        time_in_market_pct=time_in_market_pct,
        funding=money(summary.funding_earned),
        interest=money(summary.interest_earned),
        fees=money(summary.fees_paid),
    )


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def limits(
    risk: Mapping[str, Any],
    *,
    equity: int | None,
    high_water_mark: int,
    margin: MarginOut,
    positions: list[PositionOut],
) -> list[LimitOut]:
    """The engine's risk limits, each with its dollar meaning and the current value."""
    out: list[LimitOut] = []
    dd = _num(risk.get("max_drawdown"))
    if dd is not None:
        hwm = high_water_mark
        below = max(0, hwm - (equity or 0)) if hwm > 0 and equity is not None else None
        current = round(below / hwm * 100, 4) if below is not None and hwm > 0 else None
        floor = hwm - int(hwm * dd)
        out.append(
            LimitOut(
                key="max_drawdown",
                label="Max drawdown",
                unit="pct",
                limit=round(dd * 100, 4),
                limit_usd=money(int(hwm * dd)) if hwm > 0 else None,
                current=current,
                current_usd=money(below) if below is not None else None,
                note=f"kill switch below ${floor / 1e6:,.2f} equity" if hwm > 0 else "",
                breached=current is not None and current >= dd * 100,
            )
        )
    lev = _num(risk.get("max_leverage"))
    if lev is not None:
        gross = [abs(p.notional.micro) for p in positions if p.notional is not None]
        out.append(
            LimitOut(
                key="max_leverage",
                label="Max leverage",
                unit="ratio",
                limit=lev,
                limit_usd=money(int(equity * lev)) if equity and equity > 0 else None,
                current=margin.leverage,
                current_usd=money(sum(gross)) if gross else None,
                note="gross notional / equity; opening orders above it are refused",
                breached=margin.leverage is not None and margin.leverage > lev,
            )
        )
    floor_h = _num(risk.get("health_floor"))
    if floor_h is not None:
        target = _num(risk.get("target_health"))
        out.append(
            LimitOut(
                key="health_floor",
                label="Health floor",
                unit="health",
                limit=floor_h,
                current=margin.health,
                note=(
                    f"below: reduce-only until health {target:g}"
                    if target is not None
                    else "below: reduce-only"
                ),
                breached=margin.health is not None and margin.health < floor_h,
            )
        )
    order = _num(risk.get("max_order_notional_usdc"))
    if order is not None:
        out.append(
            LimitOut(
                key="max_order_notional_usdc",
                label="Max order",
                unit="usd",
                limit=order,
                limit_usd=money(int(round(order * 1_000_000))),
                note="any opening order worth more is refused",
            )
        )
    return out


__all__ = ["kpis", "limits"]
