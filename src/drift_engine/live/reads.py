"""Batched reads for many live sub-accounts: one round trip per tick, however many
engines run, and CPU time that does not grow with what did not change.

Each `DriftClient.refresh` reads its own User, UserStats, State, markets and oracles —
one round trip per engine, and the shared State/markets/oracles once per engine. Here
the keys of every client are merged (each account once) and read by one client in
`getMultipleAccounts` requests of at most 100 keys, all sent as one JSON-RPC batch
(`DriftClient.read_accounts`: one HTTP round trip, with `minContextSlot` set to the
highest slot any of the clients has seen). Each client then builds its state from the
shared values at that slot (`DriftClient.state_from`) through one `DecodeCache`: the
State, markets and oracles are decoded once for all clients, and an account whose bytes
did not change since the last tick is not decoded again (decoding Drift accounts with
anchorpy was 90 % of a 100-account tick: 6.3 s, measured with bench/live_reads.py). A
client whose sub-account holds a market nobody read yet gets one more read of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class DecodeCache:
    """Decoded Drift accounts and oracles by address, reused while their bytes are the
    same. Decoded objects are shared by every state built from them: they are read, never
    changed in place (a changed account is decoded into a new object)."""

    def __init__(self) -> None:
        self._accounts: dict[Any, tuple[bytes, Any]] = {}
        self._oracles: dict[tuple[Any, str], tuple[bytes, Any]] = {}
        #: accounts decoded and reused (the bench prints them)
        self.decoded = 0
        self.reused = 0

    def account(self, key: Any, data: bytes) -> Any:
        """The Anchor account in `data` (read at `key`)."""
        hit = self._accounts.get(key)
        if hit is not None and hit[0] == data:
            self.reused += 1
            return hit[1]
        from drift_engine.core.program import drift_program

        value = drift_program().coder.accounts.decode(data)
        self._accounts[key] = (data, value)
        self.decoded += 1
        return value

    def oracle(self, key: Any, data: bytes, source: Any) -> Any:
        """The oracle price data in `data` (read at `key`, of `source`)."""
        from driftpy.accounts.oracle import decode_oracle

        slot = (key, type(source).__name__)  # the source's variant
        hit = self._oracles.get(slot)
        if hit is not None and hit[0] == data:
            self.reused += 1
            return hit[1]
        value = decode_oracle(data, source)
        self._oracles[slot] = (data, value)
        self.decoded += 1
        return value


async def read_all(reader: Any, clients: Sequence[Any]) -> dict[int, Any]:
    """{index in `clients`: its `DriftAccountState`}, from one merged read by `reader`
    (at a slot no lower than any client has seen: a client that just confirmed a send
    never gets a read from before it)."""
    keys: dict[Any, None] = {}
    for client in clients:
        for key in client.refresh_keys():
            keys.setdefault(key, None)
    ordered = list(keys)
    floor = max((getattr(c, "slot_floor", 0) for c in clients), default=0)
    slot, values = await reader.read_accounts(ordered, min_context_slot=floor or None)
    accounts = dict(zip(ordered, values, strict=True))
    cache = reader.decoded
    out: dict[int, Any] = {}
    for i, client in enumerate(clients):
        state = client.state_from(slot, accounts, cache)
        if state is None:  # it holds a market nobody read: its own read
            continue
        client.slot_floor = max(client.slot_floor, slot)
        out[i] = state
    return out


__all__ = ["DecodeCache", "read_all"]
