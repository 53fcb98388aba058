"""Fault injection for the local RPC: the failures a real Solana RPC shows.

Faults are deterministic: each kind is armed for the next `count` requests of a method
(or of any method with `method=None`), so a test says exactly what goes wrong, e.g.
"the next sendTransaction lands but its confirmation is lost". `latency_s` delays every
response. The CLI maps its flags onto a plan (`FaultPlan.every`) for manual soak runs.

Faults can also hold for a span of chain time (`arm_for(kind, seconds)`, on the
chain's clock): "every confirmation lost for 60 s". `congest(min_fee)` is the congestion
fault: transactions paying a priority fee below `min_fee` (micro-lamports per compute
unit) are accepted and never land, and `getRecentPrioritizationFees` reports at least
that fee.

Kinds:
  * ``http_429``       — answer HTTP 429 Too Many Requests; the request is not processed.
  * ``drop_response``  — process the request, then answer HTTP 504 with no JSON body:
                         the client cannot tell whether a sendTransaction landed.
  * ``expired_blockhash`` — before a sendTransaction, advance the chain past every
                         blockhash handed out so far: the node answers "Blockhash not found".
  * ``lost_confirmation`` — the sendTransaction lands and its signature is returned, but
                         `getSignatureStatuses` never reports it.

`lag_node(slots, count)` is the lagging-node fault (a load-balanced RPC whose next
answers come from a node `slots` slots behind): account and history reads are answered
as of that older slot — stale accounts, history without the newest transactions — and a
request whose `minContextSlot` is above that slot gets JSON-RPC error -32016 "Minimum
context slot has not been reached", as a real node answers.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

KINDS = ("http_429", "drop_response", "expired_blockhash", "lost_confirmation")
#: the reads a lagging node answers from its older slot
LAGGING_READS = frozenset(
    {"getAccountInfo", "getMultipleAccounts", "getBalance", "getSignaturesForAddress"}
)


@dataclass
class _Armed:
    kind: str
    method: str | None
    remaining: int
    every: int = 0  # >0: fire on every n-th matching request instead of the next `remaining`
    seen: int = 0


@dataclass
class _Window:
    kind: str
    methods: frozenset[str] | None
    until_ms: int


@dataclass
class FaultPlan:
    latency_s: float = 0.0
    _armed: list[_Armed] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: How many times each kind fired (tests assert a fault really happened).
    fired: Counter = field(default_factory=Counter)
    #: Called as on_fire(kind, method) when a fault fires (tests stage races with it).
    on_fire: Callable[[str, str], None] | None = None
    #: The chain's clock (set by the server): time windows and congestion end on it.
    clock: Any = None
    _windows: list[_Window] = field(default_factory=list)
    _congestion: tuple[int, int | None] | None = None
    _hangs: list[list[Any]] = field(default_factory=list)
    _lags: list[list[Any]] = field(default_factory=list)

    def _now_ms(self) -> int:
        return self.clock.now_ms() if self.clock is not None else 0

    def arm_for(self, kind: str, seconds: float, methods: Iterable[str] | None = None) -> FaultPlan:
        """Fail every request of `methods` (all if None) with `kind` for `seconds` of
        chain time from now."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
        if kind in ("expired_blockhash", "lost_confirmation"):
            methods = ["sendTransaction"]
        until = self._now_ms() + round(seconds * 1000)
        with self._lock:
            self._windows.append(
                _Window(kind, None if methods is None else frozenset(methods), until)
            )
        return self

    def congest(self, min_priority_fee: int, seconds: float | None = None) -> FaultPlan:
        """Congestion: sends paying less than `min_priority_fee` micro-lamports per compute
        unit are dropped (for `seconds` of chain time, or until `clear`)."""
        if min_priority_fee < 0:
            raise ValueError("min_priority_fee must be >= 0")
        until = None if seconds is None else self._now_ms() + round(seconds * 1000)
        with self._lock:
            self._congestion = (min_priority_fee, until)
        return self

    def hang(
        self,
        seconds: float,
        method: str = "sendTransaction",
        count: int = 1,
        account: str | None = None,
    ) -> FaultPlan:
        """The next `count` requests of `method` (sendTransaction: only transactions that
        reference `account`, if given) are answered after `seconds` of wall time — a node
        that hangs; other requests are served meanwhile. The request is processed after
        the wait."""
        if seconds < 0 or count < 1:
            raise ValueError("seconds must be >= 0 and count >= 1")
        with self._lock:
            self._hangs.append([method, account, count, seconds])
        return self

    def take_hang(self, method: str, accounts: Callable[[], set[str]]) -> float:
        """Seconds to hang this request (consumes one armed hang), 0 for none."""
        with self._lock:
            for hang in self._hangs:
                m, account, _count, seconds = hang
                if m != method or (account is not None and account not in accounts()):
                    continue
                hang[2] -= 1
                if hang[2] <= 0:
                    self._hangs.remove(hang)
                self.fired["hang"] += 1
                return seconds
        return 0.0

    def lag_node(
        self, slots: int, count: int = 1, methods: Iterable[str] | None = None
    ) -> FaultPlan:
        """The next `count` reads (of `methods`, default every account and history read)
        are answered by a node `slots` slots behind the chain."""
        if slots < 1 or count < 1:
            raise ValueError("slots and count must be >= 1")
        chosen = frozenset(methods) if methods is not None else LAGGING_READS
        with self._lock:
            self._lags.append([chosen, count, slots])
        return self

    def take_lag(self, method: str) -> int:
        """Slots this request of `method` is answered behind the chain (consumes one
        armed lag), 0 for none."""
        with self._lock:
            for lag in self._lags:
                methods, _count, slots = lag
                if method not in methods:
                    continue
                lag[1] -= 1
                if lag[1] <= 0:
                    self._lags.remove(lag)
                self.fired["lag_node"] += 1
                return slots
        return 0

    def congestion_floor(self) -> int | None:
        """The priority fee a send needs now, or None without congestion."""
        with self._lock:
            if self._congestion is None:
                return None
            floor, until = self._congestion
            if until is not None and self._now_ms() >= until:
                self._congestion = None
                return None
            return floor

    def arm(self, kind: str, method: str | None = None, count: int = 1) -> FaultPlan:
        """Fail the next `count` requests of `method` (any method if None) with `kind`."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
        if kind in ("expired_blockhash", "lost_confirmation"):
            method = "sendTransaction"
        with self._lock:
            self._armed.append(_Armed(kind, method, count))
        return self

    def every(self, kind: str, n: int, method: str | None = None) -> FaultPlan:
        """Fail every n-th request of `method` with `kind`, forever (CLI soak runs)."""
        if kind not in KINDS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}")
        if n < 1:
            raise ValueError("n must be >= 1")
        if kind in ("expired_blockhash", "lost_confirmation"):
            method = "sendTransaction"
        with self._lock:
            self._armed.append(_Armed(kind, method, -1, every=n))
        return self

    def clear(self) -> None:
        with self._lock:
            self._armed.clear()
            self._windows.clear()
            self._congestion = None
            self._hangs.clear()
            self._lags.clear()
        self.latency_s = 0.0

    def take(self, method: str) -> set[str]:
        """The faults that fire for this request of `method` (consumed)."""
        out: set[str] = set()
        with self._lock:
            if self._windows:
                now = self._now_ms()
                self._windows = [w for w in self._windows if w.until_ms > now]
                for w in self._windows:
                    if w.methods is None or method in w.methods:
                        out.add(w.kind)
            for armed in list(self._armed):
                if armed.method is not None and armed.method != method:
                    continue
                if armed.kind in out:
                    continue
                if armed.every:
                    armed.seen += 1
                    if armed.seen % armed.every == 0:
                        out.add(armed.kind)
                    continue
                out.add(armed.kind)
                armed.remaining -= 1
                if armed.remaining <= 0:
                    self._armed.remove(armed)
            for kind in out:
                self.fired[kind] += 1
        if self.on_fire is not None:
            for kind in sorted(out):
                self.on_fire(kind, method)
        return out

    @property
    def pending(self) -> int:
        with self._lock:
            return sum(1 for a in self._armed if not a.every)
