"""`VaultRegistry`, the Global Vault System: creates and finds vaults, moves capital
between them, and marks which vault powers each engine.

Capital moves are operator actions, not engine bookings, so they may cross engines (that
is what allocation is); an engine's own bookings go through `Ledger`, which keeps each
engine inside its own vaults. Paper moves are ledger entries only. ON_CHAIN moves send
a Drift transaction through `LiveTransfers` first and are booked once it is confirmed,
keyed by its signature — so booking a confirmed signature again (a retry, a recovery
after a crash) changes nothing.

A VIRTUAL vault that powers a paper engine (`bound_engine`: an engine record names it)
mirrors a simulated sub-account: booking a deposit into its ledger alone would leave the
engine trading money that is not there, or missing money that is. `deposit`, `withdraw`
and `transfer` refuse such a vault (`EngineBoundVaultError`, checked inside the booking
transaction); the CLI queues the move for the engine's runner instead, which applies it
to the sub-account and books it with the `*_in` helpers in the same transaction as its
tick (ADR-0011). `create_funded_vault` creates a paper engine's vault and funds it in one
transaction, so no crash leaves an engine with an empty vault.
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from drift_engine.storage.database import Database
from drift_engine.storage.enums import EntryKind, VaultStatus, VaultType
from drift_engine.storage.models import EngineRow, VaultRow
from drift_engine.vaults.booking import (
    Clock,
    VaultRef,
    balance_of,
    check_open,
    find_entry,
    find_vault,
    in_write_transaction,
    insert_entry,
    lock_vaults,
    summarize,
    utc_now,
)
from drift_engine.vaults.entries import LedgerEntry, NewEntry, signature_key
from drift_engine.vaults.errors import (
    EngineBoundVaultError,
    InsufficientFundsError,
    LiveTransfersUnavailableError,
    VaultConfigError,
    VaultExistsError,
    VaultStateError,
)
from drift_engine.vaults.ledger import Ledger
from drift_engine.vaults.live import USDC_SPOT_MARKET_INDEX, LiveTransfers
from drift_engine.vaults.money import check_amount
from drift_engine.vaults.reconcile import OnChainSnapshot, Reconciler, ReconciliationResult
from drift_engine.vaults.snapshots import Snapshots
from drift_engine.vaults.vault import (
    NETWORKS,
    QUOTE_ASSET,
    TREASURY_ENGINE_ID,
    TREASURY_VAULT_NAME,
    EngineVault,
    VaultSummary,
)

if TYPE_CHECKING:
    from drift_engine.vaults.sync_status import SyncStatusStore

_NAME = re.compile(r"^(?!\d+$)[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True, slots=True)
class Transfer:
    """Both legs of a transfer: TRANSFER_OUT in the source, TRANSFER_IN in the destination."""

    out_entry: LedgerEntry
    in_entry: LedgerEntry

    @property
    def amount(self) -> int:
        return self.in_entry.amount


class VaultRegistry:
    """The Global Vault System. One per process; safe to use from several processes."""

    def __init__(
        self, db: Database, *, clock: Clock = utc_now, live: LiveTransfers | None = None
    ) -> None:
        self.db = db
        self.live = live
        self._clock = clock
        self.ledger = Ledger(db, clock=clock)
        self.snapshots = Snapshots(db, clock=clock)
        self.reconciler = Reconciler(db, clock=clock)

    @functools.cached_property
    def sync_status(self) -> SyncStatusStore:
        """The stale flag of ON_CHAIN vaults (vaults/sync_status.py, migration 0004)."""
        from drift_engine.vaults.sync_status import SyncStatusStore

        return SyncStatusStore(self.db)

    # ------------------------------------------------------------------ vaults

    def create_vault(
        self,
        name: str,
        engine_id: str,
        *,
        vault_type: VaultType = VaultType.VIRTUAL,
        network: str | None = None,
        authority: str | None = None,
        sub_account_id: int | None = None,
        active: bool = False,
    ) -> EngineVault:
        """A new OPEN vault for `engine_id`; ON_CHAIN needs network, authority, sub-account."""
        if engine_id == TREASURY_ENGINE_ID:
            raise VaultConfigError("engine_id", f"{engine_id!r} is reserved for the treasury")
        if name == TREASURY_VAULT_NAME:
            raise VaultConfigError("name", f"{name!r} is reserved for the treasury")
        return self._create(
            name,
            engine_id,
            vault_type=VaultType(vault_type),
            network=network,
            authority=authority,
            sub_account_id=sub_account_id,
            active=active,
        )

    def treasury(self) -> EngineVault:
        """The paper treasury (created on first use): the source of paper allocations."""
        try:
            return self.get(TREASURY_VAULT_NAME)
        except LookupError:
            pass
        try:
            return self._create(TREASURY_VAULT_NAME, TREASURY_ENGINE_ID)
        except VaultExistsError:  # another process created it meanwhile
            return self.get(TREASURY_VAULT_NAME)

    def create_funded_vault(
        self,
        name: str,
        engine_id: str,
        capital: int,
        *,
        also: Callable[[Session], None] | None = None,
    ) -> EngineVault:
        """A paper engine's VIRTUAL vault, active, funded with `capital` from the paper
        treasury — created, funded (treasury DEPOSIT `paper-capital:<name>`, transfer
        `transfer:allocate:<name>`) and `also` (e.g. the engine's first record) in ONE
        transaction: a crash leaves all of it or none."""
        if engine_id == TREASURY_ENGINE_ID:
            raise VaultConfigError("engine_id", f"{engine_id!r} is reserved for the treasury")
        if name == TREASURY_VAULT_NAME:
            raise VaultConfigError("name", f"{name!r} is reserved for the treasury")
        _check_name("name", name)
        _check_name("engine_id", engine_id)
        check_amount(capital)

        def work(session: Session) -> EngineVault:
            treasury = session.scalars(
                select(VaultRow).where(VaultRow.name == TREASURY_VAULT_NAME)
            ).one_or_none()
            if treasury is None:
                treasury = self._insert_vault(session, TREASURY_VAULT_NAME, TREASURY_ENGINE_ID)
            vault = self._insert_vault(session, name, engine_id, active=True)
            now = self._clock()
            deposit = NewEntry(kind=EntryKind.DEPOSIT, amount=capital, key=f"paper-capital:{name}")
            insert_entry(session, treasury, deposit, now)
            key = f"transfer:allocate:{name}"
            insert_entry(
                session,
                treasury,
                NewEntry(
                    kind=EntryKind.TRANSFER_OUT,
                    amount=-capital,
                    key=key,
                    counterparty_vault_id=vault.id,
                ),
                now,
            )
            insert_entry(
                session,
                vault,
                NewEntry(
                    kind=EntryKind.TRANSFER_IN,
                    amount=capital,
                    key=key,
                    counterparty_vault_id=treasury.id,
                ),
                now,
            )
            if also is not None:
                also(session)
            return EngineVault.from_row(vault)

        return in_write_transaction(self.db, work)

    def bound_engine(self, vault: VaultRef) -> str | None:
        """The paper engine whose sub-account this VIRTUAL vault's cash is in, if any."""
        with self.db.read() as session:
            return _bound_engine(session, find_vault(session, vault))

    def get(self, vault: VaultRef) -> EngineVault:
        with self.db.read() as session:
            return EngineVault.from_row(find_vault(session, vault))

    def list_vaults(
        self, *, engine_id: str | None = None, include_closed: bool = True
    ) -> list[EngineVault]:
        with self.db.read() as session:
            return [
                EngineVault.from_row(row)
                for row in self._rows(session, engine_id)
                if include_closed or row.status is not VaultStatus.CLOSED
            ]

    def summary(self, vault: VaultRef) -> VaultSummary:
        with self.db.read() as session:
            return summarize(session, find_vault(session, vault))

    def summaries(self, *, engine_id: str | None = None) -> list[VaultSummary]:
        """Every vault's summary from one consistent read (the vault table's rows)."""
        with self.db.read() as session:
            return [summarize(session, row) for row in self._rows(session, engine_id)]

    # ------------------------------------------------------------------ active vault

    def set_active(self, vault: VaultRef) -> EngineVault:
        """Make `vault` the one powering its engine; the engine's other vaults stop being."""

        def work(session: Session) -> EngineVault:
            target = find_vault(session, vault)
            if target.engine_id == TREASURY_ENGINE_ID:
                raise VaultStateError("the treasury does not power an engine")
            siblings = lock_vaults(
                session, [row.id for row in self._rows(session, target.engine_id)]
            )
            target = next(row for row in siblings if row.id == target.id)
            check_open(target, allow_frozen=True)
            now = self._clock()
            session.execute(
                update(VaultRow)
                .where(VaultRow.engine_id == target.engine_id, VaultRow.is_active.is_(True))
                .values(is_active=False, updated_at=now)
            )
            session.execute(
                update(VaultRow)
                .where(VaultRow.id == target.id)
                .values(is_active=True, updated_at=now)
            )
            session.refresh(target)
            return EngineVault.from_row(target)

        return in_write_transaction(self.db, work)

    def active_vault(self, engine_id: str) -> EngineVault | None:
        with self.db.read() as session:
            row = session.scalars(
                select(VaultRow).where(
                    VaultRow.engine_id == engine_id, VaultRow.is_active.is_(True)
                )
            ).one_or_none()
            return EngineVault.from_row(row) if row else None

    def set_status(self, vault: VaultRef, status: VaultStatus) -> EngineVault:
        """OPEN / FROZEN / CLOSED. Only an empty vault that powers nothing can be closed."""
        status = VaultStatus(status)

        def work(session: Session) -> EngineVault:
            row = find_vault(session, vault, lock=True)
            if status is VaultStatus.CLOSED:
                if row.is_active:
                    raise VaultStateError(f"vault {row.name!r} is active; activate another first")
                if (balance := balance_of(session, row.id)) != 0:
                    raise VaultStateError(f"vault {row.name!r} still holds {balance} micro-USDC")
            row.status = status
            row.updated_at = self._clock()
            session.flush()
            return EngineVault.from_row(row)

        return in_write_transaction(self.db, work)

    # ------------------------------------------------------------------ capital moves

    def deposit(self, vault: VaultRef, amount: int, *, key: str | None = None) -> LedgerEntry:
        """Add capital. Paper: a DEPOSIT entry. ON_CHAIN: wallet -> sub-account on chain."""
        check_amount(amount)
        target = self.get(vault)
        if target.is_on_chain:
            self._refuse_key_for_live(key)
            live = self._live_for(target, "deposit into")
            signature = live.sender.send_and_confirm(
                [live.instructions.deposit(**self._account(target), **_usdc(amount))]
            )
            return self.book_confirmed_deposit(target.id, amount, signature=signature)
        return self._book_single(target.id, EntryKind.DEPOSIT, amount, key or _fresh_key())

    def withdraw(self, vault: VaultRef, amount: int, *, key: str | None = None) -> LedgerEntry:
        """Take capital out. Paper: refused beyond the balance. ON_CHAIN: sub-account -> wallet."""
        check_amount(amount)
        target = self.get(vault)
        if target.is_on_chain:
            self._refuse_key_for_live(key)
            live = self._live_for(target, "withdraw from")
            signature = live.sender.send_and_confirm(
                [live.instructions.withdraw(**self._account(target), **_usdc(amount))]
            )
            return self.book_confirmed_withdrawal(target.id, amount, signature=signature)
        return self._book_single(target.id, EntryKind.WITHDRAW, -amount, key or _fresh_key())

    def transfer(
        self, source: VaultRef, destination: VaultRef, amount: int, *, key: str | None = None
    ) -> Transfer:
        """Move capital between two vaults of the same type.

        Paper: TRANSFER_OUT and TRANSFER_IN in one transaction (idempotent by `key`).
        ON_CHAIN: Drift `transfer_deposit` between sub-accounts of one authority, booked
        once confirmed.
        """
        check_amount(amount)
        src, dst = self.get(source), self.get(destination)
        if src.id == dst.id:
            raise VaultConfigError("destination", "source and destination are the same vault")
        if src.vault_type is not dst.vault_type:
            raise VaultStateError(
                f"cannot transfer between {src.vault_type.value} vault {src.name!r} "
                f"and {dst.vault_type.value} vault {dst.name!r}"
            )
        if src.is_on_chain:
            self._refuse_key_for_live(key)
            return self._transfer_live(src, dst, amount)
        return self._book_transfer(src.id, dst.id, amount, f"transfer:{key or _fresh_key()}")

    def allocate(
        self, vault: VaultRef, amount: int, *, key: str | None = None
    ) -> Transfer | LedgerEntry:
        """Give an engine's vault capital: paper from the treasury, on-chain from the wallet."""
        target = self.get(vault)
        if target.is_on_chain:
            return self.deposit(target.id, amount, key=key)
        return self.transfer(self.treasury().id, target.id, amount, key=key)

    def book_confirmed_deposit(
        self, vault: VaultRef, amount: int, *, signature: str
    ) -> LedgerEntry:
        """Book a confirmed on-chain deposit (idempotent on the signature)."""
        return self._book_single(vault, EntryKind.DEPOSIT, amount, signature_key(signature))

    def book_confirmed_withdrawal(
        self, vault: VaultRef, amount: int, *, signature: str
    ) -> LedgerEntry:
        """Book a confirmed on-chain withdrawal (idempotent on the signature)."""
        return self._book_single(vault, EntryKind.WITHDRAW, -amount, signature_key(signature))

    def book_confirmed_transfer(
        self, source: VaultRef, destination: VaultRef, amount: int, *, signature: str
    ) -> Transfer:
        """Book a confirmed on-chain transfer_deposit (idempotent on the signature)."""
        check_amount(amount)
        src, dst = self.get(source), self.get(destination)
        return self._book_transfer(src.id, dst.id, amount, signature_key(signature))

    # ------------------------------------------------------------------ reconciliation

    def reconcile(self, vault: VaultRef, snapshot: OnChainSnapshot) -> ReconciliationResult:
        """Mirror an ON_CHAIN vault's chain state into its ledger (see `Reconciler`)."""
        return self.reconciler.reconcile(vault, snapshot)

    # ------------------------------------------------------------------ internals

    def _create(
        self,
        name: str,
        engine_id: str,
        *,
        vault_type: VaultType = VaultType.VIRTUAL,
        network: str | None = None,
        authority: str | None = None,
        sub_account_id: int | None = None,
        active: bool = False,
    ) -> EngineVault:
        _check_name("name", name)
        _check_name("engine_id", engine_id)
        if vault_type is VaultType.ON_CHAIN:
            _check_on_chain_identity(network, authority, sub_account_id)
        elif (network, authority, sub_account_id) != (None, None, None):
            raise VaultConfigError(
                "vault_type", "network/authority/sub_account_id are for ON_CHAIN"
            )

        def work(session: Session) -> EngineVault:
            row = self._insert_vault(
                session,
                name,
                engine_id,
                vault_type=vault_type,
                network=network,
                authority=authority,
                sub_account_id=sub_account_id,
            )
            return EngineVault.from_row(row)

        created = in_write_transaction(self.db, work)
        return self.set_active(created.id) if active else created

    def _insert_vault(
        self,
        session: Session,
        name: str,
        engine_id: str,
        *,
        vault_type: VaultType = VaultType.VIRTUAL,
        network: str | None = None,
        authority: str | None = None,
        sub_account_id: int | None = None,
        active: bool = False,
    ) -> VaultRow:
        """Insert an OPEN vault inside `session` (with `active`: the engine's others stop
        being active)."""
        if session.scalars(select(VaultRow.id).where(VaultRow.name == name)).first():
            raise VaultExistsError(f"name {name!r}")
        if (
            vault_type is VaultType.ON_CHAIN
            and session.scalars(
                select(VaultRow.name).where(
                    VaultRow.network == network,
                    VaultRow.authority == authority,
                    VaultRow.sub_account_id == sub_account_id,
                )
            ).first()
        ):
            raise VaultExistsError(f"sub-account {authority}/{sub_account_id} on {network}")
        now = self._clock()
        if active:
            session.execute(
                update(VaultRow)
                .where(VaultRow.engine_id == engine_id, VaultRow.is_active.is_(True))
                .values(is_active=False, updated_at=now)
            )
        row = VaultRow(
            name=name,
            engine_id=engine_id,
            vault_type=vault_type,
            status=VaultStatus.OPEN,
            quote_asset=QUOTE_ASSET,
            is_active=active,
            network=network,
            authority=authority,
            sub_account_id=sub_account_id,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        return row

    @staticmethod
    def _rows(session: Session, engine_id: str | None) -> list[VaultRow]:
        query = select(VaultRow).order_by(VaultRow.id)
        if engine_id is not None:
            query = query.where(VaultRow.engine_id == engine_id)
        return list(session.scalars(query))

    def _book_single(self, vault: VaultRef, kind: EntryKind, amount: int, key: str) -> LedgerEntry:
        return in_write_transaction(
            self.db, lambda session: self.book_single_in(session, vault, kind, amount, key)
        )

    def book_single_in(
        self,
        session: Session,
        vault: VaultRef,
        kind: EntryKind,
        amount: int,
        key: str,
        *,
        engine_id: str | None = None,
    ) -> LedgerEntry:
        """A deposit or withdrawal inside the caller's transaction. A vault that powers a
        paper engine is refused unless `engine_id` is that engine (its runner, applying
        the move to the sub-account in the same transaction)."""
        entry = NewEntry(kind=kind, amount=amount, key=key)
        row = find_vault(session, vault, lock=True)
        check_open(row, allow_frozen=True)
        _check_binding(session, row, engine_id)
        if amount < 0 and row.vault_type is VaultType.VIRTUAL:
            _check_funds(session, row, -amount, key)
        return insert_entry(session, row, entry, self._clock())[0]

    def _book_transfer(
        self, source_id: int, destination_id: int, amount: int, key: str
    ) -> Transfer:
        return in_write_transaction(
            self.db,
            lambda session: self.book_transfer_in(session, source_id, destination_id, amount, key),
        )

    def book_transfer_in(
        self,
        session: Session,
        source: VaultRef,
        destination: VaultRef,
        amount: int,
        key: str,
        *,
        engine_ids: tuple[str, ...] = (),
    ) -> Transfer:
        """Both legs of a transfer inside the caller's transaction; vaults that power
        paper engines are refused unless their engines are in `engine_ids`."""
        src, dst = lock_vaults(session, [source, destination])
        for row in (src, dst):
            check_open(row, allow_frozen=True)
            bound = _bound_engine(session, row) if row.vault_type is VaultType.VIRTUAL else None
            if bound is not None and bound not in engine_ids:
                raise EngineBoundVaultError(row.name, bound)
        if src.vault_type is VaultType.VIRTUAL:
            _check_funds(session, src, amount, key)
        now = self._clock()
        out_entry = NewEntry(
            kind=EntryKind.TRANSFER_OUT, amount=-amount, key=key, counterparty_vault_id=dst.id
        )
        in_entry = NewEntry(
            kind=EntryKind.TRANSFER_IN, amount=amount, key=key, counterparty_vault_id=src.id
        )
        return Transfer(
            out_entry=insert_entry(session, src, out_entry, now)[0],
            in_entry=insert_entry(session, dst, in_entry, now)[0],
        )

    def _transfer_live(self, src: EngineVault, dst: EngineVault, amount: int) -> Transfer:
        if (src.network, src.authority) != (dst.network, dst.authority):
            raise VaultStateError(
                f"vaults {src.name!r} and {dst.name!r} are not sub-accounts of one authority "
                "on one network; transfer_deposit cannot move between them"
            )
        live = self._live_for(src, "transfer from")
        for vault in (src, dst):
            if vault.status is VaultStatus.CLOSED:
                raise VaultStateError(f"vault {vault.name!r} is closed")
        instruction = live.instructions.transfer_deposit(
            authority=src.authority,
            from_sub_account_id=src.sub_account_id,
            to_sub_account_id=dst.sub_account_id,
            spot_market_index=USDC_SPOT_MARKET_INDEX,
            amount=amount,
        )
        signature = live.sender.send_and_confirm([instruction])
        return self._book_transfer(src.id, dst.id, amount, signature_key(signature))

    def _live_for(self, vault: EngineVault, action: str) -> LiveTransfers:
        if self.live is None:
            raise LiveTransfersUnavailableError(
                f"vault {vault.name!r} is ON_CHAIN: no live Drift client is configured "
                f"to {action} it"
            )
        if vault.status is VaultStatus.CLOSED:
            raise VaultStateError(f"vault {vault.name!r} is closed")
        return self.live

    @staticmethod
    def _account(vault: EngineVault) -> dict[str, object]:
        return {"authority": vault.authority, "sub_account_id": vault.sub_account_id}

    @staticmethod
    def _refuse_key_for_live(key: str | None) -> None:
        if key is not None:
            raise VaultConfigError("key", "on-chain moves are keyed by their transaction signature")


def _usdc(amount: int) -> dict[str, int]:
    return {"spot_market_index": USDC_SPOT_MARKET_INDEX, "amount": amount}


def _fresh_key() -> str:
    """A key for a one-off operator action that the caller did not key itself."""
    return f"op:{uuid.uuid4().hex}"


def _bound_engine(session: Session, vault: VaultRow) -> str | None:
    """The paper engine whose record names `vault` as its vault (None for ON_CHAIN)."""
    if vault.vault_type is not VaultType.VIRTUAL:
        return None
    return session.scalars(
        select(EngineRow.engine_id).where(
            EngineRow.engine_id == vault.engine_id,
            EngineRow.vault_id.in_([vault.name, str(vault.id)]),
            EngineRow.mode == "paper",
        )
    ).first()


def _check_binding(session: Session, vault: VaultRow, engine_id: str | None) -> None:
    bound = _bound_engine(session, vault)
    if bound is not None and bound != engine_id:
        raise EngineBoundVaultError(vault.name, bound)


def _check_funds(session: Session, vault: VaultRow, amount: int, key: str) -> None:
    """Paper vaults cannot go below zero cash through withdrawals or transfers out.
    A replay of an already booked key is not a new withdrawal, so it is not checked."""
    if find_entry(session, vault.id, key) is not None:
        return
    balance = balance_of(session, vault.id)
    if balance < amount:
        raise InsufficientFundsError(vault.name, balance, amount)


def _check_name(field: str, value: str) -> None:
    if not isinstance(value, str) or not _NAME.match(value):
        raise VaultConfigError(
            field,
            f"{value!r} must be 1-64 letters, digits, '_', '.', '-' (not only digits)",
        )


def _check_on_chain_identity(
    network: str | None, authority: str | None, sub_account_id: int | None
) -> None:
    from solders.pubkey import Pubkey

    if network not in NETWORKS:
        raise VaultConfigError(
            "network", f"{network!r} is not one of {', '.join(sorted(NETWORKS))}"
        )
    if authority is None:
        raise VaultConfigError("authority", "an ON_CHAIN vault needs the authority pubkey")
    try:
        Pubkey.from_string(authority)
    except ValueError:
        raise VaultConfigError("authority", f"{authority!r} is not a base58 pubkey") from None
    if isinstance(sub_account_id, bool) or not isinstance(sub_account_id, int):
        raise VaultConfigError("sub_account_id", "an ON_CHAIN vault needs an integer sub-account")
    if not 0 <= sub_account_id <= 65535:
        raise VaultConfigError("sub_account_id", f"{sub_account_id} is outside 0..65535")
