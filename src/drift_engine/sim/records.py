"""What the simulator reports: typed, frozen records with stable ids.

Every record has `seq` (one counter for the whole simulator, in the order things happened)
and `record_id` ("fill:17", "funding:18", ...): the same inputs replay to the same ids, so
the ledger can key its entries on them. Users are named by `authority` (base58) and
`sub_account_id`. Amounts are integers in Drift's precisions: QUOTE 1e6 (micro-USDC),
perp base 1e9, spot tokens in the market's decimals, prices PRICE 1e6, funding rates 1e9.
Signs are from the user's side: positive = the user received.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from drift_engine.core.frozen import set_by_slots
from drift_engine.core.types import MarketType, PositionDirection


@dataclass(frozen=True, slots=True)
class FillRecord:
    """One fill of one order (taker against the price model, or a resting maker order).

    `quote_asset_amount` is the unsigned quote value of the fill (QUOTE 1e6) and
    `fill_price` its price (PRICE 1e6). `fee` is what the user paid: taker fee > 0, maker
    rebate < 0 (QUOTE 1e6, already applied to the account). `realized_pnl` is the
    program's PnL of the position update (perp reduce/close/flip; 0 otherwise), before fees.
    `fill_record_id` is the market's own counter (`PerpMarket.next_fill_record_id`).
    """

    seq: int
    ts: int
    authority: str
    sub_account_id: int
    market_type: MarketType
    market_index: int
    order_id: int
    user_order_id: int
    direction: PositionDirection
    base_asset_amount: int
    quote_asset_amount: int
    fill_price: int
    oracle_price: int
    is_maker: bool
    fee: int
    realized_pnl: int
    base_asset_amount_after: int
    fill_record_id: int

    kind = "fill"

    @property
    def record_id(self) -> str:
        return f"{self.kind}:{self.seq}"


@dataclass(frozen=True, slots=True)
class FundingRateRecord:
    """A market's hourly funding update (Drift's `FundingRateRecord`), FUNDING_RATE 1e9."""

    seq: int
    ts: int
    market_index: int
    funding_rate: int
    funding_rate_long: int
    funding_rate_short: int
    cumulative_funding_rate_long: int
    cumulative_funding_rate_short: int
    oracle_price_twap: int
    mark_price_twap: int

    kind = "funding_rate"

    @property
    def record_id(self) -> str:
        return f"{self.kind}:{self.seq}"


@dataclass(frozen=True, slots=True)
class FundingPaymentRecord:
    """Funding settled into a position (Drift's `FundingPaymentRecord`).

    `funding_payment` is QUOTE 1e6, > 0 received, < 0 paid; it was added to the position's
    `quote_asset_amount` (not yet to the USDC balance: see `SettlePnlRecord`).
    """

    seq: int
    ts: int
    authority: str
    sub_account_id: int
    market_index: int
    funding_payment: int
    base_asset_amount: int
    user_last_cumulative_funding: int
    amm_cumulative_funding_long: int
    amm_cumulative_funding_short: int

    kind = "funding"

    @property
    def record_id(self) -> str:
        return f"{self.kind}:{self.seq}"


@dataclass(frozen=True, slots=True)
class SettlePnlRecord:
    """Perp PnL moved into the USDC spot balance (Drift's `SettlePnlRecord`); `pnl` QUOTE."""

    seq: int
    ts: int
    authority: str
    sub_account_id: int
    market_index: int
    pnl: int
    base_asset_amount: int
    quote_asset_amount_after: int
    quote_entry_amount: int
    settle_price: int

    kind = "settle_pnl"

    @property
    def record_id(self) -> str:
        return f"{self.kind}:{self.seq}"


@dataclass(frozen=True, slots=True)
class LiquidationRecord:
    """A perp liquidation (Drift's `LiquidationRecord` with `LiquidatePerpRecord`).

    The user's position moved by `base_asset_amount` (signed, BASE 1e9) for
    `quote_asset_amount` (signed QUOTE, the oracle value), and paid `liquidator_fee` and
    `if_fee` (QUOTE, > 0) out of its perp quote; `realized_pnl` is the program's PnL of
    that position update (before the fees). `margin_requirement` (with the
    liquidation buffer) and `total_collateral` are the maintenance figures that triggered it.
    """

    seq: int
    ts: int
    authority: str
    sub_account_id: int
    liquidation_id: int
    market_index: int
    oracle_price: int
    base_asset_amount: int
    quote_asset_amount: int
    liquidator_fee: int
    if_fee: int
    realized_pnl: int
    margin_requirement: int
    total_collateral: int
    bankrupt: bool
    canceled_order_ids: tuple[int, ...] = ()

    kind = "liquidation"

    @property
    def cash(self) -> int:
        """The liquidation's cash effect, QUOTE: realized PnL less both fees (what the
        ledger books: amount `realized_pnl`, fee `liquidator_fee + if_fee`)."""
        return self.realized_pnl - self.liquidator_fee - self.if_fee

    @property
    def record_id(self) -> str:
        return f"{self.kind}:{self.seq}"


@dataclass(frozen=True, slots=True)
class DepositRecord:
    """A deposit, withdrawal or transfer between sub-accounts (`direction`), token units."""

    seq: int
    ts: int
    authority: str
    sub_account_id: int
    market_index: int
    direction: str  # "deposit" | "withdraw" | "transfer_in" | "transfer_out"
    amount: int
    oracle_price: int
    counterparty_sub_account_id: int | None = None

    kind = "deposit"

    @property
    def record_id(self) -> str:
        return f"{self.kind}:{self.seq}"


@dataclass(frozen=True, slots=True)
class InterestRecord:
    """Interest a spot balance earned (> 0) or was charged (< 0), token units, over one
    accrual; the market's cumulative interest after it (1e10)."""

    seq: int
    ts: int
    authority: str
    sub_account_id: int
    market_index: int
    amount: int
    cumulative_deposit_interest: int
    cumulative_borrow_interest: int

    kind = "interest"

    @property
    def record_id(self) -> str:
        return f"{self.kind}:{self.seq}"


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """An order placed or ended (`action`: "place", "cancel", "fill", "expire")."""

    seq: int
    ts: int
    authority: str
    sub_account_id: int
    market_type: MarketType
    market_index: int
    order_id: int
    user_order_id: int
    action: str
    reason: str = ""

    kind = "order"

    @property
    def record_id(self) -> str:
        return f"{self.kind}:{self.seq}"


SimRecord = (
    FillRecord
    | FundingRateRecord
    | FundingPaymentRecord
    | SettlePnlRecord
    | LiquidationRecord
    | DepositRecord
    | InterestRecord
    | OrderRecord
)


_RECORD_TYPES = {
    cls.__name__: cls
    for cls in (
        FillRecord,
        FundingRateRecord,
        FundingPaymentRecord,
        SettlePnlRecord,
        LiquidationRecord,
        DepositRecord,
        InterestRecord,
        OrderRecord,
    )
}
for _cls in _RECORD_TYPES.values():  # ~3x cheaper to build (core/frozen.py)
    set_by_slots(_cls)

_ENUMS = {"MarketType": MarketType, "PositionDirection": PositionDirection}


def record_to_json(record: SimRecord) -> list:
    """[type name, field values...] with enums as their values (for simulator dumps)."""
    out: list = [type(record).__name__]
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, MarketType | PositionDirection):
            value = value.value
        elif isinstance(value, tuple):
            value = list(value)
        out.append(value)
    return out


def record_from_json(data: list) -> SimRecord:
    """The record `record_to_json` wrote."""
    cls = _RECORD_TYPES[data[0]]
    values = []
    for f, value in zip(fields(cls), data[1:], strict=True):
        enum = _ENUMS.get(str(f.type))
        if enum is not None:
            value = enum(value)
        elif isinstance(value, list):
            value = tuple(value)
        values.append(value)
    return cls(*values)


@dataclass(frozen=True, slots=True)
class OrderResult:
    """What `place_order` did: the order id, its status after the call and its fills."""

    order_id: int
    status: str  # "filled" | "open" | "partially_filled" | "canceled"
    fills: tuple[FillRecord, ...] = ()
    reason: str = ""

    @property
    def base_filled(self) -> int:
        return sum(f.base_asset_amount for f in self.fills)


__all__ = [
    "DepositRecord",
    "FillRecord",
    "FundingPaymentRecord",
    "FundingRateRecord",
    "InterestRecord",
    "LiquidationRecord",
    "OrderRecord",
    "OrderResult",
    "SettlePnlRecord",
    "SimRecord",
]
