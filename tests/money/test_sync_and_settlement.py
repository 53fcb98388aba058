"""On-chain sync when the sub-account goes missing, and the settlement and interest rules
of the simulator at values where rounding shows.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from drift_engine.sim import rules
from drift_engine.storage import Database
from drift_engine.vaults import EntryKind, ReconcileOutcome, VaultRegistry, VaultType
from drift_engine.vaults.onchain_sync import OnChainVaultSync
from tests.live.conftest import USDC
from tests.live.live_helpers import chain_cash

from .conftest import BASE, PRICE, T0, H, funded, perp

# --------------------------------------------------------------------------- sync


def test_a_sub_account_gone_missing_during_sync_books_nothing_and_marks_the_vault_stale(
    world, make_client, tmp_path: Path
):
    client = make_client(world.server, now=lambda: world.sim.now)
    client.run(client.connect())
    client.run(client.initialize_user())
    client.run(client.deposit(1_234_567_891, 0))
    db = Database.open(f"sqlite:///{tmp_path / 'sync.db'}")
    registry = VaultRegistry(db)
    vault = registry.create_vault(
        "live",
        "dn-live",
        vault_type=VaultType.ON_CHAIN,
        network="localnet",
        authority=str(world.keypair.pubkey()),
        sub_account_id=0,
    )
    reads: list = []

    def read():
        state = client.run(client.refresh())
        if reads and reads[-1] == "gone":
            reads.append("read")
            return replace(state, user=None)  # the RPC no longer finds the User account
        reads.append("read")
        return state

    sync = OnChainVaultSync(registry, client, vault.id, "dn-live", read=read)
    first = sync(1_000)
    assert first.outcome is ReconcileOutcome.RECONCILED
    assert registry.summary(vault.id).balance == chain_cash(world) == 1_234_567_891
    entries = registry.ledger.entries(vault.id)
    assert [e.kind for e in entries] == [EntryKind.DEPOSIT]  # the opening balance

    world.chain.advance(2)
    reads.append("gone")
    assert sync(1_060) is None
    status = registry.sync_status.get(vault.id)
    assert status.stale and "sub-account 0 not found" in status.reason
    assert registry.ledger.entries(vault.id) == entries  # nothing booked from a guess
    assert registry.summary(vault.id).balance == 1_234_567_891

    world.chain.advance(2)
    again = sync(1_120)  # found again: reconciles and clears the flag
    assert again.outcome is ReconcileOutcome.RECONCILED
    assert not registry.sync_status.get(vault.id).stale
    assert registry.summary(vault.id).balance == chain_cash(world)
    client.close_blocking()
    db.dispose()


# --------------------------------------------------------------------------- settlement


def test_settle_pnl_moves_exactly_the_realized_part_into_usdc():
    sim, k = funded(123_456_700)
    tier = sim.state.perp_fee_structure.fee_tiers[0]
    tier.fee_numerator, tier.fee_denominator = 100, 100_000
    sim.perp_market("SOL-PERP").fee_adjustment = 0
    sim.place_order(k, perp("long", 3 * BASE), T0 + 1)  # entry 370_370_100, fee 370_371
    sim.set_oracle_price("SOL", 130 * PRICE, T0 + 2)
    # sell 1 of 3: removes trunc(-370_370_100 / 3) = -123_456_700 of entry, for 130_000_000
    (fill,) = sim.place_order(k, perp("short", BASE), T0 + 3).fills
    assert fill.realized_pnl == 130_000_000 - 123_456_700  # 6_543_300
    # fees 370_371 + 130_000: the first settled at once, the realized PnL settles whole
    # (the 2 SOL still open are +12_913_400 unrealized and stay unsettled)
    usdc = sim.token_amount(k, "USDC")
    assert usdc == 10_000 * USDC - 370_371 + 6_543_300 - 130_000
    pos = sim.perp_position(k, "SOL-PERP")
    assert pos.quote_entry_amount == -370_370_100 + 123_456_700
    assert pos.quote_asset_amount == pos.quote_entry_amount  # nothing realized left in quote


def test_claimable_pnl_caps_positive_pnl_at_the_realized_part_plus_the_pool_excess():
    sim, k = funded()
    sim.place_order(k, perp("long", BASE), T0 + 1)
    pos = sim.perp_position(k, "SOL-PERP")
    pos.quote_asset_amount = pos.quote_entry_amount + 7  # 7 of realized, unsettled
    # at $150 the position is +50 up: claimable = min(pnl, 7 + excess)
    pnl = rules.unrealized_pnl(pos, 150 * PRICE)
    assert pnl == 50_000_007
    assert rules.claimable_pnl(pos, 150 * PRICE, 0) == 7
    assert rules.claimable_pnl(pos, 150 * PRICE, 1_000) == 1_007
    assert rules.claimable_pnl(pos, 150 * PRICE, -5) == 7  # a pool deficit is no excess
    # losses are claimable whole
    assert rules.claimable_pnl(pos, 50 * PRICE, 0) == -49_999_993


# --------------------------------------------------------------------------- interest


def test_interest_deposit_increment_floors_and_borrow_increment_adds_one():
    sim, _ = funded()
    usdc = sim.spot_market("USDC")
    cum_d, cum_b = usdc.cumulative_deposit_interest, usdc.cumulative_borrow_interest
    assert (cum_d, cum_b) == (10**10, 10**10)
    # 5 % deposit / 8 % borrow APR (SPOT_RATE 1e6) over one hour:
    # deposit: floor(1e10 x 50_000 x 3_600 / 31_536_000) = 57_077_625_570 -> / 1e6 -> 57_077
    # borrow:  floor(1e10 x 80_000 x 3_600 / 31_536_000) = 91_324_200_913 -> 91_324 + 1
    changed = rules.accrue_spot_interest(usdc, usdc.last_interest_ts + H, 50_000, 80_000)
    assert changed
    assert usdc.cumulative_deposit_interest == 10**10 + 57_077
    assert usdc.cumulative_borrow_interest == 10**10 + 91_325


def test_interest_waits_until_the_increment_is_real():
    sim, _ = funded()
    usdc = sim.spot_market("USDC")
    start = usdc.last_interest_ts
    # 1 second at 0.0001 % (rate 1): floor(1e10 x 1 / 31_536_000) = 317 -> / 1e6 = 0:
    # nothing moves, and the clock does not move either (the time accumulates)
    assert not rules.accrue_spot_interest(usdc, start + 1, 1, 0)
    # a borrow increment of 0 + 1 is no real increment either
    assert not rules.accrue_spot_interest(usdc, start + 1, 0, 1)
    assert usdc.last_interest_ts == start and usdc.cumulative_deposit_interest == 10**10
    assert not rules.accrue_spot_interest(usdc, start, 50_000, 80_000)  # no time passed
    assert not rules.accrue_spot_interest(usdc, start + 5, 0, 0)
    assert usdc.last_interest_ts == start + 5  # zero rates: time moves, nothing accrues


def test_token_amounts_floor_deposits_and_round_borrows_up():
    sim, _ = funded()
    usdc = sim.spot_market("USDC")
    usdc.cumulative_deposit_interest = usdc.cumulative_borrow_interest = 10**10 + 57
    # 1_000_000_001_000 scaled x 10_000_000_057 / 1e13 = 1_000_000_006.7
    # -> deposit 1_000_000_006 (floor), borrow 1_000_000_007 (rounded up)
    scaled = 1_000_000_001_000
    assert rules.get_token_amount(scaled, usdc, True) == 1_000_000_006
    assert rules.get_token_amount(scaled, usdc, False) == 1_000_000_007
    # and back: floor(1_000_000_006 x 1e13 / 10_000_000_057) = floor(1_000_000_000_299.99..)
    assert rules.get_spot_balance(1_000_000_006, usdc, True, round_up=False) == 1_000_000_000_299
    assert rules.get_spot_balance(1_000_000_006, usdc, True, round_up=True) == 1_000_000_000_300


def test_interest_with_one_rate_and_going_back_in_time():
    sim, _ = funded()
    usdc = sim.spot_market("USDC")
    start = usdc.last_interest_ts
    assert not rules.accrue_spot_interest(usdc, start - 1, 50_000, 80_000)  # the past
    assert usdc.last_interest_ts == start
    # borrow rate only: floor(1e10 x 80_000 x 3_600 / 31_536_000 / 1e6) + 1 = 91_325
    assert rules.accrue_spot_interest(usdc, start + H, 0, 80_000)
    assert usdc.cumulative_deposit_interest == 10**10
    assert usdc.cumulative_borrow_interest == 10**10 + 91_325
    assert usdc.last_interest_ts == start + H
    # deposit rate only (a negative borrow rate counts as none): + 57_077 over the next hour
    assert rules.accrue_spot_interest(usdc, start + 2 * H, 50_000, -5)
    assert usdc.cumulative_deposit_interest == 10**10 + 57_077
    assert usdc.cumulative_borrow_interest == 10**10 + 91_325
    # both rates non-positive: the clock moves, nothing accrues
    assert not rules.accrue_spot_interest(usdc, start + 3 * H, -1, 0)
    assert usdc.last_interest_ts == start + 3 * H
