"""The strategy interface: a strategy sees a read-only snapshot and proposes actions.

Freqtrade-like callbacks (`on_start`, `on_tick`, `on_fill`, `on_funding`, `on_stop`),
Hummingbot-like "strategy proposes, engine acts": a strategy never touches the network,
the database or the clock. Its inputs are frozen snapshots and events; its outputs are
actions (`PlaceOrders`, `CancelAllOrders`). Its own state is a pydantic model, dumped
to JSON and persisted by the engine after every step, so a restarted engine resumes.
"""

from __future__ import annotations

import json
import types
import typing
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel, ConfigDict

from drift_engine.core.frozen import set_by_slots
from drift_engine.core.types import (
    DriftMarginMetrics,
    DriftPosition,
    MarketType,
    OrderIntent,
    PositionDirection,
)
from drift_engine.strategies.wake import EVERY_TICK, WakeCondition

HOURS_PER_YEAR = 8760

# --------------------------------------------------------------------------- snapshot


@dataclass(frozen=True, slots=True)
class MarketSnapshot:
    """One perp market and its spot counterpart as the strategy sees them.

    Prices in PRICE precision (1e6). Funding rates are hourly fractions of notional
    (Drift's `fundingRate / oraclePriceTwap`); APRs are fractions per year (0.1 = 10%).
    `funding_history` holds (ts, hourly rate) of recent funding records, oldest first
    (up to 7 days); the same tuple object is reused until a new record arrives.
    `funding_sides` holds (ts, long rate, short rate) of the same records: what longs
    paid and shorts received (they differ from the rate when the AMM caps what it pays,
    `math/funding.rs::calculate_funding_rate_long_short`); a position earns its side's.
    `oracle_invalid` / `spot_oracle_invalid` say why the perp's / spot leg's oracle is
    not one the program would use for margin (stale, too uncertain, ...; "" = valid):
    new risk in that market is refused (risk/oracle.py), reducing is allowed.
    """

    symbol: str
    perp_market_index: int
    oracle_price: int
    spot_market_index: int | None = None
    spot_oracle_price: int = 0
    spot_decimals: int = 9
    funding_rate: float = 0.0
    funding_apr_24h: float = 0.0
    funding_apr_7d: float = 0.0
    open_interest: int = 0  # perp base, BASE 1e9 (long side)
    spot_deposit_apr: float = 0.0
    spot_borrow_apr: float = 0.0
    last_funding_ts: int = 0
    perp_step_size: int = 1  # BASE 1e9
    perp_min_order_size: int = 1
    spot_step_size: int = 1  # spot token decimals
    spot_min_order_size: int = 1
    funding_history: tuple[tuple[int, float], ...] = ()
    funding_rate_long: float = 0.0
    funding_rate_short: float = 0.0
    funding_sides: tuple[tuple[int, float, float], ...] = ()
    oracle_invalid: str = ""
    spot_oracle_invalid: str = ""

    @property
    def funding_apr(self) -> float:
        return self.funding_rate * HOURS_PER_YEAR

    def funding_apr_over(
        self, lookback_hours: int, now: int | None = None, side: str | None = None
    ) -> float | None:
        """Mean hourly funding over the last `lookback_hours` records, annualised.

        `side` "long" / "short": the rate longs paid / shorts received (positive: longs
        pay), which a position on that side earns; None: the market's rate.
        None when fewer than `lookback_hours` records are known yet.
        """
        if side not in (None, "long", "short"):
            raise ValueError(f"side must be 'long', 'short' or None, not {side!r}")
        if side is None or len(self.funding_sides) != len(self.funding_history):
            hist = self.funding_history
            if lookback_hours <= 0 or len(hist) < lookback_hours:
                return None
            return sum(r for _, r in hist[-lookback_hours:]) / lookback_hours * HOURS_PER_YEAR
        sides = self.funding_sides
        if lookback_hours <= 0 or len(sides) < lookback_hours:
            return None
        col = 1 if side == "long" else 2
        return sum(r[col] for r in sides[-lookback_hours:]) / lookback_hours * HOURS_PER_YEAR


@dataclass(frozen=True, slots=True)
class VaultSnapshot:
    """The engine's vault: amounts in micro-USDC integers."""

    vault_id: str
    equity: int  # net account value: cash + marked positions
    balance: int  # ledger balance (sum of entries)
    high_water_mark: int = 0


@dataclass(frozen=True, slots=True)
class OrderView:
    """One of the engine's working orders (in flight, resting, partly filled, or with an
    unknown outcome) as the strategy and the risk checks see it. Sizes in the market's
    base precision; `status` is the engine's order status (engine/orders.py)."""

    user_order_id: int
    market_type: MarketType
    market_index: int
    direction: PositionDirection
    base_asset_amount: int
    base_filled: int
    status: str
    reduce_only: bool = False
    tags: tuple[str, ...] = ()
    external: bool = False
    created_ts: int = 0

    @property
    def remaining(self) -> int:
        return max(0, self.base_asset_amount - self.base_filled)

    @property
    def signed_remaining(self) -> int:
        """What the order would still add to the position if it filled (signed base)."""
        return self.remaining * self.direction.sign

    @property
    def unknown(self) -> bool:
        return self.status == "unknown"


@dataclass(frozen=True, slots=True)
class StrategySnapshot:
    """Everything a strategy may read at one tick; all frozen.

    `orders` are the engine's working orders; `open_orders` counts the sub-account's
    resting orders (what the venue shows)."""

    ts: int
    markets: Mapping[str, MarketSnapshot]  # read-only (MappingProxyType from the engine)
    vault: VaultSnapshot
    positions: tuple[DriftPosition, ...]
    margin: DriftMarginMetrics
    open_orders: int = 0
    orders: tuple[OrderView, ...] = ()

    def market(self, symbol: str) -> MarketSnapshot:
        return self.markets[symbol]

    def working_orders(
        self, market_type: MarketType | None = None, market_index: int | None = None
    ) -> tuple[OrderView, ...]:
        """The engine's working orders, optionally of one market."""
        return tuple(
            o
            for o in self.orders
            if (market_type is None or o.market_type is market_type)
            and (market_index is None or o.market_index == market_index)
        )

    def pending_base(self, market_type: MarketType, market_index: int) -> int:
        """Signed base the working orders in a market would still add if they filled."""
        return sum(o.signed_remaining for o in self.working_orders(market_type, market_index))

    @property
    def has_unknown_orders(self) -> bool:
        return any(o.unknown for o in self.orders)

    def position(self, market_type: MarketType, market_index: int) -> DriftPosition | None:
        for p in self.positions:
            if p.market_type is market_type and p.market_index == market_index:
                return p
        return None

    def base(self, market_type: MarketType, market_index: int) -> int:
        p = self.position(market_type, market_index)
        return p.base_asset_amount if p is not None else 0


# --------------------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class FillEvent:
    """A fill of one of the engine's orders (or a liquidation), as the strategy sees it."""

    record_id: str
    ts: int
    market_type: MarketType
    market_index: int
    base_asset_amount: int  # signed: + bought, - sold (perp 1e9, spot token decimals)
    quote_asset_amount: int  # signed micro-USDC: - paid, + received
    fee: int  # micro-USDC paid (negative = rebate)
    price: int  # PRICE 1e6
    cash: int = 0  # ledger cash effect before fees: perp realized PnL, spot -cost/+proceeds
    oracle_price: int = 0  # oracle at fill time (slippage reference)
    decimals: int = 9
    liquidation: bool = False
    order_id: int = 0
    user_order_id: int = 0

    @property
    def slippage(self) -> int:
        """What the fill cost versus the oracle, micro-USDC (+ worse, - better)."""
        if not self.oracle_price:
            return 0
        return (self.price - self.oracle_price) * self.base_asset_amount // 10**self.decimals


@set_by_slots  # one per funding hour (the venue's `poll_events`)
@dataclass(frozen=True, slots=True)
class FundingEvent:
    """A settled funding payment: `amount` micro-USDC received (+) or paid (-)."""

    record_id: str
    ts: int
    market_index: int
    amount: int
    rate: float = 0.0  # hourly fraction


# --------------------------------------------------------------------------- actions


@dataclass(frozen=True, slots=True)
class PlaceOrders:
    """Place these orders together (one `place_orders` instruction on Drift)."""

    orders: tuple[OrderIntent, ...]
    reason: str = ""

    def __post_init__(self) -> None:
        if not self.orders:
            raise ValueError("PlaceOrders needs at least one order")
        object.__setattr__(self, "orders", tuple(self.orders))

    @property
    def reduce_only(self) -> bool:
        return all(o.reduce_only for o in self.orders)


@dataclass(frozen=True, slots=True)
class CancelAllOrders:
    reason: str = ""


@dataclass(frozen=True, slots=True)
class SettlePnl:
    """Settle a perp position's funding and PnL into USDC (Drift's `settle_pnl`; on
    chain nothing settles by itself)."""

    market_index: int
    reason: str = ""


Action = PlaceOrders | CancelAllOrders | SettlePnl


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The venue or the program refused orders the strategy proposed (nothing placed).
    `user_order_ids` are the ids they were sent with; `reason` is the refusal."""

    ts: int
    reason: str
    orders: tuple[OrderIntent, ...] = ()
    user_order_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class UnhedgedExposure:
    """Exposure a hedged strategy holds without its hedge (legs that did not fill
    together): `base` signed in BASE 1e9, `notional` micro-USDC at the oracle, since
    `since` (unix s). Shown in the engine record and the API while it exists."""

    market: str
    base: int
    notional: int
    since: int
    action: str = ""  # what the strategy does about it: "hedge" or "unwind"


# --------------------------------------------------------------------------- config/state


class StrategyConfig(BaseModel):
    """Base of strategy configs: typed, validated, frozen; unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)


class StrategyState(BaseModel):
    """Base of a strategy's own state: JSON-serialisable, validated on load and on
    every assignment (a bad value names its field at once)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    #: field name -> the exact types whose values its validation returns unchanged
    #: (`_plain_fields`); set per class when pydantic has built it
    _plain: ClassVar[dict[str, tuple[type, ...]]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        cls._plain = _plain_fields(cls)

    def __setattr__(self, name: str, value: Any) -> None:
        # `PLAIN_ASSIGNMENT`: a value whose validation returns it as it is (`_plain`) is
        # written as pydantic's validated assignment writes it: the field's value, and
        # the name among the fields set
        if PLAIN_ASSIGNMENT:
            types = self._plain.get(name)
            if types is not None and type(value) in types:
                self.__dict__[name] = value
                self.__pydantic_fields_set__.add(name)
                return
        super().__setattr__(name, value)


#: a strategy state's assignment of a value of the field's exact plain type (`int` to
#: an `int` field, None or an `int` to an `int | None` one, ...) is written without
#: pydantic's `validate_assignment`, which would return it unchanged (and copy the
#: model's whole `__dict__` to write it: ~3.5 us, ~3 % of the bench's year, whose
#: strategy adds each funding payment to its state); any other value, field or class
#: is validated by pydantic. False: every assignment validated (the reference)
PLAIN_ASSIGNMENT = True

#: the annotations whose validation (lax mode, no constraint) returns a value of the
#: exact type as it is
_PLAIN_TYPES = (int, str, bool, float)


def _plain_fields(cls: type[BaseModel]) -> dict[str, tuple[type, ...]]:
    """`StrategyState._plain` of a state class: each field annotated with a plain type
    (`_PLAIN_TYPES`) or one of them `| None`, with no constraint, validator or frozen
    flag, mapped to the value types its validation returns unchanged. None of them for
    a class with a model validator or a config of its own (strict, string transforms,
    ...): everything is validated there."""
    decorators = cls.__pydantic_decorators__
    if (
        cls.model_config != StrategyState.model_config
        or decorators.model_validators
        or decorators.root_validators
        or decorators.validators
    ):
        return {}
    checked = set()
    for validator in decorators.field_validators.values():
        checked.update(validator.info.fields)
    if "*" in checked:
        return {}
    plain: dict[str, tuple[type, ...]] = {}
    for name, field in cls.model_fields.items():
        if name in checked or field.metadata or field.frozen or field.discriminator:
            continue
        annotation = field.annotation
        if annotation in _PLAIN_TYPES:
            plain[name] = (annotation,)
            continue
        args = typing.get_args(annotation)
        if (
            typing.get_origin(annotation) in (types.UnionType, typing.Union)
            and len(args) == 2
            and type(None) in args
        ):
            (inner,) = (a for a in args if a is not type(None))
            if inner in _PLAIN_TYPES:
                plain[name] = (inner, type(None))
    return plain


C = TypeVar("C", bound=StrategyConfig)
S = TypeVar("S", bound=StrategyState)


class DriftStrategy(ABC, Generic[C, S]):
    """Base class of every strategy.

    Subclasses set `name`, `config_model` and `state_model` and implement `on_tick`.
    Everything they need arrives as arguments; they must not read the clock, the
    network or a database (so one strategy runs unchanged in backtest, paper and live).
    """

    name: ClassVar[str] = ""
    config_model: ClassVar[type[StrategyConfig]] = StrategyConfig
    state_model: ClassVar[type[StrategyState]] = StrategyState

    def __init__(self, config: C | dict[str, Any] | None = None) -> None:
        if config is None:
            config = {}
        if isinstance(config, dict):
            config = self.config_model.model_validate(config)
        elif not isinstance(config, self.config_model):
            raise TypeError(f"{type(self).__name__} needs a {self.config_model.__name__}")
        self.config: C = config  # type: ignore[assignment]
        self.state: S = self.state_model()  # type: ignore[assignment]

    # callbacks ---------------------------------------------------------------
    def on_start(self, snapshot: StrategySnapshot) -> list[Action]:
        return []

    @abstractmethod
    def on_tick(self, snapshot: StrategySnapshot) -> list[Action]: ...

    def on_fill(self, fill: FillEvent) -> None:  # noqa: B027 - optional hook
        pass

    def on_funding(self, payment: FundingEvent) -> None:  # noqa: B027 - optional hook
        pass

    def on_rejected(self, rejection: OrderRejected) -> None:  # noqa: B027 - optional hook
        """The venue said no (nothing was placed). Not called for an unknown outcome."""

    def unhedged(self, snapshot: StrategySnapshot) -> UnhedgedExposure | None:
        """Exposure held without its hedge right now (None: none, or not a hedged
        strategy). The engine records it for the report and the dashboard."""
        return None

    def on_stop(self, snapshot: StrategySnapshot) -> list[Action]:
        return []

    # state ---------------------------------------------------------------------
    def dump_state(self) -> str:
        return self.state.model_dump_json()

    def load_state(self, data: str | dict[str, Any]) -> None:
        if isinstance(data, str):
            data = json.loads(data)
        self.state = self.state_model.model_validate(data)  # type: ignore[assignment]

    def markets(self) -> list[str]:
        """Perp market symbols this strategy needs in its snapshot."""
        return []

    def wake_conditions(self, snapshot: StrategySnapshot) -> tuple[WakeCondition, ...]:
        """When this strategy next needs `on_tick` (strategies/wake.py), given the snapshot
        after the last step. The default promises nothing: wake on every tick."""
        return EVERY_TICK

    def describe(self) -> dict[str, Any]:
        return {"strategy": self.name, "config": self.config.model_dump(mode="json")}


__all__ = [
    "Action",
    "CancelAllOrders",
    "OrderRejected",
    "OrderView",
    "SettlePnl",
    "UnhedgedExposure",
    "DriftStrategy",
    "FillEvent",
    "FundingEvent",
    "MarketSnapshot",
    "PlaceOrders",
    "StrategyConfig",
    "StrategySnapshot",
    "StrategyState",
    "VaultSnapshot",
]
