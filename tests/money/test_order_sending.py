"""Order sending on the local chain: no user order id twice in one send, and a resend
the chain answers "AlreadyProcessed" is a landing, not a failure and not a rebuild.

Counts come from the chain itself (the simulator behind the local RPC: its own order
records and token balances), not from the client's view.
"""

from __future__ import annotations

import logging

import pytest

from drift_engine.core.client import DriftClientError
from drift_engine.core.types import MarketType, OrderIntent, OrderType
from tests.live.conftest import USDC

SOL = 10**9


def resting(uid: int, price: int) -> OrderIntent:
    return OrderIntent(
        0, MarketType.PERP, "long", SOL, order_type=OrderType.LIMIT, price=price, user_order_id=uid
    )


def ready(world, make_client, **kw):
    client = make_client(world.server, now=lambda: world.sim.now, **kw)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(5_000 * USDC, 0))
    return client


def place_signatures(world) -> int:
    return sum(1 for rec in world.chain.signatures.values() if "place_orders" in rec.instructions)


def test_two_orders_with_one_user_order_id_in_one_send_are_refused_before_signing(
    world, make_client
):
    client = ready(world, make_client)
    try:
        with pytest.raises(DriftClientError, match="user_order_id 7 is already in use"):
            client.run(client.place_orders([resting(7, 100_000_000), resting(7, 99_000_000)]))
        assert place_signatures(world) == 0
        assert world.placements(7) == set()
        # an id held by an open order is refused too; a fresh one is fine
        client.run(client.place_orders([resting(8, 100_000_000)]))
        with pytest.raises(DriftClientError, match="user_order_id 8 is already in use"):
            client.run(client.place_orders([resting(8, 99_000_000)]))
        assert len(world.placements(8)) == 1
    finally:
        client.close_blocking()


def test_ids_given_to_unnumbered_orders_skip_the_ones_taken_in_the_same_send(world, make_client):
    client = ready(world, make_client)
    try:
        auto = OrderIntent(
            0, MarketType.PERP, "long", SOL, order_type=OrderType.LIMIT, price=98_000_000
        )
        out = client.run(
            client.place_orders([resting(1, 100_000_000), auto, resting(3, 99_000_000)])
        )
        assert out.user_order_ids[0] == 1 and out.user_order_ids[2] == 3
        assert out.user_order_ids[1] not in (0, 1, 3)
        assert len(set(out.user_order_ids)) == 3
        state = client.run(client.refresh())
        assert sorted(o.user_order_id for o in state.open_orders) == sorted(out.user_order_ids)
    finally:
        client.close_blocking()


def test_already_processed_resend_is_a_landing_not_a_rebuild(world, make_client, caplog):
    """The deposit lands but its status never shows (lost confirmation) and the next
    account read comes from a node one step behind: the client resends the same signed
    bytes, the chain answers AlreadyProcessed, and the deposit counts exactly once."""
    client = ready(world, make_client, confirm_timeout_s=0.3)
    try:
        rpc = client._rpc  # the solana AsyncClient: we stand between it and the node
        # account reads go out as one JSON-RPC batch (`_batch`); sends through the client
        real_read, real_send = client._batch, rpc.send_raw_transaction
        last: dict = {}
        lag = {"armed": False}
        sent: list[bytes] = []

        async def lagging_read(reqs, parser):
            if parser.__name__ != "GetMultipleAccountsResp":
                return await real_read(reqs, parser)  # history reads pass through
            if lag["armed"] and "resp" in last:
                lag["armed"] = False
                return last["resp"]  # one stale answer from a node behind
            resp = await real_read(reqs, parser)
            last["resp"] = resp
            return resp

        async def recording_send(raw, *a, **kw):
            sent.append(bytes(raw))
            if len(sent) == 1:
                lag["armed"] = True
            return await real_send(raw, *a, **kw)

        client._batch, rpc.send_raw_transaction = lagging_read, recording_send
        before = world.sim.token_amount(world.key, "USDC")
        world.server.faults.arm("lost_confirmation")
        with caplog.at_level(logging.INFO, logger="drift_engine.live.client"):
            out = client.run(client.deposit(1_234_567, 0))
        assert any("already processed" in r.getMessage() for r in caplog.records)
        assert world.server.faults.fired["lost_confirmation"] == 1
        assert len(sent) >= 2 and sent[0] == sent[1]  # the same bytes, never rebuilt
        assert out.status == "already_landed"
        assert world.sim.token_amount(world.key, "USDC") == before + 1_234_567
    finally:
        client.close_blocking()


def test_no_orders_before_the_sub_account_exists(world, make_client):
    client = make_client(world.server, now=lambda: world.sim.now)
    try:
        client.run(client.connect())
        with pytest.raises(DriftClientError, match="^sub-account 0 does not exist$"):
            client.run(client.place_orders([resting(4, 100_000_000)]))
        assert place_signatures(world) == 0
    finally:
        client.close_blocking()


@pytest.mark.parametrize(
    ("kind", "seen_by"),
    [("resting", "its order slot"), ("filled", "the program's OrderRecord in the history")],
)
def test_a_lost_confirmation_is_recognised_as_landed_once(world, make_client, kind, seen_by):
    """The send lands but its status never shows: the client finds the orders on chain
    (a resting order in its slot; a filled one, which leaves no slot, in the logs) and
    reports them landed, placed exactly once."""
    client = ready(world, make_client, confirm_timeout_s=0.3)
    try:
        order = (
            resting(11, 100_000_000)
            if kind == "resting"
            else OrderIntent(0, MarketType.PERP, "short", SOL, user_order_id=11)
        )
        world.server.faults.arm("lost_confirmation")
        out = client.run(client.place_orders([order]))
        assert out.status == "already_landed", seen_by
        assert out.user_order_ids == (11,) and out.signature is None
        assert len(world.placements(11)) == 1
        assert place_signatures(world) == 1
    finally:
        client.close_blocking()


def test_an_order_the_program_refuses_is_an_error_naming_the_operation(world, make_client):
    client = ready(world, make_client)
    try:
        from drift_engine.core.client import TransactionFailedError

        huge = OrderIntent(0, MarketType.PERP, "long", 1_000_000 * SOL, user_order_id=12)
        with pytest.raises(TransactionFailedError) as err:
            client.run(client.place_orders([huge]))
        assert str(err.value).startswith("place_orders: ")
        assert world.placements(12) == set()
    finally:
        client.close_blocking()


# ---------------------------------------------------------------- user order ids


def test_unnumbered_orders_get_ids_rotating_through_1_to_255_skipping_ids_in_use(keypair_file):
    """No chain needed: the ids handed out, by hand: 1, 2, ... 255, then 1 again."""
    from drift_engine.live.client import DriftClient
    from tests.live.conftest import fast_config

    client = DriftClient.from_keypair_file(fast_config("http://127.0.0.1:9"), keypair_file)
    assert [client.next_user_order_id() for _ in range(255)] == list(range(1, 256))
    assert client.next_user_order_id() == 1  # wraps after 255 (a u8, 0 means "none")
    assert client.next_user_order_id(None, {2, 3}) == 4  # taken in this send: skipped
    assert client.next_user_order_id(None, {5}) == 6
    with pytest.raises(DriftClientError, match=r"^every user order id 1\.\.255 is held by an"):
        client.next_user_order_id(None, set(range(1, 256)))


def test_ids_held_by_open_orders_on_chain_are_skipped_and_found_by_their_program_ids(
    world, make_client
):
    """Two resting orders (user ids 1 and 2) placed in one send; the account read back from
    the chain's bytes finds each by user id from the program order id it was given (the
    simulator's own order records), and the next free id skips both."""
    client = ready(world, make_client)
    try:
        client.run(client.place_orders([resting(1, 100_000_000), resting(2, 99_000_000)]))
        (first,), (second,) = world.placements(1), world.placements(2)
        assert second == first + 1
        state = client.run(client.refresh())
        # the client's last read is used when no state is given: 1 and 2 are held
        assert client.next_user_order_id() == 3
        assert client.next_user_order_id(state, {4}) == 5

        def ids(uid: int, since: int = 0) -> list[int]:
            return [o.order_id for o in state.orders_with_user_id(uid, since)]

        assert ids(1) == [first] and ids(2) == [second]
        assert ids(1, since=first) == [first]  # at or after: the send's own order counter
        assert ids(1, since=second) == []  # placed before: not this send's
        assert ids(2, since=second) == [second]
        assert ids(9) == [] and ids(0) == []  # empty slots carry user id 0 and order id 0
    finally:
        client.close_blocking()


def test_a_sub_account_that_does_not_exist_has_no_orders(world, make_client):
    client = make_client(world.server, now=lambda: world.sim.now)
    try:
        client.run(client.connect())
        state = client.run(client.refresh())
        assert not state.exists and state.orders_with_user_id(1) == []
    finally:
        client.close_blocking()


# ---------------------------------------------------------------- landed or not


def capture_landed(client) -> list:
    """Stand between place_orders and its send: keep each send's landed check (the rule
    that decides, after a lost confirmation, whether the orders are on chain)."""
    real = client._send
    checks: list = []

    async def recording(what, ixs, landed, uids=()):
        checks.append(landed)
        return await real(what, ixs, landed, uids)

    client._send = recording
    return checks


def test_a_send_is_landed_by_its_order_slots_its_order_records_or_the_order_counter(
    world, make_client
):
    """Each landed check asked directly, against reads of the chain: the three pieces of
    evidence in order (order slots of this send, the program's OrderRecords since it,
    then, on an RPC without history, the order counter having moved by all its orders)."""
    from drift_engine.core.client import TransactionFailedError

    client = ready(world, make_client)
    try:
        checks = capture_landed(client)
        history = client._placed_in_history

        async def no_history(*_a):
            return None  # an RPC that keeps no transaction history

        def landed(check, state, *, with_history=True) -> bool:
            client._placed_in_history = history if with_history else no_history
            try:
                return client.run(check(state))
            finally:
                client._placed_in_history = history

        before = client.run(client.refresh())
        # 1) two resting orders placed in one send: 21 and 22
        client.run(client.place_orders([resting(21, 100_000_000), resting(22, 99_000_000)]))
        two = checks[-1]
        after = client.run(client.refresh())
        assert after.next_order_id == before.next_order_id + 2  # the chain's own counter
        assert landed(two, after) and landed(two, after, with_history=False)
        # the read from before the send: no slot, the counter had not moved
        assert not landed(two, before, with_history=False)
        client.run(client.cancel_orders())
        cancelled = client.run(client.refresh())
        assert cancelled.open_orders == ()
        # slots freed: the OrderRecords in the history show them placed
        assert landed(two, cancelled)
        # no history: the counter moved by exactly the send's two orders
        assert landed(two, cancelled, with_history=False)

        # 2) a send the program refused: it never landed, though the counter moves later
        since_failed = client.run(client.refresh()).next_order_id
        huge = OrderIntent(0, MarketType.PERP, "long", 1_000_000 * SOL, user_order_id=12)
        with pytest.raises(TransactionFailedError):
            client.run(client.place_orders([huge]))
        failed = checks[-1]
        client.run(client.place_orders([resting(23, 98_000_000)]))  # another send lands
        now = client.run(client.refresh())
        assert now.next_order_id == since_failed + 1
        assert world.placements(12) == set()
        assert not landed(failed, now)  # history: no OrderRecord for user id 12

        # 3) a send of two where the program skipped one (its max_ts had passed): the
        # placed one is in its slot; the counter moved by one only
        late = OrderIntent(  # as in tests/live/test_live_venue_events.py's runtime R6
            0,
            MarketType.PERP,
            "short",
            SOL,
            order_type="oracle",
            oracle_price_offset=-750_000,
            auction_start_price=0,
            auction_end_price=-750_000,
            auction_duration=10,
            max_ts=world.sim.now - 1,
            user_order_id=32,
        )
        client.run(client.place_orders([resting(31, 97_000_000), late]))
        partial = checks[-1]
        read = client.run(client.refresh())
        assert {o.user_order_id for o in read.open_orders} == {23, 31}
        assert world.placements(32) == set()
        assert landed(partial, read, with_history=False)  # by 31's slot alone
    finally:
        client.close_blocking()


def test_an_unconfirmed_send_names_the_order_counter_and_slot_it_started_from(world, make_client):
    """Sends dropped by a congested leader: whether the orders land is unknown, and the
    error carries what `resolve_orders` needs to look for them later: the User's next
    order id and the slot of the read the send started from (no other write between)."""
    from drift_engine.live.client import TransactionUnconfirmedError

    client = ready(world, make_client, compute_unit_price=0, confirm_timeout_s=10, max_attempts=1)
    try:
        before = client.run(client.refresh())
        world.server.faults.congest(50_000)  # micro-lamports per CU: this client pays 0
        with pytest.raises(TransactionUnconfirmedError) as unknown:
            client.run(client.place_orders([resting(13, 100_000_000)]))
        exc = unknown.value
        assert exc.user_order_ids == (13,)
        assert exc.since_order_id == before.next_order_id
        assert before.slot <= exc.since_slot <= world.chain.sync()
        assert world.placements(13) == set()
    finally:
        client.close_blocking()


def test_a_send_carries_the_markets_of_every_position_the_account_holds(world, make_client):
    """The program loads the markets and oracles of everything the account holds (margin
    is checked over all of them) from the remaining accounts: an order in SOL-PERP sent
    while a BTC-PERP order rests must pass them too, or the program refuses it."""
    client = ready(world, make_client)
    try:
        btc = OrderIntent(
            1,
            MarketType.PERP,
            "long",
            10**7,  # 0.01 BTC
            order_type=OrderType.LIMIT,
            price=80_000_000_000,
            user_order_id=41,
        )
        client.run(client.place_orders([btc]))
        client.run(client.place_orders([resting(42, 100_000_000)]))
        assert len(world.placements(41)) == 1 and len(world.placements(42)) == 1
    finally:
        client.close_blocking()
