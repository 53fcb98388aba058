"""Drift's Anchor events for what the simulator records, as the program logs them.

The program logs one event per thing that happened to an account (protocol-v2
`state/events.rs`): `OrderActionRecord` for a fill, `FundingPaymentRecord` when funding
settles into a position, `SettlePnlRecord`, `LiquidationRecord`. Indexers (and our
`LiveVenue`) read them from the transaction logs of a sub-account's history. The local
chain logs them for the simulator records an instruction produced, and — for what the
simulator does outside transactions (hourly funding settles, maker fills of resting
orders when the oracle moves, liquidations) — in a keeper transaction referencing the
user account, as a keeper's `settle_funding_payment` / `fill_perp_order` /
`liquidate_perp` would on mainnet.

Fill fields follow the program: `taker_existing_quote_entry_amount` /
`taker_existing_base_asset_amount` (maker_ likewise) are set only when the fill reduces
(or flips) the position: the closed base and the entry amount it removes
(`math/orders.rs::calculate_existing_position_fields_for_order_action`), which is what an
indexer needs to compute realized PnL.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from driftpy.addresses import get_user_account_public_key
from driftpy.constants.config import DRIFT_PROGRAM_ID
from solders.pubkey import Pubkey

from drift_engine.core.program import drift_program
from drift_engine.core.types import MarketType, PositionDirection


@functools.cache
def _enums() -> dict[str, Any]:
    """Enum classes of the IDL (by type name), found in the event layouts."""
    found: dict[str, Any] = {}

    def walk(con: Any, depth: int = 0) -> None:
        if depth > 8 or con is None:
            return
        enum = getattr(con, "enum", None)
        name = getattr(con, "enum_name", None)
        if enum is not None and name:
            found.setdefault(name, enum)
        for sub in getattr(con, "subcons", ()) or ():
            walk(sub, depth + 1)
        walk(getattr(con, "subcon", None), depth + 1)

    for layout in drift_program().coder.events.layouts.values():
        walk(layout)
    return found


def variant(type_name: str, name: str) -> Any:
    return getattr(_enums()[type_name], name)()


def user_pubkey_of(authority: str, sub_account_id: int) -> Pubkey:
    return get_user_account_public_key(
        DRIFT_PROGRAM_ID, Pubkey.from_string(authority), sub_account_id
    )


def _direction(d: PositionDirection) -> Any:
    return variant("PositionDirection", "Long" if d is PositionDirection.LONG else "Short")


def _market_type(t: MarketType) -> Any:
    return variant("MarketType", "Perp" if t is MarketType.PERP else "Spot")


def _existing(rec: Any) -> tuple[int | None, int | None]:
    """(existing quote entry removed, existing base closed) when a perp fill reduces or
    flips the position, else (None, None). Derived from the fill record: the base before
    the fill is `base_after - fill`, and the program's realized PnL is the removed entry
    plus the closed part's quote (`controller/position.rs`), so the entry removed is
    |realized_pnl - closed quote|."""
    long = rec.direction is PositionDirection.LONG
    signed = rec.base_asset_amount if long else -rec.base_asset_amount
    before = rec.base_asset_amount_after - signed
    if before == 0 or (before > 0) == long:
        return None, None
    closed = min(abs(before), rec.base_asset_amount)
    closed_quote = rec.quote_asset_amount * closed // rec.base_asset_amount
    closed_quote_signed = -closed_quote if long else closed_quote
    return abs(rec.realized_pnl - closed_quote_signed), closed


def fill_event(rec: Any, user: Pubkey) -> dict[str, Any]:
    """`OrderActionRecord` (action Fill) for a simulator `FillRecord` of `user`."""
    existing_entry, existing_base = (None, None)
    if rec.market_type is MarketType.PERP:
        existing_entry, existing_base = _existing(rec)
    side = {
        "order_id": rec.order_id,
        "order_direction": _direction(rec.direction),
        "order_base_asset_amount": rec.base_asset_amount,
        "order_cumulative_base_asset_amount_filled": rec.base_asset_amount,
        "order_cumulative_quote_asset_amount_filled": rec.quote_asset_amount,
        "existing_quote_entry_amount": existing_entry,
        "existing_base_asset_amount": existing_base,
    }
    values: dict[str, Any] = {
        "ts": rec.ts,
        "action": variant("OrderAction", "Fill"),
        "action_explanation": variant(
            "OrderActionExplanation", "None" if rec.is_maker else "OrderFilledWithAMM"
        ),
        "market_index": rec.market_index,
        "market_type": _market_type(rec.market_type),
        "filler": None,
        "filler_reward": None,
        "fill_record_id": rec.fill_record_id,
        "base_asset_amount_filled": rec.base_asset_amount,
        "quote_asset_amount_filled": rec.quote_asset_amount,
        "taker_fee": None if rec.is_maker else rec.fee,
        "maker_fee": rec.fee if rec.is_maker else None,
        "referrer_reward": None,
        "quote_asset_amount_surplus": None,
        "spot_fulfillment_method_fee": None,
        "oracle_price": rec.oracle_price,
        "bit_flags": 0,
        "trigger_price": None,
        "builder_idx": None,
        "builder_fee": None,
    }
    for role in ("taker", "maker"):
        mine = (role == "maker") == rec.is_maker
        values[role] = user if mine else None
        for k, v in side.items():
            values[f"{role}_{k}"] = v if mine else None
    return values


#: Why the program cancelled an order, by the simulator's reason text.
_CANCEL_EXPLANATIONS = (
    ("max_ts", "OrderExpired"),
    ("reduce-only", "ReduceOnlyOrderIncreasedPosition"),
    ("insufficient collateral", "InsufficientFreeCollateral"),
)


@dataclass(frozen=True, slots=True)
class TriggerRecord:
    """The keeper triggered a trigger order (the program's `trigger_order`)."""

    seq: int
    ts: int
    authority: str
    sub_account_id: int
    order: Any
    oracle_price: int

    kind = "trigger"

    @property
    def record_id(self) -> str:
        return f"{self.kind}:{self.seq}"


def _order_side(order: Any | None, rec: Any) -> dict[str, Any]:
    """The taker_/maker_ order fields of an `OrderActionRecord` for one order."""
    if order is None:
        return {
            "order_id": rec.order_id,
            "order_direction": None,
            "order_base_asset_amount": None,
            "order_cumulative_base_asset_amount_filled": None,
            "order_cumulative_quote_asset_amount_filled": None,
        }
    return {
        "order_id": order.order_id,
        "order_direction": variant(
            "PositionDirection", "Long" if type(order.direction).__name__ == "Long" else "Short"
        ),
        "order_base_asset_amount": order.base_asset_amount,
        "order_cumulative_base_asset_amount_filled": order.base_asset_amount_filled,
        "order_cumulative_quote_asset_amount_filled": order.quote_asset_amount_filled,
    }


def _action_record(
    ts: int,
    action: str,
    explanation: str,
    market_index: int,
    market_type: MarketType,
    user: Pubkey,
    side: dict[str, Any],
    oracle_price: int,
    maker: bool,
) -> dict[str, Any]:
    values: dict[str, Any] = {
        "ts": ts,
        "action": variant("OrderAction", action),
        "action_explanation": variant("OrderActionExplanation", explanation),
        "market_index": market_index,
        "market_type": _market_type(market_type),
        "filler": None,
        "filler_reward": None,
        "fill_record_id": None,
        "base_asset_amount_filled": None,
        "quote_asset_amount_filled": None,
        "taker_fee": None,
        "maker_fee": None,
        "referrer_reward": None,
        "quote_asset_amount_surplus": None,
        "spot_fulfillment_method_fee": None,
        "oracle_price": oracle_price,
        "bit_flags": 0,
        "trigger_price": None,
        "builder_idx": None,
        "builder_fee": None,
    }
    for role in ("taker", "maker"):
        mine = (role == "maker") == maker
        values[role] = user if mine else None
        for k, v in side.items():
            values[f"{role}_{k}"] = v if mine else None
        values[f"{role}_existing_quote_entry_amount"] = None
        values[f"{role}_existing_base_asset_amount"] = None
    return values


def cancel_event(rec: Any, user: Pubkey, order: Any | None, oracle_price: int) -> dict[str, Any]:
    """`OrderActionRecord` (action Cancel) for a simulator order record that cancelled or
    expired an order (`controller/orders.rs::cancel_order`: an expired order is cancelled
    with explanation `OrderExpired`). A post-only order is on the maker side."""
    explanation = "None"
    reason = (getattr(rec, "reason", "") or "").lower()
    if rec.action == "expire":
        explanation = "OrderExpired"
    else:
        for text, name in _CANCEL_EXPLANATIONS:
            if text in reason:
                explanation = name
                break
    maker = bool(order is not None and getattr(order, "post_only", False))
    return _action_record(
        rec.ts,
        "Cancel",
        explanation,
        rec.market_index,
        rec.market_type,
        user,
        _order_side(order, rec),
        oracle_price,
        maker,
    )


def trigger_event(rec: TriggerRecord, user: Pubkey) -> dict[str, Any]:
    """`OrderActionRecord` (action Trigger) when a trigger order's price was crossed."""
    order = rec.order
    market_type = MarketType.PERP if type(order.market_type).__name__ == "Perp" else MarketType.SPOT
    values = _action_record(
        rec.ts,
        "Trigger",
        "None",
        order.market_index,
        market_type,
        user,
        _order_side(order, order),
        rec.oracle_price,
        False,
    )
    values["trigger_price"] = order.trigger_price
    return values


def funding_payment_event(rec: Any, user: Pubkey) -> dict[str, Any]:
    return {
        "ts": rec.ts,
        "user_authority": Pubkey.from_string(rec.authority),
        "user": user,
        "market_index": rec.market_index,
        "funding_payment": rec.funding_payment,
        "base_asset_amount": rec.base_asset_amount,
        "user_last_cumulative_funding": rec.user_last_cumulative_funding,
        "amm_cumulative_funding_long": rec.amm_cumulative_funding_long,
        "amm_cumulative_funding_short": rec.amm_cumulative_funding_short,
    }


def funding_rate_event(rec: Any, record_id: int) -> dict[str, Any]:
    """`FundingRateRecord` for a simulator funding update of a perp market, as
    `controller/funding.rs::update_funding_rate` emits it (one per market per funding
    period, in a keeper's `update_funding_rate` transaction that writes the market)."""
    return {
        "ts": rec.ts,
        "record_id": record_id,
        "market_index": rec.market_index,
        "funding_rate": rec.funding_rate,
        "funding_rate_long": rec.funding_rate_long,
        "funding_rate_short": rec.funding_rate_short,
        "cumulative_funding_rate_long": rec.cumulative_funding_rate_long,
        "cumulative_funding_rate_short": rec.cumulative_funding_rate_short,
        "oracle_price_twap": rec.oracle_price_twap,
        "mark_price_twap": rec.mark_price_twap,
        "period_revenue": 0,
        "base_asset_amount_with_amm": 0,
        "base_asset_amount_with_unsettled_lp": 0,
    }


def settle_pnl_event(rec: Any, user: Pubkey) -> dict[str, Any]:
    return {
        "ts": rec.ts,
        "user": user,
        "market_index": rec.market_index,
        "pnl": rec.pnl,
        "base_asset_amount": rec.base_asset_amount,
        "quote_asset_amount_after": rec.quote_asset_amount_after,
        "quote_entry_amount": rec.quote_entry_amount,
        "settle_price": rec.settle_price,
        "explanation": variant("SettlePnlExplanation", "None"),
    }


@functools.cache
def _idl_types() -> dict[str, Any]:
    import json
    import os

    import driftpy

    path = os.path.join(os.path.dirname(driftpy.__file__), "idl", "drift.json")
    with open(path) as f:
        return {t["name"]: t["type"] for t in json.load(f)["types"]}


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def zero(ty: Any) -> Any:
    """The zero value of an IDL type, as the event coder builds it (structs as dicts)."""
    if isinstance(ty, str):
        if ty == "bool":
            return False
        if ty == "publicKey":
            return Pubkey.default()
        return 0
    if "option" in ty:
        return None
    if "vec" in ty:
        return []
    if "array" in ty:
        inner, n = ty["array"]
        return [zero(inner) for _ in range(n)]
    name = ty["defined"]
    td = _idl_types()[name]
    if td["kind"] == "enum":
        return variant(name, td["variants"][0]["name"])
    return {_snake(f["name"]): zero(f["type"]) for f in td["fields"]}


def liquidation_event(rec: Any, user: Pubkey, fill_record_id: int = 0) -> dict[str, Any]:
    """`LiquidationRecord` (LiquidatePerp) for a simulator perp liquidation: the user's
    base moved by `base_asset_amount` for `quote_asset_amount` at the oracle, paying the
    liquidator and insurance-fund fees (`controller/liquidation.rs::liquidate_perp`)."""
    values = {
        "ts": rec.ts,
        "liquidation_type": variant("LiquidationType", "LiquidatePerp"),
        "user": user,
        "liquidator": Pubkey.default(),
        "margin_requirement": rec.margin_requirement,
        "total_collateral": rec.total_collateral,
        "margin_freed": 0,
        "liquidation_id": rec.liquidation_id,
        "bankrupt": rec.bankrupt,
        "canceled_order_ids": list(rec.canceled_order_ids),
    }
    for name in (
        "liquidate_spot",
        "liquidate_borrow_for_perp_pnl",
        "liquidate_perp_pnl_for_deposit",
        "perp_bankruptcy",
        "spot_bankruptcy",
    ):
        type_name = "".join(p.capitalize() for p in name.split("_")) + "Record"
        values[name] = zero({"defined": type_name})
    perp = zero({"defined": "LiquidatePerpRecord"})
    perp.update(
        market_index=rec.market_index,
        oracle_price=rec.oracle_price,
        base_asset_amount=rec.base_asset_amount,
        quote_asset_amount=rec.quote_asset_amount,
        fill_record_id=fill_record_id,
        liquidator_fee=rec.liquidator_fee,
        if_fee=rec.if_fee,
    )
    values["liquidate_perp"] = perp
    return values


__all__ = [
    "TriggerRecord",
    "cancel_event",
    "fill_event",
    "trigger_event",
    "funding_payment_event",
    "funding_rate_event",
    "liquidation_event",
    "settle_pnl_event",
    "user_pubkey_of",
    "variant",
]
