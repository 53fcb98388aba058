"""What `demo` and `run` tell the user and record about themselves.

- a run session row (drift_engine.sessions): the dashboard's banner and liveness read it;
- whether the dashboard accepts control actions, said once at start;
- the closing summary, one line per engine, the same for `demo` and `run`;
- which queued operator commands a tick applied.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.markup import escape

from drift_engine.sessions import FAILED, FINISHED, INTERRUPTED, RunSession


def data_kinds(data: Any) -> dict[str, str]:
    """series -> real | synthetic | assumed | mixed, from the series a run actually opened
    (`drift_engine.data.pipeline.MarketData`): the banner's fallback before the first
    heartbeat row names them per market."""
    kinds: dict[str, set[str]] = {}
    for s in getattr(data, "series", ()):
        kinds.setdefault(str(s.series), set()).add(str(s.kind))
    return {k: v.pop() if len(v) == 1 else "mixed" for k, v in kinds.items()}


def token_configured(settings: Any) -> bool:
    from drift_engine.dashboard.run import resolve_token

    return resolve_token(settings) is not None


def controls_line(settings: Any, serving: bool) -> str:
    """One line: whether the dashboard's buttons work, and how to turn them on."""
    if not serving:
        return (
            "controls: dashboard not served; `drift-engine engines pause|stop|kill ID` "
            "queues commands for this run"
        )
    if token_configured(settings):
        return (
            "controls: ON — the dashboard's start/pause/stop/kill need the token in "
            "DRIFT_ENGINE_DASHBOARD_TOKEN"
        )
    return (
        "controls: OFF — read-only dashboard; set DRIFT_ENGINE_DASHBOARD_TOKEN to enable "
        "start/pause/stop/kill (`drift-engine engines pause|stop|kill ID` works either way)"
    )


def begin_session(
    db: Any,
    *,
    kind: str,
    engines: Iterable[str],
    speed: float | None,
    start: int | None,
    end: int | None,
    source: str | None,
    label: str | None = None,
    sources: dict[str, str] | None = None,
    controls: bool = False,
) -> RunSession | None:
    """The run session row, or None on a database without the table (never fatal: the
    run matters more than its banner)."""
    from drift_engine.sessions import has_sessions_table

    try:
        if not has_sessions_table(db):
            return None
        return RunSession.begin(
            db,
            kind=kind,
            engines=engines,
            speed=speed,
            sim_start=start,
            sim_end=end,
            data={"source": source, "label": label, "sources": dict(sources or {})},
            controls=controls,
        )
    except Exception:  # noqa: BLE001 - see the docstring
        return None


def end_session(
    session: RunSession | None, *, interrupted: bool, failed: str | None = None
) -> None:
    """Close the session (once; later calls change nothing). A closing write that fails
    must not hide the run's own outcome, so it is not raised."""
    if session is None:
        return
    status = FAILED if failed else INTERRUPTED if interrupted else FINISHED
    with contextlib.suppress(Exception):
        session.end(status, failed)


def print_summary(stack: Any, console: Console, title: str = "summary") -> None:
    """Per engine: state, equity, PnL against the capital put in (net deposits), funding,
    fees, trades and the strategy's side."""
    console.print(f"[bold]{title}[/]")
    for e in stack.engines:
        eq = e.venue.equity()
        try:
            net_in = stack.registry.summary(e.ledger.vault_id).net_deposits
        except Exception:  # noqa: BLE001 - a summary line without PnL beats none
            net_in = None
        pnl = f"pnl {(eq - net_in) / 1e6:+,.2f}" if net_in is not None else "pnl unknown"
        console.print(
            f"  {escape(e.name or e.engine_id)}: {e.state.value}, equity {eq / 1e6:,.2f} USDC "
            f"({pnl}), funding {e.stats.funding / 1e6:+,.2f}, "
            f"fees {e.stats.fees / 1e6:,.2f}, trades {e.stats.trades}, "
            f"side {getattr(e.strategy.state, 'side', '-')}",
            highlight=False,
        )


def print_applied(console: Console, engine_id: str, command: str, outcome: str) -> None:
    """A queued operator command applied at a tick: `applied: stop for dn-sol (...)`."""
    console.print(
        f"[cyan]applied[/] queued command {escape(command)} for {escape(engine_id)}: "
        f"{escape(outcome)}",
        highlight=False,
    )


class AnnouncedCommands:
    """Wraps a runner's `OperatorCommands`: each command a tick applies (or refuses) is
    printed, so `run` says what it did with commands queued while nothing ran them."""

    def __init__(self, inner: Any, console: Console) -> None:
        self.inner = inner
        self.console = console

    def apply(self, engines: Iterable[Any], ts: int) -> list[Any]:
        done = self.inner.apply(engines, ts)
        for command, status, result in done or ():
            what = command.describe() if hasattr(command, "describe") else str(command)
            print_applied(
                self.console, command.engine_id, f"#{command.id} {what}", f"{status}: {result}"
            )
        return done

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def announce_pending(db: Any, engine_ids: Iterable[str], console: Console) -> None:
    """Commands queued while no runner held these engines: said before the first tick
    applies them (a stop queued yesterday must not take effect silently)."""
    try:
        from drift_engine.engine.commands import CommandQueue

        waiting = CommandQueue(db).pending(list(engine_ids))
    except Exception:  # noqa: BLE001 - a database without the queue has nothing waiting
        return
    for c in waiting:
        console.print(
            f"[yellow]queued while no runner held it[/]: #{c.id} {escape(c.describe())} for "
            f"{escape(c.engine_id)} (from {escape(c.source)}); applied at the first tick",
            highlight=False,
        )


__all__ = [
    "AnnouncedCommands",
    "announce_pending",
    "data_kinds",
    "begin_session",
    "controls_line",
    "end_session",
    "print_applied",
    "print_summary",
    "token_configured",
]
