"""Drift's vocabulary for the rest of the platform: enums, positions, margin metrics, intents.

Amounts are integers in Drift's precisions (PRICE 1e6, BASE 1e9 for perps, token
decimals for spot, QUOTE 1e6, FUNDING_RATE 1e9, MARGIN 1e4); the `*_decimal`
properties are views for display and reports, never inputs to the ledger.

Conversions to and from driftpy's types live in this module and nowhere else, so the
upper layers never import driftpy.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from driftpy.constants.numeric_constants import (
    BASE_PRECISION,
    FUNDING_RATE_PRECISION,
    PRICE_PRECISION,
    QUOTE_PRECISION,
)

from drift_engine.core.errors import OrderValidationError

if TYPE_CHECKING:
    from driftpy.types import ModifyOrderParams as _DpModifyOrderParams
    from driftpy.types import OrderParams as _DpOrderParams


def _dp() -> Any:
    """driftpy's types module, imported on the first conversion: `driftpy.types` (with
    solders and borsh) costs ~0.5 s to import, and the read-only commands that use this
    module's enums and positions (`vaults list`) convert nothing."""
    import driftpy.types

    return driftpy.types


U8_MAX = 255
U64_MAX = 2**64 - 1
I64_MAX = 2**63 - 1


class OrderType(enum.StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    TRIGGER_MARKET = "trigger_market"
    TRIGGER_LIMIT = "trigger_limit"
    ORACLE = "oracle"

    def to_driftpy(self) -> Any:
        return {
            OrderType.MARKET: _dp().OrderType.Market,
            OrderType.LIMIT: _dp().OrderType.Limit,
            OrderType.TRIGGER_MARKET: _dp().OrderType.TriggerMarket,
            OrderType.TRIGGER_LIMIT: _dp().OrderType.TriggerLimit,
            OrderType.ORACLE: _dp().OrderType.Oracle,
        }[self]()

    @classmethod
    def from_driftpy(cls, value: Any) -> OrderType:
        return _from_variant(cls, value)


class MarketType(enum.StrEnum):
    PERP = "perp"
    SPOT = "spot"

    def to_driftpy(self) -> Any:
        return _dp().MarketType.Perp() if self is MarketType.PERP else _dp().MarketType.Spot()

    @classmethod
    def from_driftpy(cls, value: Any) -> MarketType:
        return _from_variant(cls, value)


class PositionDirection(enum.StrEnum):
    LONG = "long"
    SHORT = "short"

    def to_driftpy(self) -> Any:
        direction = _dp().PositionDirection
        return direction.Long() if self is PositionDirection.LONG else direction.Short()

    @classmethod
    def from_driftpy(cls, value: Any) -> PositionDirection:
        return _from_variant(cls, value)

    @property
    def opposite(self) -> PositionDirection:
        return PositionDirection.SHORT if self is PositionDirection.LONG else PositionDirection.LONG

    @property
    def sign(self) -> int:
        return 1 if self is PositionDirection.LONG else -1


class PostOnly(enum.StrEnum):
    """Drift's PostOnlyParams: NONE, MUST_POST_ONLY (fail if it would take), TRY, SLIDE."""

    NONE = "none"
    MUST_POST_ONLY = "must_post_only"
    TRY_POST_ONLY = "try_post_only"
    SLIDE = "slide"

    def to_driftpy(self) -> Any:
        return {
            PostOnly.NONE: _dp().PostOnlyParams.NONE,
            PostOnly.MUST_POST_ONLY: _dp().PostOnlyParams.MustPostOnly,
            PostOnly.TRY_POST_ONLY: _dp().PostOnlyParams.TryPostOnly,
            PostOnly.SLIDE: _dp().PostOnlyParams.Slide,
        }[self]()


class TriggerCondition(enum.StrEnum):
    ABOVE = "above"
    BELOW = "below"

    def to_driftpy(self) -> Any:
        if self is TriggerCondition.ABOVE:
            return _dp().OrderTriggerCondition.Above()
        return _dp().OrderTriggerCondition.Below()


def _variant_name(value: Any) -> str:
    """Name of a driftpy/anchorpy enum variant instance or class, e.g. "Long"."""
    if isinstance(value, str):
        return value
    return value.__name__ if isinstance(value, type) else type(value).__name__


def _from_variant(cls: type[enum.StrEnum], value: Any):
    name = _variant_name(value)
    # "TriggerMarket" -> "trigger_market"
    snake = "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")
    try:
        return cls(snake)
    except ValueError:
        raise ValueError(f"{cls.__name__} has no member for driftpy variant {name!r}") from None


def is_variant(value: Any, name: str) -> bool:
    """True if a driftpy/anchorpy enum value is the variant `name` (e.g. "Perp").

    `_variant_name(value) == name` with the common case (an enum instance) first and no
    second call: the margin calculation asks ~8 times per account (issue #14)."""
    if isinstance(value, (str, type)):  # noqa: UP038 - a tuple is the faster test
        return (value if isinstance(value, str) else value.__name__) == name
    return type(value).__name__ == name


# --------------------------------------------------------------------------- positions


@dataclass(frozen=True, slots=True)
class OpenOrder:
    """An order resting on the user account (driftpy `Order`, status Open)."""

    order_id: int
    user_order_id: int
    market_index: int
    market_type: MarketType
    order_type: OrderType
    direction: PositionDirection
    base_asset_amount: int
    base_asset_amount_filled: int
    price: int
    reduce_only: bool
    slot: int = 0

    @classmethod
    def from_driftpy(cls, order: Any) -> OpenOrder:
        return cls(
            order_id=order.order_id,
            user_order_id=order.user_order_id,
            market_index=order.market_index,
            market_type=MarketType.from_driftpy(order.market_type),
            order_type=OrderType.from_driftpy(order.order_type),
            direction=PositionDirection.from_driftpy(order.direction),
            base_asset_amount=order.base_asset_amount,
            base_asset_amount_filled=order.base_asset_amount_filled,
            price=order.price,
            reduce_only=bool(order.reduce_only),
            slot=order.slot,
        )


@dataclass(frozen=True, slots=True)
class DriftPosition:
    """A perp position or a spot balance of one sub-account.

    `base_asset_amount` is signed: perp base in BASE precision (1e9), spot tokens in the
    market's decimals (deposits positive, borrows negative). Quote amounts are QUOTE 1e6.
    """

    market_index: int
    market_type: MarketType
    base_asset_amount: int
    quote_asset_amount: int = 0
    quote_entry_amount: int = 0
    quote_break_even_amount: int = 0
    last_cumulative_funding_rate: int = 0
    settled_pnl: int = 0
    open_orders: int = 0
    open_bids: int = 0
    open_asks: int = 0
    decimals: int = 9
    symbol: str = ""

    @property
    def direction(self) -> PositionDirection | None:
        if self.base_asset_amount > 0:
            return PositionDirection.LONG
        if self.base_asset_amount < 0:
            return PositionDirection.SHORT
        return None

    @property
    def is_flat(self) -> bool:
        return self.base_asset_amount == 0

    @property
    def base_decimal(self) -> Decimal:
        return Decimal(self.base_asset_amount).scaleb(-self.decimals)

    @property
    def entry_price(self) -> int:
        """Average entry price in PRICE precision (perp), 0 when flat or for spot."""
        if self.market_type is not MarketType.PERP or self.base_asset_amount == 0:
            return 0
        # |quote_entry| * BASE / |base|: the SDK's getEntryPrice, kept in integers.
        return abs(self.quote_entry_amount) * BASE_PRECISION // abs(self.base_asset_amount)

    @property
    def break_even_price(self) -> int:
        if self.market_type is not MarketType.PERP or self.base_asset_amount == 0:
            return 0
        return abs(self.quote_break_even_amount) * BASE_PRECISION // abs(self.base_asset_amount)

    @property
    def entry_price_decimal(self) -> Decimal:
        return Decimal(self.entry_price) / PRICE_PRECISION

    @classmethod
    def from_perp(cls, perp_position: Any, symbol: str = "") -> DriftPosition:
        """From a driftpy/anchorpy `PerpPosition`."""
        return cls(
            market_index=perp_position.market_index,
            market_type=MarketType.PERP,
            base_asset_amount=perp_position.base_asset_amount,
            quote_asset_amount=perp_position.quote_asset_amount,
            quote_entry_amount=perp_position.quote_entry_amount,
            quote_break_even_amount=perp_position.quote_break_even_amount,
            last_cumulative_funding_rate=perp_position.last_cumulative_funding_rate,
            settled_pnl=perp_position.settled_pnl,
            open_orders=perp_position.open_orders,
            open_bids=perp_position.open_bids,
            open_asks=perp_position.open_asks,
            decimals=9,
            symbol=symbol,
        )

    @classmethod
    def from_spot(cls, spot_position: Any, spot_market: Any, symbol: str = "") -> DriftPosition:
        """From a `SpotPosition` and its `SpotMarket`.

        The token amount follows the program's integer rule (program_math), not driftpy's
        float division, which is off by one on large deposits.
        """
        from drift_engine.core.program_math import signed_token_amount

        amount = signed_token_amount(spot_position, spot_market)
        return cls(
            market_index=spot_position.market_index,
            market_type=MarketType.SPOT,
            base_asset_amount=amount,
            open_orders=spot_position.open_orders,
            open_bids=spot_position.open_bids,
            open_asks=spot_position.open_asks,
            decimals=spot_market.decimals,
            symbol=symbol,
        )


def positions_from_user(user: Any, spot_markets: dict[int, Any]) -> list[DriftPosition]:
    """Non-empty perp positions and spot balances of a driftpy `User` account."""
    from driftpy.math.perp_position import is_available
    from driftpy.math.spot_position import is_spot_position_available

    out: list[DriftPosition] = []
    for pp in user.perp_positions:
        if not is_available(pp):
            out.append(DriftPosition.from_perp(pp))
    for sp in user.spot_positions:
        if not is_spot_position_available(sp):
            out.append(DriftPosition.from_spot(sp, spot_markets[sp.market_index]))
    return out


#: `open_orders_from_user` tests a slot's status by identity with driftpy's `OrderStatus`
#: classes first: an instance of `OrderStatus.Open` is the variant "Open" and one of
#: `OrderStatus.Init` (an empty slot, most of the 32) is not (each variant is its own class
#: named as the variant, so `is_variant` answers the same); any other value (a string, a
#: class, another variant or library's enum) still goes to `is_variant` (issue #14: the
#: slots are read at every real step). False: `is_variant` on every slot, the reference.
STATUS_BY_CLASS = True


def open_orders_from_user(user: Any) -> list[OpenOrder]:
    if not STATUS_BY_CLASS:
        return [OpenOrder.from_driftpy(o) for o in user.orders if is_variant(o.status, "Open")]
    status = _dp().OrderStatus
    open_, init = status.Open, status.Init
    out = []
    for order in user.orders:
        cls = type(order.status)
        if cls is open_ or (cls is not init and is_variant(order.status, "Open")):
            out.append(OpenOrder.from_driftpy(order))
    return out


# --------------------------------------------------------------------------- margin


class RiskLevel(enum.StrEnum):
    HEALTHY = "healthy"
    WARNING = "warning"
    CRITICAL = "critical"
    LIQUIDATABLE = "liquidatable"


@dataclass(frozen=True, slots=True)
class PositionRisk:
    """Liquidation price of one position and how far the oracle is from it."""

    market_index: int
    market_type: MarketType
    oracle_price: int
    liquidation_price: int | None  # PRICE 1e6; None when no price liquidates it

    @property
    def distance(self) -> int | None:
        """Signed distance from oracle to liquidation price (PRICE 1e6): negative when the
        price must fall to liquidate (longs), positive when it must rise (shorts)."""
        if self.liquidation_price is None:
            return None
        return self.liquidation_price - self.oracle_price

    @property
    def distance_pct(self) -> Decimal | None:
        """Signed distance from oracle to liquidation price in percent of the oracle."""
        if self.liquidation_price is None or self.oracle_price == 0:
            return None
        return (
            Decimal(self.liquidation_price - self.oracle_price) * 100 / Decimal(self.oracle_price)
        ).quantize(Decimal("0.01"))


@dataclass(frozen=True, slots=True)
class DriftMarginMetrics:
    """A sub-account's margin state. Quote amounts in QUOTE 1e6; leverage and margin
    ratio in MARGIN-style 1e4 precision (10_000 = 1x / 100%); health 0–100."""

    total_collateral: int
    maintenance_total_collateral: int
    initial_margin_requirement: int
    maintenance_margin_requirement: int
    free_collateral: int
    health: int
    leverage: int
    margin_ratio: int
    unrealized_pnl: int
    position_risks: tuple[PositionRisk, ...] = ()
    risk_level: RiskLevel = RiskLevel.HEALTHY
    timestamp: int = 0

    @property
    def liquidation_prices(self) -> dict[tuple[MarketType, int], int | None]:
        return {(r.market_type, r.market_index): r.liquidation_price for r in self.position_risks}

    @property
    def total_collateral_decimal(self) -> Decimal:
        return Decimal(self.total_collateral) / QUOTE_PRECISION

    @property
    def free_collateral_decimal(self) -> Decimal:
        return Decimal(self.free_collateral) / QUOTE_PRECISION

    @property
    def leverage_decimal(self) -> Decimal:
        return Decimal(self.leverage) / 10_000

    @property
    def is_liquidatable(self) -> bool:
        return self.risk_level is RiskLevel.LIQUIDATABLE


# --------------------------------------------------------------------------- intents


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """A validated wish to place one order; the builder and simulator both accept it.

    Field checks that need no market data happen here (construction fails with an
    `OrderValidationError` naming the field); market rules (step, tick, minimum size,
    status, reduce-only against positions) are checked by the builder and simulator.
    """

    market_index: int
    market_type: MarketType
    direction: PositionDirection
    base_asset_amount: int
    order_type: OrderType = OrderType.MARKET
    price: int = 0
    reduce_only: bool = False
    post_only: PostOnly = PostOnly.NONE
    immediate_or_cancel: bool = False
    oracle_price_offset: int | None = None
    user_order_id: int = 0
    max_ts: int | None = None
    trigger_price: int | None = None
    trigger_condition: TriggerCondition = TriggerCondition.ABOVE
    auction_duration: int | None = None
    auction_start_price: int | None = None
    auction_end_price: int | None = None
    tags: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        for name, enum_cls in (
            ("market_type", MarketType),
            ("direction", PositionDirection),
            ("order_type", OrderType),
            ("post_only", PostOnly),
            ("trigger_condition", TriggerCondition),
        ):
            value = getattr(self, name)
            if not isinstance(value, enum_cls):
                try:
                    object.__setattr__(self, name, enum_cls(value))
                except ValueError:
                    allowed = ", ".join(m.value for m in enum_cls)
                    raise OrderValidationError(name, f"{value!r} is not one of {allowed}") from None
        _check_int("market_index", self.market_index, 0, 65535)
        _check_int("base_asset_amount", self.base_asset_amount, 1, U64_MAX)
        _check_int("price", self.price, 0, U64_MAX)
        _check_int("user_order_id", self.user_order_id, 0, U8_MAX)
        if self.order_type in (OrderType.LIMIT, OrderType.TRIGGER_LIMIT) and (
            self.price == 0 and self.oracle_price_offset is None
        ):
            raise OrderValidationError("price", f"a {self.order_type.value} order needs a price")
        if self.post_only is not PostOnly.NONE and self.order_type is not OrderType.LIMIT:
            raise OrderValidationError("post_only", "only limit orders can be post-only")
        if self.order_type in (OrderType.TRIGGER_MARKET, OrderType.TRIGGER_LIMIT):
            if not self.trigger_price:
                raise OrderValidationError(
                    "trigger_price", f"a {self.order_type.value} order needs a trigger price"
                )
        elif self.trigger_price is not None:
            raise OrderValidationError("trigger_price", "only trigger orders take a trigger price")
        if self.oracle_price_offset is not None:
            _check_int("oracle_price_offset", self.oracle_price_offset, -(2**31), 2**31 - 1)
        if self.max_ts is not None:
            _check_int("max_ts", self.max_ts, 0, I64_MAX)

    @property
    def signed_base(self) -> int:
        return self.base_asset_amount * self.direction.sign

    def to_driftpy(self) -> _DpOrderParams:
        """The driftpy `OrderParams` the program receives for this intent."""
        bit_flags = 1 if self.immediate_or_cancel else 0  # OrderParamsBitFlag.IMMEDIATE_OR_CANCEL
        return _dp().OrderParams(
            order_type=self.order_type.to_driftpy(),
            base_asset_amount=self.base_asset_amount,
            market_index=self.market_index,
            direction=self.direction.to_driftpy(),
            market_type=self.market_type.to_driftpy(),
            user_order_id=self.user_order_id,
            price=self.price,
            reduce_only=self.reduce_only,
            post_only=self.post_only.to_driftpy(),
            bit_flags=bit_flags,
            max_ts=self.max_ts,
            trigger_price=self.trigger_price,
            trigger_condition=self.trigger_condition.to_driftpy(),
            oracle_price_offset=self.oracle_price_offset,
            auction_duration=self.auction_duration,
            auction_start_price=self.auction_start_price,
            auction_end_price=self.auction_end_price,
        )

    @classmethod
    def from_driftpy(cls, params: Any) -> OrderIntent:
        """From driftpy `OrderParams` (or the IDL-decoded params of a place-order ix)."""
        post_only_name = _variant_name(params.post_only)
        post_only = {
            "None": PostOnly.NONE,
            "NONE": PostOnly.NONE,
            "MustPostOnly": PostOnly.MUST_POST_ONLY,
            "TryPostOnly": PostOnly.TRY_POST_ONLY,
            "Slide": PostOnly.SLIDE,
        }[post_only_name]
        trig = params.trigger_condition
        trigger_condition = (
            TriggerCondition.BELOW if "Below" in _variant_name(trig) else TriggerCondition.ABOVE
        )
        return cls(
            market_index=params.market_index,
            market_type=MarketType.from_driftpy(params.market_type),
            direction=PositionDirection.from_driftpy(params.direction),
            base_asset_amount=params.base_asset_amount,
            order_type=OrderType.from_driftpy(params.order_type),
            price=params.price,
            reduce_only=bool(params.reduce_only),
            post_only=post_only,
            immediate_or_cancel=bool(params.bit_flags & 1),
            oracle_price_offset=params.oracle_price_offset,
            user_order_id=params.user_order_id,
            max_ts=params.max_ts,
            trigger_price=params.trigger_price,
            trigger_condition=trigger_condition,
            auction_duration=params.auction_duration,
            auction_start_price=params.auction_start_price,
            auction_end_price=params.auction_end_price,
        )


class ModifyOrderPolicy(enum.IntFlag):
    """Bits of `ModifyOrderParams.policy` (program: `state/order_params.rs`, a `u8`)."""

    MUST_MODIFY = 1
    EXCLUDE_PREVIOUS_FILL = 2


@dataclass(frozen=True, slots=True)
class OrderModification:
    """Changes to a resting order (Drift's `ModifyOrderParams`); None leaves a field as is."""

    direction: PositionDirection | None = None
    base_asset_amount: int | None = None
    price: int | None = None
    reduce_only: bool | None = None
    post_only: PostOnly | None = None
    immediate_or_cancel: bool | None = None
    max_ts: int | None = None
    trigger_price: int | None = None
    trigger_condition: TriggerCondition | None = None
    oracle_price_offset: int | None = None
    auction_duration: int | None = None
    auction_start_price: int | None = None
    auction_end_price: int | None = None
    policy: ModifyOrderPolicy | None = None

    def __post_init__(self) -> None:
        for name, enum_cls in (
            ("direction", PositionDirection),
            ("post_only", PostOnly),
            ("trigger_condition", TriggerCondition),
        ):
            value = getattr(self, name)
            if value is not None and not isinstance(value, enum_cls):
                try:
                    object.__setattr__(self, name, enum_cls(value))
                except ValueError:
                    allowed = ", ".join(m.value for m in enum_cls)
                    raise OrderValidationError(name, f"{value!r} is not one of {allowed}") from None
        for name, lo, hi in (
            ("base_asset_amount", 1, U64_MAX),
            ("price", 0, U64_MAX),
            ("max_ts", 0, I64_MAX),
            ("trigger_price", 0, U64_MAX),
            ("oracle_price_offset", -(2**31), 2**31 - 1),
            ("auction_duration", 0, U8_MAX),
            ("auction_start_price", -I64_MAX - 1, I64_MAX),
            ("auction_end_price", -I64_MAX - 1, I64_MAX),
        ):
            value = getattr(self, name)
            if value is not None:
                _check_int(name, value, lo, hi)
        if self.policy is not None:
            _check_int("policy", int(self.policy), 0, 3)
            object.__setattr__(self, "policy", ModifyOrderPolicy(int(self.policy)))

    def to_driftpy(self) -> _DpModifyOrderParams:
        """driftpy's `ModifyOrderParams`, encodable with Drift's IDL.

        `policy` goes out as the program's `u8` bit set: driftpy 0.8.89 types it as its old
        `ModifyOrderPolicy` enum (TRY_MODIFY / MUST_MODIFY), which the IDL cannot encode.
        """
        bit_flags = None if self.immediate_or_cancel is None else int(self.immediate_or_cancel)
        return _dp().ModifyOrderParams(
            direction=None if self.direction is None else self.direction.to_driftpy(),
            base_asset_amount=self.base_asset_amount,
            price=self.price,
            reduce_only=self.reduce_only,
            post_only=None if self.post_only is None else self.post_only.to_driftpy(),
            bit_flags=bit_flags,
            max_ts=self.max_ts,
            trigger_price=self.trigger_price,
            trigger_condition=(
                None if self.trigger_condition is None else self.trigger_condition.to_driftpy()
            ),
            oracle_price_offset=self.oracle_price_offset,
            auction_duration=self.auction_duration,
            auction_start_price=self.auction_start_price,
            auction_end_price=self.auction_end_price,
            policy=None if self.policy is None else int(self.policy),
        )


def _check_int(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OrderValidationError(name, f"must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise OrderValidationError(name, f"{value} is outside [{lo}, {hi}]")


def quote_to_decimal(amount: int) -> Decimal:
    """QUOTE-precision integer (micro-USDC) as a Decimal of USDC."""
    return Decimal(amount) / QUOTE_PRECISION


def price_to_decimal(price: int) -> Decimal:
    return Decimal(price) / PRICE_PRECISION


def funding_rate_to_decimal(rate: int) -> Decimal:
    return Decimal(rate) / FUNDING_RATE_PRECISION


__all__ = [
    "DriftMarginMetrics",
    "DriftPosition",
    "MarketType",
    "ModifyOrderPolicy",
    "OpenOrder",
    "OrderIntent",
    "OrderModification",
    "OrderType",
    "OrderValidationError",
    "PositionDirection",
    "PositionRisk",
    "PostOnly",
    "RiskLevel",
    "TriggerCondition",
    "is_variant",
    "open_orders_from_user",
    "positions_from_user",
    "price_to_decimal",
    "quote_to_decimal",
]
