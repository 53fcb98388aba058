"""What the ledger sink's property tests give a `VaultLedgerSink` in place of a ledger
and the writes of a batch (tests/engine/test_quiet_rows.py, test_quiet_lean.py)."""

from __future__ import annotations

from typing import Any


class FakeLedger:
    """What a sink reads of its ledger at first use: no entries, an opening balance."""

    def __init__(self, opening: int) -> None:
        self.opening = opening

    def balance(self, vault: Any) -> int:
        return self.opening

    def entries(self, vault: Any) -> list:
        return []


def other_write(s: Any) -> None:  # a write that reads the ledger (no `ledger_free`)
    pass


def record_write(s: Any) -> None:  # an engine record's write
    pass


record_write.ledger_free = True  # type: ignore[attr-defined]
