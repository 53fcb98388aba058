"""Batched reads (issue 12 item 3) on the unkind local chain, counted by the RPC itself:
a tick of many sub-accounts is one read round trip; history is read only for the
sub-accounts whose User account changed, its transactions fetched in one JSON-RPC batch;
a node behind the slot already seen (`minContextSlot`) is retried or refused, never
taken for the account's state."""

from __future__ import annotations

import httpx
import pytest

from drift_engine.core.types import MarketType, OrderIntent
from drift_engine.live.client import RpcUnavailableError
from drift_engine.live.reads import read_all
from drift_engine.venues.live import LiveVenue
from tests.live.conftest import USDC

SOL = 10**9
SUBS = 3


def _fund(world, make_client, sub: int) -> None:
    client = make_client(world.server, sub_account_id=sub, now=lambda: world.sim.now)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(100 * USDC, 0))
    client.close_blocking()


class Lanes:
    """What `LiveRunner` does per tick for live engines' reads: the feed's batched read
    handed to every venue, then each engine's poll (its step) and its vault sync read."""

    def __init__(self, world, make_client, subs: int) -> None:
        self.reader = make_client(world.server, now=lambda: world.sim.now)
        self.reader.run(self.reader.connect())
        self.venues = []
        for sub in range(subs):
            client = make_client(world.server, sub_account_id=sub, now=lambda: world.sim.now)
            venue = LiveVenue(client)
            venue.connect()
            self.venues.append(venue)

    def tick(self, ts: int) -> list[list]:
        clients = [self.reader, *(v.client for v in self.venues)]
        states = self.reader.run(read_all(self.reader, clients))
        for i, venue in enumerate(self.venues, start=1):
            venue.preload(states[i])
        events = []
        for venue in self.venues:
            events.append(venue.poll_events(ts))
            venue.read_for_sync()
        return events

    def close(self) -> None:
        for c in [self.reader, *(v.client for v in self.venues)]:
            c.close_blocking()


def _counts(server) -> tuple[int, dict[str, int], dict[str, int]]:
    return server.stats.requests, dict(server.stats.calls), dict(server.stats.trips)


def _delta(server, before) -> tuple[int, dict[str, int], dict[str, int]]:
    requests, calls, trips = before
    return (
        server.stats.requests - requests,
        {m: d for m, n in server.stats.calls.items() if (d := n - calls.get(m, 0))},
        {m: d for m, n in server.stats.trips.items() if (d := n - trips.get(m, 0))},
    )


def test_a_tick_is_one_read_round_trip_and_reads_history_only_for_changed_accounts(
    world, make_client
):
    for sub in range(SUBS):
        _fund(world, make_client, sub)
    lanes = Lanes(world, make_client, SUBS)
    world.wait(1)
    lanes.tick(world.sim.now)  # first scan of every account
    world.wait(1)
    lanes.tick(world.sim.now)  # a later scan that finds nothing new: settled
    world.wait(1)

    before = _counts(world.server)
    events = lanes.tick(world.sim.now)
    requests, calls, trips = _delta(world.server, before)
    assert events == [[]] * SUBS
    assert requests == 1 and trips == {"getMultipleAccounts": 1}
    assert calls.get("getSignaturesForAddress", 0) == 0 and calls.get("getTransaction", 0) == 0
    assert all(v.history_skipped >= 1 for v in lanes.venues)

    # someone else places an order on sub-account 1 (its User changes): only its history
    # is read, and its transactions come in one batched round trip
    hand = make_client(world.server, sub_account_id=1, now=lambda: world.sim.now)
    hand.run(hand.connect())
    intent = OrderIntent(
        0, MarketType.PERP, "long", SOL, order_type="limit", price=100_000_000, user_order_id=7
    )
    hand.run(hand.place_orders([intent]))
    hand.close_blocking()
    world.wait(1)
    before = _counts(world.server)
    events = lanes.tick(world.sim.now)
    requests, calls, trips = _delta(world.server, before)
    assert events[0] == [] and events[2] == []
    placed = [e for e in events[1] if getattr(e, "action", None) == "placed"]
    assert [e.user_order_id for e in placed] == [7]
    assert calls["getSignaturesForAddress"] == 1  # sub-account 1 only
    assert calls["getTransaction"] >= 1 and trips["getTransaction"] == 1
    assert trips["getMultipleAccounts"] == 1

    # the next tick scans sub-account 1 once more (a lagging history index is covered),
    # finds nothing new, and from then on its history is skipped too
    world.wait(1)
    before = _counts(world.server)
    assert lanes.tick(world.sim.now) == [[]] * SUBS
    _requests, calls, _trips = _delta(world.server, before)
    assert calls.get("getSignaturesForAddress") == 1 and "getTransaction" not in calls
    world.wait(1)
    before = _counts(world.server)
    assert lanes.tick(world.sim.now) == [[]] * SUBS
    assert _delta(world.server, before)[0] == 1
    lanes.close()


def test_history_transactions_come_in_one_batched_round_trip(world, make_client):
    client = make_client(world.server, now=lambda: world.sim.now)
    client.run(client.connect())
    client.run(client.initialize_user())
    for _ in range(5):
        client.run(client.deposit(10 * USDC, 0))
    world.wait(1)
    before = _counts(world.server)
    history = client.run(client.history_since(None))
    requests, calls, trips = _delta(world.server, before)
    assert len(history) == 6  # initialize_user and 5 deposits
    assert calls["getTransaction"] == 6 and trips["getTransaction"] == 1
    assert requests == 2  # one page of signatures, one batch of transactions
    client.close_blocking()


def test_the_local_rpc_answers_32016_below_min_context_slot(world):
    slot = world.chain.sync()
    body = [
        {
            "jsonrpc": "2.0",
            "id": i,
            "method": "getMultipleAccounts",
            "params": [[str(world.keypair.pubkey())], {"minContextSlot": floor}],
        }
        for i, floor in enumerate((slot - 40, slot + 5))
    ]
    answers = httpx.post(world.server.url, json=body).json()
    assert answers[0]["result"]["context"]["slot"] >= slot - 40
    assert answers[1]["error"]["code"] == -32016
    assert answers[1]["error"]["message"] == "Minimum context slot has not been reached"


def test_a_lagging_node_is_retried_never_taken_for_a_stale_account(world, make_client):
    client = make_client(world.server, now=lambda: world.sim.now)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(100 * USDC, 0))
    fresh = client.run(client.refresh())
    assert fresh.spot_balance(0) > 0 and client.slot_floor >= fresh.slot

    # a read without the floor takes the lagging node's answer: from before the deposit
    world.server.faults.lag_node(20, count=1)
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "getMultipleAccounts",
        "params": [[str(client.user_pubkey)], {"encoding": "base64", "commitment": "confirmed"}],
    }
    stale = httpx.post(world.server.url, json=body).json()["result"]
    assert stale["context"]["slot"] < fresh.slot
    assert stale["value"][0] is None or _usdc(stale["value"][0]) == 0

    # the client that saw the deposit's slot asks for it: the lagging answers are -32016,
    # retried, and the read it returns is at least as new as what it saw
    world.server.faults.lag_node(20, count=2)
    fired = world.server.faults.fired["lag_node"]
    state = client.run(client.refresh())
    assert world.server.faults.fired["lag_node"] - fired == 2
    assert state.slot >= fresh.slot and state.spot_balance(0) == fresh.spot_balance(0)

    # a node that stays behind: refused with a clear message, nothing stale returned
    world.server.faults.lag_node(20, count=client.config.max_attempts)
    with pytest.raises(RpcUnavailableError, match="minContextSlot not reached"):
        client.run(client.refresh())
    world.server.faults.clear()
    client.close_blocking()


def _usdc(value: dict) -> int:
    """The USDC scaled balance of a User account in a JSON-RPC answer."""
    import base64

    from drift_engine.core.program import drift_program

    data = base64.b64decode(value["data"][0])
    user = drift_program().coder.accounts.decode(data)
    return user.spot_positions[0].scaled_balance


def test_live_runner_reads_history_only_for_the_changed_vault_and_ledgers_equal_the_chain(
    world, make_client, tmp_path
):
    from drift_engine.engine.market_board import MarketBoard
    from drift_engine.live.runner import LiveRunner
    from drift_engine.live.start import ChainMarketData, LiveEngineStack
    from drift_engine.storage.database import Database
    from tests.live.live_helpers import chain_cash, dn_strategy

    for sub in (0, 1):
        _fund(world, make_client, sub)
    db = Database.open(f"sqlite:///{tmp_path / 'live.db'}")
    clients = [
        make_client(world.server, sub_account_id=sub, now=lambda: world.sim.now) for sub in (0, 1)
    ]
    board = MarketBoard(["SOL-PERP"])
    ChainMarketData(board).update(clients[0].run(clients[0].connect()))
    stacks = [LiveEngineStack(db, c, engine_id=f"engine-{i}") for i, c in enumerate(clients)]
    for stack in stacks:
        stack.start(dn_strategy(), board, world.sim.now).start(world.sim.now)
    runner = LiveRunner(stacks, board, store=stacks[0].store)

    def tick():
        world.wait(2)
        result = runner.tick(world.sim.now)
        assert result.errors == []
        return result

    try:
        for _ in range(3):
            tick()
        before = _counts(world.server)
        tick()
        _requests, calls, trips = _delta(world.server, before)
        assert trips["getMultipleAccounts"] == 1  # the feed's read for both engines
        assert "getSignaturesForAddress" not in calls and "getTransaction" not in calls

        # USDC deposited into engine-1's sub-account from outside: only its history is
        # read, and its vault books it so that the ledger equals the chain
        hand = make_client(world.server, sub_account_id=1, now=lambda: world.sim.now)
        hand.run(hand.connect())
        hand.run(hand.deposit(25 * USDC, 0))
        hand.close_blocking()
        before = _counts(world.server)
        tick()
        _requests, calls, trips = _delta(world.server, before)
        assert calls["getSignaturesForAddress"] == 1 and trips["getTransaction"] == 1
        tick()
        tick()
        for i, stack in enumerate(stacks):
            assert stack.registry.ledger.balance(stack.vault_id) == chain_cash(world, i)
        assert chain_cash(world, 1) == chain_cash(world, 0) + 25 * USDC
    finally:
        runner.close()
