"""Market rules an order intent must meet before it becomes a Drift instruction.

`OrderIntent` checks what needs no market data when it is constructed; this module checks
the rest against the `MarketCatalog`: the market exists and takes orders, the size is a
multiple of the step and at least the minimum, prices sit on the tick, and a reduce-only
order really reduces the position it is given. Every failure is an `OrderValidationError`
whose message starts with the field at fault.

Pure functions: the builder uses them, and so can the simulator, so paper and live refuse
the same orders.

Where the program (drift-labs/protocol-v2) is more lenient we are stricter on purpose and
say so; where it has an exemption we keep it:
- `validation/order.rs::validate_base_asset_amount` waives the minimum order size for
  reduce-only orders (so dust can be closed); so do we. The step-size rule has no waiver.
- `controller/orders.rs::place_perp_order` silently rounds the size *down* to the step
  (`standardize_base_asset_amount`); we refuse an off-step size unless the caller asks for
  the same rounding with `round_to_step=True`.
- The program accepts a reduce-only order that would increase a position and cancels it
  when it could only increase it; we refuse it up front when the position is known.
- The program refuses new orders in an `Initialized` market, forces reduce-only in a
  `ReduceOnly` market and refuses them during settlement; we accept new risk only in an
  `Active` market and reduce-only orders also in a `ReduceOnly` one.
"""

from __future__ import annotations

from dataclasses import replace

from driftpy.constants.numeric_constants import QUOTE_SPOT_MARKET_INDEX

from drift_engine.core.errors import OrderValidationError
from drift_engine.core.markets import MarketCatalog, MarketSpec, UnknownMarketError
from drift_engine.core.steps import round_down_to_step
from drift_engine.core.types import MarketType, OrderIntent

#: Market statuses under which only reduce-only orders are accepted.
REDUCE_ONLY_STATUSES = frozenset({"ReduceOnly"})


def market_for(catalog: MarketCatalog, market_type: MarketType, market_index: int) -> MarketSpec:
    """The catalog's market, or an `OrderValidationError` naming `market_index`."""
    try:
        return catalog.get(MarketType(market_type), market_index)
    except UnknownMarketError as exc:
        raise OrderValidationError("market_index", str(exc)) from None


def check_market_open(market: MarketSpec, reduce_only: bool) -> None:
    """Refuse an order in a market whose status does not allow it (field `market_index`)."""
    if market.is_active:
        return
    if reduce_only and market.status in REDUCE_ONLY_STATUSES:
        return
    allowed = "only reduce-only orders" if market.status in REDUCE_ONLY_STATUSES else "no orders"
    raise OrderValidationError(
        "market_index",
        f"{market.symbol} ({market.market_type.value} {market.market_index}) has status "
        f"{market.status}, which takes {allowed}",
    )


def check_size(
    market: MarketSpec, base_asset_amount: int, *, reduce_only: bool, round_to_step: bool
) -> int:
    """The size to send: `base_asset_amount`, or rounded down to the step when asked.

    Raises for an off-step size (unless rounding) and for a size below the minimum order
    size (reduce-only orders are exempt, as in the program).
    """
    step = market.order_step_size
    size = base_asset_amount
    if step > 0 and size % step:
        if not round_to_step:
            raise OrderValidationError(
                "base_asset_amount",
                f"{size} is not a multiple of {market.symbol}'s order step size {step} "
                f"(nearest below: {round_down_to_step(size, step)}; pass round_to_step=True "
                "to round down)",
            )
        size = round_down_to_step(size, step)
        if size == 0:
            raise OrderValidationError(
                "base_asset_amount",
                f"{base_asset_amount} rounds down to 0 at {market.symbol}'s order step size {step}",
            )
    if not reduce_only and size < market.min_order_size:
        rounded = f" (rounded down from {base_asset_amount})" if size != base_asset_amount else ""
        raise OrderValidationError(
            "base_asset_amount",
            f"{size}{rounded} is below {market.symbol}'s minimum order size "
            f"{market.min_order_size}",
        )
    return size


def check_price_on_tick(market: MarketSpec, field: str, price: int | None) -> None:
    tick = market.order_tick_size
    if price and tick > 0 and price % tick:
        below = price - price % tick
        raise OrderValidationError(
            field,
            f"{price} is not on {market.symbol}'s order tick size {tick} "
            f"(nearest: {below} or {below + tick})",
        )


def check_reduce_only(intent: OrderIntent, position_base: int | None) -> None:
    """A reduce-only order must face an open position in the opposite direction.

    `position_base` is the signed position (perp base / spot token amount) in the intent's
    market, or None when unknown (then nothing is checked). A larger order than the
    position is allowed: the program fills a reduce-only order at most down to flat.
    """
    if not intent.reduce_only or position_base is None:
        return
    label = f"{intent.market_type.value} market {intent.market_index}"
    if position_base == 0:
        raise OrderValidationError(
            "reduce_only",
            f"a reduce-only {intent.direction.value} order would open a position in {label}, "
            "where the account is flat",
        )
    if (position_base > 0) == (intent.direction.sign > 0):
        side = "long" if position_base > 0 else "short"
        raise OrderValidationError(
            "reduce_only",
            f"a reduce-only {intent.direction.value} order would increase the {side} position "
            f"of {position_base} in {label}",
        )


def validate_intent(
    catalog: MarketCatalog,
    intent: OrderIntent,
    *,
    position_base: int | None = None,
    round_to_step: bool = False,
) -> OrderIntent:
    """Check `intent` against its market's rules; return the intent to send.

    The result equals `intent` unless `round_to_step` rounded its size down to the step.
    `position_base` (signed, in the market's base precision) enables the reduce-only check.
    """
    market = market_for(catalog, intent.market_type, intent.market_index)
    if intent.market_type is MarketType.SPOT and intent.market_index == QUOTE_SPOT_MARKET_INDEX:
        raise OrderValidationError(
            "market_index",
            f"spot market {QUOTE_SPOT_MARKET_INDEX} ({market.symbol}) is the quote asset and "
            "has no order book",
        )
    check_market_open(market, intent.reduce_only)
    size = check_size(
        market,
        intent.base_asset_amount,
        reduce_only=intent.reduce_only,
        round_to_step=round_to_step,
    )
    check_price_on_tick(market, "price", intent.price)
    check_price_on_tick(market, "trigger_price", intent.trigger_price)
    check_reduce_only(intent, position_base)
    return intent if size == intent.base_asset_amount else replace(intent, base_asset_amount=size)


__all__ = [
    "REDUCE_ONLY_STATUSES",
    "check_market_open",
    "check_price_on_tick",
    "check_reduce_only",
    "check_size",
    "market_for",
    "validate_intent",
]
