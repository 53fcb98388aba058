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


def _struct_fields(layout: Any) -> list[tuple[str, Any, Any]] | None:
    """(name, construct, nested) per field of a Borsh struct layout, `nested` the same
    list for a field that is itself a struct (`_DataclassStruct` over a `CStruct`: its
    bytes are its own fields' bytes one after another); None for a layout that is not a
    plain struct (arrays, enums, integers, keys)."""
    while not hasattr(layout, "subcons"):
        inner = getattr(layout, "subcon", None)
        if inner is None:
            return None
        layout = inner
    out: list[tuple[str, Any, Any]] = []
    for sc in layout.subcons:
        body = sc.subcon if hasattr(sc, "subcon") else sc
        nested: Any = None
        if type(body).__name__ == "_DataclassStruct":
            nested = _struct_fields(body)
        elif (
            type(body).__name__ == "Array"
            and isinstance(getattr(body, "count", None), int)
            and type(body.subcon).__name__ == "_DataclassStruct"
        ):
            # a fixed Borsh array is its elements' bytes one after another: cached per
            # element (a User's 32 order slots, 8 perp and 8 spot positions)
            element = _struct_fields(body.subcon)
            if element is not None:
                nested = (body.count, element)
        out.append((sc.name, sc, nested))
    return out


class FieldCachedEncoder:
    """Encodes one account object again and again (a simulated User, market or State at
    each checkpoint) re-building only the fields whose value changed since the last
    encode: a Borsh struct is its fields' bytes one after another, so unchanged fields'
    bytes are reused, and a field that is itself a struct (a market's `amm`) or a fixed
    array of structs (a User's positions and order slots) is cached field by field the
    same way (an oracle price moving re-builds one integer, not the AMM; a funding
    payment one position, not eight). The bytes equal `encode_account`'s (tested)."""

    def __init__(self, name: str) -> None:
        coder = _coder()
        self.name = name
        self._discriminator = coder.acc_name_to_discriminator[name]
        fields = _struct_fields(coder._accounts_layout[name])
        assert fields is not None, name
        self._fields = fields
        self._cache: dict[Any, tuple[Any, bytes]] = {}

    def encode(self, account: Any) -> bytes:
        parts = [self._discriminator]
        self._encode(self._fields, _plain(account), (), parts)
        return b"".join(parts)

    def _encode(
        self, fields: list[tuple[str, Any, Any]], value: dict, path: tuple, parts: list[bytes]
    ) -> None:
        cache = self._cache
        for name, sc, nested in fields:
            v = value[name]
            if isinstance(nested, tuple):  # a fixed array of structs
                count, element = nested
                for i in range(count):
                    self._encode(element, v[i], (*path, name, i), parts)
                continue
            if nested is not None:
                self._encode(nested, v, (*path, name), parts)
                continue
            key = (*path, name)
            hit = cache.get(key)
            if hit is not None and hit[0] == v:
                parts.append(hit[1])
                continue
            data = sc.build(v)
            cache[key] = (v, data)
            parts.append(data)


def decode_account(data: bytes) -> Any:
    """Decode account bytes (discriminator first) into driftpy/anchorpy account objects."""
    return _coder().decode(bytes(data))


def account_name_of(data: bytes) -> str:
    """The IDL account name for raw account bytes, from their 8-byte discriminator."""
    return _coder().discriminator_to_acc_name[bytes(data[:8])]


def program_id() -> Pubkey:
    return DRIFT_PROGRAM_ID
