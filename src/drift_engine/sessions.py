"""Run sessions and truthful liveness: is the process that runs an engine still there?

An engine's stored state says what it was last told (RUNNING, PAUSED...), not whether
anything still steps it: a `drift-engine run` killed with SIGKILL leaves RUNNING behind.
So `demo` and `run` write a `RunSession` row when they start (which engines, host and
pid, speed, replay window, data labels, whether control is on) and close it when they
end (`finished`, `interrupted`, `failed`). Readers (`drift-engine engines list`, the
dashboard) decide liveness from it:

- session closed: the engine is not running; `finished` means the replay ended;
- session open, same host: the pid is checked (`os.kill(pid, 0)`, a zombie or a pid
  reused by a later process counts as gone), so a killed process shows at once;
- session open, other host (PostgreSQL shared by machines): the newest heartbeat must
  be younger than `stale_after`;
- no session (a database from before migration 0008, or engines written by hand): the
  newest heartbeat decides, as above.

The CLI's read-only commands use this module and must stay fast: it imports SQLAlchemy
and the storage models only inside the functions that query through them, so
`engines list` can decide liveness from rows it read with `sqlite3`
(`session_infos`, `liveness_at`; see storage/quick.py).
"""

from __future__ import annotations

import dataclasses
import os
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

Process = Literal["running", "not_running", "finished"]
RUNNING, FINISHED, INTERRUPTED, FAILED = "running", "finished", "interrupted", "failed"
#: A newest heartbeat older than this (wall seconds) means nothing is ticking.
DEFAULT_STALE_AFTER = 30.0
#: A pid whose process started this long after the session did is another process.
_PID_REUSE_SLACK_S = 5.0


def _now() -> datetime:
    return datetime.now(UTC)


def this_host() -> str:
    return socket.gethostname()[:128]


# --------------------------------------------------------------------------- writing
class RunSession:
    """The row of one running `demo`/`run` process: `begin()` at start, `end()` at exit.

    session = RunSession.begin(db, kind="demo", engines=["dn-sol"], speed=14400, ...)
    try: ... finally: session.end("finished")
    """

    def __init__(self, db: Any, session_id: int) -> None:
        self.db = db
        self.id = session_id

    @classmethod
    def begin(
        cls,
        db: Any,
        *,
        kind: str,
        engines: Iterable[str],
        speed: float | None,
        sim_start: int | None,
        sim_end: int | None,
        data: Mapping[str, Any] | None = None,
        controls: bool = False,
    ) -> RunSession:
        from drift_engine.storage.models import RunSessionRow

        with db.write() as s:
            row = RunSessionRow(
                kind=kind,
                host=this_host(),
                pid=os.getpid(),
                started_at=_now(),
                status=RUNNING,
                speed=speed,
                sim_start=sim_start,
                sim_end=sim_end,
                engines=list(engines),
                data=dict(data or {}),
                controls=controls,
            )
            s.add(row)
            s.flush()
            return cls(db, row.id)

    def end(self, status: str, result: str | None = None) -> None:
        """Close the session: `finished` (the replay reached its end), `interrupted`
        (Ctrl-C, SIGTERM) or `failed`."""
        from drift_engine.storage.models import RunSessionRow

        with self.db.write() as s:
            row = s.get(RunSessionRow, self.id)
            if row is not None and row.status == RUNNING:
                row.status, row.ended_at, row.result = status, _now(), result


# --------------------------------------------------------------------------- reading
def process_alive(pid: int, started_at: datetime | None = None) -> bool:
    """Whether process `pid` on this host runs (not a zombie, not a later process that
    reused the pid)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: it exists
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            stat = f.read()
    except OSError:
        return True  # no /proc: os.kill said it exists
    fields = stat[stat.rfind(")") + 2 :].split()
    if fields and fields[0] in ("Z", "X"):
        return False  # killed, not yet reaped
    if started_at is not None and len(fields) > 19:
        begun = _process_start(int(fields[19]))
        if begun is not None and begun > started_at.timestamp() + _PID_REUSE_SLACK_S:
            return False
    return True


def _process_start(ticks: int) -> float | None:
    try:
        with open("/proc/stat", encoding="ascii") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, StopIteration, ValueError):
        return None


@dataclass(frozen=True)
class SessionInfo:
    """A run session as read, with whether its process is alive right now."""

    id: int
    kind: str
    host: str
    pid: int
    started_at: datetime
    ended_at: datetime | None
    status: str
    speed: float | None
    sim_start: int | None
    sim_end: int | None
    engines: tuple[str, ...]
    data: dict[str, Any] = field(default_factory=dict)
    controls: bool = False
    result: str | None = None
    alive: bool | None = None  # None: on another host (the heartbeat decides)

    def describe(self) -> str:
        return f"{self.kind} pid {self.pid} on {self.host}"


def has_sessions_table(db: Any) -> bool:
    from sqlalchemy import inspect

    return "run_sessions" in inspect(db.engine).get_table_names()


def read_sessions(s: Session, limit: int = 20) -> list[SessionInfo]:
    """The newest `limit` sessions, newest first, each with its process checked."""
    from sqlalchemy import select

    from drift_engine.storage.models import RunSessionRow

    rows = s.scalars(select(RunSessionRow).order_by(RunSessionRow.id.desc()).limit(limit)).all()
    return session_infos(rows)


def session_infos(rows: Iterable[Any]) -> list[SessionInfo]:
    """`SessionInfo`s of run-session rows (anything with `RunSessionRow`'s attributes,
    values as the ORM returns them), each with its process checked."""
    host = this_host()
    out = []
    for r in rows:
        alive: bool | None = None
        if r.status == RUNNING and r.host == host:
            alive = process_alive(r.pid, r.started_at)
        out.append(
            SessionInfo(
                id=r.id,
                kind=r.kind,
                host=r.host,
                pid=r.pid,
                started_at=r.started_at,
                ended_at=r.ended_at,
                status=r.status,
                speed=r.speed,
                sim_start=r.sim_start,
                sim_end=r.sim_end,
                engines=tuple(r.engines or ()),
                data=dict(r.data or {}),
                controls=bool(r.controls),
                result=r.result,
                alive=alive,
            )
        )
    return out


@dataclass(frozen=True)
class Liveness:
    """Whether an engine's process runs: `process` is running, not_running or finished
    (its replay ended); `last_tick_at` is the wall time of the newest heartbeat row."""

    process: Process
    last_tick_at: datetime | None
    last_tick_age_s: float | None
    session: SessionInfo | None = None

    @property
    def running(self) -> bool:
        return self.process == "running"

    def describe(self) -> str:
        """`running`, `not running — last tick 8 m ago`, `replay finished ...`."""
        if self.process == "running":
            return "running"
        ago = f"last tick {format_age(self.last_tick_age_s)}" if self.last_tick_at else "no tick"
        if self.process == "finished":
            return f"replay finished — {ago}"
        return f"not running — {ago}"


def engine_status(state: str, live: Liveness) -> str:
    """What an engine is doing, for the dashboard's pill and `engines list`: its stored
    state while its process runs (and STOPPED, which holds either way), else NOT RUNNING
    or REPLAY FINISHED — never RUNNING for an engine nothing runs."""
    state = state.upper()
    if state == "STOPPED" or live.running:
        return state
    return "REPLAY FINISHED" if live.process == "finished" else "NOT RUNNING"


def format_age(seconds: float | None) -> str:
    """`just now`, `45 s ago`, `8 m ago`, `3 h ago`, `2 d ago`."""
    if seconds is None:
        return "never"
    if seconds < 1:
        return "just now"
    if seconds < 120:
        return f"{round(seconds)} s ago"
    if seconds < 7200:
        return f"{round(seconds / 60)} m ago"
    if seconds < 2 * 86400:
        return f"{round(seconds / 3600)} h ago"
    return f"{round(seconds / 86400)} d ago"


def parse_recorded(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def latest_heartbeat_at(s: Session) -> datetime | None:
    from sqlalchemy import select

    from drift_engine.storage.models import HeartbeatRow

    value = s.scalars(
        select(HeartbeatRow.recorded_at).order_by(HeartbeatRow.id.desc()).limit(1)
    ).first()
    return parse_recorded(value)


def engine_liveness(
    s: Session,
    engine_ids: Iterable[str],
    *,
    sessions: list[SessionInfo] | None,
    now: datetime | None = None,
    stale_after: float = DEFAULT_STALE_AFTER,
) -> dict[str, Liveness]:
    """Each engine's liveness (see the module docstring). `sessions`: `read_sessions`
    of the same transaction, or None when the database has no sessions table."""
    return liveness_at(
        latest_heartbeat_at(s), engine_ids, sessions=sessions, now=now, stale_after=stale_after
    )


def liveness_at(
    beat: datetime | None,
    engine_ids: Iterable[str],
    *,
    sessions: list[SessionInfo] | None,
    now: datetime | None = None,
    stale_after: float = DEFAULT_STALE_AFTER,
) -> dict[str, Liveness]:
    """`engine_liveness` from what it reads (`beat`: the newest heartbeat's wall time),
    so a reader that keeps them can say it again at another `now` without a query."""
    now = now or _now()
    age = max(0.0, (now - beat).total_seconds()) if beat else None
    fresh = age is not None and age <= stale_after
    out: dict[str, Liveness] = {}
    for engine_id in engine_ids:
        found = next((x for x in sessions or () if engine_id in x.engines), None)
        if found is None:
            process: Process = "running" if fresh else "not_running"
        elif found.status == FINISHED:
            process = "finished"
        elif found.status != RUNNING:
            process = "not_running"
        elif found.alive is None:  # another host: the heartbeat decides
            process = "running" if fresh else "not_running"
        else:
            process = "running" if found.alive else "not_running"
        out[engine_id] = Liveness(process, beat, age, found)
    return out


def recheck_alive(sessions: list[SessionInfo] | None) -> list[SessionInfo] | None:
    """`read_sessions`' answer with each process checked again now (no query)."""
    if sessions is None:
        return None
    host = this_host()
    out = []
    for x in sessions:
        alive = x.alive
        if x.status == RUNNING and x.host == host:
            alive = process_alive(x.pid, x.started_at)
        out.append(x if alive == x.alive else dataclasses.replace(x, alive=alive))
    return out


# --------------------------------------------------------------------------- banner
def source_kinds(
    sources: Mapping[str, Any] | None, by_market: Mapping[str, Mapping[str, str]] | None = None
) -> dict[str, str]:
    """series -> REAL | SYNTHETIC | ASSUMED | MIXED. `by_market`: the heartbeat's
    per-market labels (`market_state[symbol]["data_sources"]`: series -> "real: label
    (source)"), which win; `sources` (series -> real | synthetic | assumed, as the run
    recorded them) fills in the series no market names (the run-wide spot rates)."""
    kinds: dict[str, set[str]] = {}
    for labels in (by_market or {}).values():
        for series, text in (labels or {}).items():
            kinds.setdefault(str(series), set()).add(str(text).split(":", 1)[0].strip().lower())
    for series, kind in (sources or {}).items():
        if str(series) not in kinds:
            kinds[str(series)] = {str(kind).lower()}
    out = {}
    for series, found in kinds.items():
        out[series] = found.pop().upper() if len(found) == 1 else "MIXED"
    return out


_SERIES_NAMES = {"intra_hour_prices": "intra-hour", "spot_rates": "spot rates"}
_SERIES_ORDER = ("funding", "prices", "intra_hour_prices", "spot_rates")


def format_speed(speed: float | None) -> str:
    """`×14,400`, `×0.5`, `real time` (1), `` (unknown)."""
    if speed is None:
        return ""
    if speed == 1:
        return "real time"
    return f"×{speed:,.0f}" if speed >= 10 else f"×{speed:g}"


def banner_text(
    sim_time: datetime | None,
    speed: float | None,
    kinds: Mapping[str, str],
    *,
    mode: str = "Sim",
    replay: str | None = None,
    age_s: float | None = None,
) -> str:
    """`Sim 2026-01-17 05:00 UTC · ×14,400 · funding REAL, prices SYNTHETIC · replay
    finished`."""
    parts = [f"{mode} {sim_time:%Y-%m-%d %H:%M} UTC" if sim_time else f"{mode} time unknown"]
    shown = format_speed(speed)
    if shown:
        parts.append(shown)
    ordered = sorted(kinds, key=lambda k: (_SERIES_ORDER.index(k) if k in _SERIES_ORDER else 9, k))
    if ordered:
        parts.append(", ".join(f"{_SERIES_NAMES.get(k, k)} {kinds[k]}" for k in ordered))
    if replay == FINISHED:
        parts.append("replay finished")
    elif replay in (INTERRUPTED, FAILED):
        parts.append(f"run {replay}")
    elif replay == "not_running":
        parts.append(f"not running — last tick {format_age(age_s)}")
    return " · ".join(parts)


__all__ = [
    "banner_text",
    "format_speed",
    "source_kinds",
    "DEFAULT_STALE_AFTER",
    "FAILED",
    "FINISHED",
    "INTERRUPTED",
    "RUNNING",
    "Liveness",
    "RunSession",
    "SessionInfo",
    "engine_liveness",
    "engine_status",
    "format_age",
    "has_sessions_table",
    "latest_heartbeat_at",
    "liveness_at",
    "parse_recorded",
    "process_alive",
    "read_sessions",
    "recheck_alive",
    "session_infos",
]
