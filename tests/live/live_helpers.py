"""Helpers for the live-engine tests: market events for the simulator behind the local RPC,
a market sink that applies them under the chain's lock, and engine assembly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import driftpy

from drift_engine.data.models import FundingRecord, OracleTick
from drift_engine.engine.market_board import MarketBoard
from drift_engine.strategies.delta_neutral import DeltaNeutralStrategy

HOUR = 3600
USDC = 1_000_000


class ChainMarketFeed:
    """A heartbeat `MarketSink`: market data moves the simulator that *is* the chain.

    Chain time moves to each event's time first (the keeper works the slots in
    between), then the event applies — at the chain's time if that is later."""

    def __init__(self, chain: Any, sim: Any) -> None:
        self.chain = chain
        self.sim = sim

    def apply(self, event: Any) -> None:
        import dataclasses

        clock = self.chain.clock
        if hasattr(clock, "sleep_until"):
            clock.sleep_until(event.ts)
        with self.chain._lock:
            self.chain.sync()
            if event.ts < self.sim.now:
                event = dataclasses.replace(event, ts=self.sim.now)
            self.sim.apply(event)


def hourly_events(start: int, hours: int, rates: list[int], price: int = 150_000_000):
    """Oracle ticks (SOL, SOL-PERP) and one SOL-PERP funding record per hour.

    `rates[i]` is the FUNDING_RATE (1e9, quote per base) of hour i (cycled)."""
    out: list[Any] = []
    cum = 0
    for h in range(1, hours + 1):
        ts = start + h * HOUR
        out.append(OracleTick(ts - 60, "SOL-PERP", price))
        rate = rates[(h - 1) % len(rates)]
        cum += rate
        out.append(
            FundingRecord(
                ts=ts,
                market="SOL-PERP",
                market_index=0,
                funding_rate=rate,
                funding_rate_long=rate,
                funding_rate_short=rate,
                cumulative_funding_rate_long=cum,
                cumulative_funding_rate_short=cum,
                oracle_price_twap=price,
                mark_price_twap=price,
            )
        )
    return out


def board_for(world: Any) -> MarketBoard:
    board = MarketBoard(["SOL-PERP"])
    board.set_price("SOL-PERP", world.sim.oracle_price("SOL-PERP"), world.sim.now)
    return board


def dn_strategy(**kw: Any) -> DeltaNeutralStrategy:
    cfg = dict(
        market="SOL-PERP",
        entry_apr=0.05,
        exit_apr=0.0,
        exit_window_hours=0,
        lookback_hours=1,
        target_leverage=0.5,
        retry_after_s=0,
    )
    cfg.update(kw)
    return DeltaNeutralStrategy(cfg)


def chain_cash(world: Any, sub_account_id: int = 0) -> int:
    """What an ON_CHAIN vault's ledger balance must equal (ADR 0008), computed from the
    chain's raw account bytes: the User account decoded by driftpy's own decoder
    (`driftpy.decode.user`), the USDC SpotMarket by driftpy's IDL, and the arithmetic
    done here. Independent of `vaults.onchain_sync.snapshot_of` and of the client's read
    path, which are what reconciliation books towards.

    cash = USDC token amount (scaled balance x cumulative interest / 1e13: floored for a
    deposit, rounded up for a borrow, `math/spot_balance.rs::get_token_amount`)
    + sum over perp positions of (quote_asset_amount - quote_entry_amount).
    """
    from anchorpy import Idl
    from anchorpy.coder.accounts import AccountsCoder
    from driftpy.addresses import get_spot_market_public_key, get_user_account_public_key
    from driftpy.constants.config import DRIFT_PROGRAM_ID
    from driftpy.decode.user import decode_user

    authority = world.keypair.pubkey()
    raw_user = world.chain.get_account(
        get_user_account_public_key(DRIFT_PROGRAM_ID, authority, sub_account_id)
    )
    user = decode_user(bytes(raw_user.data))
    idl = Idl.from_json((Path(next(iter(driftpy.__path__))) / "idl" / "drift.json").read_text())
    raw_usdc = world.chain.get_account(get_spot_market_public_key(DRIFT_PROGRAM_ID, 0))
    usdc_market = AccountsCoder(idl).decode(bytes(raw_usdc.data))
    scale = 10 ** (19 - usdc_market.decimals)  # SPOT_BALANCE x CUMULATIVE_INTEREST / 10^dec
    cash = 0
    for sp in user.spot_positions:
        if sp.market_index != 0 or sp.scaled_balance == 0:
            continue
        if type(sp.balance_type).__name__ == "Deposit":
            cash += sp.scaled_balance * usdc_market.cumulative_deposit_interest // scale
        else:
            cash -= -(-sp.scaled_balance * usdc_market.cumulative_borrow_interest // scale)
    for pp in user.perp_positions:
        cash += pp.quote_asset_amount - pp.quote_entry_amount
    return cash


def expected_taker_fee(world: Any, fill: Any) -> int:
    """The taker fee of a simulator fill record by the program's rule, written out here:
    ceil(quote x numerator / denominator) with the State's tier-0 numerators (these
    accounts trade far below the first volume tier), then the market's `fee_adjustment`
    (percent: a cut rounds the cut down, a surcharge rounds it up; `math/fees.rs`)."""
    from drift_engine.core.types import MarketType

    spot = fill.market_type is MarketType.SPOT
    structure = world.sim.state.spot_fee_structure if spot else world.sim.state.perp_fee_structure
    tier = structure.fee_tiers[0]
    fee = -(-fill.quote_asset_amount * tier.fee_numerator // tier.fee_denominator)
    market = (
        world.sim.spot_markets[fill.market_index]
        if spot
        else world.sim.perp_markets[fill.market_index]
    )
    adjustment = getattr(market, "fee_adjustment", 0)
    if adjustment < 0:
        fee -= fee * -adjustment // 100
    elif adjustment > 0:
        fee += -(-fee * adjustment // 100)
    return fee


def funded_sub_account(world: Any, make_client: Any, tmp_path: Path, deposit: int) -> tuple:
    """(client, database): a connected client whose sub-account 0 exists on the local chain
    with `deposit` micro-USDC in it, and an empty project database beside the test."""
    from drift_engine.storage.database import Database

    client = make_client(world.server, now=lambda: world.sim.now)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(deposit, 0))
    return client, Database.open(f"sqlite:///{tmp_path / 'live.db'}")
