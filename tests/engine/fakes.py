"""A tiny in-memory venue for tests of the engine's own logic (the real one is PaperVenue)."""

from __future__ import annotations

from drift_engine.core.types import DriftMarginMetrics, DriftPosition, MarketType
from drift_engine.engine.market_board import MarketBoard
from drift_engine.engine.ports import VenueError
from drift_engine.strategies.base import FillEvent, FundingEvent


class PartialPlacement(VenueError):
    """A non-atomic venue's refusal after some orders filled (`fills`): the engine books
    them. The paper and live venues are atomic (one place_orders); this fake is not."""

    def __init__(self, message: str, fills: list[FillEvent]) -> None:
        super().__init__(message)
        self.fills = fills


class FakeVenue:
    sub_account_id = 0

    def __init__(self, board: MarketBoard, usdc: int = 10_000_000_000) -> None:
        self.board = board
        self.usdc = usdc
        self.holdings: dict[tuple[MarketType, int], int] = {}
        self.perp_quote: dict[int, int] = {}
        self.orders_open = 0
        self.health = 100
        self.seq = 0
        self.pending: list = []
        self.placed: list = []
        self.fail_next = False
        self.fail_after_first = False

    def _price(self, mt: MarketType, idx: int) -> tuple[int, int]:
        for m in self.board.snapshots().values():
            if mt is MarketType.PERP and m.perp_market_index == idx:
                return m.oracle_price, 9
            if mt is MarketType.SPOT and m.spot_market_index == idx:
                return m.spot_oracle_price or m.oracle_price, m.spot_decimals
        raise KeyError(idx)

    def place(self, orders, ts):
        if self.fail_next:
            self.fail_next = False
            raise RuntimeError("venue down")
        self.placed.append(tuple(orders))
        fills = []
        for o in orders:
            price, dec = self._price(o.market_type, o.market_index)
            key = (o.market_type, o.market_index)
            quote = o.base_asset_amount * price // 10**dec * -o.direction.sign
            self.holdings[key] = self.holdings.get(key, 0) + o.signed_base
            if o.market_type is MarketType.SPOT:
                self.usdc += quote
            else:
                self.perp_quote[o.market_index] = self.perp_quote.get(o.market_index, 0) + quote
            if self.fail_after_first and fills:
                self.fail_after_first = False
                raise PartialPlacement("second leg refused", fills)
            self.seq += 1
            fills.append(
                FillEvent(
                    f"fill:{self.seq}",
                    ts,
                    o.market_type,
                    o.market_index,
                    o.signed_base,
                    quote,
                    0,
                    price,
                    cash=quote if o.market_type is MarketType.SPOT else 0,
                    oracle_price=price,
                    decimals=dec,
                    order_id=self.seq,
                    user_order_id=o.user_order_id,
                )
            )
        return fills

    def cancel_all(self, ts):
        n, self.orders_open = self.orders_open, 0
        return n

    def positions(self):
        return tuple(
            DriftPosition(idx, mt, base) for (mt, idx), base in self.holdings.items() if base != 0
        )

    def open_orders(self):
        return [object()] * self.orders_open

    def margin(self, ts):
        return DriftMarginMetrics(0, 0, 0, 0, 0, self.health, 0, 0, 0)

    def equity(self):
        total = self.usdc
        for (mt, idx), base in self.holdings.items():
            price, dec = self._price(mt, idx)
            total += base * price // 10**dec
        for q in self.perp_quote.values():
            total += q
        return total

    def pay_funding(self, ts, amount, idx=0):
        self.seq += 1
        self.usdc += amount
        self.pending.append(FundingEvent(f"funding:{self.seq}", ts, idx, amount))

    def poll_events(self, ts):
        out, self.pending = self.pending, []
        return out
