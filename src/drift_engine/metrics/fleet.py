"""Every engine and vault of a database, as metrics: what the dashboard's API shows.

`FleetCollector` is the dashboard's `/metrics`: at scrape time (never on a heartbeat) it
asks the same `DashboardReader` the API uses — engines, their margin and orders, vaults
— and reads the ledger's entry counts by kind and the engine leases (which runner holds
each engine). One scrape of one dashboard therefore covers the engines of every runner
sharing the database, with the values the API answers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, inspect, select

from drift_engine.metrics.figures import PREFIX, EngineFigures, VaultFigures, families

log = logging.getLogger("drift_engine.metrics")


class FleetCollector(Collector):
    def __init__(self, reader: Any) -> None:
        self.reader = reader

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(f"{PREFIX}_database_up", "1 when the database answered the scrape")
        try:
            engines, vaults, beat = self.read()
        except Exception:  # noqa: BLE001 - a scrape must say "down", not fail
            log.exception("metrics: could not read the database")
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        out: list[Metric] = [up, *families(engines, vaults)]
        if beat is not None:
            age = GaugeMetricFamily(
                f"{PREFIX}_heartbeat_age_seconds",
                "Wall seconds since the newest heartbeat row (any runner)",
            )
            age.add_metric([], beat)
            out.append(age)
        return out

    def read(self) -> tuple[list[EngineFigures], list[VaultFigures], float | None]:
        reader = self.reader
        holders = runners(reader.db)
        engines: list[EngineFigures] = []
        for summary in reader.list_engines():
            detail = reader.get_engine(summary.id)
            if detail is None:  # removed between the two reads
                continue
            engines.append(
                EngineFigures(
                    engine=detail.id,
                    name=detail.name,
                    mode=detail.mode.lower(),
                    strategy=detail.strategy,
                    state=detail.state.lower(),
                    runner=holders.get(detail.id, ""),
                    health=detail.margin.health,
                    leverage=detail.margin.leverage,
                    liquidation_distance_pct=detail.margin.liquidation_distance_pct,
                    open_orders=_orders(detail, "working"),
                    unknown_orders=_orders(detail, "unknown"),
                    unhedged_notional=_unhedged(detail),
                )
            )
        counts = entry_counts(reader.db)
        vaults = [
            VaultFigures(
                vault=v.name or v.id,
                engine=v.engine_id or "",
                type=v.type,
                active=v.active,
                balance=v.balance.micro,
                equity=v.equity.micro,
                pnl=v.pnl.micro,
                funding=v.funding.micro,
                fees=v.fees.micro,
                entries=counts.get(int(v.id), {}),
            )
            for v in reader.list_vaults()
        ]
        health = reader.health()
        return engines, vaults, health.heartbeat_age_seconds


def _orders(detail: Any, key: str) -> int | None:
    """From the API's `orders` (the engine's order book summary): working orders, and
    those whose outcome is UNKNOWN (by status)."""
    orders = getattr(detail, "orders", None)
    if not isinstance(orders, dict) or not orders:
        return None
    if key == "unknown":
        by_status = orders.get("by_status")
        value = by_status.get("unknown", 0) if isinstance(by_status, dict) else None
    else:
        value = orders.get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _unhedged(detail: Any) -> int | None:
    """The API's `unhedged` notional; none (the legs match) is 0."""
    if not hasattr(detail, "unhedged"):
        return None
    value = detail.unhedged
    return 0 if value is None else abs(int(value.notional.micro))


def entry_counts(db: Any) -> dict[int, dict[str, int]]:
    """vault id -> ledger entry kind -> entries (one GROUP BY)."""
    from drift_engine.storage.models import LedgerEntryRow

    with db.read() as s:
        rows = s.execute(
            select(LedgerEntryRow.vault_id, LedgerEntryRow.kind, func.count()).group_by(
                LedgerEntryRow.vault_id, LedgerEntryRow.kind
            )
        ).all()
    out: dict[int, dict[str, int]] = {}
    for vault_id, kind, n in rows:
        out.setdefault(int(vault_id), {})[getattr(kind, "value", str(kind))] = int(n)
    return out


def runners(db: Any, now_ms: int | None = None) -> dict[str, str]:
    """engine id -> the runner holding its lease now ("host:pid"); none when free or
    expired (a database without the leases table: none)."""
    from drift_engine.engine.lease import Leases

    if "leases" not in inspect(db.engine).get_table_names():
        return {}
    now = int(time.time() * 1000) if now_ms is None else now_ms
    out = {}
    for name, info in Leases.read(db).items():
        if name.startswith("engine:") and not info.expired(now):
            out[name.removeprefix("engine:")] = f"{info.holder.host}:{info.holder.pid}"
    return out


__all__ = ["FleetCollector", "entry_counts", "runners"]
