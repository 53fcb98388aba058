"""A paper liquidation is booked with the program's realized PnL: the ledger's amount
matches the USDC the liquidation moved, to the micro-USDC."""

from __future__ import annotations

from drift_engine.core.types import MarketType, OrderIntent, PositionDirection
from drift_engine.engine import DriftEngine
from drift_engine.engine.ledger import MemoryLedgerSink
from drift_engine.engine.market_board import MarketBoard
from drift_engine.engine.ports import LiquidationEvent
from drift_engine.sim import DriftSimulator, PriceModel
from drift_engine.strategies import DeltaNeutralStrategy
from drift_engine.venues.paper import PaperVenue

T0 = 1_767_225_600
PRICE = QUOTE = 10**6
BASE = 10**9
AT_ORACLE = PriceModel(half_spread_ppm=0, impact_ppm_at_reference=0)


def perp(direction: str, base: int, **kw) -> OrderIntent:
    return OrderIntent(0, MarketType.PERP, PositionDirection(direction), base, **kw)


def setup(price: int, deposit: int):
    sim = DriftSimulator({"SOL-PERP": price, "SOL": price}, ts=T0, default_price_model=AT_ORACLE)
    venue = PaperVenue(sim)
    venue.fund(deposit, T0)
    ledger = MemoryLedgerSink(opening_balance=deposit)
    engine = DriftEngine("liq", DeltaNeutralStrategy({}), venue, ledger, MarketBoard(["SOL-PERP"]))
    return sim, venue, ledger, engine


def usdc(sim, venue) -> int:
    return sim.token_amount(venue.key, "USDC")


def test_full_liquidation_books_exactly_the_usdc_it_moved():
    # $10 of collateral, 0.47 SOL long at $100.0003 (4.7x); value at $80.50 < $50: closed whole
    sim, venue, ledger, engine = setup(100_000_300, 10 * QUOTE)
    for fill in venue.place([perp("long", 470_000_000)], T0 + 1):
        engine._handle(fill)
    assert ledger.balance() == usdc(sim, venue)  # the taker fee, settled
    sim.set_oracle_price("SOL", 80_500_000, T0 + 2)
    before = usdc(sim, venue)
    (rec,) = sim.liquidate_if_needed(T0 + 2)
    assert sim.perp_position(venue.key, "SOL-PERP") is None  # closed and settled
    moved = usdc(sim, venue) - before
    (event,) = [e for e in venue.poll_events(T0 + 2) if isinstance(e, LiquidationEvent)]
    booked_before = ledger.balance()
    engine._handle(event)
    assert event.amount == rec.realized_pnl and event.fee == rec.liquidator_fee + rec.if_fee
    assert ledger.balance() - booked_before == moved == rec.cash
    assert ledger.balance() == usdc(sim, venue)


def test_partial_liquidation_then_close_keeps_the_ledger_equal_to_usdc():
    # two opening fills at different prices: the closed share of the entry value does not
    # divide evenly, and the program truncates (an estimate from the cached entry that
    # floors is one micro-USDC off here)
    sim, venue, ledger, engine = setup(100_000_300, 100 * QUOTE)
    for fill in venue.place([perp("long", 2_500_000_000)], T0 + 1):
        engine._handle(fill)
    sim.set_oracle_price("SOL", 100_010_700, T0 + 1)
    for fill in venue.place([perp("long", 2_470_000_000)], T0 + 1):
        engine._handle(fill)
    pos = sim.perp_position(venue.key, "SOL-PERP")
    entry0, base0 = pos.quote_entry_amount, pos.base_asset_amount
    sim.set_oracle_price("SOL", 82_345_677, T0 + 2)
    recs = sim.liquidate_if_needed(T0 + 2)
    assert recs and sim.perp_position(venue.key, "SOL-PERP").base_asset_amount > 0
    events = venue.poll_events(T0 + 2)
    liqs = [e for e in events if isinstance(e, LiquidationEvent)]
    assert [e.amount for e in liqs] == [r.realized_pnl for r in recs]
    floor_estimate = recs[0].quote_asset_amount + entry0 * abs(recs[0].base_asset_amount) // base0
    assert floor_estimate != recs[0].realized_pnl
    for e in events:
        engine._handle(e)
    left = sim.perp_position(venue.key, "SOL-PERP").base_asset_amount
    for fill in venue.place([perp("short", left, reduce_only=True)], T0 + 3):
        engine._handle(fill)
    for e in venue.poll_events(T0 + 3):
        engine._handle(e)
    assert sim.perp_position(venue.key, "SOL-PERP") is None or (
        sim.perp_position(venue.key, "SOL-PERP").quote_asset_amount == 0
    )
    # flat: every micro-USDC of the account is explained by the booked entries
    assert ledger.balance() == usdc(sim, venue)
    assert ledger.balance() == 100 * QUOTE + sum(p.amount - p.fee for p in ledger.entries)
