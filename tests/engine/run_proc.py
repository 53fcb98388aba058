"""`drift-engine run` in its own process, optionally dying (SIGKILL) at a chosen moment.

    python -m tests.engine.run_proc ARGS...        # ARGS: `drift-engine` arguments

`RUN_PROC_DIE` picks the moment; the process kills itself with SIGKILL, so nothing after
that point runs (no finally blocks, no commits):

* `bookings:N` — right after the N-th new ledger booking of the run;
* `kill-fill` — right after the first booking made while an engine applies a kill (the
  kill switch's flatten fills: "crash in the tick that applies the kill");
* `capital` — right after a capital move was applied to a simulated sub-account;
* `vault-created` — right after a paper engine's vault row was created, before it is
  funded (old code: committed alone; new code: inside the create-and-fund transaction).

`RUN_PROC_SIGNAL=NAME:MOMENT[:N]` instead sends the process signal NAME (INT, TERM) at
a moment and lets it carry on, so a test can stop a run exactly there (ADR 0023):

* `startup` — as the first engine joins the paper stack, before the heartbeat runs;
* `booking:N` — inside the N-th new ledger booking of the run (in the middle of a tick);
* `checkpoint:N` — as the N-th checkpoint write starts (inside its transaction).

The hooks patch public seams that exist in old and new code alike, so the same process
shows a defect against the code before a fix.
"""

from __future__ import annotations

import os
import signal
import sys


def _die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _install(spec: str) -> None:
    from drift_engine.engine.engine import DriftEngine
    from drift_engine.engine.ledger import VaultLedgerSink

    kind, _, arg = spec.partition(":")
    state = {"booked": 0, "killing": False}
    real_book = VaultLedgerSink.book

    def book(self, posting):
        new = real_book(self, posting)
        if new:
            state["booked"] += 1
            if kind == "bookings" and state["booked"] >= int(arg):
                _die()
            if kind == "kill-fill" and state["killing"] and posting.kind == "fill":
                _die()
        return new

    VaultLedgerSink.book = book

    if kind == "kill-fill":
        real_kill = DriftEngine.kill

        def kill(self, ts, reason="kill switch"):
            state["killing"] = True
            return real_kill(self, ts, reason)

        DriftEngine.kill = kill
    elif kind == "capital":
        from drift_engine.engine.capital import PaperCapitalMoves

        real_move = PaperCapitalMoves._move

        def move(self, *a, **kw):
            out = real_move(self, *a, **kw)
            _die()
            return out

        PaperCapitalMoves._move = move
    elif kind == "vault-created":
        from drift_engine.vaults.registry import VaultRegistry

        name = "_insert_vault" if hasattr(VaultRegistry, "_insert_vault") else "_create"
        real = getattr(VaultRegistry, name)

        def created(self, *a, **kw):
            out = real(self, *a, **kw)
            vault_name = a[1] if name == "_insert_vault" else a[0]
            if vault_name != "treasury":
                _die()
            return out

        setattr(VaultRegistry, name, created)


def _signal_at(spec: str) -> None:
    name, moment, *rest = spec.split(":")
    sig = getattr(signal, f"SIG{name}")
    nth = int(rest[0]) if rest else 1
    seen = {"n": 0}

    def fire() -> None:
        seen["n"] += 1
        if seen["n"] == nth:
            os.kill(os.getpid(), sig)  # its handler runs at the next bytecode: right here

    if moment == "startup":
        from drift_engine.engine.paper import PaperStack

        real_add = PaperStack.add_engine

        def add_engine(self, *a, **kw):
            fire()
            return real_add(self, *a, **kw)

        PaperStack.add_engine = add_engine
    elif moment == "booking":
        from drift_engine.engine.ledger import VaultLedgerSink

        real_book = VaultLedgerSink.book

        def book(self, posting):
            new = real_book(self, posting)
            if new:
                fire()
            return new

        VaultLedgerSink.book = book
    elif moment == "checkpoint":
        from drift_engine.engine.store import SqlEngineStore

        real_save = SqlEngineStore.save_checkpoints

        def save_checkpoints(self, *a, **kw):
            fire()
            return real_save(self, *a, **kw)

        SqlEngineStore.save_checkpoints = save_checkpoints
    else:
        raise ValueError(f"RUN_PROC_SIGNAL: unknown moment {moment!r}")


def main() -> None:
    spec = os.environ.get("RUN_PROC_DIE")
    if spec:
        _install(spec)
    at = os.environ.get("RUN_PROC_SIGNAL")
    if at:
        _signal_at(at)
    from drift_engine.cli import app

    app(sys.argv[1:], prog_name="drift-engine")


if __name__ == "__main__":
    main()
