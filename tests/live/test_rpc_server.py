"""The local JSON-RPC server on its own: protocol, accounts, transactions, faults."""

from __future__ import annotations

import asyncio
import base64

import httpx
import pytest
from driftpy.constants.config import DRIFT_PROGRAM_ID
from solders.keypair import Keypair
from solders.message import MessageV0
from solders.transaction import VersionedTransaction

from drift_engine.core.accounts import user_pubkey
from drift_engine.core.builder import DriftInstructionBuilder
from drift_engine.core.program import account_name_of, decode_account
from drift_engine.localnet.chain import LocalChain
from drift_engine.localnet.rpc import LocalRpcServer
from tests.live.minimal_program import MinimalProgram


def rpc(url: str, method: str, params=None, *, rid: int = 1):
    body = {"jsonrpc": "2.0", "id": rid, "method": method, "params": params or []}
    return httpx.post(url, json=body, timeout=5).json()


@pytest.fixture
def server():
    prog = MinimalProgram()
    with LocalRpcServer(LocalChain(prog)) as srv:
        yield srv


def test_account_info_serves_idl_encoded_simulator_objects(server):
    prog = server.chain.program
    market = prog.perps[0]
    res = rpc(server.url, "getAccountInfo", [str(market.pubkey), {"encoding": "base64"}])
    value = res["result"]["value"]
    assert value["owner"] == str(DRIFT_PROGRAM_ID)
    data = base64.b64decode(value["data"][0])
    assert account_name_of(data) == "PerpMarket"
    decoded = decode_account(data)
    assert decoded.market_index == 0
    assert decoded.amm.order_step_size == market.amm.order_step_size
    # encode on read: a change to the program's object shows on the next read
    market.amm.order_step_size *= 2
    again = rpc(server.url, "getAccountInfo", [str(market.pubkey), {"encoding": "base64"}])
    assert decode_account(
        base64.b64decode(again["result"]["value"]["data"][0])
    ).amm.order_step_size == (market.amm.order_step_size)


def test_missing_account_is_null_and_unknown_method_is_an_error(server):
    assert rpc(server.url, "getAccountInfo", [str(Keypair().pubkey())])["result"]["value"] is None
    res = rpc(server.url, "getBlockProduction")
    assert res["error"]["code"] == -32601
    assert server.stats.unknown["getBlockProduction"] == 1


def test_batch_requests_and_multiple_accounts(server):
    prog = server.chain.program
    keys = [str(prog.perps[0].pubkey), str(Keypair().pubkey()), str(prog.spots[0].pubkey)]
    body = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "getMultipleAccounts",
            "params": [keys, {"encoding": "base64"}],
        },
        {"jsonrpc": "2.0", "id": 2, "method": "getSlot", "params": []},
    ]
    out = httpx.post(server.url, json=body, timeout=5).json()
    assert [r["id"] for r in out] == [1, 2]
    values = out[0]["result"]["value"]
    assert values[1] is None
    assert account_name_of(base64.b64decode(values[2]["data"][0])) == "SpotMarket"
    assert out[1]["result"] == server.chain.slot


def test_program_accounts_memcmp_and_data_size(server):
    prog = server.chain.program
    a, b = Keypair().pubkey(), Keypair().pubkey()
    for auth in (a, b):
        prog.initialize_user_stats(auth)
        prog.initialize_user(auth, 0, [32] * 32)
    import base58

    flt = {"memcmp": {"offset": 8, "bytes": base58.b58encode(bytes(a)).decode()}}
    res = rpc(
        server.url,
        "getProgramAccounts",
        [str(DRIFT_PROGRAM_ID), {"encoding": "base64", "filters": [flt]}],
    )
    names = sorted(
        account_name_of(base64.b64decode(x["account"]["data"][0])) for x in res["result"]
    )
    assert names == ["User", "UserStats"]  # both start with `authority` at offset 8
    user_addr = str(user_pubkey(a, 0))
    assert user_addr in {x["pubkey"] for x in res["result"]}
    size = len(base64.b64decode(res["result"][0]["account"]["data"][0]))
    sized = rpc(
        server.url,
        "getProgramAccounts",
        [str(DRIFT_PROGRAM_ID), {"encoding": "base64", "filters": [flt, {"dataSize": size}]}],
    )
    assert len(sized["result"]) == 1


def _signed(kp, ixs, blockhash):
    return VersionedTransaction(MessageV0.try_compile(kp.pubkey(), ixs, [], blockhash), [kp])


def _payer(server) -> Keypair:
    """A wallet with SOL for fees (the local chain charges them, as mainnet does)."""
    kp = Keypair()
    server.chain.airdrop(kp.pubkey(), 10**9)
    return kp


def test_send_verifies_signatures_blockhash_and_dedupes(server):
    prog = server.chain.program
    kp = _payer(server)
    prog.initialize_user_stats(kp.pubkey())
    prog.initialize_user(kp.pubkey(), 0, [32] * 32)
    builder = DriftInstructionBuilder(prog.catalog, kp.pubkey())
    from drift_engine.core.types import OrderIntent

    ix = builder.place_perp_order(
        OrderIntent(
            0, "perp", "short", 10**9, order_type="limit", price=160_000_000, user_order_id=9
        )
    )
    bh = server.chain.latest_blockhash()[0]
    tx = _signed(kp, [ix], bh)
    b64 = base64.b64encode(bytes(tx)).decode()
    # a tampered signature fails verification
    raw = bytearray(bytes(tx))
    raw[5] ^= 0xFF
    bad = rpc(
        server.url,
        "sendTransaction",
        [base64.b64encode(bytes(raw)).decode(), {"encoding": "base64"}],
    )
    assert bad["error"]["code"] == -32003
    ok = rpc(server.url, "sendTransaction", [b64, {"encoding": "base64"}])
    assert ok["result"] == str(tx.signatures[0])
    again = rpc(server.url, "sendTransaction", [b64, {"encoding": "base64"}])
    assert again["error"]["data"]["err"] == "AlreadyProcessed"
    assert prog.placed == [(0, 9)]
    # processed in its slot, confirmed a slot later, finalized 32 slots after landing
    status = lambda: rpc(server.url, "getSignatureStatuses", [[ok["result"]]])["result"][  # noqa: E731
        "value"
    ][0]
    st = status()
    assert st["err"] is None and st["confirmationStatus"] == "processed"
    assert st["confirmations"] == 0
    server.chain.advance(1)
    assert status()["confirmationStatus"] == "confirmed"
    server.chain.advance(31)
    assert status()["confirmationStatus"] == "finalized" and status()["confirmations"] is None
    # the base fee (one signature) and the priority fee were charged to the payer
    assert rpc(server.url, "getBalance", [str(kp.pubkey())])["result"]["value"] == 10**9 - 5000
    # an expired blockhash is rejected with the node's error shape
    server.chain.expire_blockhashes()
    tx2 = _signed(kp, [builder.cancel_order_by_user_id(9)], bh)
    exp = rpc(
        server.url,
        "sendTransaction",
        [base64.b64encode(bytes(tx2)).decode(), {"encoding": "base64"}],
    )
    assert exp["error"]["code"] == -32002
    assert exp["error"]["data"]["err"] == "BlockhashNotFound"


def test_failed_instruction_rolls_back_whole_transaction(server):
    prog = server.chain.program
    kp = _payer(server)
    prog.initialize_user_stats(kp.pubkey())
    prog.initialize_user(kp.pubkey(), 0, [32] * 32)
    builder = DriftInstructionBuilder(prog.catalog, kp.pubkey())
    from drift_engine.core.types import OrderIntent

    good = builder.place_perp_order(
        OrderIntent(
            0, "perp", "short", 10**9, order_type="limit", price=160_000_000, user_order_id=4
        )
    )
    bad = builder.cancel_order_by_user_id(77)  # no such order: UserHasNoOrder
    tx = _signed(kp, [good, bad], server.chain.latest_blockhash()[0])
    res = rpc(
        server.url,
        "sendTransaction",
        [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"}],
    )
    assert res["error"]["code"] == -32002
    assert res["error"]["data"]["err"] == {"InstructionError": [1, {"Custom": 6058}]}
    assert prog.placed == []
    sim = rpc(
        server.url,
        "simulateTransaction",
        [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"}],
    )
    assert sim["result"]["value"]["err"] == {"InstructionError": [1, {"Custom": 6058}]}
    assert prog.placed == []


def test_faults_429_and_dropped_response(server):
    server.faults.arm("http_429", "getSlot")
    r = httpx.post(server.url, json={"jsonrpc": "2.0", "id": 1, "method": "getSlot"}, timeout=5)
    assert r.status_code == 429
    server.faults.arm("drop_response", "getSlot")
    r = httpx.post(server.url, json={"jsonrpc": "2.0", "id": 1, "method": "getSlot"}, timeout=5)
    assert r.status_code == 504 and r.content == b""
    assert rpc(server.url, "getSlot")["result"] == server.chain.slot
    assert server.faults.fired == {"http_429": 1, "drop_response": 1}


def test_lost_confirmation_lands_but_hides_status(server):
    prog = server.chain.program
    kp = _payer(server)
    prog.initialize_user_stats(kp.pubkey())
    prog.initialize_user(kp.pubkey(), 0, [32] * 32)
    builder = DriftInstructionBuilder(prog.catalog, kp.pubkey())
    from drift_engine.core.types import OrderIntent

    ix = builder.place_perp_order(
        OrderIntent(
            0, "perp", "long", 10**9, order_type="limit", price=140_000_000, user_order_id=5
        )
    )
    tx = _signed(kp, [ix], server.chain.latest_blockhash()[0])
    server.faults.arm("lost_confirmation")
    res = rpc(
        server.url,
        "sendTransaction",
        [base64.b64encode(bytes(tx)).decode(), {"encoding": "base64"}],
    )
    assert res["result"] == str(tx.signatures[0])
    assert prog.placed == [(0, 5)]
    assert rpc(server.url, "getSignatureStatuses", [[res["result"]]])["result"]["value"] == [None]


def test_oracle_accounts_decode_to_exact_prices(server):
    from driftpy.accounts.oracle import decode_oracle

    from drift_engine.localnet.chain import encode_lazer_oracle

    m = server.chain.program.perps[0]
    for price in (150_000_000, 150_123_457, 1, 99_999_999_999, 63_123_456_789):
        data = encode_lazer_oracle(price, 1, m.amm.oracle_source)
        assert decode_oracle(data, m.amm.oracle_source).price == price
    res = rpc(server.url, "getAccountInfo", [str(m.amm.oracle), {"encoding": "base64"}])
    data = base64.b64decode(res["result"]["value"]["data"][0])
    assert decode_oracle(data, m.amm.oracle_source).price == 150_000_000


def test_server_stops_cleanly():
    srv = LocalRpcServer(LocalChain(MinimalProgram())).start()
    url = srv.url
    assert rpc(url, "getHealth")["result"] == "ok"
    srv.stop()
    with pytest.raises(httpx.HTTPError):
        httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "getHealth"}, timeout=2)


@pytest.mark.parametrize("version", ["v0", "legacy"])
def test_history_methods_parse_in_solana_py(server, version):
    """getSignaturesForAddress / getTransaction answers parse with solana-py + solders."""
    from solana.rpc.async_api import AsyncClient
    from solana.rpc.commitment import Confirmed
    from solders.message import Message

    from drift_engine.core.types import OrderIntent
    from drift_engine.live.client import drift_events

    prog = server.chain.program
    kp = _payer(server)
    prog.initialize_user_stats(kp.pubkey())
    prog.initialize_user(kp.pubkey(), 0, [32] * 32)
    builder = DriftInstructionBuilder(prog.catalog, kp.pubkey())
    ix = builder.place_perp_order(
        OrderIntent(
            0, "perp", "short", 10**9, order_type="limit", price=160_000_000, user_order_id=3
        )
    )
    bh = server.chain.latest_blockhash()[0]
    if version == "v0":
        tx = _signed(kp, [ix], bh)
    else:
        tx = VersionedTransaction(Message.new_with_blockhash([ix], kp.pubkey(), bh), [kp])
    sig = server.chain.send_transaction(bytes(tx))
    user = user_pubkey(kp.pubkey(), 0)

    async def listed(commitment=None):
        conn = AsyncClient(server.url)
        try:
            got = await conn.get_signatures_for_address(user, limit=10, commitment=commitment)
            return [s.signature for s in got.value]
        finally:
            await conn.close()

    # history shows a transaction only at the commitment asked (default: finalized)
    assert asyncio.run(listed(Confirmed)) == []
    server.chain.advance(1)
    assert asyncio.run(listed(Confirmed)) == [sig] and asyncio.run(listed()) == []
    server.chain.advance(31)

    async def read():
        conn = AsyncClient(server.url)
        try:
            sigs = await conn.get_signatures_for_address(user, limit=10)
            assert [s.signature for s in sigs.value] == [sig]
            got = await conn.get_transaction(
                sig, encoding="base64", max_supported_transaction_version=0
            )
            return got.value
        finally:
            await conn.close()

    value = asyncio.run(read())
    assert value.slot == server.chain.signatures[sig].slot
    assert value.transaction.meta.err is None
    logs = value.transaction.meta.log_messages
    assert any("Instruction: PlacePerpOrder" in line for line in logs)
    assert drift_events(logs) == []  # the minimal program reports no placed orders
