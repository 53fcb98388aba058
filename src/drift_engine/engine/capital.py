"""Capital moves into and out of paper engines' simulated sub-accounts.

A VIRTUAL vault that powers a paper engine holds the cash of a simulated Drift
sub-account. `drift-engine vaults deposit|withdraw|transfer` on such a vault is queued as
an operator command (`engine.commands`); the paper stack's runner applies it here at a
tick boundary:

* deposit / transfer in: USDC is deposited into the sub-account (`DriftSimulator.deposit`)
  and the DEPOSIT / TRANSFER_IN entry booked;
* withdraw / transfer out: refused unless the sub-account holds that much USDC as a
  deposit (no borrowing), the vault's ledger holds that much cash, and the sub-account's
  initial margin still holds afterwards (the simulator checks it as the program does);
  then USDC leaves the sub-account and the WITHDRAW / TRANSFER_OUT entry is booked;
* a transfer between two engines of the same runner withdraws the USDC from one
  simulated sub-account and deposits it into the other (each engine has its own
  simulator, ADR-0019); with a vault that powers no engine, only its ledger leg is
  booked.

The ledger entries go into the stack's write batch and commit with the tick's checkpoint
and the command's outcome, so the move is in the database exactly once, together with the
simulator state it changed (ADR-0011). Each engine's high-water mark is scaled with its
equity (`DriftEngine.capital_moved`): a move is neither profit nor loss.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from drift_engine.engine.commands import APPLIED, REFUSED, Command
from drift_engine.sim.simulator import SimulationError
from drift_engine.storage.enums import EntryKind
from drift_engine.vaults.errors import VaultError
from drift_engine.vaults.money import format_usdc


def _usdc(amount: int) -> str:
    return f"{format_usdc(amount)} USDC"


class PaperCapitalMoves:
    """`engine.commands.CapitalMoves` for a `PaperStack`."""

    def __init__(self, stack: Any) -> None:
        self.stack = stack
        #: cash promised out of vaults that power no engine since the last commit
        self._reserved: dict[str, int] = {}

    def committed(self) -> None:
        """The stack committed its batch: reservations are in the ledger now."""
        self._reserved.clear()

    # ------------------------------------------------------------------ apply
    def apply(self, engine: Any, command: Command, ts: int) -> tuple[str, str]:
        amount = command.amount or 0
        if command.vault != str(engine.ledger.vault_id):
            return REFUSED, (
                f"engine {engine.engine_id!r} trades vault {engine.ledger.vault_id!r}, "
                f"not {command.vault!r}"
            )
        refusal = self._check_vault(str(engine.ledger.vault_id), engine.engine_id)
        if refusal:
            return REFUSED, refusal
        other = None
        if command.kind in ("transfer_in", "transfer_out"):
            other = self._engine_of(command.counterparty)
            if other is engine:
                return REFUSED, "source and destination are the same vault"
            if other is None:
                refusal = self._check_vault(command.counterparty or "", None)
                if refusal:
                    return REFUSED, refusal
        source = engine if command.kind in ("withdraw", "transfer_out") else other
        if source is not None:
            refusal = self._check_out(source, amount)
            if refusal:
                return REFUSED, refusal if source is engine else f"{source.engine_id}: {refusal}"
        elif command.kind == "transfer_in":
            refusal = self._check_outside(command.counterparty or "", amount)
            if refusal:
                return REFUSED, refusal
        try:
            return APPLIED, self._move(engine, other, command, ts)
        except SimulationError as exc:  # the sub-account's initial margin would break
            return REFUSED, f"refused by the sub-account's margin: {exc}"

    def _check_vault(self, name: str, engine_id: str | None) -> str | None:
        """Why the ledger would refuse to book into vault `name` in the tick's commit
        (checked now: a refusal there would roll back the whole tick)."""
        from drift_engine.storage.enums import VaultStatus, VaultType

        registry = self.stack.registry
        try:
            vault = registry.get(name)
        except VaultError as exc:
            return str(exc)
        if vault.status is VaultStatus.CLOSED:
            return f"vault {name!r} is closed"
        if vault.vault_type is not VaultType.VIRTUAL:
            return f"vault {name!r} is ON_CHAIN: paper capital cannot move into or out of it"
        bound = registry.bound_engine(name)
        if bound is not None and bound != engine_id:
            return (
                f"vault {name!r} powers paper engine {bound!r}, which this runner does not "
                "run: withdraw from one and deposit into the other instead"
            )
        return None

    def _check_out(self, engine: Any, amount: int) -> str | None:
        """Why `amount` cannot leave `engine`'s sub-account (None: the simulator decides
        the margin when it moves)."""
        usdc = engine.venue.sim.token_amount(engine.venue.key, "USDC")
        if amount > usdc:
            return (
                f"the sub-account holds {_usdc(max(usdc, 0))} as a USDC deposit; taking "
                f"{_usdc(amount)} would borrow (close positions or take less)"
            )
        cash = engine.ledger.balance()
        if amount > cash:
            return f"vault {engine.ledger.vault_id!r} holds {_usdc(cash)} of cash"
        return None

    def _check_outside(self, source: str, amount: int) -> str | None:
        """A transfer in from a vault that powers no engine here: it must hold the cash."""
        try:
            balance = self.stack.registry.ledger.balance(source)
        except VaultError as exc:
            return str(exc)
        free = balance - self._reserved.get(source, 0)
        if amount > free:
            return f"vault {source!r} holds {_usdc(max(free, 0))}; cannot take {_usdc(amount)}"
        return None

    def _engine_of(self, vault: str | None) -> Any:
        """The engine of this runner, in step with the heartbeat, that books into `vault`
        (a lagging one, still catching up, is not moved into)."""
        for cell in self.stack.cells.values():
            e = cell.engine
            if e is not None and not cell.lagging and str(e.ledger.vault_id) == vault:
                return e
        return None

    # ------------------------------------------------------------------ the move
    def _move(self, engine: Any, other: Any, command: Command, ts: int) -> str:
        """Move the USDC in the simulator first (it may refuse: nothing changed then),
        then queue the ledger entries and tell the engines."""
        registry = self.stack.registry
        amount, key = command.amount or 0, command.key
        vault, counterparty = command.vault or "", command.counterparty or ""
        moved = [e for e in (engine, other) if e is not None]
        for e in moved:  # read what the sinks need now: nothing may fail after the move
            e.ledger.load()
        before = {e.engine_id: e.venue.equity() for e in moved}
        if command.kind in ("deposit", "withdraw"):
            sign = 1 if command.kind == "deposit" else -1
            if sign > 0:
                engine.venue.sim.deposit(engine.venue.key, "USDC", amount, ts)
            else:
                engine.venue.sim.withdraw(engine.venue.key, "USDC", amount, ts)
            kind = EntryKind.DEPOSIT if sign > 0 else EntryKind.WITHDRAW
            engine_id = engine.engine_id
            self._write(
                lambda s: registry.book_single_in(
                    s, vault, kind, sign * amount, key, engine_id=engine_id
                ),
                moved,
            )
            engine.ledger.note_capital(key, sign * amount, kind)
            what = f"{'deposited' if sign > 0 else 'withdrew'} {_usdc(amount)}"
        else:
            tkey = f"transfer:{key}"
            out = command.kind == "transfer_out"
            src, dst = (vault, counterparty) if out else (counterparty, vault)
            src_engine, dst_engine = (engine, other) if out else (other, engine)
            # each engine trades in its own simulator (ADR-0019): the USDC leaves one
            # sub-account (the simulator may refuse: nothing changed then) and enters the
            # other, which cannot refuse a deposit
            if src_engine is not None:
                src_engine.venue.sim.withdraw(src_engine.venue.key, "USDC", amount, ts)
            if dst_engine is not None:
                dst_engine.venue.sim.deposit(dst_engine.venue.key, "USDC", amount, ts)
            if src_engine is None:
                self._reserved[src] = self._reserved.get(src, 0) + amount
            ids = tuple(e.engine_id for e in moved)
            self._write(
                lambda s: registry.book_transfer_in(s, src, dst, amount, tkey, engine_ids=ids),
                moved,
            )
            if src_engine is not None:
                src_engine.ledger.note_capital(tkey, -amount, EntryKind.TRANSFER_OUT)
            if dst_engine is not None:
                dst_engine.ledger.note_capital(tkey, amount, EntryKind.TRANSFER_IN)
            what = f"moved {_usdc(amount)} from {src!r} to {dst!r}"
        for e in moved:
            e.capital_moved(ts, before[e.engine_id], e.venue.equity(), f"#{command.id}: {what}")
        return what

    def _write(self, write: Any, engines: Iterable[Any] = ()) -> None:
        """Into the stack's batch (committed with the tick, with the checkpoints of the
        `engines` it moved: a replay would not move it again), or at once without one."""
        batch = self.stack.batch
        if batch is not None:
            batch.add(write)
            batch.touched.update(e.engine_id for e in engines)
            return
        from drift_engine.vaults.booking import in_write_transaction

        in_write_transaction(self.stack.db, write)
        self.committed()


__all__ = ["PaperCapitalMoves"]
