"""Saving and restoring the simulation: undo copies (`_Snapshot`, `snapshot`/`restore`,
the fast `_clone`) and whole-simulator persistence (`dump`/`load`, `account_bytes`,
the per-account encode cache).

One module because both answer "what is the whole state, and how do I get it back":
`restore` and `load` must put back the same things (accounts in the same objects,
prices everywhere the simulator keeps them, resting orders and exposure in their
order), so the two lists live side by side.

`PersistenceMixin` is one of the mixins `simulator.DriftSimulator` is composed of (see
there for why mixins): its methods read the attributes `DriftSimulator.__init__` sets.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from solders.pubkey import Pubkey

from drift_engine.core.markets import MarketCatalog
from drift_engine.core.program import FieldCachedEncoder, encode_account
from drift_engine.core.types import MarketType
from drift_engine.sim.pricing import PriceModel
from drift_engine.sim.records import record_from_json, record_to_json
from drift_engine.sim.state import (
    QUOTE_SPOT_MARKET_INDEX,
    MarketKey,
    SimulationError,
    UserKey,
    _Account,
    _Rates,
)

if TYPE_CHECKING:
    from drift_engine.sim.simulator import DriftSimulator


@dataclass
class _Snapshot:
    """Field values of the objects an action may change, to undo a refused action.

    `keep` saves an object's fields (shallow: for objects whose nested objects the action
    does not replace); `keep_deep` saves a deep copy (an account with its positions and
    orders). `restore` writes the values back *into the same objects*, which the
    simulator's driftpy DriftClients and margin snapshot keep referencing. `extra` holds
    the simulator's own bookkeeping for `DriftSimulator.restore`.
    """

    saved: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    extra: dict[str, Any] | None = None

    def keep(self, *objs: Any) -> None:
        for obj in objs:
            self.saved.append((obj, dict(obj.__dict__)))

    def keep_deep(self, *objs: Any) -> None:
        for obj in objs:
            self.saved.append((obj, _clone_fields(obj)))

    def restore(self) -> None:
        for obj, values in reversed(self.saved):
            obj.__dict__.clear()
            obj.__dict__.update(values)


#: How `_clone` copies a value of each type: 0 shared (immutable), 1 a list, 2 an object
#: whose fields are cloned, 3 `copy.deepcopy` (a type the accounts do not hold today).
_CLONE_KIND: dict[type, int] = {int: 0, bool: 0, str: 0, bytes: 0, type(None): 0, Pubkey: 0}
#: per object type, the fields `_clone_fields` clones (the others hold immutable values)
_DEEP_FIELDS: dict[type, tuple[str, ...]] = {}


def _clone_kind(t: type) -> int:
    kind = _CLONE_KIND.get(t)
    if kind is None:
        if issubclass(t, list):
            kind = 1
        elif getattr(t, "__attrs_attrs__", None) == () and not hasattr(t, "__dataclass_fields__"):
            kind = 0  # a field-less Borsh enum variant (sumtypes): a value, never mutated
        elif hasattr(t, "__dataclass_fields__") and not hasattr(t, "__slots__"):
            kind = 2
        else:
            kind = 3
        _CLONE_KIND[t] = kind
    return kind


def _clone(value: Any) -> Any:
    """A deep copy of an account's value tree (driftpy dataclasses, lists, integers, keys,
    field-less enum variants) equal to `copy.deepcopy`'s, ~10x faster: immutable leaves
    are shared instead of copied, and what to copy is planned once per type.

    The plan relies on the shape of Drift's accounts (State, markets, User, UserStats),
    checked against the IDL by tests/sim/test_fast_undo.py: a field's type is fixed by
    its Borsh layout (no Option, no Vec, no enum variant carrying data), so a field that
    holds an immutable value in one object does in every object of its type, and a
    fixed array holds elements of one type."""
    t = type(value)
    kind = _CLONE_KIND.get(t)
    if kind is None:
        kind = _clone_kind(t)
    if kind == 0:
        return value
    if kind == 1:
        if not value or _clone_kind(type(value[0])) == 0:
            return t(value)
        items = [_clone(x) for x in value]
        return items if t is list else t(items)
    if kind == 2:
        out = object.__new__(t)
        out.__dict__.update(_clone_fields(value))
        return out
    return copy.deepcopy(value)


def _clone_fields(obj: Any) -> dict[str, Any]:
    """`obj.__dict__` with every value cloned (`_clone`)."""
    out = dict(obj.__dict__)
    deep = _DEEP_FIELDS.get(type(obj))
    if deep is None:
        deep = tuple(k for k, v in out.items() if _clone_kind(type(v)) != 0)
        _DEEP_FIELDS[type(obj)] = deep
    for k in deep:
        out[k] = _clone(out[k])
    return out


def _clone_user_positions(user: Any) -> dict[str, Any]:
    """`_clone_fields(user)` without a copy of its order slots (`orders` keeps the live
    list): the undo copy of a `place_orders` call, whose one writer of an order slot,
    `_rest_order`, keeps the slot it writes in the call's copy first (ADR-0020, s7)."""
    out = dict(user.__dict__)
    deep = _DEEP_FIELDS.get(type(user))
    if deep is None:
        _clone_fields(user)  # plans the type's fields
        deep = _DEEP_FIELDS[type(user)]
    for k in deep:
        if k != "orders":
            out[k] = _clone(out[k])
    return out


def _model_json(model: PriceModel) -> list[int]:
    return [model.half_spread_ppm, model.impact_ppm_at_reference, model.reference_notional]


class PersistenceMixin:
    """Undo snapshots and dump/load of `DriftSimulator` (see the module docstring)."""

    def account_bytes(self) -> dict[str, bytes]:
        """Every account encoded exactly as the program stores it (for determinism checks)."""
        out = {"State": encode_account("State", self.state)}
        for i, m in sorted(self.perp_markets.items()):
            out[f"PerpMarket:{i}"] = encode_account("PerpMarket", m)
        for i, m in sorted(self.spot_markets.items()):
            out[f"SpotMarket:{i}"] = encode_account("SpotMarket", m)
        for (auth, sub), acct in sorted(
            self._accounts.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])
        ):
            out[f"User:{auth}:{sub}"] = encode_account("User", acct.user)
        for auth, stats in sorted(self._stats.items(), key=lambda kv: str(kv[0])):
            out[f"UserStats:{auth}"] = encode_account("UserStats", stats)
        return out

    # ------------------------------------------------------------------ persistence

    def dump(self, records_since: int | None = None) -> dict[str, Any]:
        """The whole simulation as JSON-able data, for `DriftSimulator.load`.

        Accounts are the program's bytes (`core.program.encode_account`, base64); besides
        them: the clock, the record counter, oracle prices, resting orders and exposure
        (in their order: iteration order decides the order of fills and records), spot
        rates, price models, volume caps and PnL settings, so that a loaded simulator
        continues exactly as this one would. Records are kept from `records_since` on
        (default: none; `seq` keeps counting either way). The market catalog is not
        dumped: load with the same one (the default).
        """
        import base64

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        def ukey(acct: _Account) -> list[Any]:
            return [str(acct.key[0]), acct.key[1]]

        def mkey(key: MarketKey) -> list[Any]:
            return [key[0].value, key[1]]

        since = len(self.records) if records_since is None else records_since
        return {
            "version": 1,
            "now": self.now,
            "seq": self._seq,
            "symbols": [self._symbols[k] for k in self._symbols],
            "prices": [[*mkey(k), p] for k, p in self._prices.items()],
            "auto_settle_pnl": self.auto_settle_pnl,
            "pnl_pool_excess": self.pnl_pool_excess,
            "derive_funding": self.derive_funding,
            "default_price_model": _model_json(self._default_price_model),
            "price_models": [[*mkey(k), _model_json(m)] for k, m in self._price_models.items()],
            "volume_caps": [[*mkey(k), cap] for k, cap in self._volume_caps.items()],
            "rates": [[i, r.deposit, r.borrow] for i, r in self._rates.items()],
            "state": b64(self._encode_cached("State", 0, self.state)),
            "perp_markets": {
                str(i): b64(self._encode_cached("PerpMarket", i, m))
                for i, m in self.perp_markets.items()
            },
            "spot_markets": {
                str(i): b64(self._encode_cached("SpotMarket", i, m))
                for i, m in self.spot_markets.items()
            },
            "users": [
                [*ukey(a), self._user_b64(a), a.liquidation_start_ts]
                for a in self._accounts.values()
            ],
            "user_stats": [
                [str(auth), self._stats_b64(auth, st)] for auth, st in self._stats.items()
            ],
            "resting": [
                [*mkey(k), [[*ukey(a), i] for a, i in v]] for k, v in self._resting.items()
            ],
            "exposed": [[*mkey(k), [ukey(a) for a in v]] for k, v in self._exposed.items()],
            "records_since": since,
            "records": [record_to_json(r) for r in self.records[since:]],
        }

    def _encode_cached(self, name: str, index: Any, account: Any) -> bytes:
        """State and market bytes through a per-account `FieldCachedEncoder`: a price
        or funding update re-builds the few fields it changed (the same bytes)."""
        key = (name, index)
        encoder = self._encoders.get(key)  # type: ignore[call-overload]
        if encoder is None:
            encoder = self._encoders[key] = FieldCachedEncoder(name)  # type: ignore[index]
        return encoder.encode(account)

    def _user_b64(self, acct: _Account) -> str:
        import base64

        out = self._encoded.get(acct.key)
        if out is None:
            encoder = self._encoders.get(acct.key)
            if encoder is None:
                encoder = self._encoders[acct.key] = FieldCachedEncoder("User")
            out = base64.b64encode(encoder.encode(acct.user)).decode()
            self._encoded[acct.key] = out
        return out

    def _stats_b64(self, authority: Any, stats: Any) -> str:
        import base64

        key = str(authority)
        out = self._encoded_stats.get(key)
        if out is None:
            out = base64.b64encode(self._encode_cached("UserStats", key, stats)).decode()
            self._encoded_stats[key] = out
        return out

    @classmethod
    def load(cls, data: dict[str, Any], *, catalog: MarketCatalog | None = None) -> DriftSimulator:
        """A simulator in exactly the state `dump()` saved (see there)."""
        import base64

        from drift_engine.core.program import decode_account

        if data.get("version") != 1:
            raise SimulationError(f"unknown simulator dump version {data.get('version')!r}")

        def mkey(t: str, i: int) -> MarketKey:
            return (MarketType(t), int(i))

        def put(obj: Any, b64: str) -> None:
            decoded = decode_account(base64.b64decode(b64))
            obj.__dict__.clear()
            obj.__dict__.update(decoded.__dict__)

        catalog = catalog or MarketCatalog.from_constants()
        by_key = {(s.market_type, s.market_index): s.symbol for s in catalog}
        prices = {by_key[mkey(t, i)]: p for t, i, p in data["prices"]}
        sim = cls(
            prices,
            ts=data["now"],
            catalog=catalog,
            default_price_model=PriceModel(*data["default_price_model"]),
            auto_settle_pnl=data["auto_settle_pnl"],
            pnl_pool_excess=data["pnl_pool_excess"],
            derive_funding=data.get("derive_funding", False),
        )
        sim._price_models = {mkey(t, i): PriceModel(*m) for t, i, m in data["price_models"]}
        sim._volume_caps = {mkey(t, i): cap for t, i, cap in data["volume_caps"]}
        sim._rates = {int(i): _Rates(d, b) for i, d, b in data["rates"]}
        for auth, sub, _user, _liq in data["users"]:
            sim.open_account(Pubkey.from_string(auth), sub)
        put(sim.state, data["state"])
        for i, raw in data["perp_markets"].items():
            put(sim.perp_markets[int(i)], raw)
        for i, raw in data["spot_markets"].items():
            put(sim.spot_markets[int(i)], raw)
        for auth, sub, raw, liq in data["users"]:
            acct = sim._accounts[(Pubkey.from_string(auth), sub)]
            put(acct.user, raw)
            acct.liquidation_start_ts = liq
        for auth, raw in data["user_stats"]:
            put(sim._stats[Pubkey.from_string(auth)], raw)
        for t, i, p in data["prices"]:
            sim._set_price(mkey(t, i), p)

        def acct_of(auth: str, sub: int) -> _Account:
            return sim._accounts[(Pubkey.from_string(auth), sub)]

        sim._resting = {
            mkey(t, i): [(acct_of(a, s), slot) for a, s, slot in v] for t, i, v in data["resting"]
        }
        sim._exposed = {
            mkey(t, i): {acct_of(a, s): None for a, s in v} for t, i, v in data["exposed"]
        }
        sim.now = data["now"]
        sim._seq = data["seq"]
        sim.records = [record_from_json(r) for r in data["records"]]
        return sim

    # ------------------------------------------------------------------ positions (slots)

    # ------------------------------------------------------------------ atomicity

    def snapshot(
        self,
        accounts: Iterable[UserKey] | None = None,
        markets: Iterable[MarketKey] | None = None,
        *,
        order_slots: bool = True,
    ) -> _Snapshot:
        """Everything an instruction can change, to undo it with `restore`: the State, every
        market, the Users (all, or those of `accounts`) and their UserStats (deep copies),
        oracle prices and the simulator's bookkeeping (records, counters, resting orders).

        With `markets` (the orders' markets, for `place_orders`) only what an order can
        write is copied: those markets and the quote spot market (USDC: a spot fill's
        quote leg, fees, settled pnl), not the State nor the other markets, which no
        order writes (ADR-0020, s6-entry2; tests/sim/test_narrow_undo.py).

        `order_slots=False` (`place_orders`) leaves the Users' order slots out of the
        copy (more than half of it): the call's one writer of a slot, `_rest_order`,
        keeps that slot in this copy before it writes it (`_undo`; ADR-0020, s7-entry;
        tests/sim/test_lazy_order_slots.py)."""
        keys = list(self._accounts) if accounts is None else list(accounts)
        accts = [self._account(k) for k in keys]
        snap = _Snapshot()
        if markets is None:
            snap.keep_deep(self.state, *self.perp_markets.values(), *self.spot_markets.values())
        else:
            snap.keep_deep(*self._order_markets(markets))
        if order_slots:
            snap.keep_deep(*(a.user for a in accts))
        else:
            snap.saved.extend((a.user, _clone_user_positions(a.user)) for a in accts)
        snap.keep_deep(*{id(a.stats): a.stats for a in accts}.values())
        snap.extra = {
            "accounts": dict(self._accounts),
            "stats": dict(self._stats),
            "drifts": dict(self._drifts),
            "records": len(self.records),
            "seq": self._seq,
            "now": self.now,
            "resting": {k: list(v) for k, v in self._resting.items()},
            "exposed": {k: dict(v) for k, v in self._exposed.items()},
            "rates": {i: _Rates(r.deposit, r.borrow) for i, r in self._rates.items()},
            "prices": dict(self._prices),
            "liquidation_start": {a.key: a.liquidation_start_ts for a in accts},
        }
        return snap

    def _order_markets(self, markets: Iterable[MarketKey]) -> list[Any]:
        """The market accounts an order on `markets` can write: each simulated one of
        them and the quote spot market, each once."""
        usdc = self.spot_markets[QUOTE_SPOT_MARKET_INDEX]
        out = {id(usdc): usdc}
        for kind, index in markets:
            table = self.perp_markets if kind is MarketType.PERP else self.spot_markets
            market = table.get(index)
            if market is not None:
                out.setdefault(id(market), market)
        return list(out.values())

    def restore(self, snap: _Snapshot) -> None:
        """Put back the state of `snapshot()` (into the same account objects)."""
        snap.restore()
        self._encoded.clear()
        self._encoded_stats.clear()
        e = snap.extra or {}
        for name in ("accounts", "stats", "drifts"):
            target = getattr(self, f"_{name}")
            target.clear()
            target.update(e[name])
        del self.records[e["records"] :]
        self._seq = e["seq"]
        self.now = e["now"]
        self._resting = {k: list(v) for k, v in e["resting"].items()}
        self._exposed = {k: dict(v) for k, v in e["exposed"].items()}
        self._rates = {i: _Rates(r.deposit, r.borrow) for i, r in e["rates"].items()}
        for mkey, price in e["prices"].items():
            if self._prices[mkey] != price:
                self._set_price(mkey, price)
        for key, start in e["liquidation_start"].items():
            if key in self._accounts:
                self._accounts[key].liquidation_start_ts = start
        for acct in self._accounts.values():
            acct.safe = None


__all__ = ["PersistenceMixin", "_Snapshot", "_clone", "_clone_fields"]
