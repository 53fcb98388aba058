"""`LocalnetConfig`: how unkind the local chain is. Realistic by default.

Every behaviour that makes the local chain act like mainnet is on by default and can be
switched off on its own, for a unit test that needs the kind version of one thing; the
end-to-end live tests run with all of them on. `LocalnetConfig.kind()` switches all of
them off (the first local chain's behaviour: fills inside the placing transaction,
statuses finalized at once, no fees, anything goes).

Figures that are not protocol constants (the maker's liquidity per slot, compute units
per instruction) are modelling assumptions of the order of what mainnet shows, not
measurements; tests that depend on them set them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

QUOTE = 1_000_000


class MakerConfig(BaseModel):
    """The built-in keeper's JIT maker: it fills an auctioned taker order when the auction
    price reaches its quote (the simulator's price model for the cumulative notional it
    has filled of that order), at most `notional_per_slot` micro-USDC per order per slot.

    Parameters
    ----------
    notional_per_slot: liquidity the maker adds to one order in one slot (QUOTE 1e6).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    notional_per_slot: int = Field(1_000 * QUOTE, gt=0)


class LocalnetConfig(BaseModel):
    """Parameters
    ----------
    slot_ms: length of a slot on the chain's clock.
    confirm_after_slots: slots after landing until a signature is "confirmed".
    finalize_after_slots: slots after landing until it is "finalized" (mainnet: 32).
    status_cache_slots: `getSignatureStatuses` answers only for signatures this recent
        unless `searchTransactionHistory` is set.
    auctions: taker orders rest with auction parameters and the keeper fills them over
        the following slots; off: they fill inside the placing transaction.
    settle_automatically: PnL and funding settle by themselves (funding updates settle
        every position, fills settle PnL); off (mainnet): `settle_pnl` is needed.
    fees: base and priority fees charged to the fee payer's SOL, rent for new accounts.
    compute_limits: each instruction consumes compute units; a transaction over its
        limit fails with `ComputationalBudgetExceeded`.
    sequential_sub_accounts: `initialize_user` takes only the next sub-account id
        (`InvalidUserSubAccountId`).
    check_accounts: the markets and oracles an instruction needs must be among its
        remaining accounts (`PerpMarketNotFound`, `SpotMarketNotFound`, `OracleNotFound`).
    min_perp_auction_duration, default_spot_auction_duration: the State's values
        (program defaults, `instructions/admin.rs::initialize`).
    lamports_per_signature: the base fee.
    maker: the keeper's JIT maker.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    slot_ms: int = Field(400, gt=0)
    confirm_after_slots: int = Field(1, ge=0)
    finalize_after_slots: int = Field(32, ge=0)
    status_cache_slots: int = Field(300, gt=0)
    auctions: bool = True
    settle_automatically: bool = False
    fees: bool = True
    compute_limits: bool = True
    sequential_sub_accounts: bool = True
    check_accounts: bool = True
    min_perp_auction_duration: int = Field(10, ge=0, le=255)
    default_spot_auction_duration: int = Field(10, ge=0, le=255)
    lamports_per_signature: int = Field(5000, ge=0)
    maker: MakerConfig = Field(default_factory=MakerConfig)

    @classmethod
    def kind(cls, **overrides: object) -> LocalnetConfig:
        """Every unkind behaviour off (then `overrides`)."""
        values: dict[str, object] = dict(
            confirm_after_slots=0,
            finalize_after_slots=0,
            auctions=False,
            settle_automatically=True,
            fees=False,
            compute_limits=False,
            sequential_sub_accounts=False,
            check_accounts=False,
        )
        values.update(overrides)
        return cls(**values)


__all__ = ["LocalnetConfig", "MakerConfig"]
