"""The pure Drift instruction builder: validated intents in, solders `Instruction`s out.

No network, no clock, no randomness: the same catalog, authority, sub-account, user view
and intent always give the same bytes. Instruction data is encoded by anchorpy's
instruction coder over driftpy's Drift IDL (`core.program.drift_program`); addresses are
derived with `driftpy.addresses`. The result is byte-identical (data and account metas)
to what driftpy's `DriftClient.get_*_ix` builders produce for the same inputs — the tests
build both and compare.

Remaining accounts. The program loads the markets an instruction may touch from the
instruction's remaining accounts: all oracles first, then spot markets, then perp markets
(`instructions/optional_accounts.rs::load_maps`). Which markets: every market the user
has a position or open orders in, plus the order's markets; a perp market brings its
oracle and its quote spot market (USDC, index 0); a spot position with open bids/asks
brings the quote spot market too. We walk them in the same order as driftpy's client
(the user's spot positions, then perp positions, then the order's markets), deduplicate
the same way (first occurrence fixes the position, the last one the writability) and
mark writable what driftpy marks writable (the deposit/withdraw/transfer market, an
order's market never). `UserAccountsView` carries what of the user account this needs.

What driftpy does that we do not: it also adds markets of orders it sent itself after the
last user-account update it saw (`last_*_market_seen_cache`, client state); pass the
current user account instead. driftpy's deposit/withdraw may prepend instructions that
create a temporary wrapped-SOL account under a random seed, and withdraw asks the RPC
whether the token account exists; those are not pure, so here the caller passes a token
account that exists (e.g. the associated token account) and we build the Drift
instruction alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from anchorpy import Context, Program
from driftpy.addresses import (
    get_drift_client_signer_public_key,
    get_perp_market_public_key,
    get_spot_market_public_key,
    get_spot_market_vault_public_key,
    get_state_public_key,
    get_user_account_public_key,
    get_user_stats_account_public_key,
)
from driftpy.constants.config import DRIFT_PROGRAM_ID
from driftpy.constants.numeric_constants import QUOTE_SPOT_MARKET_INDEX
from driftpy.constants.spot_markets import WRAPPED_SOL_MINT
from solders.instruction import AccountMeta, Instruction
from solders.pubkey import Pubkey
from spl.token.constants import TOKEN_PROGRAM_ID
from spl.token.instructions import get_associated_token_address

from drift_engine.core.errors import OrderValidationError
from drift_engine.core.markets import MarketCatalog, MarketSpec, UnknownMarketError
from drift_engine.core.program import drift_idl, drift_program
from drift_engine.core.types import (
    U8_MAX,
    U64_MAX,
    DriftPosition,
    MarketType,
    OrderIntent,
    OrderModification,
    PositionDirection,
    is_variant,
)
from drift_engine.core.validation import (
    check_market_open,
    check_price_on_tick,
    check_size,
    market_for,
    validate_intent,
)

U32_MAX = 2**32 - 1
MAX_SUB_ACCOUNT_ID = 2**16 - 1


# --------------------------------------------------------------------------- user view


@dataclass(frozen=True, slots=True)
class UserAccountsView:
    """What of a User (sub-)account decides an instruction's remaining accounts.

    `spot_market_indexes` / `perp_market_indexes` are the markets the user's non-empty
    positions are in, in the order the account's position slots hold them (spot: the
    quote market 0 follows a position with open bids or asks). `positions` maps
    (market type, market index) to the signed position (perp base in BASE 1e9; spot token
    amount, or only its sign when built from a User account without spot markets); when
    it is None positions are unknown and reduce-only orders are not checked against them.
    """

    spot_market_indexes: tuple[int, ...] = ()
    perp_market_indexes: tuple[int, ...] = ()
    positions: tuple[tuple[MarketType, int, int], ...] | None = ()

    @classmethod
    def empty(cls) -> UserAccountsView:
        """A sub-account with no positions and no open orders."""
        return cls()

    @classmethod
    def unknown(cls) -> UserAccountsView:
        """No position data: only the order's own markets go into remaining accounts."""
        return cls(positions=None)

    @classmethod
    def from_user(
        cls, user: Any, spot_markets: Mapping[int, Any] | None = None
    ) -> UserAccountsView:
        """From a driftpy/anchorpy `User` account (as decoded from the chain).

        With `spot_markets` (index -> SpotMarket account) spot positions carry token
        amounts; without, the signed scaled balance (its sign is all the reduce-only check
        needs).
        """
        from driftpy.math.perp_position import is_available
        from driftpy.math.spot_position import is_spot_position_available

        spots: list[int] = []
        perps: list[int] = []
        positions: list[tuple[MarketType, int, int]] = []
        for sp in user.spot_positions:
            if not is_spot_position_available(sp):
                spots.append(sp.market_index)
                if spot_markets is not None and sp.market_index in spot_markets:
                    amount = DriftPosition.from_spot(
                        sp, spot_markets[sp.market_index]
                    ).base_asset_amount
                else:
                    sign = -1 if is_variant(sp.balance_type, "Borrow") else 1
                    amount = sign * sp.scaled_balance
                positions.append((MarketType.SPOT, sp.market_index, amount))
            if sp.open_asks != 0 or sp.open_bids != 0:
                spots.append(QUOTE_SPOT_MARKET_INDEX)
        for pp in user.perp_positions:
            if not is_available(pp):
                perps.append(pp.market_index)
                positions.append((MarketType.PERP, pp.market_index, pp.base_asset_amount))
        return cls(tuple(spots), tuple(perps), tuple(positions))

    @classmethod
    def from_positions(cls, positions: Iterable[DriftPosition]) -> UserAccountsView:
        """From `DriftPosition`s in the account's slot order (as `positions_from_user`)."""
        spots: list[int] = []
        perps: list[int] = []
        held: list[tuple[MarketType, int, int]] = []
        for p in positions:
            if p.market_type is MarketType.SPOT:
                if p.base_asset_amount != 0 or p.open_orders != 0:
                    spots.append(p.market_index)
                    held.append((MarketType.SPOT, p.market_index, p.base_asset_amount))
                if p.open_bids != 0 or p.open_asks != 0:
                    spots.append(QUOTE_SPOT_MARKET_INDEX)
            elif p.base_asset_amount != 0 or p.quote_asset_amount != 0 or p.open_orders != 0:
                perps.append(p.market_index)
                held.append((MarketType.PERP, p.market_index, p.base_asset_amount))
        return cls(tuple(spots), tuple(perps), tuple(held))

    @classmethod
    def of(cls, user: UserAccountsView | Any | Iterable[DriftPosition] | None) -> UserAccountsView:
        """Coerce a view, a driftpy `User` account, `DriftPosition`s or None (unknown)."""
        if user is None:
            return cls.unknown()
        if isinstance(user, UserAccountsView):
            return user
        if hasattr(user, "perp_positions") and hasattr(user, "spot_positions"):
            return cls.from_user(user)
        return cls.from_positions(user)

    def position_base(self, market_type: MarketType, market_index: int) -> int | None:
        """Signed position in a market (0 when flat), None when positions are unknown."""
        if self.positions is None:
            return None
        for mtype, index, amount in self.positions:
            if mtype is market_type and index == market_index:
                return amount
        return 0


UserLike = UserAccountsView | Any | Iterable[DriftPosition] | None


# --------------------------------------------------------------------------- addresses


@cache
def _program_for(program_id: Pubkey) -> Program:
    default = drift_program()
    if program_id == default.program_id:
        return default
    return Program(drift_idl(), program_id, default.provider)


@cache
def _perp_market_key(program_id: Pubkey, market_index: int) -> Pubkey:
    return get_perp_market_public_key(program_id, market_index)


@cache
def _spot_market_key(program_id: Pubkey, market_index: int) -> Pubkey:
    return get_spot_market_public_key(program_id, market_index)


@cache
def _spot_vault_key(program_id: Pubkey, market_index: int) -> Pubkey:
    return get_spot_market_vault_public_key(program_id, market_index)


@cache
def _user_key(program_id: Pubkey, authority: Pubkey, sub_account_id: int) -> Pubkey:
    return get_user_account_public_key(program_id, authority, sub_account_id)


@cache
def _user_stats_key(program_id: Pubkey, authority: Pubkey) -> Pubkey:
    return get_user_stats_account_public_key(program_id, authority)


@cache
def _state_key(program_id: Pubkey) -> Pubkey:
    return get_state_public_key(program_id)


@cache
def _signer_key(program_id: Pubkey) -> Pubkey:
    return get_drift_client_signer_public_key(program_id)


# --------------------------------------------------------------------------- builder


class DriftInstructionBuilder:
    """Builds Drift v2 instructions for one sub-account of one authority.

    `signer` is the key that signs (the `authority` account of the instructions);
    it defaults to `authority` and may be a delegate for order instructions.
    """

    def __init__(
        self,
        catalog: MarketCatalog,
        authority: Pubkey,
        sub_account_id: int = 0,
        program_id: Pubkey = DRIFT_PROGRAM_ID,
        *,
        signer: Pubkey | None = None,
    ) -> None:
        if isinstance(sub_account_id, bool) or not 0 <= sub_account_id <= MAX_SUB_ACCOUNT_ID:
            raise OrderValidationError(
                "sub_account_id", f"{sub_account_id!r} is outside [0, {MAX_SUB_ACCOUNT_ID}]"
            )
        self.catalog = catalog
        self.authority = authority
        self.sub_account_id = sub_account_id
        self.program_id = program_id
        self.signer = authority if signer is None else signer
        self._program = _program_for(program_id)

    # ------------------------------------------------------------------ addresses

    @property
    def state_pubkey(self) -> Pubkey:
        return _state_key(self.program_id)

    @property
    def user_pubkey(self) -> Pubkey:
        return _user_key(self.program_id, self.authority, self.sub_account_id)

    @property
    def user_stats_pubkey(self) -> Pubkey:
        return _user_stats_key(self.program_id, self.authority)

    def user_pubkey_of(self, sub_account_id: int) -> Pubkey:
        return _user_key(self.program_id, self.authority, sub_account_id)

    def spot_market_vault(self, market_index: int) -> Pubkey:
        return _spot_vault_key(self.program_id, market_index)

    def associated_token_account(self, spot_market_index: int) -> Pubkey:
        """The signer's associated token account for a spot market's mint."""
        market = market_for(self.catalog, MarketType.SPOT, spot_market_index)
        if market.mint is None:
            raise OrderValidationError(
                "market_index", f"{market.symbol} has no mint in the catalog"
            )
        return get_associated_token_address(self.signer, market.mint)

    # ------------------------------------------------------------------ remaining accounts

    def remaining_accounts(
        self,
        users: Sequence[UserLike] = (),
        *,
        readable_perp: Sequence[int] = (),
        readable_spot: Sequence[int] = (),
        writable_perp: Sequence[int] = (),
        writable_spot: Sequence[int] = (),
    ) -> list[AccountMeta]:
        """Oracles, then spot markets, then perp markets an instruction must carry."""
        oracles: dict[Pubkey, AccountMeta] = {}
        spots: dict[int, AccountMeta] = {}
        perps: dict[int, AccountMeta] = {}

        def spot(index: int, writable: bool) -> None:
            market = self._known_market(MarketType.SPOT, index)
            spots[index] = AccountMeta(
                _spot_market_key(self.program_id, index), is_signer=False, is_writable=writable
            )
            if market.oracle != Pubkey.default():
                oracles[market.oracle] = AccountMeta(
                    market.oracle, is_signer=False, is_writable=False
                )

        def perp(index: int, writable: bool) -> None:
            market = self._known_market(MarketType.PERP, index)
            perps[index] = AccountMeta(
                _perp_market_key(self.program_id, index), is_signer=False, is_writable=writable
            )
            # A prelaunch oracle is a program account the perp market's update writes to.
            oracle_writable = writable and is_variant(market.oracle_source, "Prelaunch")
            oracles[market.oracle] = AccountMeta(
                market.oracle, is_signer=False, is_writable=oracle_writable
            )
            # Every Drift perp market settles in USDC (PerpMarket.quote_spot_market_index 0).
            spot(QUOTE_SPOT_MARKET_INDEX, False)

        for user in users:
            view = UserAccountsView.of(user)
            for index in view.spot_market_indexes:
                spot(index, False)
            for index in view.perp_market_indexes:
                perp(index, False)
        for index in readable_perp:
            perp(index, False)
        for index in readable_spot:
            spot(index, False)
        for index in writable_perp:
            perp(index, True)
        for index in writable_spot:
            spot(index, True)
        return [*oracles.values(), *spots.values(), *perps.values()]

    def _known_market(self, market_type: MarketType, index: int) -> MarketSpec:
        try:
            return self.catalog.get(market_type, index)
        except UnknownMarketError as exc:
            raise UnknownMarketError(
                f"the user account has a position or orders in a market the catalog lacks "
                f"({exc}); remaining accounts need every such market"
            ) from None

    # ------------------------------------------------------------------ validation

    def validate(
        self, intent: OrderIntent, user: UserLike = None, *, round_to_step: bool = False
    ) -> OrderIntent:
        """Check an intent against its market's rules (and `user`'s positions when known)."""
        view = UserAccountsView.of(user)
        return validate_intent(
            self.catalog,
            intent,
            position_base=view.position_base(intent.market_type, intent.market_index),
            round_to_step=round_to_step,
        )

    # ------------------------------------------------------------------ orders

    def place_perp_order(
        self, intent: OrderIntent, user: UserLike = None, *, round_to_step: bool = False
    ) -> Instruction:
        self._expect_type(intent, MarketType.PERP)
        view = UserAccountsView.of(user)
        intent = self.validate(intent, view, round_to_step=round_to_step)
        remaining = self.remaining_accounts([view], readable_perp=[intent.market_index])
        return self._order_ix("place_perp_order", intent.to_driftpy(), remaining)

    def place_spot_order(
        self, intent: OrderIntent, user: UserLike = None, *, round_to_step: bool = False
    ) -> Instruction:
        self._expect_type(intent, MarketType.SPOT)
        view = UserAccountsView.of(user)
        intent = self.validate(intent, view, round_to_step=round_to_step)
        remaining = self.remaining_accounts(
            [view], readable_spot=[QUOTE_SPOT_MARKET_INDEX, intent.market_index]
        )
        return self._order_ix("place_spot_order", intent.to_driftpy(), remaining)

    def place_order(
        self, intent: OrderIntent, user: UserLike = None, *, round_to_step: bool = False
    ) -> Instruction:
        """`place_perp_order` or `place_spot_order`, by the intent's market type."""
        if intent.market_type is MarketType.PERP:
            return self.place_perp_order(intent, user, round_to_step=round_to_step)
        return self.place_spot_order(intent, user, round_to_step=round_to_step)

    def place_orders(
        self,
        intents: Sequence[OrderIntent],
        user: UserLike = None,
        *,
        round_to_step: bool = False,
    ) -> Instruction:
        """Several orders in one instruction (e.g. spot long + perp short of a hedge)."""
        intents = list(intents)
        if not intents:
            raise OrderValidationError("intents", "place_orders needs at least one order")
        if len(intents) > 32:
            raise OrderValidationError(
                "intents", f"{len(intents)} orders; a Drift user holds at most 32 open orders"
            )
        view = UserAccountsView.of(user)
        checked = [self.validate(i, view, round_to_step=round_to_step) for i in intents]
        perps = [i.market_index for i in checked if i.market_type is MarketType.PERP]
        spots = [i.market_index for i in checked if i.market_type is MarketType.SPOT]
        remaining = self.remaining_accounts(
            [view],
            readable_perp=perps,
            readable_spot=[QUOTE_SPOT_MARKET_INDEX, *spots] if spots else [],
        )
        return self._order_ix("place_orders", [i.to_driftpy() for i in checked], remaining)

    def place_and_take_perp_order(
        self, intent: OrderIntent, user: UserLike = None, *, round_to_step: bool = False
    ) -> Instruction:
        """Place a perp order and fill it in the same instruction (no maker accounts: it
        takes from the AMM and resting orders; the unfilled rest is cancelled). Same
        accounts as driftpy's `get_place_and_take_perp_order_ix` without makers."""
        self._expect_type(intent, MarketType.PERP)
        view = UserAccountsView.of(user)
        intent = self.validate(intent, view, round_to_step=round_to_step)
        remaining = self.remaining_accounts([view], writable_perp=[intent.market_index])
        accounts = {
            "state": self.state_pubkey,
            "user": self.user_pubkey,
            "user_stats": self.user_stats_pubkey,
            "authority": self.signer,
        }
        return self._ix(
            "place_and_take_perp_order", (intent.to_driftpy(), None), accounts, remaining
        )

    def settle_pnl(self, market_index: int, user: UserLike = None) -> Instruction:
        """Settle a perp position's funding and PnL into USDC (driftpy's
        `get_settle_pnl_ix`: the perp market and the quote spot market writable)."""
        market_for(self.catalog, MarketType.PERP, market_index)
        remaining = self.remaining_accounts(
            [user], writable_perp=[market_index], writable_spot=[QUOTE_SPOT_MARKET_INDEX]
        )
        accounts = {
            "state": self.state_pubkey,
            "user": self.user_pubkey,
            "authority": self.signer,
            "spot_market_vault": self.spot_market_vault(QUOTE_SPOT_MARKET_INDEX),
        }
        return self._ix("settle_pnl", (market_index,), accounts, remaining)

    def cancel_order(self, order_id: int | None = None, user: UserLike = None) -> Instruction:
        """Cancel an order by its program-assigned id (None: the user's most recent)."""
        if order_id is not None:
            _check_range("order_id", order_id, 0, U32_MAX)
        return self._order_ix("cancel_order", order_id, self.remaining_accounts([user]))

    def cancel_order_by_user_id(self, user_order_id: int, user: UserLike = None) -> Instruction:
        _check_range("user_order_id", user_order_id, 0, U8_MAX)
        return self._order_ix(
            "cancel_order_by_user_id", user_order_id, self.remaining_accounts([user])
        )

    def cancel_orders(
        self,
        market_type: MarketType | None = None,
        market_index: int | None = None,
        direction: PositionDirection | None = None,
        user: UserLike = None,
    ) -> Instruction:
        """Cancel all open orders, or those of one market (type and index) and/or side."""
        if market_index is not None:
            if market_type is None:
                raise OrderValidationError(
                    "market_type", "a market_index filter needs its market_type too"
                )
            market_for(self.catalog, MarketType(market_type), market_index)
        args = (
            None if market_type is None else MarketType(market_type).to_driftpy(),
            market_index,
            None if direction is None else PositionDirection(direction).to_driftpy(),
        )
        return self._order_ix("cancel_orders", args, self.remaining_accounts([user]))

    def cancel_market_orders(
        self, market_type: MarketType, market_index: int, user: UserLike = None
    ) -> Instruction:
        """Cancel all open orders in one market."""
        return self.cancel_orders(market_type, market_index, None, user)

    def modify_order(
        self,
        order_id: int | None,
        modification: OrderModification,
        user: UserLike = None,
        *,
        market_type: MarketType | None = None,
        market_index: int | None = None,
    ) -> Instruction:
        """Modify a resting order by id; give its market to check the new size and prices."""
        if order_id is not None:
            _check_range("order_id", order_id, 0, U32_MAX)
        self._validate_modification(modification, market_type, market_index)
        return self._order_ix(
            "modify_order", (order_id, modification.to_driftpy()), self.remaining_accounts([user])
        )

    def modify_order_by_user_id(
        self,
        user_order_id: int,
        modification: OrderModification,
        user: UserLike = None,
        *,
        market_type: MarketType | None = None,
        market_index: int | None = None,
    ) -> Instruction:
        _check_range("user_order_id", user_order_id, 0, U8_MAX)
        self._validate_modification(modification, market_type, market_index)
        return self._order_ix(
            "modify_order_by_user_id",
            (user_order_id, modification.to_driftpy()),
            self.remaining_accounts([user]),
        )

    # ------------------------------------------------------------------ collateral

    def deposit(
        self,
        amount: int,
        spot_market_index: int,
        user_token_account: Pubkey | None = None,
        user: UserLike = None,
        *,
        reduce_only: bool = False,
        token_program: Pubkey = TOKEN_PROGRAM_ID,
    ) -> Instruction:
        """Deposit `amount` (token precision) from a token account into this sub-account.

        `user_token_account` defaults to the signer's associated token account.
        """
        _check_range("amount", amount, 1, U64_MAX)
        token_account = self._token_account(spot_market_index, user_token_account)
        accounts = {
            "state": self.state_pubkey,
            "user": self.user_pubkey,
            "user_stats": self.user_stats_pubkey,
            "authority": self.signer,
            "spot_market_vault": self.spot_market_vault(spot_market_index),
            "user_token_account": token_account,
            "token_program": token_program,
        }
        remaining = self.remaining_accounts([user], writable_spot=[spot_market_index])
        return self._ix("deposit", (spot_market_index, amount, reduce_only), accounts, remaining)

    def withdraw(
        self,
        amount: int,
        spot_market_index: int,
        user_token_account: Pubkey | None = None,
        user: UserLike = None,
        *,
        reduce_only: bool = False,
        token_program: Pubkey = TOKEN_PROGRAM_ID,
    ) -> Instruction:
        """Withdraw `amount` to a token account that exists (default: the signer's ATA).

        With `reduce_only=False` the program may open a borrow for what the deposit lacks.
        """
        _check_range("amount", amount, 1, U64_MAX)
        token_account = self._token_account(spot_market_index, user_token_account)
        accounts = {
            "state": self.state_pubkey,
            "user": self.user_pubkey,
            "user_stats": self.user_stats_pubkey,
            "authority": self.signer,
            "spot_market_vault": self.spot_market_vault(spot_market_index),
            "drift_signer": _signer_key(self.program_id),
            "user_token_account": token_account,
            "token_program": token_program,
        }
        remaining = self.remaining_accounts([user], writable_spot=[spot_market_index])
        return self._ix("withdraw", (spot_market_index, amount, reduce_only), accounts, remaining)

    def transfer_deposit(
        self,
        amount: int,
        spot_market_index: int,
        to_sub_account_id: int,
        user: UserLike = None,
        to_user: UserLike = None,
    ) -> Instruction:
        """Move a deposit from this sub-account to another of the same authority.

        `user` / `to_user` describe the source and destination accounts' positions.
        """
        _check_range("amount", amount, 1, U64_MAX)
        _check_range("to_sub_account_id", to_sub_account_id, 0, MAX_SUB_ACCOUNT_ID)
        if to_sub_account_id == self.sub_account_id:
            raise OrderValidationError(
                "to_sub_account_id", f"is the source sub-account {self.sub_account_id}"
            )
        market_for(self.catalog, MarketType.SPOT, spot_market_index)
        accounts = {
            "from_user": self.user_pubkey,
            "to_user": self.user_pubkey_of(to_sub_account_id),
            "user_stats": self.user_stats_pubkey,
            "authority": self.signer,
            "state": self.state_pubkey,
            "spot_market_vault": self.spot_market_vault(spot_market_index),
        }
        remaining = self.remaining_accounts([user, to_user], writable_spot=[spot_market_index])
        return self._ix("transfer_deposit", (spot_market_index, amount), accounts, remaining)

    # ------------------------------------------------------------------ internals

    @staticmethod
    def _expect_type(intent: OrderIntent, market_type: MarketType) -> None:
        if intent.market_type is not market_type:
            raise OrderValidationError(
                "market_type",
                f"a place_{market_type.value}_order needs a {market_type.value} intent, "
                f"got {intent.market_type.value}",
            )

    def _validate_modification(
        self,
        modification: OrderModification,
        market_type: MarketType | None,
        market_index: int | None,
    ) -> None:
        if market_index is None:
            return
        if market_type is None:
            raise OrderValidationError("market_type", "a market_index needs its market_type too")
        market = market_for(self.catalog, MarketType(market_type), market_index)
        check_market_open(market, bool(modification.reduce_only))
        if modification.base_asset_amount is not None:
            check_size(
                market,
                modification.base_asset_amount,
                reduce_only=bool(modification.reduce_only),
                round_to_step=False,
            )
        check_price_on_tick(market, "price", modification.price)
        check_price_on_tick(market, "trigger_price", modification.trigger_price)

    def _token_account(self, spot_market_index: int, user_token_account: Pubkey | None) -> Pubkey:
        market = market_for(self.catalog, MarketType.SPOT, spot_market_index)
        if user_token_account is None:
            return self.associated_token_account(spot_market_index)
        if market.mint == WRAPPED_SOL_MINT and user_token_account in (self.signer, self.authority):
            raise OrderValidationError(
                "user_token_account",
                "is the wallet itself; native SOL must be wrapped into a token account first "
                "(driftpy does that with a randomly seeded temporary account, which is not pure)",
            )
        return user_token_account

    def _order_ix(self, name: str, args: Any, remaining: list[AccountMeta]) -> Instruction:
        accounts = {"state": self.state_pubkey, "user": self.user_pubkey, "authority": self.signer}
        return self._ix(name, args if isinstance(args, tuple) else (args,), accounts, remaining)

    def _ix(
        self,
        name: str,
        args: tuple[Any, ...],
        accounts: dict[str, Pubkey],
        remaining: list[AccountMeta],
    ) -> Instruction:
        ctx = Context(accounts=accounts, remaining_accounts=remaining)
        return self._program.instruction[name](*args, ctx=ctx)


def _check_range(name: str, value: Any, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise OrderValidationError(name, f"must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise OrderValidationError(name, f"{value} is outside [{lo}, {hi}]")


__all__ = [
    "DriftInstructionBuilder",
    "UserAccountsView",
]
