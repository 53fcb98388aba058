"""Shared helpers for the money-rule tests.

Every expected number in tests/money is computed by hand in the test (the arithmetic is
written out next to it), taken from the program's own Rust unit tests, or decoded from the
chain's raw account bytes: never from the function under test. Cases are chosen where the
wrong rounding or the wrong sign gives a different integer; `discriminates` says so in the
test itself, so a later change of inputs cannot quietly turn a case into a round number.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from drift_engine.core.types import MarketType, OrderIntent, OrderType, PositionDirection
from drift_engine.sim import DriftSimulator, PriceModel
from drift_engine.storage import Database
from drift_engine.storage.testing import throwaway_database_url
from drift_engine.vaults import VaultRegistry
from tests.live.conftest import keypair, keypair_file, make_client, world  # noqa: F401 - fixtures

PRICE = 10**6  # PRICE precision
QUOTE = 10**6  # QUOTE precision (micro-USDC)
BASE = 10**9  # perp BASE precision
T0 = 1_767_225_600  # 2026-01-01 00:00 UTC, on the hour
H = 3600

#: the engine and the opening deposit of the ledger-rule tests' vault (`vault_id`): an odd
#: amount, so a sum that drops or doubles it cannot come out round
LEDGER_ENGINE = "carry"
SEED = 1_000_000_007

#: fills exactly at the oracle price: the arithmetic is about the program's rules only
AT_ORACLE = PriceModel(half_spread_ppm=0, impact_ppm_at_reference=0)


def floor_div(a: int, b: int) -> int:
    return a // b


def ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def trunc_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def discriminates(numerator: int, denominator: int) -> bool:
    """True when floor, ceil and truncation of numerator / denominator are not all equal
    (the division is inexact), i.e. the case tells the roundings apart."""
    return numerator % denominator != 0


def perp(direction: str, base: int, index: int = 0, **kw) -> OrderIntent:
    return OrderIntent(index, MarketType.PERP, PositionDirection(direction), base, **kw)


def spot(direction: str, base: int, index: int = 1, **kw) -> OrderIntent:
    return OrderIntent(index, MarketType.SPOT, PositionDirection(direction), base, **kw)


def limit(direction: str, base: int, price: int, **kw) -> OrderIntent:
    return perp(direction, base, order_type=OrderType.LIMIT, price=price, **kw)


def make_sim(price: int = 100 * PRICE, *, ts: int = T0, **kw) -> DriftSimulator:
    """SOL-PERP and SOL spot (one oracle) with the real mainnet parameters, at `price`."""
    kw.setdefault("default_price_model", AT_ORACLE)
    return DriftSimulator({"SOL-PERP": price, "SOL": price}, ts=ts, **kw)


def funded(price: int = 100 * PRICE, usdc: int = 10_000 * QUOTE, **kw):
    sim = make_sim(price, **kw)
    k = sim.open_account()
    sim.deposit(k, "USDC", usdc, T0)
    return sim, k


@pytest.fixture(params=["sqlite", "postgresql"])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VaultRegistry]:
    """A vault registry on SQLite, and on PostgreSQL when DATABASE_URL is set
    (scripts/with_postgres.sh)."""
    if request.param == "postgresql" and not os.environ.get("DATABASE_URL"):
        pytest.skip("PostgreSQL variant runs when DATABASE_URL is set")
    with throwaway_database_url(request.param, tmp_path) as url:
        db = Database.open(url)
        yield VaultRegistry(db)
        db.dispose()


@pytest.fixture
def vault_id(registry: VaultRegistry) -> int:
    """A paper vault of engine `LEDGER_ENGINE` holding only its `SEED` deposit."""
    vault = registry.create_vault("carry-paper", LEDGER_ENGINE)
    registry.deposit(vault.id, SEED, key="seed")
    return vault.id
