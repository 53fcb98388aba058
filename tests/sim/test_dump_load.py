"""`DriftSimulator.dump` / `load`: a loaded simulator continues exactly as the original."""

from __future__ import annotations

import base64
import contextlib
import json

from drift_engine.core.program import encode_account
from drift_engine.core.types import MarketType, OrderIntent, OrderType, PositionDirection
from drift_engine.data.synthetic import SyntheticMarket
from drift_engine.sim import DriftSimulator, FillRecord, SimulationError

QUOTE = 10**6
STEP = 10**7
DAYS = 3


def scenario(seed: int = 11):
    """(simulator set up, events, step(sim, event, hour)) of a busy two-account run."""
    market = SyntheticMarket(seed)
    start = market.origin
    events = list(market.events(["SOL-PERP", "SOL", "USDC"], start, start + DAYS * 86_400))
    first = next(e for e in events if e.kind == "oracle")
    sim = DriftSimulator(
        {"SOL-PERP": first.price, "SOL": first.price},
        ts=start - 60,
        interest_rates={"USDC": ("0.05", "0.08")},
        volume_caps={"SOL-PERP": 10 * STEP},
    )
    k = sim.open_account()
    b = sim.open_account(sub_account_id=1)
    sim.deposit(k, "USDC", 50_000 * QUOTE, start - 60)
    sim.deposit(b, "USDC", 300 * QUOTE, start - 60)
    base = (20_000 * QUOTE * 10**9 // first.price) // STEP * STEP
    sim.place_orders(
        k,
        [
            OrderIntent(1, MarketType.SPOT, PositionDirection.LONG, base),
            OrderIntent(0, MarketType.PERP, PositionDirection.SHORT, base),
        ],
        start - 60,
    )

    def step(sim: DriftSimulator, event, hours: int) -> None:
        sim.apply(event)
        if event.kind != "funding":
            return
        side = PositionDirection.LONG if hours % 3 else PositionDirection.SHORT
        # b trades at high leverage: some of its orders are refused
        with contextlib.suppress(SimulationError):
            sim.place_order(b, OrderIntent(0, MarketType.PERP, side, 150 * STEP), event.ts)
        if hours % 5 == 0:  # resting orders on both sides of the oracle
            px = sim.oracle_price("SOL-PERP") // 100 * 100
            for direction, price in (("long", px * 995 // 1000), ("short", px * 1005 // 1000)):
                sim.place_order(
                    k,
                    OrderIntent(
                        0,
                        MarketType.PERP,
                        PositionDirection(direction),
                        20 * STEP,
                        order_type=OrderType.LIMIT,
                        price=price // 100 * 100,
                    ),
                    event.ts,
                )

    return sim, events, step


def run(split: int | None):
    sim, events, step = scenario()
    hours = 0
    for n, event in enumerate(events):
        if n == split:
            data = json.loads(json.dumps(sim.dump(records_since=0)))
            records = list(sim.records)
            sim = DriftSimulator.load(data)
            assert sim.records == records
            assert sim.account_bytes() == DriftSimulator.load(data).account_bytes()
        if event.kind == "funding":
            hours += 1
        step(sim, event, hours)
    return sim


def test_dump_load_continue_gives_the_same_final_bytes_and_records():
    whole = run(None)
    kinds = {type(r).__name__ for r in whole.records}
    assert {"FillRecord", "FundingPaymentRecord", "InterestRecord", "OrderRecord"} <= kinds
    assert any(isinstance(r, FillRecord) and r.is_maker for r in whole.records)
    n = len(scenario()[1])
    for split in (1, n // 3, 2 * n // 3):
        resumed = run(split)
        assert resumed.account_bytes() == whole.account_bytes(), split
        assert resumed.records == whole.records, split
        assert resumed.now == whole.now and resumed._seq == whole._seq


def test_dump_keeps_the_account_bytes_and_open_orders():
    sim, events, step = scenario()
    for n, event in enumerate(events[:2000]):
        step(sim, event, n)
    loaded = DriftSimulator.load(sim.dump())
    assert loaded.account_bytes() == sim.account_bytes()
    assert loaded.records == [] and loaded._seq == sim._seq
    assert loaded.margin_metrics(loaded.accounts[0]) == sim.margin_metrics(sim.accounts[0])


def test_dump_encodes_again_only_what_changed_and_equals_a_fresh_encoding():
    """A checkpoint re-encodes only the Users/UserStats that changed (the rest come from
    the cache); at every point of a busy run (fills, refused orders, resting fills,
    funding, interest) the cached dump equals a dump encoded from scratch."""
    sim, events, step = scenario()
    hours = 0
    checked = 0
    for n, event in enumerate(events[:3000]):
        if event.kind == "funding":
            hours += 1
        step(sim, event, hours)
        if n % 37 == 0 or event.kind == "funding":
            cached = sim.dump()
            sim._encoded.clear()
            sim._encoded_stats.clear()
            sim._encoders.clear()  # and the per-field caches: all from scratch
            assert cached == sim.dump(), n
            for acct in sim._accounts.values():  # the field-cached bytes are anchorpy's
                assert (
                    sim._user_b64(acct)
                    == base64.b64encode(encode_account("User", acct.user)).decode()
                )
            checked += 1
    assert checked > 50
