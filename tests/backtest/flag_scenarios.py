"""The whole backtests the speed flags' equality tests run, each named once, and the one
harness that runs a backtest with a flag on and off and compares everything it leaves.

A speed path behind a module-level flag (`NAME = True`, `False` the reference: see
`engine/quiet.py`'s `KEPT_HOUR`) is checked by running whole backtests both ways:
`flag_runs` runs a named scenario (`SCENARIOS`: strategy, market, dates, parameters,
data and risk limits) through `_whole` with the flag on, then off, and asserts `_same`:
the report and its samples, every row of every table of the run's database (wall-clock
columns left out), the ticks `on_tick` saw with the engine's bookkeeping, the
heartbeat's counters, every simulator record, the final account and prices. Then the
scenario's own checks on the run with the flag on (it liquidated, it traded, it passed
hours quietly ...), so that a scenario cannot quietly stop being what it is named for.
A file adds its flag's own counts (a spy: "the new path was taken, the reference
never").

The data: bench-like synthetic minutes (held short, in and out of the market), the real
LUNA crash (liquidations, drawdown halts; `_luna` adds a synthetic funding record each
hour), real SOL minutes, real SOL hours (held short, delta-neutral) and the real SOL
year delta-neutral (slow). tests/backtest/test_fast_stepping.py and
tests/backtest/test_rows_once.py run some of the same scenarios through their own
comparisons (fast against per-bar stepping; tables with the wall clocks frozen)."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from drift_engine import fastforward as ff
from drift_engine.backtest.runner import run_backtest
from drift_engine.data.bundled import luna_ticks
from drift_engine.data.models import FundingRecord, OracleTick
from drift_engine.data.synthetic import DEFAULT_ORIGIN
from drift_engine.heartbeat import HeartbeatDataCollector
from drift_engine.risk import RiskLimits
from tests.backtest.strategy_kit import Carry, Hold, LeveragedLong

HOUR = 3_600
DAY = 24 * HOUR
SOL_YEAR = 1_744_588_800  # 2025-04-14, the bundled real SOL-PERP file's first hour
SOL_END = 1_775_001_600  # 2026-04-01, the bundled file's end (the bench's year)
#: report fields measured in wall time
IGNORED = {"wall_seconds", "events_per_second"}
#: ledger kinds of the capital's allocation, stamped with the wall clock
CAPITAL = ("deposit", "transfer_in", "transfer_out")
#: database columns stamped with the wall clock
WALL = {
    "created_at",
    "updated_at",
    "booked_at",
    "recorded_at",
    "duration_ms",
    "saved_at",
    "requested_at",
    "applied_at",
}
#: risk limits under which only the venue's liquidation closes a levered position (no
#: health floor, drawdown halt or leverage cap acts first): the LUNA crash liquidates
LIQUIDATION_ONLY = RiskLimits(health_floor=0, target_health=1, max_drawdown=1.0, max_leverage=10)
#: the data label of the real LUNA oracle ticks with a synthetic funding record each hour
LUNA_LABEL = "real LUNA oracle, 2022-05-09..11; synthetic hourly funding"
#: the data label of the real LUNA oracle ticks alone
LUNA_ONLY_LABEL = "real LUNA oracle, 2022-05-09..11; no funding"
#: (params, limits) of the LUNA crash held long by `Hold`: liquidated (`LIQUIDATION_ONLY`),
#: and halted on drawdown before that
LUNA_LONGS = [
    pytest.param({"leverage": 5.0, "short": False}, LIQUIDATION_ONLY, id="liquidated"),
    pytest.param({"leverage": 2.0, "short": False}, RiskLimits(max_drawdown=0.3), id="halted"),
]


def _funding(ts: int, price: int, hourly: float) -> FundingRecord:
    rate = round(hourly * price * 1000)
    return FundingRecord(ts, "SOL-PERP", 0, rate, rate, rate, 0, 0, price, price, "synthetic")


def _luna(aligned: bool, funding: bool = True) -> list:
    """The real LUNA crash's oracle ticks with a synthetic funding record each hour
    (unless not `funding`); `aligned`: with one tick of the first price at the hour
    before the first (the run's first tick on the hour). Either way each hour's sample
    falls at its funding tick (`test_hourly_samples`), as in the bench, and the hours are
    usual quiet hours."""
    ts, prices = luna_ticks()
    events: list = []
    if aligned:
        events.append(OracleTick(ts[0] - ts[0] % HOUR, "SOL-PERP", prices[0]))
    last_hour = None
    for t, p in zip(ts, prices, strict=True):
        hour = t - t % 3600
        if funding and last_hour is not None and hour > last_hour:
            events.append(_funding(hour, p, 0.0002))
        last_hour = hour
        events.append(OracleTick(t, "SOL-PERP", p))
    events.sort(key=lambda e: (e.ts, e.rank))
    return events


def _tables(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, wall-clock columns (and the capital's allocation
    times) left out."""
    con = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in con.execute("select name from sqlite_master where type='table' order by name")
        ]
        out = {}
        for name in names:
            cur = con.execute(f"select * from {name} order by rowid")  # noqa: S608
            cols = [d[0] for d in cur.description]
            rows = []
            for row in cur.fetchall():
                kept = dict(zip(cols, row, strict=True))
                if kept.get("kind") in CAPITAL:
                    kept.pop("occurred_at", None)
                rows.append(tuple((c, v) for c, v in kept.items() if c not in WALL))
            out[name] = rows
    finally:
        con.close()
    return out


def _whole(
    tmp_path: Path, lean: bool, strategy, market, start, end, params, stepping="fast", **kw
) -> dict:
    """Everything a backtest leaves (fast stepping unless told), with `QUIET_RUN = lean`."""
    seen: dict[str, Any] = {"ticks": [], "quiet": 0}
    run_events = HeartbeatDataCollector.run_events
    tick_quiet = HeartbeatDataCollector.tick_quiet

    def capture(hb, **kwargs):
        seen["hb"] = hb
        then = hb.on_tick

        def on_tick(result):
            e = hb.engines[0]
            seen["ticks"].append(
                (
                    result.ts,
                    result.events,
                    result.engines_stepped,
                    result.errors,
                    result.lag_s,
                    e.stats.steps,
                    e.last_ts,
                    e.high_water_mark,
                    e._saved_ts,
                    e.state,
                    hb.ticks,
                    hb.events_processed,
                    hb.skipped_ticks,
                )
            )
            then(result)

        hb.on_tick = on_tick
        return run_events(hb, **kwargs)

    def counted(hb, *a, **k):
        seen["quiet"] += 1
        return tick_quiet(hb, *a, **k)

    url = tmp_path / f"{'lean' if lean else 'ref'}.db"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ff, "QUIET_RUN", lean)
        mp.setattr(HeartbeatDataCollector, "run_events", capture)
        mp.setattr(HeartbeatDataCollector, "tick_quiet", counted)
        report = run_backtest(
            strategy,
            market,
            start,
            end,
            params,
            stepping=stepping,
            margin_refresh_move=0.0,
            database_url=f"sqlite:///{url}",
            **kw,
        )
    hb = seen["hb"]
    (engine,) = hb.engines
    sim = engine.venue.sim
    last = hb._last_result
    return {
        "report": {
            f.name: getattr(report, f.name)
            for f in dataclasses.fields(report)
            if f.name not in IGNORED
        },
        "tables": _tables(url),
        "ticks": seen["ticks"],
        "hb": (
            hb.ticks,
            hb.events_processed,
            hb.skipped_ticks,
            hb.last_ts,
            hb._last_snapshot,
            hb._last_record,
            hb.exhausted,
            dict(hb.failed),
            None if last is None else (last.ts, last.events, last.engines_stepped, last.errors),
        ),
        "engine": (
            dataclasses.asdict(engine.stats),
            engine.last_ts,
            engine.high_water_mark,
            engine._saved_ts,
            engine.state,
        ),
        "records": [repr(r) for r in sim.records],
        "account": repr(sim.user(engine.venue.key)),
        "prices": dict(sim._prices),
        "quiet": seen["quiet"],
    }


def _same(got: dict, ref: dict) -> None:
    """Two `_whole` results equal part by part and table by table."""
    for part in ("report", "ticks", "hb", "engine", "records", "account", "prices"):
        assert got[part] == ref[part], part
    assert got["tables"].keys() == ref["tables"].keys()
    for name, rows in ref["tables"].items():
        assert got["tables"][name] == rows, name


# ------------------------------------------------------------------------ the scenarios


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One whole backtest: `run_backtest`'s arguments (`kw`: its data, source, seed,
    risk limits ...) and the checks a run of it must pass (on `_whole`'s result: each
    `flag_runs` makes them)."""

    strategy: Any
    start: int
    end: int
    params: dict[str, Any] | None = None
    kw: dict[str, Any] = dataclasses.field(default_factory=dict)
    checks: tuple[Callable[[dict], None], ...] = ()
    market: str = "SOL-PERP"

    @property
    def args(self) -> tuple:
        """(strategy, market, start, end, params): the positional arguments."""
        return self.strategy, self.market, self.start, self.end, self.params


def quiet_at_least(n: int) -> Callable[[dict], None]:
    """The run passed at least `n` hours through the lean loop."""

    def check(got: dict) -> None:
        assert got["quiet"] >= n, got["quiet"]

    return check


def trades_at_least(n: int) -> Callable[[dict], None]:
    def check(got: dict) -> None:
        assert got["report"]["trades"] >= n, got["report"]["trades"]

    return check


def liquidated(got: dict) -> None:
    assert got["report"]["liquidations"] >= 1


def fills_and_funding(got: dict) -> None:
    kinds = {row[2][1] for row in got["tables"]["ledger_entries"]}  # (id, vault_id, kind ...)
    assert {"fill", "funding"} <= kinds, kinds


def hourly_rows(got: dict) -> None:
    """Heartbeat rows, vault snapshots and samples of the hours were written."""
    assert len(got["tables"]["heartbeats"]) >= 4 and len(got["tables"]["vault_snapshots"]) >= 4
    assert len(got["report"]["samples"]) >= 90


def _synthetic(strategy: Any, days: int, params: dict | None, *checks: Any, **kw: Any) -> Scenario:
    kw = {"source": "synthetic", **kw}
    return Scenario(strategy, DEFAULT_ORIGIN, DEFAULT_ORIGIN + days * DAY, params, kw, checks)


def _crash(strategy: Any, params: dict, limits: RiskLimits, aligned: bool = True) -> Scenario:
    """The real LUNA crash (`_luna`), from its first tick (a minute before it when not
    `aligned`); one under `LIQUIDATION_ONLY` must liquidate."""
    events = _luna(aligned)
    start = events[0].ts - 60 * (not aligned)
    kw = {"data": (events, LUNA_LABEL), "risk": limits}
    checks = (liquidated,) if limits.health_floor == 0 else ()
    return Scenario(strategy, start, events[-1].ts + 60, params, kw, checks)


def _bundled(start: int, end: int, strategy: Any, params: Any, *checks: Any, **kw: Any) -> Scenario:
    return Scenario(strategy, start, end, params, {"source": "bundled", **kw}, checks)


def _luna_without_funding() -> Scenario:
    events = _luna(False, funding=False)
    kw = {"data": (events, LUNA_ONLY_LABEL), "risk": LIQUIDATION_ONLY}
    params = {"leverage": 5.0, "exit_health": 0}
    return Scenario(LeveragedLong, events[0].ts - 60, events[-1].ts + 60, params, kw)


#: every scenario by name; each is built when asked (the real data read then)
SCENARIOS: dict[str, Callable[[], Scenario]] = {
    # the bench's kind of data: synthetic minutes, held short
    "held-short": lambda: _synthetic(Hold, 4, {"leverage": 2.0}, quiet_at_least(80), hourly_rows),
    # a carry strategy in and out on its funding band, passing hours quietly between
    "entering-and-leaving": lambda: _synthetic(
        Carry,
        4,
        {"entry_rate": -0.00003, "exit_rate": -0.000035},
        fills_and_funding,
        trades_at_least(1),
        seed=11,
    ),
    # in and out on the funding signal; between, its band on the next rates
    # (`delta_neutral.FUNDING_BANDS`) lets the lean loop take hours
    "delta-neutral-in-and-out": lambda: _synthetic(
        "delta-neutral",
        6,
        {"entry_apr": 0.0, "exit_apr": 0.0, "exit_window_hours": 1, "lookback_hours": 1},
        trades_at_least(2),
        seed=11,
    ),
    # always in the market (its entry and exit below any rate)
    "delta-neutral-in-the-market": lambda: _synthetic(
        "delta-neutral", 4, {"entry_apr": -1.0, "exit_apr": -2.0}
    ),
    # the bench's own run: 16 days held short at 1x (weekly flushes)
    "bench": lambda: _synthetic(Hold, 16, None),
    "luna-liquidated": lambda: _crash(Hold, {"leverage": 5.0, "short": False}, LIQUIDATION_ONLY),
    # (a run started off the hour: its samples still at the funding ticks)
    "luna-liquidated-off-the-hour": lambda: _crash(
        Hold, {"leverage": 5.0, "short": False}, LIQUIDATION_ONLY, aligned=False
    ),
    "luna-halted": lambda: _crash(
        Hold, {"leverage": 2.0, "short": False}, RiskLimits(max_drawdown=0.3)
    ),
    # (the short's profit is settled every hour)
    "luna-short": lambda: _crash(
        Hold, {"leverage": 3.0, "short": True}, RiskLimits(max_leverage=10)
    ),
    # (wakes every tick until its drawdown halt; a halted engine's hours are quiet)
    "luna-leveraged-long": lambda: _crash(
        LeveragedLong, {"leverage": 2.0, "exit_health": 30}, RiskLimits(max_drawdown=0.3)
    ),
    # fills and a liquidation, no funding records
    "luna-no-funding": _luna_without_funding,
    # (the records stand seconds after the hour: each hour's sample is a real tick on
    # the hour, a minute before; the lean loop takes the hours whose sample came late)
    "sol-minutes": lambda: _bundled(
        SOL_YEAR + 30 * DAY, SOL_YEAR + 39 * DAY, Hold, {"leverage": 2.0}, bridge_s=60
    ),
    # real minutes of 2025-07-01, always in the market
    "sol-minutes-delta-neutral": lambda: _bundled(
        1_751_328_000,
        1_751_328_000 + 3 * DAY,
        "delta-neutral",
        {"entry_apr": -1.0, "exit_apr": -2.0},
        bridge_s=60,
    ),
    # the bundled real hourly data (the lean loop's hours of hourly data, QUIET_BARE)
    "sol-hours-held-short": lambda: _bundled(
        SOL_YEAR, SOL_YEAR + 14 * DAY, Hold, {"leverage": 2.0}, quiet_at_least(200)
    ),
    # the flagship: a perp short, a spot long (interest on a non-quote leg: its SOL
    # deposit's interest goes to `_handle`), settles every 4 hours
    "sol-hours-delta-neutral": lambda: _bundled(
        SOL_YEAR + 112 * DAY,
        SOL_YEAR + 133 * DAY,
        "delta-neutral",
        {"settle_every_s": 4 * HOUR},
        trades_at_least(2),
        quiet_at_least(100),
    ),
    # the flagship over the whole bundled year (the bench's `--data real --strategy
    # delta-neutral`)
    "sol-year-delta-neutral": lambda: _bundled(
        SOL_YEAR,
        SOL_END,
        "delta-neutral",
        None,
        quiet_at_least(5001),  # (over 5000)
    ),
}
#: the scenarios marked slow
SLOW = {"sol-year-delta-neutral"}
#: the runs of a quiet hour's bookkeeping (its payments booked, held, kept): held short
#: and in and out on synthetic minutes, the LUNA crash liquidated and halted, real SOL
#: minutes, real SOL hours held short and delta-neutral (SOL interest)
BOOKKEEPING = (
    "held-short",
    "entering-and-leaving",
    "luna-liquidated",
    "luna-halted",
    "sol-minutes",
    "sol-hours-held-short",
    "sol-hours-delta-neutral",
)

#: the runs of the column tape's reads (its refills, symbol ids and chunks): the bench's
#: year of synthetic minutes, held short and in and out, real SOL minutes and real SOL
#: hours held short
TAPE_READS = (
    "bench",
    "held-short",
    "delta-neutral-in-and-out",
    "sol-minutes",
    "sol-hours-held-short",
)


def scenario(name: str) -> Scenario:
    return SCENARIOS[name]()


def named(*names: str) -> list:
    """`names` as `pytest.param`s (id: the name; the slow ones marked slow), for a
    parametrize over scenarios."""
    return [
        pytest.param(name, id=name, marks=[pytest.mark.slow] if name in SLOW else [])
        for name in names
    ]


#: a spy: installs its counting patches on `mp` for one run; returns how to read the count
Spy = Callable[[pytest.MonkeyPatch], Callable[[], int]]


@contextlib.contextmanager
def spying(spy: Callable[[pytest.MonkeyPatch], Any]) -> Iterator[Any]:
    """`spy`'s patches while the block runs; yields what `spy` returned (its count)."""
    with pytest.MonkeyPatch.context() as mp:
        yield spy(mp)


def calls_of(owner: Any, *names: str) -> Spy:
    """A spy counting the calls of `owner`'s functions or methods `names`, summed."""

    def spy(mp: pytest.MonkeyPatch) -> Callable[[], int]:
        calls = [0]
        for name in names:
            real = getattr(owner, name)

            def counted(*args: Any, _real: Any = real, **kw: Any) -> Any:
                calls[0] += 1
                return _real(*args, **kw)

            mp.setattr(owner, name, counted)
        return lambda: calls[0]

    return spy


def answers_of(owner: Any, name: str) -> Spy:
    """A spy summing the answers of `owner`'s function or method `name`: how many of its
    calls said True (it did its work, e.g. a fast path that took the case)."""

    def spy(mp: pytest.MonkeyPatch) -> Callable[[], int]:
        said = [0]
        real = getattr(owner, name)

        def counted(*args: Any, **kw: Any) -> Any:
            answer = real(*args, **kw)
            said[0] += answer
            return answer

        mp.setattr(owner, name, counted)
        return lambda: said[0]

    return spy


def flag_runs(
    tmp_path: Path, case: str | Scenario, owner: Any, flag: str, spy: Spy | None = None
) -> dict[bool, dict]:
    """`_whole` of a scenario with `owner.flag` True, then False (the lean loop on
    unless it is the flag), compared by `_same`; the scenario's checks on the True run.
    Each result's "spied": what `spy` counted in that run."""
    case = scenario(case) if isinstance(case, str) else case
    lean_is_the_flag = owner is ff and flag == "QUIET_RUN"  # (`_whole` sets it itself)
    runs: dict[bool, dict] = {}
    for on in (True, False):
        where = tmp_path / ("on" if on else "off")
        where.mkdir()
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(owner, flag, on)
            count = spy(mp) if spy else lambda: 0
            runs[on] = _whole(where, on or not lean_is_the_flag, *case.args, **case.kw)
        runs[on]["spied"] = count()
    _same(runs[True], runs[False])
    for check in case.checks:
        check(runs[True])
    return runs
