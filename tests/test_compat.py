"""`delta_neutral.drift_order_builder` still imports, warns, and is the core builder."""

from __future__ import annotations

import importlib
import sys

import pytest

import drift_engine.core.builder as builder
import drift_engine.core.types as types

MODULE = "delta_neutral.drift_order_builder"


def _fresh_import():
    sys.modules.pop(MODULE, None)
    return importlib.import_module(MODULE)


def test_import_emits_deprecation_warning():
    with pytest.warns(DeprecationWarning, match=r"drift_engine\.core\.builder"):
        _fresh_import()


def test_plain_import_statement_warns_too():
    sys.modules.pop(MODULE, None)
    with pytest.warns(DeprecationWarning):
        import delta_neutral.drift_order_builder  # noqa: F401


def test_reexports_the_builder_and_the_types():
    with pytest.warns(DeprecationWarning):
        mod = _fresh_import()
    assert mod.DriftInstructionBuilder is builder.DriftInstructionBuilder
    assert mod.DriftOrderBuilder is builder.DriftInstructionBuilder
    assert mod.UserAccountsView is builder.UserAccountsView
    for name in (
        "OrderIntent",
        "OrderModification",
        "OrderType",
        "MarketType",
        "PositionDirection",
        "PostOnly",
        "TriggerCondition",
        "DriftPosition",
        "DriftMarginMetrics",
        "OrderValidationError",
    ):
        assert getattr(mod, name) is getattr(types, name), name
    assert set(mod.__all__) <= set(dir(mod))


def test_old_import_path_builds_instructions():
    from solders.keypair import Keypair

    with pytest.warns(DeprecationWarning):
        mod = _fresh_import()
    b = mod.DriftOrderBuilder(mod.MarketCatalog.from_constants(), Keypair().pubkey(), 0)
    intent = mod.OrderIntent(0, mod.MarketType.PERP, mod.PositionDirection.SHORT, 10**9)
    assert b.place_perp_order(intent).program_id == b.program_id


def test_package_itself_does_not_warn(recwarn):
    sys.modules.pop("delta_neutral", None)
    sys.modules.pop(MODULE, None)
    importlib.import_module("delta_neutral")
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
