"""The undo copy `place_orders` takes (`_clone`, not `copy.deepcopy`) restores every
account byte for byte, and equals the deep copy it replaces."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from drift_engine.core.program import idl_path
from drift_engine.sim import InsufficientCollateralError
from drift_engine.sim import persistence as persistence_module
from drift_engine.sim.simulator import _clone, _clone_fields

from .conftest import BASE, ORDER_LEG, PRICE, QUOTE, SOL, T0, limit, make_sim, order_leg, perp, spot

ACCOUNTS = ("State", "User", "UserStats", "PerpMarket", "SpotMarket")


def test_drift_accounts_have_fixed_field_types():
    """What `_clone`'s per-type plan relies on: no Option, Vec or enum variant with data
    anywhere in the accounts the simulator keeps (a field's type is its layout's)."""
    idl = json.loads(idl_path().read_text())
    types = {t["name"]: t["type"] for t in idl["types"]}
    found: list[str] = []
    seen: set[str] = set()

    def walk(ty, where: str) -> None:
        if isinstance(ty, str):
            return
        if "option" in ty or "coption" in ty or "vec" in ty:
            found.append(where)
        elif "array" in ty:
            walk(ty["array"][0], where)
        elif "defined" in ty:
            name = ty["defined"] if isinstance(ty["defined"], str) else ty["defined"]["name"]
            if name in seen:
                return
            seen.add(name)
            body = types[name]
            if body["kind"] == "struct":
                for f in body["fields"]:
                    walk(f["type"], f"{name}.{f['name']}")
            else:
                found.extend(f"{name}.{v['name']}" for v in body["variants"] if v.get("fields"))

    accounts = {a["name"]: a for a in idl["accounts"]}
    for name in ACCOUNTS:
        body = accounts[name].get("type") or types[name]
        for f in body["fields"]:
            walk(f["type"], f"{name}.{f['name']}")
    assert found == []


def _mutables(value, out: list[int]) -> None:
    if isinstance(value, list):
        out.append(id(value))
        for x in value:
            _mutables(x, out)
    elif getattr(value, "__dict__", None):
        out.append(id(value))
        for x in value.__dict__.values():
            _mutables(x, out)


def _busy_sim():
    sim = make_sim()
    k = sim.open_account()
    sim.deposit(k, "USDC", 10_000 * QUOTE, T0)
    sim.place_orders(k, [spot("long", 3 * SOL), perp("short", 3 * BASE)], T0 + 1)
    sim.place_order(k, limit("long", 1 * BASE, 90 * PRICE), T0 + 2)
    sim.update_funding("SOL-PERP", ts=T0 + 3600, funding_rate=1_000_000)
    return sim, k


def test_clone_equals_deepcopy_and_shares_nothing_mutable():
    from drift_engine.core.program import encode_account

    sim, k = _busy_sim()
    objs = {
        "State": [sim.state],
        "PerpMarket": list(sim.perp_markets.values()),
        "SpotMarket": list(sim.spot_markets.values()),
        "User": [sim.user(k)],
        "UserStats": [sim.user_stats()],
    }
    for name, accounts in objs.items():
        for acct in accounts:
            fast, deep = _clone(acct), copy.deepcopy(acct)
            assert type(fast) is type(deep)
            assert encode_account(name, fast) == encode_account(name, deep)
            assert fast == deep  # dataclass equality, field by field, nested
            a, b = [], []
            _mutables(acct, a)
            _mutables(fast, b)
            assert len(a) == len(b) and not set(a) & set(b)
            # the same container types (construct's ListContainer stays one)
            assert [type(v) for v in _clone_fields(acct).values()] == [
                type(v) for v in acct.__dict__.values()
            ]


def test_an_order_failing_midway_restores_every_account_byte():
    """A funded account with a position and a resting order places three legs: a spot
    buy (fills), a resting bid (placed), then a short far beyond its collateral
    (refused): everything the first two did is undone, byte for byte."""
    sim, k = _busy_sim()
    before, records = sim.account_bytes(), list(sim.records)
    resting = {m: list(v) for m, v in sim._resting.items()}
    with pytest.raises(InsufficientCollateralError):
        sim.place_orders(
            k,
            [
                spot("long", 2 * SOL),
                limit("long", 1 * BASE, 80 * PRICE),
                perp("short", 5_000 * BASE),
            ],
            T0 + 3601,
        )
    assert sim.account_bytes() == before
    assert sim.records == records
    assert {m: list(v) for m, v in sim._resting.items()} == resting
    # and the simulator goes on as if nothing had been tried
    (r,) = sim.place_orders(k, [spot("long", 1 * SOL)], T0 + 3602)
    assert r.status == "filled"


def _run(legs: list[tuple[str, int]], deep: bool, monkeypatch) -> tuple:
    if deep:
        # `_Snapshot.keep_deep` looks `_clone_fields` up in its own module
        monkeypatch.setattr(
            persistence_module, "_clone_fields", lambda obj: copy.deepcopy(obj.__dict__)
        )
    sim, k = _busy_sim()
    before = sim.account_bytes()
    try:
        results = sim.place_orders(k, [order_leg(*leg) for leg in legs], T0 + 3601)
        outcome = [(r.status, r.order_id, r.fills) for r in results]
    except Exception as exc:  # noqa: BLE001 - the refusal is part of the outcome
        outcome = type(exc).__name__
        event(f"refused: {outcome}")
        assert sim.account_bytes() == before
    # the state after, and after one more order, are the comparison
    sim.place_orders(k, [spot("long", SOL // 10)], T0 + 3602)
    monkeypatch.undo()
    return outcome, sim.account_bytes(), sim.records


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(legs=st.lists(ORDER_LEG, min_size=1, max_size=4))
def test_fast_undo_equals_deepcopy_undo(legs, monkeypatch):
    """Random multi-leg place_orders (some refused mid-way): the same outcome, the same
    account bytes and records with the fast undo copy as with `copy.deepcopy`."""
    assert _run(legs, False, monkeypatch) == _run(legs, True, monkeypatch)
