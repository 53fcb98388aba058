"""Same data and seed -> the same final account bytes (Drift's IDL encoding)."""

from __future__ import annotations

from drift_engine.core.types import MarketType, OrderIntent, OrderType, PositionDirection
from drift_engine.data.synthetic import SyntheticMarket
from drift_engine.sim import DriftSimulator, FillRecord, FundingPaymentRecord, InterestRecord

QUOTE = 10**6
STEP = 10**7
DAYS = 3


def run(seed: int) -> tuple[dict[str, bytes], list]:
    market = SyntheticMarket(seed)
    start = market.origin
    events = list(market.events(["SOL-PERP", "SOL", "USDC"], start, start + DAYS * 86_400))
    first = next(e for e in events if e.kind == "oracle")
    sim = DriftSimulator({"SOL-PERP": first.price, "SOL": first.price}, ts=start - 60)
    k = sim.open_account()
    b = sim.open_account(sub_account_id=1)
    sim.deposit(k, "USDC", 50_000 * QUOTE, start - 60)
    sim.deposit(b, "USDC", 5_000 * QUOTE, start - 60)
    base = (20_000 * QUOTE * 10**9 // first.price) // STEP * STEP
    sim.place_order(k, OrderIntent(1, MarketType.SPOT, PositionDirection.LONG, base), start - 60)
    sim.place_order(k, OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, base), start - 60)
    hours = 0
    for event in events:
        sim.apply(event)
        if event.kind == "funding":
            hours += 1
            side = PositionDirection.LONG if hours % 3 else PositionDirection.SHORT
            sim.place_order(b, OrderIntent(0, MarketType.PERP, side, 30 * STEP), event.ts)
            if hours % 5 == 0:  # a resting bid 0.5% under the oracle
                px = sim.oracle_price("SOL-PERP") * 995 // 1000 // 100 * 100
                sim.place_order(
                    b,
                    OrderIntent(
                        0,
                        MarketType.PERP,
                        PositionDirection.LONG,
                        20 * STEP,
                        order_type=OrderType.LIMIT,
                        price=px,
                    ),
                    event.ts,
                )
    return sim.account_bytes(), sim.records


def test_same_data_and_seed_replay_to_the_same_account_bytes():
    bytes_a, records_a = run(11)
    bytes_b, records_b = run(11)
    assert bytes_a == bytes_b
    assert records_a == records_b
    kinds = {type(r) for r in records_a}
    assert {FillRecord, FundingPaymentRecord, InterestRecord} <= kinds
    assert any(isinstance(r, FillRecord) and r.is_maker for r in records_a)
    bytes_c, _ = run(12)
    assert bytes_c != bytes_a
