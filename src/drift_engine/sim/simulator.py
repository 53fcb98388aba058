"""The simulated Drift program: driftpy account objects mutated in place by Drift's rules.

`DriftSimulator` holds a State, the PerpMarket and SpotMarket accounts, one User per
simulated sub-account and one UserStats per authority, plus oracle prices, and an
`OfflineDrift` (driftpy's real DriftClient/DriftUser) per authority over the *same*
objects, so driftpy's margin, health and liquidation prices read them exactly as chain
accounts; the simulator's own margin decisions (initial margin for fills and withdrawals,
liquidation) use the program's margin calculation in `core/program_math.py`, the math
`DriftMarginMonitor` reports. There is one entry point per event, and every one takes `ts`; nothing
reads the wall clock.

What happens on each event, and which program code it follows (rules.py names the Rust
for each formula):
- `set_oracle_price` — the oracle moves (linked markets of the same asset move together:
  SOL and SOL-PERP share Pyth's SOL feed); resting limit orders that the price crosses
  fill as makers at their limit price, up to a per-tick volume cap when one is set.
- `place_order` — the intent is validated by `core.validation.validate_intent` (the
  builder's rules), funding is settled (`controller/funding.rs::settle_funding_payment`),
  takers fill at the `PriceModel` price and pay `ceil(quote x fee / den)`; the position
  changes as `controller/position.rs::update_position_and_market`; a risk-increasing fill
  must leave initial margin met or the whole order is undone (the program reverts the
  transaction); unfilled limit orders rest; PnL is settled into USDC
  (`controller/pnl.rs::settle_pnl`).
- `update_funding` — one hourly funding record: cumulative rates += the record's rates,
  then every position in the market settles funding and PnL.
- `accrue_interest` / `set_interest_rates` — spot cumulative interest advances at the data's
  rates; balances grow through their scaled balances.
- `liquidate_if_needed` — any account with maintenance total collateral below its
  maintenance requirement is liquidated perp first (`controller/liquidation.rs::
  liquidate_perp`): enough base to cover the margin shortage closes at the oracle price
  and the user pays the liquidator fee and the insurance-fund fee.

Not modelled (documented limits): the AMM / counterparties' accounts, the pnl pool's
balance (positive PnL settles up to `pnl_pool_excess`, default 0: realized PnL only),
spot-only liquidations (`liquidate_spot`, `liquidate_borrow_for_perp_pnl`), bankruptcy
resolution, auctions and trigger orders.

How the simulator is split (issue #14): `DriftSimulator` is composed of one mixin per
job, each in its own module, over the attributes `__init__` below sets:
- `accounts.AccountsMixin` — naming markets and sub-accounts, opening accounts,
  position slots, deposits and withdrawals, oracle prices;
- `orders.OrdersMixin` — placing, cancelling and matching orders, fees, fills;
- `funding_interest.FundingInterestMixin` — funding updates and payments, settle PnL,
  spot interest;
- `liquidation.LiquidationMixin` — the maintenance check after each event and
  `liquidate_perp`;
- `persistence.PersistenceMixin` — undo snapshots, dump/load, account bytes;
- `state` — the shared names and types (keys, errors, `_Account`, `_Rates`).
Why mixins rather than module functions taking the simulator: the program's rules call
each other across those jobs (a fill settles funding and PnL, a liquidation cancels
orders and settles funding, a withdrawal checks margin), other packages call private
methods and read private attributes on the simulator (`sim._prices`, `sim._close_order`,
`sim._execute_fill` in localnet/); with mixins each method is still defined once, in
the module of its job, and `self.x` reaches it and every attribute from anywhere, so no
caller changes. This module keeps what ties
them together: the constructor (every attribute in one place) and `apply`, the one entry
point per market-data event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from driftpy.oracles.oracle_id import get_oracle_id
from solders.pubkey import Pubkey

from drift_engine.core import fees
from drift_engine.core.accounts import default_markets, make_state
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.offline import OfflineDrift
from drift_engine.core.program import FieldCachedEncoder
from drift_engine.core.program_math import MarketSnapshot
from drift_engine.core.types import MarketType
from drift_engine.sim import accounts, funding_interest, liquidation
from drift_engine.sim.accounts import AccountsMixin
from drift_engine.sim.funding_interest import FundingInterestMixin
from drift_engine.sim.liquidation import (
    _BEING_LIQUIDATED,
    _QUOTE,
    LiquidationMixin,
    _margin_shortage,
)
from drift_engine.sim.orders import OrdersMixin
from drift_engine.sim.persistence import PersistenceMixin, _clone, _clone_fields, _Snapshot
from drift_engine.sim.pricing import DEFAULT_PRICE_MODEL, PriceModel
from drift_engine.sim.state import (
    DEFAULT_AUTHORITY,
    QUOTE_SPOT_MARKET_INDEX,
    InsufficientCollateralError,
    MarketKey,
    SimulationError,
    UserKey,
    _Account,
    _asset_of,
    _rate_to_spot_precision,
    _Rates,
)

#: `apply`'s oracle tick and liquidation check in its own frame: the tick's clock, price
#: writes and resting-order matches as `_move_oracle` does them, and each account's
#: kept check (`acct.safe`: the bound of the price moves since against its free
#: collateral, `_moved`) tested inline, `_possibly_liquidatable` asked only when it does
#: not hold (ADR-0020 point 86); False: `_move_oracle` and `_liquidate_due` (the
#: reference)
EVENT_INLINE = True


class DriftSimulator(
    AccountsMixin, OrdersMixin, FundingInterestMixin, LiquidationMixin, PersistenceMixin
):
    """An in-process Drift v2 over real market parameters. See the module docstring.

    `prices` maps catalog symbols to initial oracle prices (PRICE 1e6); only markets with a
    price exist in the simulation (USDC defaults to $1). `price_models` / `volume_caps`
    are per symbol (caps in the market's base precision per oracle tick).
    """

    def __init__(
        self,
        prices: dict[str, int],
        *,
        ts: int = 0,
        catalog: MarketCatalog | None = None,
        price_models: dict[str, PriceModel] | None = None,
        default_price_model: PriceModel = DEFAULT_PRICE_MODEL,
        volume_caps: dict[str, int] | None = None,
        interest_rates: dict[str, tuple[Any, Any]] | None = None,
        auto_settle_pnl: bool = True,
        pnl_pool_excess: int = 0,
        perp_fee_structure: fees.FeeStructure | None = None,
        spot_fee_structure: fees.FeeStructure | None = None,
        derive_funding: bool = False,
    ) -> None:
        self.catalog = catalog or MarketCatalog.from_constants()
        #: compute every funding rate from its record's mark/oracle TWAPs (update_funding)
        self.derive_funding = derive_funding
        self.now = ts
        perps, spots = default_markets(self.catalog, prices, ts)
        if QUOTE_SPOT_MARKET_INDEX not in spots:
            raise ValueError("the quote spot market (USDC) must be simulated")
        self.perp_markets: dict[int, Any] = perps
        self.spot_markets: dict[int, Any] = spots
        # fee structures: today's documented mainnet tiers unless given (core/fees.py)
        self.state = make_state(
            len(perps),
            len(spots),
            perp_fee_structure=perp_fee_structure,
            spot_fee_structure=spot_fee_structure,
        )
        for m in perps.values():
            # no funding applied yet: any funding time from `ts` on may be applied (once)
            m.amm.last_funding_rate_ts = ts - 1
        for m in spots.values():
            m.last_interest_ts = ts
        self.auto_settle_pnl = auto_settle_pnl
        #: Settle every position's funding at each funding update (paper, backtests). The
        #: local chain turns it off: on chain funding reaches a position only when it is
        #: settled (a fill in the market, `settle_pnl`, `settle_funding_payment`).
        self.settle_funding_on_update = True
        self.pnl_pool_excess = pnl_pool_excess
        self.records: list[Any] = []
        self._seq = 0
        self._accounts: dict[UserKey, _Account] = {}
        self._stats: dict[Pubkey, Any] = {}
        self._drifts: dict[Pubkey, OfflineDrift] = {}

        self._symbols: dict[MarketKey, str] = {}
        self._by_symbol: dict[str, MarketKey] = {}
        for spec in self.catalog:
            key = (spec.market_type, spec.market_index)
            present = perps if spec.market_type is MarketType.PERP else spots
            if spec.market_index in present:
                self._symbols[key] = spec.symbol
                self._by_symbol[spec.symbol.upper()] = key
        groups: dict[str, list[MarketKey]] = {}
        for key, symbol in self._symbols.items():
            groups.setdefault(_asset_of(symbol), []).append(key)
        self._linked = {key: tuple(groups[_asset_of(sym)]) for key, sym in self._symbols.items()}
        self._prices: dict[MarketKey, int] = {}
        for key in self._symbols:
            account = self._market(key)
            hist = (
                account.amm.historical_oracle_data
                if key[0] is MarketType.PERP
                else (account.historical_oracle_data)
            )
            self._prices[key] = hist.last_oracle_price
        # the margin math's view of the markets (core/program_math.py, the monitor's core):
        # the same account objects and live price dicts, so it is always current
        self._perp_prices = {i: self._prices[(MarketType.PERP, i)] for i in perps}
        self._spot_prices = {i: self._prices[(MarketType.SPOT, i)] for i in spots}
        self._snapshot = MarketSnapshot(perps, spots, self._perp_prices, self._spot_prices)
        self._oracle_ids: dict[MarketKey, str] = {}
        for key in self._symbols:
            m = self._market(key)
            oracle, source = (
                (m.amm.oracle, m.amm.oracle_source)
                if key[0] is MarketType.PERP
                else (m.oracle, m.oracle_source)
            )
            self._oracle_ids[key] = get_oracle_id(oracle, source)
        #: per market key, where `_set_prices` writes its price: (price dict, index,
        #: market account, is perp, oracle id); the dicts and accounts live as long as
        #: the simulator (`load` and `restore` write into the same objects)
        self._price_slots: dict[MarketKey, tuple[dict[int, int], int, Any, bool, str]] = {
            key: (
                self._perp_prices if key[0] is MarketType.PERP else self._spot_prices,
                key[1],
                self._market(key),
                key[0] is MarketType.PERP,
                self._oracle_ids[key],
            )
            for key in self._symbols
        }
        #: `apply`: an oracle event's market name -> the linked keys it moves (None: a
        #: market not simulated); names and links are fixed at construction
        self._event_keys: dict[str, tuple[MarketKey, ...] | None] = {}
        #: `apply`: a funding record's market name -> (its key, its perp market or None
        #: for a spot one), None for a market not simulated; and the spot markets in index
        #: order with their keys, for the hour's interest (`funding_interest.HOUR_PLAN`)
        self._funding_plans: dict[str, tuple[MarketKey, Any] | None] = {}
        self._spot_order = tuple((i, (MarketType.SPOT, i), spots[i]) for i in sorted(spots))

        self._price_models = {self._key(sym): model for sym, model in (price_models or {}).items()}
        self._default_price_model = default_price_model
        self._volume_caps = {self._key(sym): cap for sym, cap in (volume_caps or {}).items()}
        self._rates: dict[int, _Rates] = {}
        for sym, (dep, bor) in (interest_rates or {}).items():
            key = self._key(sym)
            self._rates[key[1]] = _Rates(_rate_to_spot_precision(dep), _rate_to_spot_precision(bor))
        #: resting orders per market: (account, order index in user.orders)
        self._resting: dict[MarketKey, list[tuple[_Account, int]]] = {}
        #: accounts with a position or order per market
        #: accounts with a position or order per market, in first-touch order (a dict, not a
        #: set: iteration order must not depend on object addresses, or replays diverge)
        self._exposed: dict[MarketKey, dict[_Account, None]] = {}
        #: `dump`'s base64 program bytes of the Users / UserStats not changed since
        #: (a checkpoint encodes only the accounts that changed: `_changed`)
        self._encoded: dict[UserKey, str] = {}
        self._encoded_stats: dict[str, str] = {}
        #: per User: re-encodes only the fields that changed (core/program.py)
        self._encoders: dict[UserKey, FieldCachedEncoder] = {}

    # ------------------------------------------------------------------ identity helpers

    # ------------------------------------------------------------------ data events

    def apply(self, event: Any, *, liquidate: bool = True) -> list[Any]:
        """Apply one market-data event (`data.models`), then check liquidations.

        OracleTick -> set_oracle_price; FundingRecord -> accrue interest, update_funding;
        SpotRateRecord -> set_interest_rates; Candle -> nothing (ticks drive prices).
        An event for a market that is not simulated (nor linked to one) does nothing.
        """
        kind = getattr(event, "kind", None)
        if kind == "oracle":
            name = event.market
            try:
                keys = self._event_keys[name]
            except KeyError:
                link = self._link_symbol(name)
                keys = self._event_keys[name] = (
                    None if link is None else self._linked[self._key(link)]
                )
            if keys is None:
                return []
            price, ts = event.price, event.ts
            if not EVENT_INLINE or ts < self.now or price <= 0:
                out = self._move_oracle(keys, price, ts)  # (which raises for the last two)
            else:  # `_move_oracle`
                self.now = ts
                prices = self._prices
                if funding_interest.PULL_PLAIN:  # (the pull's plain reads, with the record's)
                    moved = []
                    for k in keys:
                        if prices[k] != price:
                            moved.append(k)
                    if moved:
                        if accounts.LAZY_ORACLES:
                            self._set_prices_lazily(moved, price)
                        else:
                            self._set_prices(moved, price)
                else:
                    moved = [k for k in keys if prices[k] != price]
                    if moved:
                        self._set_prices(moved, price)
                resting = self._resting
                out = []
                for key in keys:
                    if resting.get(key):
                        out.extend(self._match_resting(key, ts))
        elif kind == "funding":
            if funding_interest.HOUR_PLAN and funding_interest.FUNDING_EVENT:
                name = event.market
                try:
                    plan = self._funding_plans[name]
                except KeyError:
                    plan = self._funding_plans[name] = self._funding_plan(name)
                if plan is None:
                    return []
                out = self._funding_event(event, plan)
            else:
                if event.market.upper() not in self._by_symbol:
                    return []
                out = self._funding_event(event)
        elif kind == "spot_rate":
            if event.market.upper() not in self._by_symbol:
                return []
            out = self.set_interest_rates(
                event.market, event.deposit_rate, event.borrow_rate, event.ts
            )
        elif kind == "candle":
            return []
        else:
            raise TypeError(f"not a market event: {event!r}")
        if liquidate:  # each branch above moved the clock to event.ts
            if not EVENT_INLINE or not liquidation.CHARGED_SLACK:
                liquidations = self._liquidate_due(event.ts)
                if liquidations:
                    out.extend(liquidations)
                return out
            # `_liquidate_due(event.ts)`: `_possibly_liquidatable`'s first test inline
            prices = self._prices
            quote = prices[_QUOTE]
            for acct in self._accounts.values():
                if not acct.user.status & _BEING_LIQUIDATED:
                    safe = acct.safe
                    if safe is not None and safe[3][_QUOTE] == quote:
                        bound = 0.0  # `_moved_by(safe)`
                        for k, (p0, s) in safe[1].items():
                            bound += s * abs(prices[k] - p0)
                        if bound < safe[0]:
                            continue
                    if not self._possibly_liquidatable(acct):
                        continue
                out.extend(self._liquidate(acct, event.ts))
        return out

    def _link_symbol(self, market: str) -> str | None:
        """A simulated market sharing `market`'s asset (a tick for "SOL" drives SOL-PERP)."""
        if market.upper() in self._by_symbol:
            return market
        asset = _asset_of(market)
        for symbol in self._symbols.values():
            if _asset_of(symbol) == asset:
                return symbol
        return None

    def replay(self, events: Iterable[Any]) -> list[Any]:
        out: list[Any] = []
        for event in events:
            out.extend(self.apply(event))
        return out


__all__ = [
    "DEFAULT_AUTHORITY",
    "QUOTE_SPOT_MARKET_INDEX",
    "DriftSimulator",
    "InsufficientCollateralError",
    "MarketKey",
    "SimulationError",
    "UserKey",
    "_Account",
    "_Rates",
    "_Snapshot",
    "_clone",
    "_clone_fields",
    "_margin_shortage",
]
