"""The engine's money paths: the kill switch still flattens when cancelling fails, an
engine in REDUCING lets only reduce-only orders through, and each action a strategy
proposes (cancel, settle, place; one the engine does not know) does what it says, leaves
the log a trader reads, and never stops the actions after it.

A scripted strategy (it proposes exactly what the test tells it) and a small venue that
holds positions and can be told to fail; the real engine and risk manager in between.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from drift_engine.core.types import (
    DriftMarginMetrics,
    DriftPosition,
    MarketType,
    OrderIntent,
    PositionDirection,
)
from drift_engine.engine import DriftEngine, EngineState, MarketBoard, MemoryEngineStore
from drift_engine.engine.ledger import MemoryLedgerSink
from drift_engine.engine.ports import OrderOutcomeUnknown
from drift_engine.risk import RiskLimits, RiskManager
from drift_engine.strategies.base import (
    CancelAllOrders,
    DriftStrategy,
    FillEvent,
    PlaceOrders,
    SettlePnl,
)

USDC = 10**6
SOL = 10**9
PRICE = 100 * USDC


class Scripted(DriftStrategy):
    name = "scripted"

    def __init__(self) -> None:
        super().__init__({})
        self.next: list[Any] = []

    def markets(self) -> list[str]:
        return ["SOL-PERP"]

    def on_tick(self, snapshot):
        out, self.next = self.next, []
        return out


class Venue:
    """Perp 0 and spot 1 at $100; fills at the oracle with no fee."""

    sub_account_id = 0

    def __init__(self) -> None:
        self.holdings: dict[tuple[MarketType, int], int] = {}
        self.placed: list[tuple[OrderIntent, ...]] = []
        self.open = 0
        self.health = 100
        self.cancel_fails = False
        self.seq = 0
        self.calls: list[tuple[str, int]] = []

    def place(self, orders, ts):
        self.calls.append(("place", ts))
        self.placed.append(tuple(orders))
        fills = []
        for o in orders:
            key = (o.market_type, o.market_index)
            self.holdings[key] = self.holdings.get(key, 0) + o.signed_base
            self.seq += 1
            quote = o.base_asset_amount * PRICE // SOL * -o.direction.sign
            fills.append(
                FillEvent(
                    f"f{self.seq}",
                    ts,
                    o.market_type,
                    o.market_index,
                    o.signed_base,
                    quote,
                    0,
                    PRICE,
                    cash=quote if o.market_type is MarketType.SPOT else 0,
                )
            )
        return fills

    def cancel_all(self, ts):
        self.calls.append(("cancel_all", ts))
        if self.cancel_fails:
            raise ConnectionError("rpc down while cancelling")
        n, self.open = self.open, 0
        return n

    def positions(self):
        return tuple(DriftPosition(i, mt, b) for (mt, i), b in self.holdings.items() if b)

    def open_orders(self):
        # resting orders carry user order ids (the engine keeps new orders off them)
        return [SimpleNamespace(user_order_id=200 + i) for i in range(self.open)]

    def margin(self, ts):
        self.calls.append(("margin", ts))
        return DriftMarginMetrics(0, 0, 0, 0, 0, self.health, 0, 0, 0)

    def equity(self):
        return 10_000 * USDC

    def poll_events(self, ts):
        self.calls.append(("poll_events", ts))
        return []


def engine_with(venue: Venue, store: MemoryEngineStore, limits: RiskLimits | None = None):
    board = MarketBoard(["SOL-PERP"])
    board.set_price("SOL-PERP", PRICE)
    strategy = Scripted()
    engine = DriftEngine(
        "e1",
        strategy,
        venue,
        MemoryLedgerSink("v", 10_000 * USDC),
        board,
        risk=RiskManager(limits or RiskLimits()),
        store=store,
    )
    return engine, strategy


def hedge(venue: Venue) -> None:
    venue.holdings = {(MarketType.PERP, 0): -12_340_000_000, (MarketType.SPOT, 1): 12_340_000_000}


def test_kill_switch_flattens_and_halts_even_when_cancel_all_fails():
    venue, store = Venue(), MemoryEngineStore()
    engine, _ = engine_with(venue, store)
    engine.start(0)
    hedge(venue)
    venue.open, venue.cancel_fails = 2, True
    engine.kill(60, "operator kill")
    assert engine.state is EngineState.HALTED
    # both legs closed with reduce-only orders despite the failed cancel
    (closes,) = venue.placed
    assert {(o.market_type, o.direction, o.base_asset_amount, o.reduce_only) for o in closes} == {
        (MarketType.PERP, PositionDirection.LONG, 12_340_000_000, True),
        (MarketType.SPOT, PositionDirection.SHORT, 12_340_000_000, True),
    }
    assert venue.positions() == ()
    events = [
        (e[1], e[2], e[3]) for e in store.events if e[1] == 60 and e[2] not in ("order", "fill")
    ]  # order life cycle aside
    assert events == [
        (60, "kill", "operator kill"),
        (60, "error", "cancel_all failed: rpc down while cancelling"),
        (60, "orders", "flatten: operator kill: 2 orders, 2 fills"),
        (60, "transition", "running -> halted: operator kill"),
        (60, "flatten", "cancelled 0 orders, sent 2 closes"),
    ]
    # every venue call of the kill is at the kill's time
    assert {ts for _, ts in venue.calls if ts != 0} == {60}
    assert ("cancel_all", 60) in venue.calls and ("place", 60) in venue.calls


def test_kill_switch_cancels_first_when_it_can():
    venue, store = Venue(), MemoryEngineStore()
    engine, _ = engine_with(venue, store)
    engine.start(0)
    hedge(venue)
    venue.open = 3
    engine.kill(60)  # the default reason
    assert venue.open == 0 and venue.positions() == () and engine.state is EngineState.HALTED
    events = [(e[2], e[3]) for e in store.events if e[1] == 60 and e[2] not in ("order", "fill")]
    assert events == [
        ("kill", "kill switch"),
        ("orders", "flatten: kill switch: 2 orders, 2 fills"),
        ("transition", "running -> halted: kill switch"),
        ("flatten", "cancelled 3 orders, sent 2 closes"),
    ]


def what(o: OrderIntent) -> tuple:
    """An order's market, side, size and reduce-only flag (not the price the engine adds)."""
    return (o.market_type, o.market_index, o.direction, o.base_asset_amount, o.reduce_only)


def test_reducing_refuses_orders_that_are_not_reduce_only():
    venue, store = Venue(), MemoryEngineStore()
    engine, strategy = engine_with(venue, store, RiskLimits(health_floor=25, target_health=50))
    engine.start(0)
    hedge(venue)
    venue.health = 24
    opening = OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, SOL)
    closing = OrderIntent(0, MarketType.PERP, PositionDirection.LONG, SOL, reduce_only=True)
    strategy.next = [PlaceOrders((opening,), "add"), PlaceOrders((closing,), "trim")]
    engine.step(60)
    assert engine.state is EngineState.REDUCING
    # the engine prices what it sends (auction, user order id): compare what was asked
    placed = [o for batch in venue.placed for o in batch]
    assert what(opening) not in map(what, placed)  # refused
    assert what(closing) in map(what, placed)  # reduce-only goes through
    rejections = [e for e in store.events if e[2] == "rejection"]
    assert [r[4]["check"] for r in rejections] == ["reducing"]
    assert all(o.reduce_only for o in placed)


def test_reducing_ends_when_health_is_back_at_the_target():
    venue, store = Venue(), MemoryEngineStore()
    engine, strategy = engine_with(venue, store, RiskLimits(health_floor=25, target_health=50))
    engine.start(0)
    hedge(venue)
    venue.health = 24
    engine.step(60)
    assert engine.state is EngineState.REDUCING
    venue.health = 49
    engine.step(120)
    assert engine.state is EngineState.REDUCING
    venue.health = 50
    opening = OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, SOL)
    strategy.next = [PlaceOrders((opening,), "add")]
    engine.step(180)
    assert engine.state is EngineState.RUNNING
    assert [what(o) for o in venue.placed[-1]] == [what(opening)]


# ---------------------------------------------------------------- each action a strategy proposes
ONE_SOL_LONG = OrderIntent(0, MarketType.PERP, PositionDirection.LONG, SOL)
ONE_SOL_LONG_JSON = {  # what the log keeps of it, written out by hand
    "market_type": "perp",
    "market_index": 0,
    "direction": "long",
    "base_asset_amount": SOL,
    "order_type": "market",
    "reduce_only": False,
}


class SettlingVenue(Venue):
    """The venue plus Drift's `settle_pnl`, and a send whose outcome can be lost."""

    def __init__(self) -> None:
        super().__init__()
        self.settled: list[tuple[int, int]] = []
        self.lose_next_send = False

    def settle_pnl(self, market_index, ts):
        self.settled.append((market_index, ts))

    def place(self, orders, ts):
        if self.lose_next_send:
            self.lose_next_send = False
            self.placed.append(tuple(orders))
            raise OrderOutcomeUnknown("confirmation lost")
        return super().place(orders, ts)


def logged(store: MemoryEngineStore, ts: int, *kinds: str) -> list[tuple]:
    return [(e[1], e[2], e[3], e[4]) for e in store.events if e[1] == ts and e[2] in kinds]


def sent(venue: Venue) -> list[tuple]:
    return [what(o) for batch in venue.placed for o in batch]


def test_cancel_all_action_cancels_on_the_venue_logs_the_count_and_goes_on():
    venue, store = SettlingVenue(), MemoryEngineStore()
    engine, strategy = engine_with(venue, store)
    engine.start(0)
    venue.open = 3
    strategy.next = [CancelAllOrders("requote"), PlaceOrders((ONE_SOL_LONG,), "enter")]
    engine.step(60)
    assert venue.open == 0 and ("cancel_all", 60) in venue.calls
    assert logged(store, 60, "cancel") == [(60, "cancel", "cancelled 3 orders: requote", {})]
    # the order after the cancel is still sent
    assert sent(venue) == [what(ONE_SOL_LONG)]
    assert venue.holdings == {(MarketType.PERP, 0): SOL}


def test_settle_pnl_action_settles_that_market_logs_it_and_goes_on():
    venue, store = SettlingVenue(), MemoryEngineStore()
    engine, strategy = engine_with(venue, store)
    engine.start(0)
    strategy.next = [SettlePnl(0, "funding due"), PlaceOrders((ONE_SOL_LONG,), "enter")]
    engine.step(60)
    assert venue.settled == [(0, 60)]
    assert logged(store, 60, "settle", "settle-failed") == [
        (60, "settle", "settle_pnl perp 0: funding due", {})
    ]
    assert sent(venue) == [what(ONE_SOL_LONG)]


@dataclass(frozen=True)
class Bogus:
    reason: str = "not an action"


def test_an_unknown_action_is_rejected_by_name_and_the_next_one_still_runs():
    venue, store = SettlingVenue(), MemoryEngineStore()
    engine, strategy = engine_with(venue, store)
    engine.start(0)
    strategy.next = [Bogus(), PlaceOrders((ONE_SOL_LONG,), "enter")]
    engine.step(60)
    assert engine.stats.rejections == 1
    assert logged(store, 60, "rejection") == [
        (
            60,
            "rejection",
            "engine: unknown action Bogus",
            {"check": "engine", "reason": "unknown action Bogus"},
        )
    ]
    assert sent(venue) == [what(ONE_SOL_LONG)]


def test_reducing_rejection_names_the_check_and_the_refused_orders():
    venue, store = SettlingVenue(), MemoryEngineStore()
    engine, strategy = engine_with(venue, store, RiskLimits(health_floor=25, target_health=50))
    engine.start(0)
    hedge(venue)
    venue.health = 24
    strategy.next = [PlaceOrders((ONE_SOL_LONG,), "add")]
    engine.step(60)
    assert engine.state is EngineState.REDUCING
    assert logged(store, 60, "rejection") == [
        (
            60,
            "rejection",
            "reducing: engine is REDUCING: only reduce-only orders",
            {
                "check": "reducing",
                "reason": "engine is REDUCING: only reduce-only orders",
                "action": "add",
                "orders": [ONE_SOL_LONG_JSON],
            },
        )
    ]
    assert what(ONE_SOL_LONG) not in sent(venue)


def test_orders_with_unknown_outcome_block_new_exposure_but_not_reduce_only_orders():
    venue, store = SettlingVenue(), MemoryEngineStore()
    engine, strategy = engine_with(venue, store)
    engine.start(0)
    hedge(venue)
    venue.lose_next_send = True
    strategy.next = [PlaceOrders((ONE_SOL_LONG,), "first")]
    engine.step(60)
    (lost,) = venue.placed[-1]  # the uid the engine gave the lost order, as the venue saw it
    assert engine.orders.blocked
    closing = OrderIntent(0, MarketType.PERP, PositionDirection.LONG, SOL, reduce_only=True)
    strategy.next = [PlaceOrders((ONE_SOL_LONG,), "second"), PlaceOrders((closing,), "trim")]
    engine.step(120)
    uid = lost.user_order_id
    assert uid > 0
    assert logged(store, 120, "blocked") == [
        (
            120,
            "blocked",
            "second: new orders wait until the chain resolves orders with unknown outcome "
            f"(user order ids [{uid}])",
            {"unknown": [uid], "orders": [ONE_SOL_LONG_JSON]},
        )
    ]
    assert engine.stats.rejections == 0  # blocked is a wait, not a rejection
    # the opening order never reached the venue a second time; the reduce-only one did
    assert sent(venue) == [what(ONE_SOL_LONG), what(closing)]
    assert venue.holdings[(MarketType.PERP, 0)] == -12_340_000_000 + SOL


def test_risk_rejection_logs_check_reason_and_orders_and_the_next_action_still_runs():
    venue, store = SettlingVenue(), MemoryEngineStore()
    engine, strategy = engine_with(venue, store, RiskLimits(max_order_notional_usdc=500))
    engine.start(0)
    big = OrderIntent(0, MarketType.PERP, PositionDirection.LONG, 10 * SOL)  # 10 x $100
    strategy.next = [PlaceOrders((big,), "too big"), PlaceOrders((ONE_SOL_LONG,), "enter")]
    engine.step(60)
    reason = "order notional 1,000.00 USDC on perp 0 exceeds max_order_notional 500.00"
    assert engine.stats.rejections == 1
    assert logged(store, 60, "rejection") == [
        (
            60,
            "rejection",
            f"max_order_notional: {reason}",
            {
                "check": "max_order_notional",
                "reason": reason,
                "action": "too big",
                "orders": [{**ONE_SOL_LONG_JSON, "base_asset_amount": 10 * SOL}],
            },
        )
    ]
    assert sent(venue) == [what(ONE_SOL_LONG)]  # $100 is under the limit: sent
