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


class _Plan:
    """How `FieldCachedEncoder` walks one struct layout: its fields in byte order, the
    leaves (integers, keys, enum variants, arrays of those) read with one
    `attrgetter` call, the nested structs and fixed arrays of structs."""

    __slots__ = ("fields", "leaves", "get_leaves", "flat", "arrays")

    def __init__(self, fields: list[tuple[str, Any, Any]]) -> None:
        from operator import attrgetter

        self.fields = [
            (
                name,
                sc,
                None
                if nested is None
                else (nested[0], _Plan(nested[1]))
                if isinstance(nested, tuple)
                else _Plan(nested),
            )
            for name, sc, nested in fields
        ]
        self.leaves = [i for i, (_, _, nested) in enumerate(self.fields) if nested is None]
        names = [self.fields[i][0] for i in self.leaves]
        # attrgetter of one name returns the value, of several a tuple: always a tuple
        getter = attrgetter(*names) if names else (lambda obj: ())
        self.get_leaves = getter if len(names) != 1 else (lambda obj: (getter(obj),))
        self.flat = len(self.leaves) == len(self.fields)
        #: indices (among the leaves) of the array leaves, set by `_leaf_values`
        self.arrays: tuple[int, ...] | None = None


def _leaf_values(plan: _Plan, values: tuple) -> tuple:
    """Leaf values as a comparable snapshot: arrays copied (`_plain`), so a later change
    inside an array is seen; integers, keys and enum variants are immutable values.
    Which leaves are arrays is fixed by the layout (learned from the first object)."""
    arrays = plan.arrays
    if arrays is None:
        arrays = plan.arrays = tuple(i for i, v in enumerate(values) if isinstance(v, list))
    if not arrays:
        return values
    out = list(values)
    for i in arrays:
        v = out[i]
        # an array of integers is copied as it is; anything else through `_plain`
        out[i] = list(v) if v and type(v[0]) is int else _plain(v)
    return tuple(out)


class FieldCachedEncoder:
    """Encodes one account object again and again (a simulated User, market or State at
    each checkpoint) re-building only the fields whose value changed since the last
    encode: a Borsh struct is its fields' bytes one after another, so unchanged fields'
    bytes are reused, and a field that is itself a struct (a market's `amm`) or a fixed
    array of structs (a User's positions and order slots) is cached field by field the
    same way (an oracle price moving re-builds one integer, not the AMM; a funding
    payment one position, not eight). A struct's leaf values are read and compared as
    one tuple (`operator.attrgetter`), so an unchanged order slot or position costs one
    comparison, not one per field. The bytes equal `encode_account`'s (tested)."""

    def __init__(self, name: str) -> None:
        coder = _coder()
        self.name = name
        self._discriminator = coder.acc_name_to_discriminator[name]
        fields = _struct_fields(coder._accounts_layout[name])
        assert fields is not None, name
        self._plan = _Plan(fields)
        self._cache: list[Any] = [None, None, None, None]

    def encode(self, account: Any) -> bytes:
        return self._discriminator + self._encode(self._plan, account, self._cache)

    def _encode(self, plan: _Plan, obj: Any, cache: list[Any]) -> bytes:
        """`obj`'s bytes. `cache` is [leaf snapshot, the struct's bytes, bytes by field,
        the nested fields' caches]; an unchanged struct returns the very bytes object it
        returned last time, so its parent sees it unchanged without comparing bytes."""
        values = plan.get_leaves(obj)
        snap = cache[0]
        same = snap is not None and snap == values
        if not same:
            values = _leaf_values(plan, values)
            same = snap == values
        fields = plan.fields
        old = cache[2]
        if plan.flat:
            if same:
                return cache[1]
            each = [
                old[i] if old is not None and snap[i] == v else fields[i][1].build(v)
                for i, v in enumerate(values)
            ]
            data = b"".join(each)
            cache[0], cache[1], cache[2] = values, data, each
            return data
        each = old if same else list(old) if old is not None else [b""] * len(fields)
        if not same:
            for j, i in enumerate(plan.leaves):
                v = values[j]
                if old is None or snap[j] != v:
                    each[i] = fields[i][1].build(v)
            cache[0] = values
        kids = cache[3]
        if kids is None:
            kids = cache[3] = [None] * len(fields)
        changed = not same
        for i, (name, _, nested) in enumerate(fields):
            if nested is None:
                continue
            value = getattr(obj, name)
            if isinstance(nested, tuple):  # a fixed array of structs
                count, element = nested
                caches = kids[i]
                if caches is None:
                    caches = kids[i] = [[None, None, None, None] for _ in range(count)]
                before = [c[1] for c in caches]
                after = [self._encode(element, value[k], caches[k]) for k in range(count)]
                if any(a is not b for a, b in zip(after, before, strict=True)):
                    data = b"".join(after)
                else:
                    data = each[i] if old is not None else b"".join(after)
            else:
                if kids[i] is None:
                    kids[i] = [None, None, None, None]
                data = self._encode(nested, value, kids[i])
            if data is not each[i]:
                if each is old:
                    each = list(old)
                each[i] = data
                changed = True
        if not changed and cache[1] is not None:
            return cache[1]
        data = b"".join(each)
        cache[1], cache[2] = data, each
        return data


def decode_account(data: bytes) -> Any:
    """Decode account bytes (discriminator first) into driftpy/anchorpy account objects."""
    return _coder().decode(bytes(data))


def account_name_of(data: bytes) -> str:
    """The IDL account name for raw account bytes, from their 8-byte discriminator."""
    return _coder().discriminator_to_acc_name[bytes(data[:8])]


def program_id() -> Pubkey:
    return DRIFT_PROGRAM_ID
