"""A deliberately small `DriftProgram` for testing the RPC layer on its own.

It keeps real driftpy account objects (markets from the catalog's real parameters,
users made by `core.accounts`) and does the bookkeeping the RPC tests need: users,
deposits at unit interest, resting orders with program-assigned ids and Drift's
user-order-id uniqueness check, cancels. It never fills: fills, fees, funding and
margin are the simulator's job (tests/live/test_e2e_simulator.py).
"""

from __future__ import annotations

import copy
from typing import Any

from driftpy.constants.numeric_constants import SPOT_BALANCE_PRECISION
from driftpy.types import OrderStatus, SpotBalanceType

from drift_engine.core.accounts import (
    default_markets,
    make_user,
    make_user_stats,
    user_pubkey,
    user_stats_pubkey,
)
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.program import new_account
from drift_engine.core.types import is_variant
from drift_engine.localnet.chain import ProgramError

PRICES = {"SOL-PERP": 150_000_000, "SOL": 150_000_000, "BTC-PERP": 60_000_000_000}


class MinimalProgram:
    def __init__(self) -> None:
        from driftpy.addresses import get_state_public_key
        from driftpy.constants.config import DRIFT_PROGRAM_ID

        self.catalog = MarketCatalog.from_constants()
        self.perps, self.spots = default_markets(self.catalog, PRICES)
        self.state = new_account("State")
        self.state.number_of_markets = max(self.perps) + 1
        self.state.number_of_spot_markets = max(self.spots) + 1
        self.state_pubkey = get_state_public_key(DRIFT_PROGRAM_ID)
        self.users: dict[tuple[Any, int], Any] = {}
        self.stats: dict[Any, Any] = {}
        self.placed: list[tuple[int, int]] = []  # (sub_account_id, user_order_id) per placement

    # ------------------------------------------------------------------ served

    def accounts(self):
        yield self.state_pubkey, "State", self.state
        for m in self.perps.values():
            yield m.pubkey, "PerpMarket", m
        for m in self.spots.values():
            yield m.pubkey, "SpotMarket", m
        for (authority, sub), u in self.users.items():
            yield user_pubkey(authority, sub), "User", u
        for authority, s in self.stats.items():
            yield user_stats_pubkey(authority), "UserStats", s

    def oracles(self):
        for m in self.perps.values():
            yield (
                m.amm.oracle,
                m.amm.oracle_source,
                m.amm.historical_oracle_data.last_oracle_price,
                1,
            )
        for m in self.spots.values():
            yield m.oracle, m.oracle_source, m.historical_oracle_data.last_oracle_price, 1

    def snapshot(self):
        return copy.deepcopy((self.users, self.stats, self.placed))

    def restore(self, snap):
        self.users, self.stats, self.placed = snap

    # ------------------------------------------------------------------ instructions

    def _user(self, authority, sub):
        try:
            return self.users[(authority, sub)]
        except KeyError:
            raise ProgramError("UserNotFound") from None

    def initialize_user_stats(self, authority):
        if authority in self.stats:
            raise ProgramError("AccountAlreadyInUse", code=0)
        self.stats[authority] = make_user_stats(authority)

    def initialize_user(self, authority, sub_account_id, name):
        if authority not in self.stats:
            raise ProgramError("AccountNotInitialized", "user stats")
        user = make_user(authority, sub_account_id)
        user.name = name
        self.users[(authority, sub_account_id)] = user
        self.stats[authority].number_of_sub_accounts += 1

    def _spot_slot(self, user, market_index):
        for sp in user.spot_positions:
            if sp.market_index == market_index and (sp.scaled_balance or sp.open_orders):
                return sp
        for sp in user.spot_positions:
            if sp.scaled_balance == 0 and sp.open_orders == 0:
                sp.market_index = market_index
                sp.balance_type = SpotBalanceType.Deposit()
                return sp
        raise ProgramError("MaxNumberOfPositions")

    def deposit(self, authority, sub, market_index, amount, reduce_only):
        user = self._user(authority, sub)
        sp = self._spot_slot(user, market_index)
        scale = SPOT_BALANCE_PRECISION // 10 ** self.spots[market_index].decimals
        sp.scaled_balance += amount * scale
        sp.cumulative_deposits += amount

    def withdraw(self, authority, sub, market_index, amount, reduce_only):
        user = self._user(authority, sub)
        sp = self._spot_slot(user, market_index)
        scale = SPOT_BALANCE_PRECISION // 10 ** self.spots[market_index].decimals
        if sp.scaled_balance < amount * scale:
            raise ProgramError("InsufficientCollateral")
        sp.scaled_balance -= amount * scale
        sp.cumulative_deposits -= amount
        return amount

    def transfer_deposit(self, authority, from_sub, to_sub, market_index, amount):
        self.withdraw(authority, from_sub, market_index, amount, True)
        self.deposit(authority, to_sub, market_index, amount, False)

    def place_orders(self, authority, sub, intents):
        user = self._user(authority, sub)
        for intent in intents:
            if intent.user_order_id and any(
                is_variant(o.status, "Open") and o.user_order_id == intent.user_order_id
                for o in user.orders
            ):
                raise ProgramError("UserOrderIdAlreadyInUse")
            slot = next((o for o in user.orders if not is_variant(o.status, "Open")), None)
            if slot is None:
                raise ProgramError("MaxNumberOfOrders")
            slot.status = OrderStatus.Open()
            slot.order_id = user.next_order_id
            user.next_order_id += 1
            slot.user_order_id = intent.user_order_id
            slot.market_index = intent.market_index
            slot.market_type = intent.market_type.to_driftpy()
            slot.order_type = intent.order_type.to_driftpy()
            slot.direction = intent.direction.to_driftpy()
            slot.base_asset_amount = intent.base_asset_amount
            slot.base_asset_amount_filled = 0
            slot.price = intent.price
            slot.reduce_only = intent.reduce_only
            self.placed.append((sub, intent.user_order_id))

    def place_and_take(self, authority, sub, intent):
        self.place_orders(authority, sub, [intent])

    def _cancel(self, user, pred):
        hit = False
        for o in user.orders:
            if is_variant(o.status, "Open") and pred(o):
                o.status = OrderStatus.Canceled()
                hit = True
        return hit

    def cancel_order(self, authority, sub, order_id):
        user = self._user(authority, sub)
        if not self._cancel(user, lambda o: o.order_id == order_id):
            raise ProgramError("UserHasNoOrder")

    def cancel_order_by_user_id(self, authority, sub, user_order_id):
        user = self._user(authority, sub)
        if not self._cancel(user, lambda o: o.user_order_id == user_order_id):
            raise ProgramError("UserHasNoOrder")

    def cancel_orders(self, authority, sub, market_type, market_index, direction):
        user = self._user(authority, sub)
        self._cancel(
            user,
            lambda o: (
                (
                    market_type is None
                    or is_variant(o.market_type, market_type.to_driftpy().__class__.__name__)
                )
                and (market_index is None or o.market_index == market_index)
            ),
        )

    def modify_order(self, authority, sub, order_id, user_order_id, params):
        user = self._user(authority, sub)
        for o in user.orders:
            if is_variant(o.status, "Open") and (
                o.order_id == order_id or (user_order_id and o.user_order_id == user_order_id)
            ):
                if params.base_asset_amount is not None:
                    o.base_asset_amount = params.base_asset_amount
                if params.price is not None:
                    o.price = params.price
                return
        raise ProgramError("UserHasNoOrder")
