"""Live RPC metering (metrics/rpc.py): the priority fee added for a landed transaction is
what the local chain charges for it (`localnet.chain`'s compute-budget reading, the
runtime's rule) with and without SetComputeUnitLimit, legacy and v0 messages; the
process-wide meter counts each connection once and leaves solana-py as it found it."""

from __future__ import annotations

import pytest
from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.hash import Hash
from solders.keypair import Keypair
from solders.message import Message, MessageV0
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction

from drift_engine.localnet.chain import _budget
from drift_engine.metrics.rpc import priority_fee_lamports


@pytest.mark.parametrize("version", ["legacy", 0])
@pytest.mark.parametrize(
    ("limit", "price", "others"),
    [
        (600_000, 5_000, 1),
        (None, 5_000, 1),
        (None, 7, 3),
        (None, 1_000, 9),
        (200_000, 0, 2),
        (1_500_000, 1, 1),
        (None, 0, 1),
    ],
)
def test_priority_fee_equals_what_the_chain_charges(version, limit, price, others):
    payer = Keypair()
    ixs = []
    if limit is not None:
        ixs.append(set_compute_unit_limit(limit))
    if price:
        ixs.append(set_compute_unit_price(price))
    ixs += [
        transfer(
            TransferParams(from_pubkey=payer.pubkey(), to_pubkey=Keypair().pubkey(), lamports=1)
        )
        for _ in range(others)
    ]
    blockhash = Hash.new_unique()
    if version == "legacy":
        msg = Message.new_with_blockhash(ixs, payer.pubkey(), blockhash)
    else:
        msg = MessageV0.try_compile(payer.pubkey(), ixs, [], blockhash)
    tx = VersionedTransaction(msg, [payer])
    charged = _budget(list(tx.message.account_keys), list(tx.message.instructions)).priority_fee
    assert priority_fee_lamports(tx) == charged


def test_metered_process_covers_every_connection_once_and_restores_the_provider():
    from solana.rpc.async_api import AsyncClient
    from solana.rpc.providers.async_http import AsyncHTTPProvider

    from drift_engine.metrics.rpc import meter_connection, metered_process
    from drift_engine.metrics.runner import RunnerMetrics

    original = AsyncHTTPProvider.make_request_unparsed
    metrics = RunnerMetrics()
    with metered_process(metrics):
        patched = AsyncHTTPProvider.make_request_unparsed
        assert patched is not original
        conn = AsyncClient("http://127.0.0.1:1")
        meter_connection(conn, metrics)  # the process meter counts it: not wrapped twice
        assert "make_request_unparsed" not in vars(conn._provider)
        with metered_process(RunnerMetrics()):  # nested: the outer one keeps counting
            assert AsyncHTTPProvider.make_request_unparsed is patched
    assert AsyncHTTPProvider.make_request_unparsed is original
