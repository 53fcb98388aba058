"""State and accounts: naming markets and sub-accounts, opening accounts, position
slots, deposits and withdrawals, and the oracle prices every other rule reads.

`AccountsMixin` is one of the mixins `simulator.DriftSimulator` is composed of (see
there for why mixins). Oracle prices live here because they are state the rest reads:
`_set_price` is the one place that writes a price everywhere the simulator keeps it
(its price dicts, the market's oracle history, every DriftClient's oracle cache);
`set_oracle_price` is that plus matching resting orders (`orders.OrdersMixin`).
"""

from __future__ import annotations

from typing import Any

from driftpy.accounts.types import DataAndSlot
from driftpy.math.margin import MarginCategory
from solders.pubkey import Pubkey

from drift_engine.core.accounts import make_user, make_user_stats, oracle_price_data
from drift_engine.core.margin import DriftMarginMonitor
from drift_engine.core.offline import OfflineDrift
from drift_engine.core.program_math import MarketSnapshot, calculate_margin
from drift_engine.core.types import MarketType
from drift_engine.sim import rules
from drift_engine.sim.persistence import _Snapshot
from drift_engine.sim.records import DepositRecord, FillRecord
from drift_engine.sim.state import (
    DEFAULT_AUTHORITY,
    QUOTE_SPOT_MARKET_INDEX,
    InsufficientCollateralError,
    MarketKey,
    SimulationError,
    UserKey,
    _Account,
)

#: a price move leaves each DriftClient's oracle cache entry of the moved market to be
#: made when driftpy reads it (`_Oracles`), instead of making it at every move: the
#: simulator's own rules read its price dicts, driftpy's margin math (a vault snapshot,
#: `venue.margin`) reads the cache, which a quiet hour of a scratch backtest never does
#: (issue 14); the entry read is the one the move would have stored (equal: the same
#: `oracle_price_data(price, 0)`); False: every move stores the entry (the reference)
LAZY_ORACLES = True


class _Oracles(dict):
    """A DriftClient's oracle cache (`cache["oracle_price_data"]`: oracle id ->
    `DataAndSlot` of an `OraclePriceData`) with `LAZY_ORACLES`' moves in it: a moved
    oracle's entry is taken out and its price kept in `prices`; driftpy reads the cache
    by key only (`get_oracle_price_data_and_slot`), and a missing key is `__missing__`'s,
    which makes the entry as `_set_prices` makes it, stores and returns it. An entry
    stored later (`_push_price`, `OfflineDrift._put_oracle`) is read before a kept
    price, as it would overwrite the move's; an id never priced raises KeyError."""

    __slots__ = ("prices",)

    def __init__(self, entries: dict) -> None:
        super().__init__(entries)
        self.prices: dict[Any, int] = {}

    def __missing__(self, oid: Any) -> Any:
        entry = self[oid] = DataAndSlot(0, oracle_price_data(self.prices[oid], 0))
        return entry


class AccountsMixin:
    """Accounts, positions, deposits and oracle prices of `DriftSimulator`."""

    def _key(self, market: Any) -> MarketKey:
        if isinstance(market, str):
            try:
                return self._by_symbol[market.upper()]
            except KeyError:
                raise KeyError(f"market {market!r} is not simulated") from None
        if isinstance(market, tuple):
            return (MarketType(market[0]), int(market[1]))
        if hasattr(market, "market_type"):
            return (market.market_type, market.market_index)
        raise TypeError(f"cannot name a market by {market!r}")

    def _market(self, key: MarketKey) -> Any:
        return self.perp_markets[key[1]] if key[0] is MarketType.PERP else self.spot_markets[key[1]]

    def symbol(self, market: Any) -> str:
        return self._symbols[self._key(market)]

    def perp_market(self, market: Any) -> Any:
        return self.perp_markets[self._key(market)[1]]

    def spot_market(self, market: Any) -> Any:
        return self.spot_markets[self._key(market)[1]]

    def oracle_price(self, market: Any) -> int:
        return self._prices[self._key(market)]

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _emit(self, record: Any) -> Any:
        self.records.append(record)
        return record

    def _changed(self, acct: _Account) -> None:
        """`acct` (its User, its UserStats) may change: `dump` encodes it again."""
        self._encoded.pop(acct.key, None)
        self._encoded_stats.pop(acct.authority, None)

    # ------------------------------------------------------------------ accounts

    def open_account(self, authority: Pubkey | None = None, sub_account_id: int = 0) -> UserKey:
        """Create a User (sub-account) and, for a new authority, its UserStats."""
        authority = authority or DEFAULT_AUTHORITY
        key = (authority, sub_account_id)
        if key in self._accounts:
            raise SimulationError(f"sub-account {sub_account_id} of {authority} already exists")
        if authority not in self._drifts:
            self._drifts[authority] = OfflineDrift(
                self.perp_markets, self.spot_markets, authority=authority, state=self.state
            )
            self._stats[authority] = make_user_stats(authority)
            drift = self._drifts[authority]
            for mkey, price in self._prices.items():
                self._push_price(drift, mkey, price)
        user = make_user(authority, sub_account_id)
        user.next_liquidation_id = 1
        stats = self._stats[authority]
        stats.number_of_sub_accounts += 1
        stats.number_of_sub_accounts_created += 1
        self.state.number_of_sub_accounts += 1
        drift = self._drifts[authority]
        acct = _Account(key, str(authority), user, stats, drift, drift.add_user(user))
        self._accounts[key] = acct
        return key

    def _account(self, key: UserKey | None) -> _Account:
        if key is None:
            if len(self._accounts) != 1:
                raise SimulationError("name the sub-account: (authority, sub_account_id)")
            return next(iter(self._accounts.values()))
        try:
            return self._accounts[key]
        except KeyError:
            raise SimulationError(f"no simulated sub-account {key}") from None

    @property
    def accounts(self) -> list[UserKey]:
        return list(self._accounts)

    def user(self, key: UserKey | None = None) -> Any:
        """The driftpy `User` account object of a sub-account (live, not a copy)."""
        return self._account(key).user

    def user_stats(self, authority: Pubkey | None = None) -> Any:
        return self._stats[authority or DEFAULT_AUTHORITY]

    def drift(self, authority: Pubkey | None = None) -> OfflineDrift:
        """The OfflineDrift (driftpy DriftClient) over this simulator's accounts."""
        return self._drifts[authority or DEFAULT_AUTHORITY]

    def drift_user(self, key: UserKey | None = None) -> Any:
        """driftpy's DriftUser for a sub-account (margin, health, leverage, liq. price)."""
        return self._account(key).drift_user

    def perp_position(self, key: UserKey | None, market: Any) -> Any | None:
        return self._find_perp_position(self._account(key).user, self._key(market)[1])

    def token_amount(self, key: UserKey | None, market: Any) -> int:
        """Signed spot token amount (deposits > 0, borrows < 0) in the market's decimals."""
        index = self._key(market)[1]
        pos = self._find_spot_position(self._account(key).user, index)
        return 0 if pos is None else rules.signed_token_amount(pos, self.spot_markets[index])

    def _calc(self, acct: _Account, category: MarginCategory) -> tuple[int, int]:
        """(total collateral, margin requirement) by the program's margin calculation
        (`core/program_math.calculate_margin`, what `DriftMarginMonitor` reports)."""
        calc = calculate_margin(acct.user, self._snapshot, category)
        return calc.total_collateral, calc.margin_requirement

    def market_snapshot(self) -> MarketSnapshot:
        """The markets and oracle prices the margin math reads (live objects, not a copy)."""
        return self._snapshot

    def margin_metrics(self, key: UserKey | None = None) -> Any:
        """`DriftMarginMetrics` of a sub-account from `DriftMarginMonitor`."""
        acct = self._account(key)
        return DriftMarginMonitor().compute_from(
            acct.user,
            self._snapshot,
            self.now,
            liquidation_margin_buffer_ratio=self.state.liquidation_margin_buffer_ratio,
        )

    def maintenance(self, key: UserKey | None = None) -> tuple[int, int]:
        """(maintenance total collateral, maintenance margin requirement), QUOTE 1e6:
        liquidatable when the first is below the second."""
        return self._calc(self._account(key), MarginCategory.MAINTENANCE)

    @staticmethod
    def _find_perp_position(user: Any, index: int) -> Any | None:
        """The user's position in perp market `index` (`PerpPosition::is_available` false),
        or None."""
        for pos in user.perp_positions:
            if pos.market_index == index and not rules.is_perp_position_available(pos):
                return pos
        return None

    @staticmethod
    def _find_spot_position(user: Any, index: int) -> Any | None:
        for pos in user.spot_positions:
            if pos.market_index == index and (pos.scaled_balance != 0 or pos.open_orders != 0):
                return pos
        return None

    def _spot_position(self, acct: _Account, index: int, undo: Any = None) -> Any:
        """The account's position in spot market `index`, a free slot re-initialized for
        it when it has none; `undo` (a `_Snapshot`): keeps the slot's fields before they
        are re-initialized, so a refused action puts back what the slot held (a closed
        position's leftovers, e.g. its cumulative deposits)."""
        pos = self._find_spot_position(acct.user, index)
        if pos is not None:
            return pos
        for pos in acct.user.spot_positions:
            if pos.scaled_balance == 0 and pos.open_orders == 0:
                # `controller/spot_position.rs`: a free slot is re-initialized for the market
                from driftpy.types import SpotBalanceType

                if undo is not None:
                    undo.keep(pos)
                pos.market_index = index
                pos.balance_type = SpotBalanceType.Deposit()
                pos.open_bids = pos.open_asks = 0
                pos.cumulative_deposits = 0
                return pos
        raise SimulationError("no free spot position slot (max 8)")

    def _perp_position(self, acct: _Account, index: int, undo: Any = None) -> Any:
        """`controller/position.rs::add_new_position` when the market has no position;
        `undo` (a `_Snapshot`): keeps the free slot's fields before they are reset, so a
        refused action puts back what the slot held (a closed position's settled pnl)."""
        pos = self._find_perp_position(acct.user, index)
        if pos is not None:
            return pos
        for pos in acct.user.perp_positions:
            if rules.is_perp_position_available(pos):
                if undo is not None:
                    undo.keep(pos)
                for name in list(pos.__dict__):
                    if name != "padding":
                        value = getattr(pos, name)
                        if isinstance(value, int) and not isinstance(value, bool):
                            setattr(pos, name, 0)
                pos.market_index = index
                return pos
        raise SimulationError("no free perp position slot (max 8)")

    def _position_base(self, acct: _Account, key: MarketKey) -> int:
        if key[0] is MarketType.PERP:
            pos = self.perp_position(acct.key, key)
            return 0 if pos is None else pos.base_asset_amount
        return self.token_amount(acct.key, key)

    def _touch(self, acct: _Account, key: MarketKey) -> None:
        acct.safe = None
        self._expose(acct, key)

    def _expose(self, acct: _Account, key: MarketKey) -> None:
        """`acct` holds something in `key` (a funding update or interest reaches it)."""
        self._exposed.setdefault(key, {})[acct] = None
        if key[0] is MarketType.SPOT and key[1] != QUOTE_SPOT_MARKET_INDEX:
            self._exposed.setdefault((MarketType.SPOT, QUOTE_SPOT_MARKET_INDEX), {})[acct] = None

    # ------------------------------------------------------------------ deposits

    def deposit(self, key: UserKey | None, market: Any, amount: int, ts: int) -> DepositRecord:
        """Deposit `amount` tokens (market decimals) into a sub-account."""
        self._advance(ts)
        acct = self._account(key)
        self._changed(acct)
        mkey = self._key(market)
        if mkey[0] is not MarketType.SPOT or amount <= 0:
            raise SimulationError("deposit a positive amount into a spot market")
        spot = self.spot_markets[mkey[1]]
        pos = self._spot_position(acct, mkey[1])
        self._accrue_market(mkey[1], ts)
        rules.update_spot_balances(amount, True, spot, pos)
        pos.cumulative_deposits += amount
        price = self._prices[mkey]
        acct.user.total_deposits += amount * price // 10**spot.decimals
        self._touch(acct, mkey)
        return self._emit(
            DepositRecord(
                self._next_seq(), ts, acct.authority, acct.key[1], mkey[1], "deposit", amount, price
            )
        )

    def withdraw(
        self,
        key: UserKey | None,
        market: Any,
        amount: int,
        ts: int,
        *,
        _direction: str = "withdraw",
        _counterparty: int | None = None,
    ) -> DepositRecord:
        """Withdraw `amount` tokens; beyond the deposit it borrows. Initial margin must hold."""
        self._advance(ts)
        acct = self._account(key)
        self._changed(acct)
        mkey = self._key(market)
        if mkey[0] is not MarketType.SPOT or amount <= 0:
            raise SimulationError("withdraw a positive amount from a spot market")
        spot = self.spot_markets[mkey[1]]
        self._accrue_market(mkey[1], ts)
        self._settle_all_funding(acct, ts)
        snap = _Snapshot()
        pos = self._spot_position(acct, mkey[1])
        snap.keep(pos, spot, acct.user)
        # a transfer stays inside Drift (no rounding against the user, `handle_transfer_deposit`)
        rules.update_spot_balances(
            amount, False, spot, pos, is_leaving_drift=_direction == "withdraw"
        )
        pos.cumulative_deposits -= amount
        price = self._prices[mkey]
        acct.user.total_withdraws += amount * price // 10**spot.decimals
        acct.safe = None
        tc, req = self._calc(acct, MarginCategory.INITIAL)
        if tc < req:
            snap.restore()
            raise InsufficientCollateralError(
                f"withdrawing {amount} of {self._symbols[mkey]} would leave total collateral "
                f"{tc} below the initial requirement {req}"
            )
        self._touch(acct, mkey)
        return self._emit(
            DepositRecord(
                self._next_seq(),
                ts,
                acct.authority,
                acct.key[1],
                mkey[1],
                _direction,
                amount,
                price,
                _counterparty,
            )
        )

    def transfer_deposit(
        self, from_key: UserKey, to_key: UserKey, market: Any, amount: int, ts: int
    ) -> tuple[DepositRecord, DepositRecord]:
        """Move tokens between two sub-accounts of one authority (Drift `transfer_deposit`)."""
        if from_key[0] != to_key[0]:
            raise SimulationError(
                "transfer_deposit moves capital between sub-accounts of one authority"
            )
        out = self.withdraw(
            from_key, market, amount, ts, _direction="transfer_out", _counterparty=to_key[1]
        )
        acct = self._account(to_key)
        self._changed(acct)
        mkey = self._key(market)
        spot = self.spot_markets[mkey[1]]
        pos = self._spot_position(acct, mkey[1])
        rules.update_spot_balances(amount, True, spot, pos)
        pos.cumulative_deposits += amount
        self._touch(acct, mkey)
        rec = self._emit(
            DepositRecord(
                self._next_seq(),
                ts,
                acct.authority,
                acct.key[1],
                mkey[1],
                "transfer_in",
                amount,
                self._prices[mkey],
                from_key[1],
            )
        )
        return out, rec

    # ------------------------------------------------------------------ oracle

    def _push_price(self, drift: OfflineDrift, key: MarketKey, price: int) -> None:
        # OfflineDrift.set_*_oracle_price without recomputing the oracle id on every tick
        data = oracle_price_data(price, drift.slot)
        drift.client.account_subscriber.cache["oracle_price_data"][self._oracle_ids[key]] = (
            DataAndSlot(data.slot, data)
        )

    def _advance(self, ts: int) -> None:
        if ts < self.now:
            raise SimulationError(f"time went backwards: {ts} < {self.now}")
        self.now = ts

    def set_oracle_price(self, market: Any, price: int, ts: int) -> list[FillRecord]:
        """A new oracle price (PRICE 1e6) for `market` and the markets of the same asset.

        Returns the fills of resting orders the new price crosses.
        """
        return self._move_oracle(self._linked[self._key(market)], price, ts)

    def _move_oracle(self, keys: tuple[MarketKey, ...], price: int, ts: int) -> list[FillRecord]:
        """`set_oracle_price` for the linked markets `keys` (`apply` resolves them once per
        market name). A tick that changes no price and meets no resting order only moves
        the clock (e.g. SOL and SOL-PERP ticks of one feed); one that does writes the
        prices that changed (`_set_prices`) and matches the resting orders."""
        self._advance(ts)
        if price <= 0:
            raise SimulationError(f"oracle price must be positive, got {price}")
        prices = self._prices
        moved = [k for k in keys if prices[k] != price]
        if moved:
            self._set_prices(moved, price)
        resting = self._resting
        fills: list[FillRecord] = []
        for key in keys:
            if resting.get(key):
                fills.extend(self._match_resting(key, ts))
        return fills

    def set_oracle_prices(self, prices: dict[str, int], ts: int) -> list[FillRecord]:
        fills: list[FillRecord] = []
        for market, price in prices.items():
            fills.extend(self.set_oracle_price(market, price, ts))
        return fills

    def _set_price(self, key: MarketKey, price: int) -> None:
        """One market's oracle price everywhere the simulator keeps it (no matching)."""
        self._set_prices((key,), price)

    def _set_prices(self, keys: Any, price: int) -> None:
        """The one writer of oracle prices: the simulator's price dicts (which the margin
        math's `MarketSnapshot` reads), the market's `last_oracle_price` and every
        DriftClient's oracle cache, for each of `keys` (no matching)."""
        if LAZY_ORACLES:
            self._set_prices_lazily(keys, price)
            return
        entry = DataAndSlot(0, oracle_price_data(price, 0))
        caches = [
            d.client.account_subscriber.cache["oracle_price_data"] for d in self._drifts.values()
        ]
        prices, slots = self._prices, self._price_slots
        for key in keys:
            side, index, market, perp, oid = slots[key]
            prices[key] = side[index] = price
            hist = market.amm.historical_oracle_data if perp else market.historical_oracle_data
            hist.last_oracle_price = price
            for cache in caches:
                cache[oid] = entry

    def _set_prices_lazily(self, keys: Any, price: int) -> None:
        """`_set_prices` with each DriftClient's entry left to `_Oracles` (`LAZY_ORACLES`):
        a cache that is not one yet becomes one (its entries kept), then each moved
        oracle's entry is taken out of it and its price kept."""
        caches = []
        for d in self._drifts.values():
            cache = d.client.account_subscriber.cache
            oracles = cache["oracle_price_data"]
            if type(oracles) is not _Oracles:
                oracles = cache["oracle_price_data"] = _Oracles(oracles)
            caches.append(oracles)
        prices, slots = self._prices, self._price_slots
        for key in keys:
            side, index, market, perp, oid = slots[key]
            prices[key] = side[index] = price
            hist = market.amm.historical_oracle_data if perp else market.historical_oracle_data
            hist.last_oracle_price = price
            for oracles in caches:
                oracles.pop(oid, None)
                oracles.prices[oid] = price


__all__ = ["AccountsMixin"]
