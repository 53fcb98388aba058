"""Transactions that land (issue 12, part 1) on the unkind local chain, through the real
client: under congestion a zero-fee transaction is dropped and the dynamic priority fee
lands it; the compute-unit limit comes from simulation; the same signed bytes are
re-broadcast until confirmed or expired, and a transaction is re-signed only once the
chain's block height proves its blockhash expired — no order is ever placed twice."""

from __future__ import annotations

import pytest

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.engine.execution import ExecutionConfig, OrderPricer
from drift_engine.live.client import (
    TransactionExpiredError,
    TransactionUnconfirmedError,
)
from drift_engine.live.fees import MAX_COMPUTE_UNIT_LIMIT, compute_unit_limit, priority_fee
from drift_engine.localnet.chain import MAX_BLOCKHASH_AGE
from tests.live.conftest import USDC

SOL = 10**9
FLOOR = 50_000  # micro-lamports per CU the congested leader asks for


def _ready(world, make_client, **kw):
    client = make_client(world.server, now=lambda: world.sim.now, **kw)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(5_000 * USDC, 0))
    return client


def _taker(world, uid: int, direction="short", size=SOL):
    pricer = OrderPricer(ExecutionConfig(worst_price_bps=50, auction_duration=10, order_ttl_s=600))
    intent = OrderIntent(0, MarketType.PERP, direction, size, user_order_id=uid)
    return pricer.price(intent, world.sim.oracle_price("SOL-PERP"), world.sim.now)


def test_priority_fee_is_a_capped_percentile():
    fees = [0, 0, 10, 20, 30, 40, 50, 60, 70, 1_000]
    assert priority_fee(fees, 50, 10**6) == 30
    assert priority_fee(fees, 75, 10**6) == 60
    assert priority_fee(fees, 100, 10**6) == 1_000
    assert priority_fee(fees, 100, 500) == 500  # the operator's cap wins
    assert priority_fee([], 75, 500) == 0
    with pytest.raises(ValueError):
        priority_fee(fees, 0, 10)


def test_compute_unit_limit_is_simulated_units_plus_margin():
    assert compute_unit_limit(100_000, 20) == 120_000
    assert compute_unit_limit(100_001, 20) == 120_002  # rounded up
    assert compute_unit_limit(0, 20) == 1_000
    assert compute_unit_limit(1_300_000, 20) == MAX_COMPUTE_UNIT_LIMIT


def test_congestion_drops_a_zero_fee_transaction_and_the_dynamic_fee_lands_it(world, make_client):
    zero = _ready(world, make_client, compute_unit_price=0, confirm_timeout_s=120, max_attempts=1)
    world.server.faults.congest(FLOOR)
    with pytest.raises(TransactionExpiredError, match="never landed"):
        zero.run(zero.place_orders([_taker(world, 7)]))  # dropped, re-broadcast, expired
    sigs = [s for s, _h, _lv in world.chain.received[-40:]]
    dropped = sigs[-1]
    assert dropped in world.chain.dropped and dropped not in world.chain.signatures
    assert sigs.count(dropped) > 10  # the same bytes, re-broadcast every ~2 s
    assert world.placements(7) == set()

    dynamic = make_client(world.server, now=lambda: world.sim.now)  # defaults: dynamic
    dynamic.run(dynamic.connect())
    out = dynamic.run(dynamic.place_orders([_taker(world, 8)]))
    assert out.status == "confirmed" and out.attempts == 1
    rec = next(r for s, r in world.chain.signatures.items() if str(s) == out.signature)
    assert rec.unit_price == FLOOR  # the recent fees' percentile: what lands now
    assert 0 < rec.units <= compute_unit_limit(rec.units, 20) < 600_000  # simulated, not fixed
    assert len(world.placements(8)) == 1
    zero.close_blocking()
    dynamic.close_blocking()


def test_resigned_only_after_expiry_is_proven_and_no_duplicate(world, make_client):
    """The first transaction pays at most the cap (below the congestion floor) and is
    dropped for 70 s; the client re-broadcasts it until the block height passes its last
    valid height, finds no trace, and only then signs a new one, which lands."""
    client = _ready(world, make_client, max_compute_unit_price=10_000, confirm_timeout_s=200)
    world.server.faults.congest(FLOOR, seconds=70)
    mark = len(world.chain.received)
    out = client.run(client.place_orders([_taker(world, 9), _taker(world, 10, "long", SOL)]))
    assert out.status == "confirmed" and out.attempts == 2
    received = world.chain.received[mark:]
    first_sig, _h, first_last_valid = received[0]
    first_sends = [h for s, h, _ in received if s == first_sig]
    later = [(s, h) for s, h, _ in received if s != first_sig]
    assert len(first_sends) > 10
    assert later, "a second transaction was signed"
    resign_height = later[0][1]
    assert first_last_valid is not None
    assert resign_height > first_last_valid  # re-signed only after expiry was proven
    assert first_last_valid - first_sends[0] == MAX_BLOCKHASH_AGE
    assert first_sig not in world.chain.signatures  # it never landed
    assert {str(s) for s, _ in later} == {out.signature}
    for uid in (9, 10):  # counting the program's orders by user order id: no duplicate
        assert len(world.placements(uid)) == 1, world.placements(uid)
    client.close_blocking()


def test_unconfirmed_within_the_timeout_is_unknown_not_rejected(world, make_client):
    client = _ready(world, make_client, compute_unit_price=0, confirm_timeout_s=10, max_attempts=1)
    world.server.faults.congest(FLOOR)
    with pytest.raises(TransactionUnconfirmedError) as unknown:
        client.run(client.place_orders([_taker(world, 11)]))
    exc = unknown.value
    assert exc.signatures and exc.last_valid_block_height > world.chain.block_height
    client.close_blocking()


def test_the_asked_commitment_is_checked(world, make_client):
    """Asking for "finalized" waits the chain's 32 slots; "confirmed" does not."""
    client = _ready(world, make_client, commitment="finalized", confirm_timeout_s=60)
    before = world.chain.sync()
    out = client.run(client.place_orders([_taker(world, 12)]))
    assert out.status == "confirmed"
    assert world.chain.sync() - out.slot >= world.config.finalize_after_slots
    assert world.chain.sync() - before >= world.config.finalize_after_slots
    client.close_blocking()
