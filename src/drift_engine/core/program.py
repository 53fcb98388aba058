"""Offline access to Drift's program interface (IDL) through anchorpy and driftpy.

Why: the simulator, the builder tests and the local RPC all need Drift's own account
types without a network. anchorpy's `Program` over driftpy's bundled IDL decodes
`discriminator + zero bytes` into a full, zeroed account object and encodes objects
back into the exact bytes the chain would hold. The provider's RPC URL is never
contacted (nothing here awaits a request).
"""

from __future__ import annotations

import copy
import copyreg
from functools import cache
from pathlib import Path
from typing import Any

import driftpy
from anchorpy import Idl, Program, Provider, Wallet
from anchorpy.coder.accounts import AccountToSerialize
from driftpy.constants.config import DRIFT_PROGRAM_ID
from solana.rpc.async_api import AsyncClient
from solders.pubkey import Pubkey

# solders 0.26's Pubkey cannot be pickled or deep-copied, and anchorpy's encoder deep-copies
# every leaf through dataclasses.asdict. Registering a reducer (bytes round trip) makes
# account objects copyable and encodable; it changes no value.
copyreg.pickle(Pubkey, lambda key: (Pubkey.from_bytes, (bytes(key),)))

#: Account names of the IDL this project builds and serves.
ACCOUNT_NAMES = ("State", "User", "UserStats", "PerpMarket", "SpotMarket")

#: An address that is never contacted: offline programs need a provider, not a server.
_UNUSED_RPC_URL = "http://127.0.0.1:9"


def idl_path() -> Path:
    """Path of the Drift IDL bundled with the installed driftpy."""
    return Path(next(iter(driftpy.__path__))) / "idl" / "drift.json"


@cache
def drift_idl() -> Idl:
    return Idl.from_json(idl_path().read_text())


@cache
def drift_program() -> Program:
    """An anchorpy Program for Drift v2 with a provider that is never used for I/O."""
    provider = Provider(AsyncClient(_UNUSED_RPC_URL), Wallet.dummy())
    return Program(drift_idl(), DRIFT_PROGRAM_ID, provider)


def _coder():
    return drift_program().coder.accounts


@cache
def account_size(name: str) -> int:
    """On-chain size in bytes (discriminator included) of a Drift account type."""
    return len(encode_account(name, _decode_zeroed(name)))


def _decode_zeroed(name: str) -> Any:
    coder = _coder()
    if name not in coder.acc_name_to_discriminator:
        raise KeyError(f"unknown Drift account type {name!r}")
    # 16 KiB of zeros is larger than any Drift account; the decoder stops at the layout's end.
    return coder.decode(coder.acc_name_to_discriminator[name] + bytes(16384))


@cache
def _zeroed_template(name: str) -> Any:
    return _decode_zeroed(name)


def new_account(name: str) -> Any:
    """A fresh, fully zeroed Drift account object of type `name` (e.g. "User")."""
    return copy.deepcopy(_zeroed_template(name))


def _plain(obj: Any) -> Any:
    """A dataclass tree as the nested dicts/lists anchorpy's layouts build from. The same
    as `dataclasses.asdict` (which anchorpy calls) without deep-copying every leaf value:
    an encode only reads them. About twice as fast for a User."""
    fields = getattr(obj, "__dataclass_fields__", None)
    if fields is not None:
        return {name: _plain(getattr(obj, name)) for name in fields}
    if isinstance(obj, list):  # construct's ListContainer too: a fresh list, never shared
        return [_plain(x) for x in obj]
    return obj


def encode_account(name: str, account: Any) -> bytes:
    """Encode an account object to the exact bytes the program stores (with discriminator)."""
    return _coder().build(AccountToSerialize(data=_plain(account), name=name))


class FieldCachedEncoder:
    """Encodes one account object again and again (a simulated User at each checkpoint)
    re-building only the top-level fields whose value changed since the last encode: a
    Borsh struct is its fields' bytes one after another, so unchanged fields' bytes are
    reused (a User's 32 order slots are most of its encoding and rarely change). The
    bytes equal `encode_account`'s (tested)."""

    def __init__(self, name: str) -> None:
        coder = _coder()
        self.name = name
        self._discriminator = coder.acc_name_to_discriminator[name]
        layout: Any = coder._accounts_layout[name]
        while not hasattr(layout, "subcons"):
            layout = layout.subcon
        self._fields = [(sc.name, sc) for sc in layout.subcons]
        self._cache: dict[str, tuple[Any, bytes]] = {}

    def encode(self, account: Any) -> bytes:
        parts = [self._discriminator]
        cache = self._cache
        for name, sc in self._fields:
            value = _plain(getattr(account, name))
            hit = cache.get(name)
            if hit is not None and hit[0] == value:
                parts.append(hit[1])
                continue
            data = sc.build(value)
            cache[name] = (value, data)
            parts.append(data)
        return b"".join(parts)


def decode_account(data: bytes) -> Any:
    """Decode account bytes (discriminator first) into driftpy/anchorpy account objects."""
    return _coder().decode(bytes(data))


def account_name_of(data: bytes) -> str:
    """The IDL account name for raw account bytes, from their 8-byte discriminator."""
    return _coder().discriminator_to_acc_name[bytes(data[:8])]


def program_id() -> Pubkey:
    return DRIFT_PROGRAM_ID
