"""`bulk.LOCK_DRIVER`: on SQLite a flush reads its vaults with `_LOCK_VAULTS`'s SQL sent
to the driver (`bulk._vault_rows`). Its rows must be the Core statement's, value for
value and type for type (enum members, booleans, aware datetimes), in the same order,
for any mix of refs by id and by name (the same vault both ways, refs matching no
vault, an empty list), since the flush's checks (owner, open, ON_CHAIN kinds) read
them; the flush itself must take or refuse the same refs either way."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drift_engine.storage import Database
from drift_engine.storage.testing import throwaway_database_url
from drift_engine.vaults import UnknownVaultError, VaultRegistry, VaultStatus, VaultType, bulk
from drift_engine.vaults.booking import in_write_transaction

NAMES = ("v-open", "v-frozen", "v-closed", "v-chain", "v-active")


@pytest.fixture(scope="module")
def vault_db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    with throwaway_database_url("sqlite", tmp_path_factory.mktemp("vault-rows")) as url:
        db = Database.open(url)
        registry = VaultRegistry(db)
        registry.create_vault("v-open", "e0")
        registry.create_vault("v-frozen", "e1")
        registry.set_status("v-frozen", VaultStatus.FROZEN)
        registry.create_vault("v-closed", "e1")
        registry.set_status("v-closed", VaultStatus.CLOSED)
        registry.create_vault(
            "v-chain",
            "e2",
            vault_type=VaultType.ON_CHAIN,
            network="devnet",
            authority="A" * 44,
            sub_account_id=3,
        )
        registry.create_vault("v-active", "e3", active=True)
        yield db
        db.dispose()


REFS = st.sets(
    st.sampled_from(NAMES + ("v-none",)) | st.integers(min_value=-1, max_value=len(NAMES) + 2),
    max_size=6,
)


def _read(db: Database, refs: set, driver: bool) -> list[tuple]:
    ids = [r for r in refs if isinstance(r, int)]
    names = [r for r in refs if not isinstance(r, int)]

    def work(session):  # type: ignore[no-untyped-def]
        if driver:
            rows = bulk._vault_rows(session.connection(), ids, names)
        else:
            rows = session.execute(bulk._LOCK_VAULTS, {"ids": ids, "names": names}).all()
        return [
            tuple((name, type(getattr(r, name)), getattr(r, name)) for name in r._fields)
            for r in rows
        ]

    return in_write_transaction(db, work)


@settings(max_examples=150, deadline=None)
@given(REFS)
def test_driver_rows_are_the_core_rows(vault_db: Database, refs: set) -> None:
    driver = _read(vault_db, refs, True)
    assert driver == _read(vault_db, refs, False)
    if refs & set(NAMES):
        assert driver


@settings(max_examples=60, deadline=None)
@given(REFS.filter(bool), st.booleans())
def test_the_flush_lock_takes_and_refuses_the_same_refs(
    vault_db: Database, refs: set, driver: bool
) -> None:
    def lock(session):  # type: ignore[no-untyped-def]
        return {k: tuple(v) for k, v in bulk._lock_vaults(session, refs).items()}

    outcome = {}
    for flag in (driver, not driver):
        kept = bulk.LOCK_DRIVER
        bulk.LOCK_DRIVER = flag
        try:
            outcome[flag] = in_write_transaction(vault_db, lock)
        except UnknownVaultError as e:
            outcome[flag] = ("unknown", e.args)
        finally:
            bulk.LOCK_DRIVER = kept
    assert outcome[True] == outcome[False]
