"""Runner leases: one writer per engine (ADR-0011).

A runner (`drift-engine run`) holds a lease on every engine it trades (`engine:<id>`) and,
for paper, on the paper stack whose simulator checkpoint the engines share
(`paper-stack:<name>`). A lease row names its holder — host, pid and when the runner
started — and the wall-clock time it expires. Taking leases is one write transaction over
all the names at once: each row is inserted if missing, or taken with a conditional
UPDATE (`WHERE holder = me OR expires_at_ms < now`) — atomic on SQLite (the IMMEDIATE
write lock) and PostgreSQL (row locks; READ COMMITTED re-checks the WHERE) alike. If any
name is held by a live runner the transaction rolls back and nothing is taken.

While it runs, a `LeaseKeeper` thread renews the leases every third of their time to
live, and the paper stack renews them again inside each tick's commit (`renew_in`): the
UPDATE is conditional on still being the holder, so a runner whose lease was taken over
after it expired (a process paused for longer than the lease) writes nothing more.
A clean exit releases the leases; a killed runner's leases are taken over only after they
expire.

Several runners share the engines of one database (ADR-0019): `acquire_free` takes the
leases no live runner holds and leaves the others, and a runner retries it for the
engines it waits for, so it picks up the engines of a runner that died once their leases
expired. Each paper engine's simulator checkpoint is keyed by its engine lease
(`engine.paper`), so whoever holds the lease can carry the engine on.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from drift_engine.core.errors import DriftEngineError
from drift_engine.storage.models import LeaseRow

log = logging.getLogger("drift_engine.lease")

#: Default time to live of a runner's leases (`[heartbeat] lease_s`).
DEFAULT_LEASE_S = 30.0


def engine_lease(engine_id: str) -> str:
    return f"engine:{engine_id}"


def stack_lease(name: str) -> str:
    return f"paper-stack:{name}"


def _ms(t: float) -> int:
    return int(t * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass(frozen=True)
class Holder:
    """Who holds a lease: a process on a host, started at a moment (ms since the epoch)."""

    host: str
    pid: int
    started_ms: int

    @classmethod
    def this_process(cls) -> Holder:
        return cls(socket.gethostname()[:128], os.getpid(), _ms(time.time()))

    @property
    def id(self) -> str:
        return f"{self.host}:{self.pid}:{self.started_ms}"

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host} (started {_iso(self.started_ms)})"


@dataclass(frozen=True)
class LeaseInfo:
    """A lease row as read."""

    name: str
    holder: Holder
    acquired_ms: int
    renewed_ms: int
    expires_at_ms: int

    @classmethod
    def from_row(cls, row: LeaseRow) -> LeaseInfo:
        return cls(
            row.name,
            Holder(row.host, row.pid, row.holder_started_ms),
            row.acquired_ms,
            row.renewed_ms,
            row.expires_at_ms,
        )

    def expired(self, now_ms: int) -> bool:
        return self.expires_at_ms < now_ms


class LeaseHeldError(DriftEngineError):
    """Another live runner holds a lease this runner needs."""

    def __init__(self, info: LeaseInfo, now_ms: int) -> None:
        self.info = info
        left = max(0.0, (info.expires_at_ms - now_ms) / 1000)
        what = info.name.replace("engine:", "engine ", 1).replace(
            "paper-stack:", "the paper stack ", 1
        )
        super().__init__(
            f"{what} is held by another runner: {info.holder.describe()}; its lease "
            f"expires in {left:.0f} s unless renewed. Stop that runner first (if it died, "
            "this one can start once the lease has expired)"
        )


class LeaseLostError(DriftEngineError):
    """This runner no longer holds a lease (it expired and another runner took it)."""


class Leases:
    """Take, renew and release the leases of one runner (`holder`) on a `Database`."""

    def __init__(
        self,
        db: Any,
        *,
        holder: Holder | None = None,
        ttl_s: float = DEFAULT_LEASE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not ttl_s > 0:
            raise ValueError(f"ttl_s: a lease must live a positive time, got {ttl_s!r}")
        self.db = db
        self.holder = holder or Holder.this_process()
        self.ttl_ms = _ms(ttl_s)
        self.clock = clock
        #: names this runner holds (what `renew` and `release` act on)
        self.names: list[str] = []
        #: the expired leases of other runners the last `acquire_free` took over
        self.taken_over: list[LeaseInfo] = []

    def now_ms(self) -> int:
        return _ms(self.clock())

    # ------------------------------------------------------------------ take
    def acquire(self, names: Iterable[str]) -> list[LeaseInfo]:
        """Take every lease in `names` in one transaction, or none (`LeaseHeldError`).
        Returns the expired leases of other runners that were taken over."""
        wanted = sorted(dict.fromkeys(names))
        for attempt in range(3):
            try:
                with self.db.write() as s:
                    taken = [t for t in (self._take(s, n) for n in wanted) if t is not None]
                break
            except IntegrityError:  # another runner inserted the same name just now
                if attempt == 2:
                    raise
        self.names = sorted(set(self.names) | set(wanted))
        for info in taken:
            log.warning("took over %s from %s (expired)", info.name, info.holder.describe())
        return taken

    def acquire_free(self, names: Iterable[str]) -> tuple[list[str], dict[str, LeaseInfo]]:
        """Take every lease in `names` that no live runner holds, in one transaction; the
        others are left to their holders. Returns (names taken, name -> the live holder's
        lease for those left). Several runners share the engines of one database this way
        (ADR-0019): each takes what is free, and later what a dead runner let expire."""
        wanted = sorted(dict.fromkeys(names))
        for attempt in range(3):
            taken: list[str] = []
            held: dict[str, LeaseInfo] = {}
            over: list[LeaseInfo] = []
            try:
                with self.db.write() as s:
                    for name in wanted:
                        try:
                            with s.begin_nested():
                                before = self._take(s, name)
                        except LeaseHeldError as exc:
                            held[name] = exc.info
                            continue
                        taken.append(name)
                        if before is not None:
                            over.append(before)
                break
            except IntegrityError:  # another runner inserted the same name just now
                if attempt == 2:
                    raise
        self.names = sorted(set(self.names) | set(taken))
        for info in over:
            log.warning("took over %s from %s (expired)", info.name, info.holder.describe())
        self.taken_over = over
        return taken, held

    def _take(self, s: Session, name: str) -> LeaseInfo | None:
        now = self.now_ms()
        h = self.holder
        row = s.execute(select(LeaseRow).where(LeaseRow.name == name).with_for_update()).scalar()
        if row is None:
            with s.begin_nested():
                s.add(
                    LeaseRow(
                        name=name,
                        holder=h.id,
                        host=h.host,
                        pid=h.pid,
                        holder_started_ms=h.started_ms,
                        acquired_ms=now,
                        renewed_ms=now,
                        expires_at_ms=now + self.ttl_ms,
                    )
                )
            return None
        before = LeaseInfo.from_row(row)
        done = s.execute(
            update(LeaseRow)
            .where(
                LeaseRow.name == name,
                or_(LeaseRow.holder == h.id, LeaseRow.expires_at_ms < now),
            )
            .values(
                holder=h.id,
                host=h.host,
                pid=h.pid,
                holder_started_ms=h.started_ms,
                acquired_ms=now,
                renewed_ms=now,
                expires_at_ms=now + self.ttl_ms,
            )
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != 1:
            raise LeaseHeldError(before, now)
        return None if before.holder.id == h.id else before

    # ------------------------------------------------------------------ keep
    def renew_in(self, s: Session, names: Iterable[str] | None = None) -> None:
        """Renew inside the caller's transaction (a paper tick's commit): raises
        `LeaseLostError`, and so rolls that transaction back, unless this runner still
        holds every lease."""
        wanted = list(self.names if names is None else names)
        if not wanted:
            return
        now = self.now_ms()
        done = s.execute(
            update(LeaseRow)
            .where(LeaseRow.name.in_(wanted), LeaseRow.holder == self.holder.id)
            .values(renewed_ms=now, expires_at_ms=now + self.ttl_ms)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != len(wanted):
            holders = {
                r.name: LeaseInfo.from_row(r)
                for r in s.scalars(select(LeaseRow).where(LeaseRow.name.in_(wanted)))
            }
            lost = [n for n in wanted if n not in holders or holders[n].holder != self.holder]
            who = "; ".join(
                f"{n}: {holders[n].holder.describe() if n in holders else 'released'}" for n in lost
            )
            raise LeaseLostError(f"this runner lost its lease (taken over after expiry): {who}")

    def renew(self, names: Iterable[str] | None = None) -> None:
        with self.db.write() as s:
            self.renew_in(s, names)

    def release(self, names: Iterable[str] | None = None) -> None:
        """Give the leases back (a clean exit); leases another runner took stay its own."""
        wanted = list(self.names if names is None else names)
        if not wanted:
            return
        with self.db.write() as s:
            s.execute(
                delete(LeaseRow)
                .where(LeaseRow.name.in_(wanted), LeaseRow.holder == self.holder.id)
                .execution_options(synchronize_session=False)
            )
        self.names = [n for n in self.names if n not in wanted]

    # ------------------------------------------------------------------ read
    @staticmethod
    def read(db: Any, names: Iterable[str] | None = None) -> dict[str, LeaseInfo]:
        with db.read() as s:
            q = select(LeaseRow)
            if names is not None:
                q = q.where(LeaseRow.name.in_(list(names)))
            return {r.name: LeaseInfo.from_row(r) for r in s.scalars(q)}


def live_holder(db: Any, name: str, now_ms: int | None = None) -> LeaseInfo | None:
    """The runner holding lease `name` now (None: free or expired)."""
    info = Leases.read(db, [name]).get(name)
    now = _ms(time.time()) if now_ms is None else now_ms
    if info is None or info.expired(now):
        return None
    return info


class LeaseKeeper:
    """Renews a runner's leases every `ttl / 3` in a background thread; `lost` is set
    (and the runner should stop) when a renewal finds a lease gone."""

    def __init__(self, leases: Leases, *, every_s: float | None = None) -> None:
        self.leases = leases
        self.every_s = every_s if every_s is not None else leases.ttl_ms / 3000
        self.lost = threading.Event()
        self.reason = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-keeper", daemon=True)

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.leases.renew()
            except LeaseLostError as exc:
                self.reason = str(exc)
                self.lost.set()
                log.error("%s", exc)
                return
            except Exception:  # noqa: BLE001 - a busy database: try again next time
                log.exception("could not renew the leases")

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)


__all__ = [
    "DEFAULT_LEASE_S",
    "Holder",
    "LeaseHeldError",
    "LeaseInfo",
    "LeaseKeeper",
    "LeaseLostError",
    "Leases",
    "engine_lease",
    "live_holder",
    "stack_lease",
]
