"""Batched reads for many live sub-accounts: one `getMultipleAccounts` round trip per
100 accounts per tick, however many engines run.

Each `DriftClient.refresh` reads its own User, UserStats, State, markets and oracles —
one round trip per engine, and the shared State/markets/oracles once per engine. Here
the keys of every client are merged (each account once) and read by one client in calls
of at most 100 keys (`DriftClient.read_accounts`); each client then builds its state
from the shared values at that slot (`DriftClient.state_from`). A client whose
sub-account holds a market nobody read yet gets one more read of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


async def read_all(reader: Any, clients: Sequence[Any]) -> dict[int, Any]:
    """{index in `clients`: its `DriftAccountState`}, from one merged read by `reader`."""
    keys: dict[Any, None] = {}
    for client in clients:
        for key in client.refresh_keys():
            keys.setdefault(key, None)
    ordered = list(keys)
    slot, values = await reader.read_accounts(ordered)
    accounts = dict(zip(ordered, values, strict=True))
    out: dict[int, Any] = {}
    for i, client in enumerate(clients):
        state = client.state_from(slot, accounts)
        if state is None:  # it holds a market nobody read: its own read
            continue
        out[i] = state
    return out


__all__ = ["read_all"]
