"""`SqlOrderStore`: an engine's orders in the `engine_orders` table (migration 0006).

One row per order, updated in place as its status moves; the table's partial unique
index allows one *working* order per (engine, user order id), so two processes cannot
both believe they hold the same id. Every save is one short transaction: the record of
an order is committed before the order is sent (engine/orders.py).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from drift_engine.engine.orders import OrderState, OrderStatus, intent_from_json, intent_to_json
from drift_engine.storage.models import EngineOrderRow


def _state(row: EngineOrderRow) -> OrderState:
    return OrderState(
        engine_id=row.engine_id,
        seq=row.seq,
        user_order_id=row.user_order_id,
        intent=intent_from_json(row.intent),
        status=OrderStatus(row.status),
        order_id=row.order_id,
        base_filled=row.base_filled,
        quote_filled=row.quote_filled,
        created_ts=row.created_ts,
        updated_ts=row.updated_ts,
        reason=row.reason or "",
        external=row.external,
        send_ref=dict(row.send_ref or {}),
        fill_ids=list(row.fill_ids or []),
    )


class SqlOrderStore:
    """OrderStore over the project's Database (`storage.database.Database`)."""

    def __init__(self, db: Any) -> None:
        self.db = db

    def save(self, order: OrderState) -> None:
        with self.db.write() as s:
            row = s.scalar(
                select(EngineOrderRow).where(
                    EngineOrderRow.engine_id == order.engine_id, EngineOrderRow.seq == order.seq
                )
            )
            if row is None:
                row = EngineOrderRow(engine_id=order.engine_id, seq=order.seq)
                s.add(row)
            i = order.intent
            row.user_order_id = order.user_order_id
            row.status = order.status.value
            row.working = order.status.working
            row.external = order.external
            row.market_type = i.market_type.value
            row.market_index = i.market_index
            row.direction = i.direction.value
            row.base_asset_amount = i.base_asset_amount
            row.base_filled = order.base_filled
            row.quote_filled = order.quote_filled
            row.order_id = order.order_id
            row.intent = intent_to_json(i)
            row.send_ref = dict(order.send_ref)
            row.fill_ids = list(order.fill_ids)
            row.reason = order.reason[:300]
            row.created_ts = order.created_ts
            row.updated_ts = order.updated_ts

    def _select(self, engine_id: str, working_only: bool) -> list[OrderState]:
        with self.db.read() as s:
            q = select(EngineOrderRow).where(EngineOrderRow.engine_id == engine_id)
            if working_only:
                q = q.where(EngineOrderRow.working.is_(True))
            return [_state(r) for r in s.scalars(q.order_by(EngineOrderRow.seq))]

    def working(self, engine_id: str) -> list[OrderState]:
        return self._select(engine_id, True)

    def all(self, engine_id: str) -> list[OrderState]:
        return self._select(engine_id, False)

    def last_seq(self, engine_id: str) -> tuple[int, int]:
        with self.db.read() as s:
            top = s.scalar(
                select(func.max(EngineOrderRow.seq)).where(EngineOrderRow.engine_id == engine_id)
            )
            if top is None:
                return (0, 0)
            uid = s.scalar(
                select(EngineOrderRow.user_order_id).where(
                    EngineOrderRow.engine_id == engine_id, EngineOrderRow.seq == top
                )
            )
            return (int(top), int(uid or 0))


__all__ = ["SqlOrderStore"]
