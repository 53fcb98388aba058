"""`core.margin.oracle_id` is driftpy's `get_oracle_id` kept per (oracle address, source
variant): the same id for every source the IDL defines, including the SDK's own
quirks (its substring match reads `Pyth1KPull` as `Pyth1K`), for the mainnet markets'
real oracles and a fresh address."""

from __future__ import annotations

import attrs
import pytest
from driftpy.oracles.oracle_id import get_oracle_id
from driftpy.types import OracleSource
from solders.keypair import Keypair

from drift_engine.core.margin import oracle_id
from tests.core.test_margin_support import markets

VARIANTS = [
    getattr(OracleSource, name)
    for name in dir(OracleSource)
    if not name.startswith("_") and isinstance(getattr(OracleSource, name), type)
]


def _oracles() -> list:
    perp, spot = markets()
    real = [m.amm.oracle for m in perp.values()] + [m.oracle for m in spot.values()]
    return [*dict.fromkeys(real), Keypair.from_seed(bytes(32)).pubkey()]


def test_every_source_variant_is_a_value_without_fields():
    # the key is the variant's type: right only while no variant carries data
    assert len(VARIANTS) >= 16
    assert all(attrs.fields(v) == () for v in VARIANTS)


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.__name__)
def test_the_kept_id_is_the_sdks(variant):
    for oracle in _oracles():
        source = variant()
        try:
            expected = get_oracle_id(oracle, source)
        except ValueError:  # a source the SDK has no number for: ours raises the same
            with pytest.raises(ValueError):
                oracle_id(oracle, source)
            continue
        assert oracle_id(oracle, source) == expected
        assert oracle_id(oracle, variant()) == expected  # kept: asked again, same id
