"""`PaperVenue`: one simulated Drift sub-account (`sim.DriftSimulator`) as an engine venue.

Orders go to `DriftSimulator.place_order` (the builder's validation, the program's fill,
fee, funding-settlement and margin rules); positions, open orders and margin are read
from the simulator's driftpy `User` account with `core.margin.DriftMarginMonitor`, the
same math the live venue uses. Everything the simulator records for this sub-account
(fills of resting orders, funding payments, interest, liquidations) is reported once by
`poll_events`, with the record's stable id as the ledger's idempotency key.

Ledger cash effects follow `vaults.entries`: a perp fill's cash is its realized PnL, a
spot fill's is -cost / +proceeds; fees separately. Interest is booked as cash only for
the quote market (USDC): interest on a token deposit (e.g. SOL) grows the token balance,
whose value reaches cash when it is sold (booking it twice would double count); it is
reported, valued at the oracle, in `InterestEvent.amount` with `token_amount` set and
`cash=False` semantics (the engine books only quote interest).

A place of several orders is atomic, as Drift's `place_orders` instruction is
(`DriftSimulator.place_orders`): both legs of a delta-neutral entry fill, or neither does
and the venue raises `VenueError` with nothing changed. A liquidation is booked with the
program's realized PnL of the position update (`LiquidationRecord.realized_pnl`) and the
fees it paid, the same cash rule as a perp fill.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from drift_engine.core import frozen
from drift_engine.core.margin import DriftMarginMonitor
from drift_engine.core.program_math import user_equity
from drift_engine.core.types import (
    DriftMarginMetrics,
    DriftPosition,
    MarketType,
    OpenOrder,
    OrderIntent,
    PositionDirection,
    open_orders_from_user,
    positions_from_user,
)
from drift_engine.engine.market_board import MarketBoard, hourly_rate
from drift_engine.engine.ports import (
    InterestEvent,
    LiquidationEvent,
    OrderUpdate,
    VenueError,
    VenueEvent,
)
from drift_engine.strategies.base import FillEvent, FundingEvent

QUOTE_INDEX = 0
BASE_PRECISION = 10**9

#: the funding hour's `FundingEvent` and `InterestEvent` made through their twins
#: (`core.frozen.TWIN_BUILD`)
_FUNDING_EVENT_TWIN = frozen.twin_of(FundingEvent)
_INTEREST_EVENT_TWIN = frozen.twin_of(InterestEvent)


class PaperVenue:
    """An engine's sub-account inside a `DriftSimulator`."""

    def __init__(
        self,
        sim: Any,
        account: tuple[Any, int] | None = None,
        *,
        authority: Any = None,
        sub_account_id: int = 0,
        epoch: str = "",
        monitor: DriftMarginMonitor | None = None,
        replay_from_start: bool = False,
        margin_refresh_move: float = 0.0,
        margin_refresh_s: int = 3600,
    ) -> None:
        self.sim = sim
        if account is None:
            account = sim.open_account(authority, sub_account_id)
        self.key = account
        self.sub_account_id = account[1]
        self._authority = str(account[0])
        #: Prefix of record ids: distinguishes simulator instances (a fresh simulator
        #: counts records from 1 again) so ids stay unique in one vault's ledger.
        self.epoch = epoch
        self.monitor = monitor or DriftMarginMonitor()
        self._cursor = 0 if replay_from_start else len(sim.records)
        self._returned: set[int] = set()
        #: Margin is recomputed when the account changed (a new record), when the time
        #: since the last computation reaches `margin_refresh_s`, or when any oracle
        #: price moved by more than `margin_refresh_move` (fraction) since then. The
        #: default 0.0 recomputes on every price change (exact); backtests may pass e.g.
        #: 0.002 to skip recomputing for sub-0.2% moves (health moves by a fraction of it).
        self.margin_refresh_move = margin_refresh_move
        self.margin_refresh_s = margin_refresh_s
        self._margin: tuple[int, int, dict[Any, int], DriftMarginMetrics] | None = None
        self._positions: tuple[int, tuple[DriftPosition, ...]] | None = None
        self._orders: tuple[int, list[OpenOrder]] | None = None

    # ------------------------------------------------------------------ money in
    def fund(self, amount: int, ts: int) -> None:
        """Deposit `amount` micro-USDC of paper capital into the sub-account."""
        self.sim.deposit(self.key, "USDC", amount, ts)
        self._cursor = max(self._cursor, len(self.sim.records))

    # ------------------------------------------------------------------ orders
    def place(self, orders: Sequence[OrderIntent], ts: int) -> list[FillEvent]:
        """All orders in one `place_orders`: all placed, or none (`VenueError`)."""
        try:
            results = self.sim.place_orders(self.key, orders, ts)
        except Exception as exc:  # noqa: BLE001 - the simulator's refusal is the venue's
            legs = ", ".join(f"{o.market_type.value} {o.market_index}" for o in orders)
            raise VenueError(f"place_orders [{legs}] refused, nothing placed: {exc}") from exc
        fills: list[FillEvent] = []
        for result in results:
            for rec in result.fills:
                self._returned.add(rec.seq)
                fills.append(self._fill(rec))
        return fills

    def cancel_all(self, ts: int) -> int:
        n = 0
        for order in open_orders_from_user(self.sim.user(self.key)):
            if self.sim.cancel_order(self.key, order.order_id, ts):
                n += 1
        return n

    # ------------------------------------------------------------------ reads
    # Every change to the account (fill, order, funding, interest, liquidation, deposit)
    # appends a simulator record, so the record count versions the account's state.
    def positions(self) -> tuple[DriftPosition, ...]:
        version = len(self.sim.records)
        if self._positions is None or self._positions[0] != version:
            user = self.sim.user(self.key)
            self._positions = (version, tuple(positions_from_user(user, self.sim.spot_markets)))
        return self._positions[1]

    def open_orders(self) -> list[OpenOrder]:
        version = len(self.sim.records)
        if self._orders is None or self._orders[0] != version:
            self._orders = (version, open_orders_from_user(self.sim.user(self.key)))
        return self._orders[1]

    def _prices_moved(self, then: dict[Any, int]) -> bool:
        now = self.sim._prices
        if self.margin_refresh_move <= 0:
            return any(now[k] != p for k, p in then.items())
        limit = self.margin_refresh_move
        return any(abs(now[k] - p) > p * limit for k, p in then.items())

    def margin(self, ts: int) -> DriftMarginMetrics:
        version = len(self.sim.records)
        cached = self._margin
        if (
            cached is not None
            and cached[0] == version
            and ts - cached[1] < self.margin_refresh_s
            and not self._prices_moved(cached[2])
        ):
            return cached[3]
        # the simulator's live market snapshot (the one `equity` reads): the same prices
        # as `compute_for`'s `snapshot_of` (its one price writer sets both), without
        # building a snapshot per computation (ADR-0020, s6-entry2)
        metrics = self.monitor.compute_from(self.sim.user(self.key), self.sim.market_snapshot(), ts)
        self._margin = (version, ts, dict(self.sim._prices), metrics)
        return metrics

    def equity(self) -> int:
        """Net account value, micro-USDC, as the program computes it (math/margin.rs
        `calculate_user_equity`, core/program_math.user_equity): spot balances at the
        oracle, perp pnl with its unsettled funding, a short's value divided toward zero."""
        return user_equity(self.sim.user(self.key), self.sim.market_snapshot())

    # ------------------------------------------------------------------ events
    def record_id(self, record: Any) -> str:
        """The record's id as this venue's events carry it (the paper epoch first)."""
        return f"{self.epoch}:{record.record_id}" if self.epoch else record.record_id

    def _fill(self, rec: Any, liquidation: bool = False) -> FillEvent:
        signed = (
            rec.base_asset_amount
            if rec.direction is PositionDirection.LONG
            else -rec.base_asset_amount
        )
        if rec.market_type is MarketType.SPOT:
            decimals = self.sim.spot_markets[rec.market_index].decimals
            cash = rec.quote_asset_amount * (-1 if rec.direction is PositionDirection.LONG else 1)
        else:
            decimals = 9
            cash = rec.realized_pnl
        quote = rec.quote_asset_amount * (-1 if rec.direction is PositionDirection.LONG else 1)
        return FillEvent(
            record_id=self.record_id(rec),
            ts=rec.ts,
            market_type=rec.market_type,
            market_index=rec.market_index,
            base_asset_amount=signed,
            quote_asset_amount=quote,
            fee=rec.fee,
            price=rec.fill_price,
            cash=cash,
            oracle_price=rec.oracle_price,
            decimals=decimals,
            liquidation=liquidation,
            order_id=rec.order_id,
            user_order_id=rec.user_order_id,
        )

    def owns(self, rec: Any) -> bool:
        """The record is this venue's account's (the records `poll_events` reads)."""
        return getattr(rec, "authority", None) == self._authority and (
            getattr(rec, "sub_account_id", None) == self.sub_account_id
        )

    def poll_events(self, ts: int) -> list[VenueEvent]:
        records = self.sim.records
        out: list[VenueEvent] = []
        end = len(records)
        for rec in records[self._cursor : end]:
            if not self.owns(rec):
                continue
            kind = rec.kind
            if kind == "fill":
                if rec.seq in self._returned:
                    self._returned.discard(rec.seq)
                    continue
                out.append(self._fill(rec))
            elif kind == "funding":
                out.append(self.funding_event(rec))
            elif kind == "interest":
                out.append(self.interest_event(rec))
            elif kind == "liquidation":
                out.append(self._liquidation(rec))
            elif kind == "order" and rec.action in ("cancel", "expire", "fill"):
                # "fill": the simulator closed the order after filling it; if it filled
                # less than its size (a reduce-only order capped at the position) the rest
                # is cancelled, as the program cancels it
                action = {"expire": "expired", "cancel": "cancelled", "fill": "closed"}
                out.append(
                    OrderUpdate(
                        self.record_id(rec),
                        rec.ts,
                        rec.user_order_id,
                        rec.order_id,
                        action[rec.action],
                        rec.reason or "closed after its fills",
                    )
                )
        self._cursor = end
        return out

    def funding_event(self, rec: Any) -> FundingEvent:
        """The event of one of the account's funding records."""
        make = _FUNDING_EVENT_TWIN if frozen.TWIN_BUILD else FundingEvent
        return make(self.record_id(rec), rec.ts, rec.market_index, rec.funding_payment)

    def take_records(self, start: int, end: int) -> bool:
        """Move the cursor past the simulator's records [start, end) when `poll_events`
        would read exactly those (the cursor at `start`, `end` the newest), for a caller
        that made their events itself (the quiet hour's books, `engine.quiet.book_kept`);
        False, and nothing moved, otherwise."""
        if self._cursor != start or len(self.sim.records) != end:
            return False
        self._cursor = end
        return True

    def oracle_price(self, market_type: MarketType, market_index: int) -> int:
        return self.sim.oracle_price((market_type, market_index))

    def interest_event(self, rec: Any) -> InterestEvent:
        """The event of one of the account's interest records (its value in USDC)."""
        market = self.sim.spot_markets[rec.market_index]
        if rec.market_index == QUOTE_INDEX:
            value = rec.amount
        else:
            price = self.sim.oracle_price((MarketType.SPOT, rec.market_index))
            value = rec.amount * price // 10**market.decimals
        make = _INTEREST_EVENT_TWIN if frozen.TWIN_BUILD else InterestEvent
        return make(self.record_id(rec), rec.ts, rec.market_index, value, rec.amount)

    def _liquidation(self, rec: Any) -> LiquidationEvent:
        """Cash effect of a perp liquidation: the program's realized PnL of the closed part
        (computed by the simulator as `update_position_and_market` does), fees apart."""
        return LiquidationEvent(
            record_id=self.record_id(rec),
            ts=rec.ts,
            market_index=rec.market_index,
            amount=rec.realized_pnl,
            fee=rec.liquidator_fee + rec.if_fee,
            base_asset_amount=rec.base_asset_amount,
            detail=f"liquidation {rec.liquidation_id} at {rec.oracle_price}",
        )


class SimulatorFeed:
    """Feeds market events to the simulator (a heartbeat `MarketSink`) and keeps the
    board's open interest in step with the simulated perp markets."""

    def __init__(self, sim: Any, board: MarketBoard | None = None) -> None:
        self.sim = sim
        self.board = board
        self.records = 0

    def apply(self, event: Any) -> None:
        self.records += len(self.sim.apply(event))
        if self.board is not None and event.kind == "funding":
            try:
                market = self.sim.perp_market(event.market)
            except KeyError:
                return
            self.board.set_open_interest(event.market, market.amm.base_asset_amount_long)


__all__ = ["PaperVenue", "SimulatorFeed", "hourly_rate"]
