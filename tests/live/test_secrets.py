"""The keypair's secret never shows: not in logs, stdout/stderr, exceptions, reprs, nor in
anything the local chain stored or served."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import pickle

import base58
import httpx
import pytest
from driftpy.constants.config import DRIFT_PROGRAM_ID

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.live.client import (
    DriftClient,
    KeypairFileError,
    TransactionFailedError,
    load_keypair,
)
from tests.live.conftest import USDC, fast_config


def secret_forms(keypair) -> list[str]:
    raw = bytes(keypair)  # 64 bytes: secret seed + public key
    seed = raw[:32]
    return [
        str(keypair),  # base58 of the 64 bytes (what `solana-keygen` prints)
        base58.b58encode(raw).decode(),
        base58.b58encode(seed).decode(),
        json.dumps(list(raw)),  # the keypair file's JSON form
        json.dumps(list(raw), separators=(",", ":")),
        ", ".join(str(b) for b in seed[:16]),  # a JSON fragment of the secret half
        ",".join(str(b) for b in seed[:16]),
        seed.hex(),
        base64.b64encode(seed).decode(),
    ]


def assert_clean(text: str, keypair) -> None:
    for form in secret_forms(keypair):
        assert form not in text, f"secret material ({form[:6]}...) leaked"


def test_no_secret_in_logs_errors_reprs_or_server_state(
    world, keypair, keypair_file, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []

    async def scenario():
        client = DriftClient.from_keypair_file(
            fast_config(world.server.url), keypair_file, clock=world.clock
        )
        texts.extend([repr(client), str(client), repr(client._signer), str(client._signer)])
        async with client:
            await client.initialize_user()
            await client.deposit(1_000 * USDC, 0)
            f = world.server.faults
            f.arm("lost_confirmation")
            f.arm("drop_response", "sendTransaction")
            f.arm("http_429", "getMultipleAccounts")
            f.arm("expired_blockhash")
            out = await client.place_orders(
                [
                    OrderIntent(1, MarketType.SPOT, "long", 10**9, user_order_id=1),
                    OrderIntent(0, MarketType.PERP, "short", 10**9, user_order_id=2),
                ]
            )
            texts.extend([repr(out), repr(client.last_state)])
            with pytest.raises(TransactionFailedError) as err:
                await client.withdraw(1_000_000 * USDC, 0)
            texts.extend([str(err.value), repr(err.value), "\n".join(err.value.logs)])
            with pytest.raises(TypeError):
                pickle.dumps(client._signer)

    asyncio.run(scenario())

    # keypair files that are wrong in ways that tempt an error message to quote them
    raw = list(bytes(keypair))
    bad_files = {
        "short.json": json.dumps(raw[:63]),
        "notjson.json": str(keypair) + " " + json.dumps(raw)[:-1],
        "range.json": json.dumps([*raw[:63], 999]),
        "dict.json": json.dumps({"secret": raw}),
    }
    for name, content in bad_files.items():
        path = keypair_file.parent / name
        path.write_text(content)
        with pytest.raises(KeypairFileError) as err:
            load_keypair(path)
        texts.extend([str(err.value), repr(err.value)])
    with pytest.raises(KeypairFileError) as err:
        load_keypair(keypair_file.parent / "missing.json")
    texts.append(str(err.value))
    assert load_keypair(keypair_file).pubkey() == keypair.pubkey()

    # server side: every transaction record, log line, counter, simulator record ...
    chain = world.chain
    texts.extend(repr(rec) for rec in chain.signatures.values())
    texts.extend(line for rec in chain.signatures.values() for line in rec.logs)
    texts.append(repr(world.server.stats))
    texts.extend(repr(r) for r in world.sim.records)
    # ... and every account the chain serves, raw and as the RPC encodes it
    served = httpx.post(
        world.server.url,
        json={
            "jsonrpc": "2.0",
            "id": 1,
            "method": "getProgramAccounts",
            "params": [str(DRIFT_PROGRAM_ID), {"encoding": "base64"}],
        },
        timeout=10,
    ).text
    texts.append(served)
    seed = bytes(keypair)[:32]
    for make in chain._sources().values():
        assert seed not in make().data

    out, err_out = capfd.readouterr()
    texts.extend([out, err_out])
    texts.extend(r.getMessage() for r in caplog.records)
    texts.append(caplog.text)
    assert any(r.name == "drift_engine.live.client" for r in caplog.records)  # logs were live
    assert any(r.name == "drift_engine.localnet.rpc" for r in caplog.records)
    assert_clean("\n".join(texts), keypair)


def test_the_detector_catches_each_form(keypair):
    """Guard the guard: each secret form, if it did appear, would fail `assert_clean`."""
    leaks = [repr(keypair), json.dumps(list(bytes(keypair))), bytes(keypair)[:32].hex()]
    for leak in leaks:
        with pytest.raises(AssertionError):
            assert_clean(f"log line: {leak}", keypair)
