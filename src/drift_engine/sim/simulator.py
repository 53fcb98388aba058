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
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from driftpy.math.margin import MarginCategory
from driftpy.oracles.oracle_id import get_oracle_id
from driftpy.types import (
    MarketType as DpMarketType,
)
from driftpy.types import (
    OrderStatus,
    OrderType,
    PositionDirection,
    UserStatus,
)
from solders.pubkey import Pubkey

from drift_engine.core import fees, funding
from drift_engine.core.accounts import (
    default_markets,
    make_state,
    make_user,
    make_user_stats,
    oracle_price_data,
)
from drift_engine.core.errors import DriftEngineError, OrderValidationError
from drift_engine.core.margin import DriftMarginMonitor
from drift_engine.core.markets import MarketCatalog
from drift_engine.core.offline import OfflineDrift
from drift_engine.core.program import FieldCachedEncoder, encode_account
from drift_engine.core.program_math import (
    MarketSnapshot,
    calculate_margin,
    is_high_leverage_mode,
    perp_margin_ratio,
)
from drift_engine.core.types import MarketType, OrderIntent, PostOnly
from drift_engine.core.types import OrderType as IntentOrderType
from drift_engine.core.types import PositionDirection as Direction
from drift_engine.core.validation import validate_intent
from drift_engine.sim import rules
from drift_engine.sim.pricing import DEFAULT_PRICE_MODEL, PriceModel
from drift_engine.sim.records import (
    DepositRecord,
    FillRecord,
    FundingPaymentRecord,
    FundingRateRecord,
    InterestRecord,
    LiquidationRecord,
    OrderRecord,
    OrderResult,
    SettlePnlRecord,
    record_from_json,
    record_to_json,
)

QUOTE_SPOT_MARKET_INDEX = 0
MarketKey = tuple[MarketType, int]
UserKey = tuple[Pubkey, int]

#: The authority used when none is given: fixed, so account bytes replay identically.
DEFAULT_AUTHORITY = Pubkey.from_bytes(bytes([7]) * 32)


class SimulationError(DriftEngineError):
    """The simulated program refused an action (the chain would fail the transaction)."""


class InsufficientCollateralError(SimulationError):
    """The action would leave the account below its initial margin requirement."""


def _margin_shortage(calc: Any) -> int:
    """`MarginCalculation::cross_margin_margin_shortage`: requirement plus the liquidation
    buffer above total collateral (0 when covered)."""
    return max(0, calc.margin_requirement_plus_buffer - calc.total_collateral)


def _asset_of(symbol: str) -> str:
    s = symbol.upper()
    if s.endswith("-PERP"):
        s = s[: -len("-PERP")]
    return s[1:] if s in ("WBTC", "WETH") else s


@dataclass(eq=False)
class _Account:
    key: UserKey
    authority: str
    user: Any
    stats: Any
    drift: OfflineDrift
    drift_user: Any
    #: (free maintenance collateral, {market: (price at check, quote per price unit)},
    #: the record count and prices at the check, its (collateral, requirement)) or None
    safe: tuple[Any, ...] | None = None
    liquidation_start_ts: int = 0


@dataclass(eq=False)
class _Rates:
    deposit: int = 0  # SPOT_RATE precision (1e6 = 100% APR)
    borrow: int = 0


@dataclass
class _Snapshot:
    """Field values of the objects an action may change, to undo a refused action.

    `keep` saves an object's fields (shallow: for objects whose nested objects the action
    does not replace); `keep_deep` saves a deep copy (an account with its positions and
    orders). `restore` writes the values back *into the same objects*, which the
    simulator's driftpy DriftClients and margin snapshot keep referencing. `extra` holds
    the simulator's own bookkeeping for `DriftSimulator.restore`.
    """

    saved: list[tuple[Any, dict[str, Any]]] = field(default_factory=list)
    extra: dict[str, Any] | None = None

    def keep(self, *objs: Any) -> None:
        for obj in objs:
            self.saved.append((obj, dict(obj.__dict__)))

    def keep_deep(self, *objs: Any) -> None:
        for obj in objs:
            self.saved.append((obj, copy.deepcopy(obj.__dict__)))

    def restore(self) -> None:
        for obj, values in reversed(self.saved):
            obj.__dict__.clear()
            obj.__dict__.update(values)


def _model_json(model: PriceModel) -> list[int]:
    return [model.half_spread_ppm, model.impact_ppm_at_reference, model.reference_notional]


def _rate_to_spot_precision(rate: int | Decimal | float | str) -> int:
    """An annual rate as SPOT_RATE precision: ints are taken as already 1e6-scaled."""
    if isinstance(rate, int):
        return rate
    return int(Decimal(str(rate)) * rules.SPOT_RATE_PRECISION)


class DriftSimulator:
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
        index = self._key(market)[1]
        for pos in self._account(key).user.perp_positions:
            if pos.market_index == index and not rules.is_perp_position_available(pos):
                return pos
        return None

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

    def account_bytes(self) -> dict[str, bytes]:
        """Every account encoded exactly as the program stores it (for determinism checks)."""
        out = {"State": encode_account("State", self.state)}
        for i, m in sorted(self.perp_markets.items()):
            out[f"PerpMarket:{i}"] = encode_account("PerpMarket", m)
        for i, m in sorted(self.spot_markets.items()):
            out[f"SpotMarket:{i}"] = encode_account("SpotMarket", m)
        for (auth, sub), acct in sorted(
            self._accounts.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])
        ):
            out[f"User:{auth}:{sub}"] = encode_account("User", acct.user)
        for auth, stats in sorted(self._stats.items(), key=lambda kv: str(kv[0])):
            out[f"UserStats:{auth}"] = encode_account("UserStats", stats)
        return out

    # ------------------------------------------------------------------ persistence

    def dump(self, records_since: int | None = None) -> dict[str, Any]:
        """The whole simulation as JSON-able data, for `DriftSimulator.load`.

        Accounts are the program's bytes (`core.program.encode_account`, base64); besides
        them: the clock, the record counter, oracle prices, resting orders and exposure
        (in their order: iteration order decides the order of fills and records), spot
        rates, price models, volume caps and PnL settings, so that a loaded simulator
        continues exactly as this one would. Records are kept from `records_since` on
        (default: none; `seq` keeps counting either way). The market catalog is not
        dumped: load with the same one (the default).
        """
        import base64

        def b64(data: bytes) -> str:
            return base64.b64encode(data).decode()

        def ukey(acct: _Account) -> list[Any]:
            return [str(acct.key[0]), acct.key[1]]

        def mkey(key: MarketKey) -> list[Any]:
            return [key[0].value, key[1]]

        since = len(self.records) if records_since is None else records_since
        return {
            "version": 1,
            "now": self.now,
            "seq": self._seq,
            "symbols": [self._symbols[k] for k in self._symbols],
            "prices": [[*mkey(k), p] for k, p in self._prices.items()],
            "auto_settle_pnl": self.auto_settle_pnl,
            "pnl_pool_excess": self.pnl_pool_excess,
            "derive_funding": self.derive_funding,
            "default_price_model": _model_json(self._default_price_model),
            "price_models": [[*mkey(k), _model_json(m)] for k, m in self._price_models.items()],
            "volume_caps": [[*mkey(k), cap] for k, cap in self._volume_caps.items()],
            "rates": [[i, r.deposit, r.borrow] for i, r in self._rates.items()],
            "state": b64(self._encode_cached("State", 0, self.state)),
            "perp_markets": {
                str(i): b64(self._encode_cached("PerpMarket", i, m))
                for i, m in self.perp_markets.items()
            },
            "spot_markets": {
                str(i): b64(self._encode_cached("SpotMarket", i, m))
                for i, m in self.spot_markets.items()
            },
            "users": [
                [*ukey(a), self._user_b64(a), a.liquidation_start_ts]
                for a in self._accounts.values()
            ],
            "user_stats": [
                [str(auth), self._stats_b64(auth, st)] for auth, st in self._stats.items()
            ],
            "resting": [
                [*mkey(k), [[*ukey(a), i] for a, i in v]] for k, v in self._resting.items()
            ],
            "exposed": [[*mkey(k), [ukey(a) for a in v]] for k, v in self._exposed.items()],
            "records_since": since,
            "records": [record_to_json(r) for r in self.records[since:]],
        }

    def _encode_cached(self, name: str, index: int, account: Any) -> bytes:
        """State and market bytes through a per-account `FieldCachedEncoder`: a price
        or funding update re-builds the few fields it changed (the same bytes)."""
        key = (name, index)
        encoder = self._encoders.get(key)  # type: ignore[call-overload]
        if encoder is None:
            encoder = self._encoders[key] = FieldCachedEncoder(name)  # type: ignore[index]
        return encoder.encode(account)

    def _user_b64(self, acct: _Account) -> str:
        import base64

        out = self._encoded.get(acct.key)
        if out is None:
            encoder = self._encoders.get(acct.key)
            if encoder is None:
                encoder = self._encoders[acct.key] = FieldCachedEncoder("User")
            out = base64.b64encode(encoder.encode(acct.user)).decode()
            self._encoded[acct.key] = out
        return out

    def _stats_b64(self, authority: Any, stats: Any) -> str:
        import base64

        key = str(authority)
        out = self._encoded_stats.get(key)
        if out is None:
            out = base64.b64encode(encode_account("UserStats", stats)).decode()
            self._encoded_stats[key] = out
        return out

    @classmethod
    def load(cls, data: dict[str, Any], *, catalog: MarketCatalog | None = None) -> DriftSimulator:
        """A simulator in exactly the state `dump()` saved (see there)."""
        import base64

        from drift_engine.core.program import decode_account

        if data.get("version") != 1:
            raise SimulationError(f"unknown simulator dump version {data.get('version')!r}")

        def mkey(t: str, i: int) -> MarketKey:
            return (MarketType(t), int(i))

        def put(obj: Any, b64: str) -> None:
            decoded = decode_account(base64.b64decode(b64))
            obj.__dict__.clear()
            obj.__dict__.update(decoded.__dict__)

        catalog = catalog or MarketCatalog.from_constants()
        by_key = {(s.market_type, s.market_index): s.symbol for s in catalog}
        prices = {by_key[mkey(t, i)]: p for t, i, p in data["prices"]}
        sim = cls(
            prices,
            ts=data["now"],
            catalog=catalog,
            default_price_model=PriceModel(*data["default_price_model"]),
            auto_settle_pnl=data["auto_settle_pnl"],
            pnl_pool_excess=data["pnl_pool_excess"],
            derive_funding=data.get("derive_funding", False),
        )
        sim._price_models = {mkey(t, i): PriceModel(*m) for t, i, m in data["price_models"]}
        sim._volume_caps = {mkey(t, i): cap for t, i, cap in data["volume_caps"]}
        sim._rates = {int(i): _Rates(d, b) for i, d, b in data["rates"]}
        for auth, sub, _user, _liq in data["users"]:
            sim.open_account(Pubkey.from_string(auth), sub)
        put(sim.state, data["state"])
        for i, raw in data["perp_markets"].items():
            put(sim.perp_markets[int(i)], raw)
        for i, raw in data["spot_markets"].items():
            put(sim.spot_markets[int(i)], raw)
        for auth, sub, raw, liq in data["users"]:
            acct = sim._accounts[(Pubkey.from_string(auth), sub)]
            put(acct.user, raw)
            acct.liquidation_start_ts = liq
        for auth, raw in data["user_stats"]:
            put(sim._stats[Pubkey.from_string(auth)], raw)
        for t, i, p in data["prices"]:
            sim._set_price(mkey(t, i), p)

        def acct_of(auth: str, sub: int) -> _Account:
            return sim._accounts[(Pubkey.from_string(auth), sub)]

        sim._resting = {
            mkey(t, i): [(acct_of(a, s), slot) for a, s, slot in v] for t, i, v in data["resting"]
        }
        sim._exposed = {
            mkey(t, i): {acct_of(a, s): None for a, s in v} for t, i, v in data["exposed"]
        }
        sim.now = data["now"]
        sim._seq = data["seq"]
        sim.records = [record_from_json(r) for r in data["records"]]
        return sim

    # ------------------------------------------------------------------ positions (slots)

    @staticmethod
    def _find_spot_position(user: Any, index: int) -> Any | None:
        for pos in user.spot_positions:
            if pos.market_index == index and (pos.scaled_balance != 0 or pos.open_orders != 0):
                return pos
        return None

    def _spot_position(self, acct: _Account, index: int) -> Any:
        pos = self._find_spot_position(acct.user, index)
        if pos is not None:
            return pos
        for pos in acct.user.spot_positions:
            if pos.scaled_balance == 0 and pos.open_orders == 0:
                # `controller/spot_position.rs`: a free slot is re-initialized for the market
                from driftpy.types import SpotBalanceType

                pos.market_index = index
                pos.balance_type = SpotBalanceType.Deposit()
                pos.open_bids = pos.open_asks = 0
                pos.cumulative_deposits = 0
                return pos
        raise SimulationError("no free spot position slot (max 8)")

    def _perp_position(self, acct: _Account, index: int) -> Any:
        """`controller/position.rs::add_new_position` when the market has no position."""
        for pos in acct.user.perp_positions:
            if pos.market_index == index and not rules.is_perp_position_available(pos):
                return pos
        for pos in acct.user.perp_positions:
            if rules.is_perp_position_available(pos):
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
        from driftpy.accounts.types import DataAndSlot

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
        self._advance(ts)
        if price <= 0:
            raise SimulationError(f"oracle price must be positive, got {price}")
        keys = self._linked[self._key(market)]
        prices = self._prices
        if all(prices[k] == price for k in keys) and not any(self._resting.get(k) for k in keys):
            return []  # the same price again (e.g. SOL and SOL-PERP ticks of one feed)
        data = oracle_price_data(price, 0)
        from driftpy.accounts.types import DataAndSlot

        entry = DataAndSlot(0, data)
        caches = [
            d.client.account_subscriber.cache["oracle_price_data"] for d in self._drifts.values()
        ]
        for key in keys:
            self._prices[key] = price
            (self._perp_prices if key[0] is MarketType.PERP else self._spot_prices)[key[1]] = price
            m = self._market(key)
            hist = (
                m.amm.historical_oracle_data
                if key[0] is MarketType.PERP
                else m.historical_oracle_data
            )
            hist.last_oracle_price = price
            oid = self._oracle_ids[key]
            for cache in caches:
                cache[oid] = entry
        fills: list[FillRecord] = []
        for key in keys:
            if self._resting.get(key):
                fills.extend(self._match_resting(key, ts))
        return fills

    def set_oracle_prices(self, prices: dict[str, int], ts: int) -> list[FillRecord]:
        fills: list[FillRecord] = []
        for market, price in prices.items():
            fills.extend(self.set_oracle_price(market, price, ts))
        return fills

    # ------------------------------------------------------------------ orders

    def _price_model(self, key: MarketKey) -> PriceModel:
        return self._price_models.get(key, self._default_price_model)

    def _decimals(self, key: MarketKey) -> int:
        return 9 if key[0] is MarketType.PERP else self.spot_markets[key[1]].decimals

    def _tick(self, key: MarketKey) -> int:
        m = self._market(key)
        return m.amm.order_tick_size if key[0] is MarketType.PERP else m.order_tick_size

    def _step(self, key: MarketKey) -> int:
        m = self._market(key)
        return m.amm.order_step_size if key[0] is MarketType.PERP else m.order_step_size

    def _limit_price(self, order: Any, key: MarketKey) -> int:
        if order.oracle_price_offset:
            return max(self._prices[key] + order.oracle_price_offset, self._tick(key))
        return order.price

    def _reduce_only_size(self, acct: _Account, key: MarketKey, long: bool, size: int) -> int:
        """`math/orders.rs::calculate_base_asset_amount_for_reduce_only_order`."""
        position = self._position_base(acct, key)
        if (long and position >= 0) or (not long and position <= 0):
            return 0
        return rules.standardize(min(size, abs(position)), self._step(key))

    def place_order(self, key: UserKey | None, intent: OrderIntent, ts: int) -> OrderResult:
        """Validate and place an order; takers fill now, limit orders may rest.

        Raises `OrderValidationError` (naming the field) for an intent the builder would
        refuse and `InsufficientCollateralError` when a risk-increasing fill or a resting
        order would break initial margin (nothing changes then).
        """
        self._advance(ts)
        acct = self._account(key)
        self._changed(acct)
        mkey = (intent.market_type, intent.market_index)
        if mkey not in self._symbols:
            raise OrderValidationError(
                "market_index",
                f"{intent.market_type.value} market {intent.market_index} is not simulated",
            )
        intent = validate_intent(
            self.catalog, intent, position_base=self._position_base(acct, mkey)
        )
        if intent.order_type in (IntentOrderType.TRIGGER_MARKET, IntentOrderType.TRIGGER_LIMIT):
            raise OrderValidationError("order_type", "trigger orders are not simulated")
        if intent.max_ts is not None and intent.max_ts and ts > intent.max_ts:
            raise OrderValidationError("max_ts", f"order expired at {intent.max_ts} (now {ts})")
        long = intent.direction is Direction.LONG
        is_limit = intent.order_type in (IntentOrderType.LIMIT, IntentOrderType.ORACLE)
        if mkey[0] is MarketType.PERP:
            self._settle_funding(acct, self.perp_markets[mkey[1]], ts)

        # the id is taken only when the order is placed (a refused order reverts on chain)
        order_id = acct.user.next_order_id
        size = intent.base_asset_amount
        if intent.reduce_only:
            size = self._reduce_only_size(acct, mkey, long, size)
            if size == 0:
                return self._order_end(
                    acct,
                    mkey,
                    intent,
                    order_id,
                    ts,
                    "canceled",
                    "reduce-only order cannot reduce the position",
                )

        oracle = self._prices[mkey]
        tick = self._tick(mkey)
        limit: int | None = None
        if is_limit or intent.price:
            if intent.oracle_price_offset is not None:
                limit = max(oracle + intent.oracle_price_offset, tick)
            else:
                limit = intent.price
        model = self._price_model(mkey)
        notional = size * oracle // 10 ** self._decimals(mkey)
        taker_price = model.taker_price(oracle, long, notional, tick)
        crosses = limit is None or (taker_price <= limit if long else taker_price >= limit)

        post_only = intent.post_only
        if post_only is not PostOnly.NONE:
            bid, ask = model.best_bid_ask(oracle, tick)
            would_take = limit >= ask if long else limit <= bid
            if would_take:
                if post_only is PostOnly.MUST_POST_ONLY:
                    raise OrderValidationError(
                        "post_only",
                        f"a must-post-only {intent.direction.value} at {limit} would take "
                        f"(model {'ask' if long else 'bid'} {ask if long else bid})",
                    )
                if post_only is PostOnly.TRY_POST_ONLY:
                    return self._order_end(
                        acct,
                        mkey,
                        intent,
                        order_id,
                        ts,
                        "canceled",
                        "try-post-only order would take",
                    )
                limit = ask - tick if long else bid + tick  # SLIDE
            crosses = False

        fills: tuple[FillRecord, ...] = ()
        if crosses:
            fill = self._execute_fill(
                acct,
                mkey,
                long,
                size,
                taker_price,
                False,
                ts,
                order_id,
                intent.user_order_id,
                check_margin=True,
            )
            fills = (fill,)
            acct.user.next_order_id += 1
            self._emit(
                OrderRecord(
                    self._next_seq(),
                    ts,
                    acct.authority,
                    acct.key[1],
                    mkey[0],
                    mkey[1],
                    order_id,
                    intent.user_order_id,
                    "fill",
                )
            )
            self._after_fill(acct, mkey, ts)
            return OrderResult(order_id, "filled", fills)
        if not is_limit or intent.immediate_or_cancel:
            return self._order_end(
                acct,
                mkey,
                intent,
                order_id,
                ts,
                "canceled",
                f"no fill within the limit price {limit}",
            )
        self._rest_order(acct, mkey, intent, order_id, size, limit, ts)
        acct.user.next_order_id += 1
        return OrderResult(order_id, "open", fills)

    def place_orders(
        self, key: UserKey | None, intents: Iterable[OrderIntent], ts: int
    ) -> list[OrderResult]:
        """Drift's `place_orders`: place every order (in order, as `place_order` does) or
        none. A refusal of any of them (`OrderValidationError`, `InsufficientCollateralError`
        after any leg, any `SimulationError`) restores the state before the call (fills,
        fees, funding settled, order ids, records) and re-raises; an order that ends
        cancelled (e.g. a reduce-only with nothing to reduce) is not a refusal.
        """
        acct = self._account(key)
        self._changed(acct)
        snap = self.snapshot([acct.key])
        results: list[OrderResult] = []
        try:
            for intent in intents:
                results.append(self.place_order(acct.key, intent, ts))
        except BaseException:
            self.restore(snap)
            raise
        return results

    # ------------------------------------------------------------------ atomicity

    def snapshot(self, accounts: Iterable[UserKey] | None = None) -> _Snapshot:
        """Everything an instruction can change, to undo it with `restore`: the State, every
        market, the Users (all, or those of `accounts`) and their UserStats (deep copies),
        oracle prices and the simulator's bookkeeping (records, counters, resting orders).
        """
        keys = list(self._accounts) if accounts is None else list(accounts)
        accts = [self._account(k) for k in keys]
        snap = _Snapshot()
        snap.keep_deep(self.state, *self.perp_markets.values(), *self.spot_markets.values())
        snap.keep_deep(*(a.user for a in accts))
        snap.keep_deep(*{id(a.stats): a.stats for a in accts}.values())
        snap.extra = {
            "accounts": dict(self._accounts),
            "stats": dict(self._stats),
            "drifts": dict(self._drifts),
            "records": len(self.records),
            "seq": self._seq,
            "now": self.now,
            "resting": {k: list(v) for k, v in self._resting.items()},
            "exposed": {k: dict(v) for k, v in self._exposed.items()},
            "rates": {i: _Rates(r.deposit, r.borrow) for i, r in self._rates.items()},
            "prices": dict(self._prices),
            "liquidation_start": {a.key: a.liquidation_start_ts for a in accts},
        }
        return snap

    def restore(self, snap: _Snapshot) -> None:
        """Put back the state of `snapshot()` (into the same account objects)."""
        snap.restore()
        self._encoded.clear()
        self._encoded_stats.clear()
        e = snap.extra or {}
        for name in ("accounts", "stats", "drifts"):
            target = getattr(self, f"_{name}")
            target.clear()
            target.update(e[name])
        del self.records[e["records"] :]
        self._seq = e["seq"]
        self.now = e["now"]
        self._resting = {k: list(v) for k, v in e["resting"].items()}
        self._exposed = {k: dict(v) for k, v in e["exposed"].items()}
        self._rates = {i: _Rates(r.deposit, r.borrow) for i, r in e["rates"].items()}
        for mkey, price in e["prices"].items():
            if self._prices[mkey] != price:
                self._set_price(mkey, price)
        for key, start in e["liquidation_start"].items():
            if key in self._accounts:
                self._accounts[key].liquidation_start_ts = start
        for acct in self._accounts.values():
            acct.safe = None

    def _set_price(self, key: MarketKey, price: int) -> None:
        """One market's oracle price everywhere the simulator keeps it (no matching)."""
        from driftpy.accounts.types import DataAndSlot

        self._prices[key] = price
        (self._perp_prices if key[0] is MarketType.PERP else self._spot_prices)[key[1]] = price
        m = self._market(key)
        hist = (
            m.amm.historical_oracle_data if key[0] is MarketType.PERP else m.historical_oracle_data
        )
        hist.last_oracle_price = price
        entry = DataAndSlot(0, oracle_price_data(price, 0))
        for d in self._drifts.values():
            d.client.account_subscriber.cache["oracle_price_data"][self._oracle_ids[key]] = entry

    def _order_end(self, acct, mkey, intent, order_id, ts, status, reason) -> OrderResult:
        self._changed(acct)
        acct.user.next_order_id += 1
        self._emit(
            OrderRecord(
                self._next_seq(),
                ts,
                acct.authority,
                acct.key[1],
                mkey[0],
                mkey[1],
                order_id,
                intent.user_order_id,
                "cancel",
                reason,
            )
        )
        return OrderResult(order_id, status, (), reason)

    def _rest_order(self, acct, mkey, intent, order_id, size, limit, ts) -> None:
        self._changed(acct)
        user = acct.user
        slot_index = next(
            (i for i, o in enumerate(user.orders) if rules.variant(o.status) != "Open"), None
        )
        if slot_index is None:
            raise SimulationError("no free order slot (max 32 open orders)")
        long = intent.direction is Direction.LONG
        snap = _Snapshot()
        order = user.orders[slot_index]
        pos = (
            self._perp_position(acct, mkey[1])
            if mkey[0] is MarketType.PERP
            else self._spot_position(acct, mkey[1])
        )
        snap.keep(order, pos, user)
        order.slot = 0
        order.price = 0 if intent.oracle_price_offset is not None else limit
        order.oracle_price_offset = intent.oracle_price_offset or 0
        order.base_asset_amount = size
        order.base_asset_amount_filled = 0
        order.quote_asset_amount_filled = 0
        order.trigger_price = 0
        order.auction_start_price = order.auction_end_price = 0
        order.auction_duration = 0
        order.max_ts = intent.max_ts or 0
        order.order_id = order_id
        order.user_order_id = intent.user_order_id
        order.market_index = mkey[1]
        order.status = OrderStatus.Open()
        order.order_type = (
            OrderType.Oracle() if intent.oracle_price_offset is not None else OrderType.Limit()
        )
        order.market_type = (
            DpMarketType.Perp() if mkey[0] is MarketType.PERP else DpMarketType.Spot()
        )
        base_now = self._position_base(acct, mkey)
        order.existing_position_direction = (
            PositionDirection.Short() if base_now < 0 else PositionDirection.Long()
        )
        order.direction = PositionDirection.Long() if long else PositionDirection.Short()
        order.reduce_only = intent.reduce_only
        order.post_only = intent.post_only is not PostOnly.NONE
        order.immediate_or_cancel = False
        pos.open_orders += 1
        if long:
            pos.open_bids += size
        else:
            pos.open_asks -= size
        user.open_orders += 1
        user.has_open_order = True
        acct.safe = None
        if not intent.reduce_only:
            tc, req = self._calc(acct, MarginCategory.INITIAL)
            if tc < req:
                snap.restore()
                raise InsufficientCollateralError(
                    f"resting order {order_id} would need initial margin {req} > collateral {tc}"
                )
        self._resting.setdefault(mkey, []).append((acct, slot_index))
        self._touch(acct, mkey)
        self._emit(
            OrderRecord(
                self._next_seq(),
                ts,
                acct.authority,
                acct.key[1],
                mkey[0],
                mkey[1],
                order_id,
                intent.user_order_id,
                "place",
            )
        )

    def cancel_order(self, key: UserKey | None, order_id: int, ts: int) -> bool:
        """Cancel a resting order by id; False if no such open order."""
        self._advance(ts)
        acct = self._account(key)
        self._changed(acct)
        for i, order in enumerate(acct.user.orders):
            if order.order_id == order_id and rules.variant(order.status) == "Open":
                self._close_order(acct, i, ts, "cancel", "canceled by user")
                return True
        return False

    def _order_market_key(self, order: Any) -> MarketKey:
        kind = MarketType.PERP if rules.variant(order.market_type) == "Perp" else MarketType.SPOT
        return (kind, order.market_index)

    def _close_order(self, acct: _Account, index: int, ts: int, action: str, reason: str) -> None:
        self._changed(acct)
        order = acct.user.orders[index]
        mkey = self._order_market_key(order)
        remaining = order.base_asset_amount - order.base_asset_amount_filled
        pos = (
            self._perp_position(acct, mkey[1])
            if mkey[0] is MarketType.PERP
            else self._spot_position(acct, mkey[1])
        )
        if rules.variant(order.direction) == "Long":
            pos.open_bids = max(0, pos.open_bids - remaining)
        else:
            pos.open_asks = min(0, pos.open_asks + remaining)
        pos.open_orders = max(0, pos.open_orders - 1)
        acct.user.open_orders = max(0, acct.user.open_orders - 1)
        acct.user.has_open_order = acct.user.open_orders > 0
        self._emit(
            OrderRecord(
                self._next_seq(),
                ts,
                acct.authority,
                acct.key[1],
                mkey[0],
                mkey[1],
                order.order_id,
                order.user_order_id,
                action,
                reason,
            )
        )
        # the program resets a finished order slot to Order::default()
        order.status = OrderStatus.Init()
        order.base_asset_amount = order.base_asset_amount_filled = 0
        order.quote_asset_amount_filled = 0
        order.price = order.oracle_price_offset = order.max_ts = 0
        order.order_id = order.user_order_id = order.market_index = 0
        order.reduce_only = order.post_only = False
        order.order_type = OrderType.Market()
        order.market_type = DpMarketType.Spot()
        order.direction = PositionDirection.Long()
        order.existing_position_direction = PositionDirection.Long()
        resting = self._resting.get(mkey, [])
        self._resting[mkey] = [(a, i) for a, i in resting if not (a is acct and i == index)]
        acct.safe = None

    def _match_resting(self, key: MarketKey, ts: int) -> list[FillRecord]:
        """Resting orders the oracle price crosses fill at their limit (maker, rebate)."""
        oracle = self._prices[key]
        cap = self._volume_caps.get(key)
        step = self._step(key)
        fills: list[FillRecord] = []
        for acct, index in list(self._resting.get(key, [])):
            order = acct.user.orders[index]
            if rules.variant(order.status) != "Open":
                continue
            if order.max_ts and ts > order.max_ts:
                self._close_order(acct, index, ts, "expire", "max_ts passed")
                continue
            long = rules.variant(order.direction) == "Long"
            limit = self._limit_price(order, key)
            if not (oracle < limit if long else oracle > limit):
                continue
            size = order.base_asset_amount - order.base_asset_amount_filled
            if order.reduce_only:
                size = self._reduce_only_size(acct, key, long, size)
                if size == 0:
                    self._close_order(
                        acct, index, ts, "cancel", "reduce-only order has nothing to reduce"
                    )
                    continue
            if cap is not None:
                size = rules.standardize(min(size, cap), step)
                if size == 0:
                    break
                cap -= size
            if key[0] is MarketType.PERP:
                self._settle_funding(acct, self.perp_markets[key[1]], ts)
            try:
                fill = self._execute_fill(
                    acct,
                    key,
                    long,
                    size,
                    limit,
                    True,
                    ts,
                    order.order_id,
                    order.user_order_id,
                    check_margin=not order.reduce_only,
                    order=order,
                )
            except InsufficientCollateralError:
                self._close_order(acct, index, ts, "cancel", "insufficient collateral for the fill")
                continue
            fills.append(fill)
            if order.base_asset_amount_filled >= order.base_asset_amount:
                self._close_order(acct, index, ts, "fill", "")
            self._after_fill(acct, key, ts)
        return fills

    # ------------------------------------------------------------------ fills

    def _fee_tier(self, acct: _Account, spot: bool, high_leverage: bool) -> fees.FeeTier:
        """`math/fees.rs::determine_user_fee_tier` over the State's fee structure: 30-day
        volume and staked DRIFT pick the perp tier; spot and high leverage mode: tier 0."""
        structure = self.state.spot_fee_structure if spot else self.state.perp_fee_structure
        return fees.determine_user_fee_tier(
            acct.stats, fees.FeeStructure.from_account(structure), spot, high_leverage
        )

    def _execute_fill(
        self,
        acct: _Account,
        key: MarketKey,
        long: bool,
        size: int,
        price: int,
        is_maker: bool,
        ts: int,
        order_id: int,
        user_order_id: int,
        *,
        check_margin: bool,
        order: Any = None,
    ) -> FillRecord:
        self._changed(acct)
        user, stats = acct.user, acct.stats
        snap = _Snapshot()
        snap.keep(user, stats, stats.fees)
        if order is not None:
            snap.keep(order)
        if key[0] is MarketType.PERP:
            market = self.perp_markets[key[1]]
            pos = self._perp_position(acct, key[1])
            snap.keep(pos, market, market.amm)
            base_before = pos.base_asset_amount
            # math/matching.rs calculate_fill_for_matched_orders: one quote per match,
            # rounded by the maker's direction (a taker's counterparty is the maker)
            maker_long = long if is_maker else not long
            quote = rules.quote_for_fill(size, price, 9, maker_long)
            pnl = rules.update_position_and_market(
                pos, market, size if long else -size, -quote if long else quote
            )
            # math/fees.rs: the market's fee_adjustment scales both; a taker in high
            # leverage mode takes tier 0 and pays twice its fee (controller/orders.rs reads
            # the mode for the Initial requirement); a maker's tier ignores the mode.
            hlm = is_high_leverage_mode(user, MarginCategory.INITIAL)
            if is_maker:
                tier = self._fee_tier(acct, spot=False, high_leverage=False)
                rebate = fees.maker_rebate(quote, tier, market.fee_adjustment)
                rules.update_quote_asset_and_break_even_amount(pos, market, rebate)
                stats.fees.total_fee_rebate += rebate
                fee = -rebate
            else:
                tier = self._fee_tier(acct, spot=False, high_leverage=hlm)
                fee = fees.taker_fee(quote, tier, market.fee_adjustment) * (2 if hlm else 1)
                rules.update_quote_asset_and_break_even_amount(pos, market, -fee)
                stats.fees.total_fee_paid += fee
            market.amm.total_fee += fee
            market.amm.total_fee_minus_distributions += fee
            base_after = pos.base_asset_amount
            risk_up = abs(base_after) > abs(base_before) or (base_after * base_before < 0)
            fill_id = market.next_fill_record_id
            market.next_fill_record_id += 1
            market.last_fill_price = price
            if order is not None:
                self._reduce_open(pos, long, size)
        else:
            market = self.spot_markets[key[1]]
            usdc = self.spot_markets[QUOTE_SPOT_MARKET_INDEX]
            bpos = self._spot_position(acct, key[1])
            qpos = self._spot_position(acct, QUOTE_SPOT_MARKET_INDEX)
            snap.keep(bpos, qpos, market, usdc)
            base_before = rules.signed_token_amount(bpos, market)
            maker_long = long if is_maker else not long  # math/matching.rs, as for perps
            quote = rules.quote_for_fill(size, price, market.decimals, maker_long)
            rules.update_spot_balances(size, long, market, bpos)
            rules.update_spot_balances(quote, not long, usdc, qpos)
            tier = self._fee_tier(acct, spot=True, high_leverage=False)
            if is_maker:
                rebate = fees.maker_rebate(quote, tier, market.fee_adjustment)
                if rebate:
                    rules.update_spot_balances(rebate, True, usdc, qpos)
                user.cumulative_spot_fees += rebate
                stats.fees.total_fee_rebate += rebate
                fee = -rebate
            else:
                fee = fees.taker_fee(quote, tier, market.fee_adjustment)
                if fee:
                    rules.update_spot_balances(fee, False, usdc, qpos)
                user.cumulative_spot_fees -= fee
                stats.fees.total_fee_paid += fee
            market.total_spot_fee += max(fee, 0)
            pnl = 0
            base_after = rules.signed_token_amount(bpos, market)
            risk_up = (
                abs(base_after) > abs(base_before)
                or base_after * base_before < 0
                or (rules.signed_token_amount(qpos, usdc) < 0)
            )
            fill_id = market.next_fill_record_id
            market.next_fill_record_id += 1
            if order is not None:
                self._reduce_open(bpos, long, size)
        if order is not None:
            order.base_asset_amount_filled += size
            order.quote_asset_amount_filled += quote
        if is_maker:
            stats.maker_volume30d = rules.rolling_30d(
                stats.maker_volume30d, ts - stats.last_maker_volume30d_ts, quote
            )
            stats.last_maker_volume30d_ts = ts
        else:
            stats.taker_volume30d = rules.rolling_30d(
                stats.taker_volume30d, ts - stats.last_taker_volume30d_ts, quote
            )
            stats.last_taker_volume30d_ts = ts
        acct.safe = None
        if check_margin and risk_up:
            tc, req = self._calc(acct, MarginCategory.INITIAL)
            if tc < req:
                snap.restore()
                raise InsufficientCollateralError(
                    f"filling {size} of {self._symbols[key]} would leave total collateral {tc} "
                    f"below the initial margin requirement {req}"
                )
        self._touch(acct, key)
        return self._emit(
            FillRecord(
                self._next_seq(),
                ts,
                acct.authority,
                acct.key[1],
                key[0],
                key[1],
                order_id,
                user_order_id,
                Direction.LONG if long else Direction.SHORT,
                size,
                quote,
                price,
                self._prices[key],
                is_maker,
                fee,
                pnl,
                base_after,
                fill_id,
            )
        )

    @staticmethod
    def _reduce_open(pos: Any, long: bool, size: int) -> None:
        if long:
            pos.open_bids = max(0, pos.open_bids - size)
        else:
            pos.open_asks = min(0, pos.open_asks + size)

    def _after_fill(self, acct: _Account, key: MarketKey, ts: int) -> None:
        self._changed(acct)
        if key[0] is MarketType.PERP and self.auto_settle_pnl:
            self._settle_pnl(acct, key[1], ts)

    # ------------------------------------------------------------------ funding

    def _settle_funding(self, acct: _Account, market: Any, ts: int) -> FundingPaymentRecord | None:
        """`controller/funding.rs::settle_funding_payment` for one position."""
        self._changed(acct)
        pos = None
        for p in acct.user.perp_positions:
            if p.market_index == market.market_index and not rules.is_perp_position_available(p):
                pos = p
                break
        if pos is None or pos.base_asset_amount == 0:
            return None
        amm = market.amm
        cumulative = (
            amm.cumulative_funding_rate_long
            if pos.base_asset_amount > 0
            else amm.cumulative_funding_rate_short
        )
        if cumulative == pos.last_cumulative_funding_rate:
            return None
        payment = rules.funding_payment(cumulative, pos)
        acct.user.cumulative_perp_funding += payment
        record = FundingPaymentRecord(
            self._next_seq(),
            ts,
            acct.authority,
            acct.key[1],
            market.market_index,
            payment,
            pos.base_asset_amount,
            pos.last_cumulative_funding_rate,
            amm.cumulative_funding_rate_long,
            amm.cumulative_funding_rate_short,
        )
        pos.last_cumulative_funding_rate = cumulative
        rules.update_quote_asset_and_break_even_amount(pos, market, payment)
        amm.net_unsettled_funding_pnl -= payment
        acct.safe = None
        return self._emit(record)

    def _settle_all_funding(self, acct: _Account, ts: int) -> list[FundingPaymentRecord]:
        out = []
        for pos in acct.user.perp_positions:
            if pos.base_asset_amount != 0:
                rec = self._settle_funding(acct, self.perp_markets[pos.market_index], ts)
                if rec is not None:
                    out.append(rec)
        return out

    def settle_funding(self, ts: int) -> list[FundingPaymentRecord]:
        """Settle every position's unsettled funding (and PnL, when auto-settling)."""
        self._advance(ts)
        out: list[FundingPaymentRecord] = []
        for acct in self._accounts.values():
            out.extend(self._settle_all_funding(acct, ts))
            if self.auto_settle_pnl:
                for pos in acct.user.perp_positions:
                    if not rules.is_perp_position_available(pos):
                        self._settle_pnl(acct, pos.market_index, ts)
        return out

    def update_funding(
        self,
        market: Any,
        record: Any = None,
        *,
        ts: int | None = None,
        funding_rate: int | None = None,
        funding_rate_long: int | None = None,
        funding_rate_short: int | None = None,
        oracle_price_twap: int | None = None,
        mark_price_twap: int | None = None,
        derive: bool | None = None,
    ) -> list[FundingPaymentRecord]:
        """Apply one hourly funding update, then settle funding for the market's positions.

        `record` is a `data.models.FundingRecord` (or anything with its fields); keywords
        override or replace it. Rates are FUNDING_RATE precision (1e9, quote per base): the
        market's cumulative long/short rates advance by `funding_rate_long/short` (default
        `funding_rate`), as `controller/funding.rs::update_funding_rate` does with the
        rates it computes. Each funding time is applied once: `ts` must be later than the
        market's `last_funding_rate_ts`.

        With no rate given, or with `derive` (default: the simulator's `derive_funding`),
        the rate is computed from the period's mark and oracle TWAPs as the program does
        (core/funding.py: offset, the contract tier's clamp, the period adjustment), and
        split into long and short rates by the AMM's net position and fee pool
        (`math/funding.rs::calculate_funding_rate_long_short`), which also books the
        protocol's funding imbalance into `amm.net_unsettled_funding_pnl`.
        """
        key = self._key(market)
        if key[0] is not MarketType.PERP:
            raise SimulationError(f"{self._symbols[key]} is not a perp market")
        pm = self.perp_markets[key[1]]
        amm = pm.amm

        def pick(name: str, value: Any) -> Any:
            if value is not None:
                return value
            return getattr(record, name, None) if record is not None else None

        ts = pick("ts", ts)
        derive = self.derive_funding if derive is None else derive
        rate = None if derive else pick("funding_rate", funding_rate)
        given_oracle = pick("oracle_price_twap", oracle_price_twap)
        given_mark = pick("mark_price_twap", mark_price_twap)
        if ts is None or (rate is None and not (given_oracle and given_mark)):
            raise SimulationError(
                "a funding update needs ts and a funding_rate, or mark and oracle TWAPs"
            )
        if ts <= amm.last_funding_rate_ts:
            raise SimulationError(
                f"funding for {self._symbols[key]} at {ts} is not after the last update "
                f"({amm.last_funding_rate_ts}); each funding time applies once"
            )
        self._advance(ts)
        oracle_twap = given_oracle or self._prices[key]
        mark_twap = given_mark or oracle_twap
        if rate is None:
            # controller/funding.rs::update_funding_rate from the period's TWAPs
            rate = funding.funding_rate(
                mark_twap, oracle_twap, pm.contract_tier, amm.funding_period
            )
            split = funding.funding_rate_long_short(pm, rate)
            rate_long, rate_short = split.long, split.short
            amm.net_unsettled_funding_pnl -= split.imbalance_revenue
        else:
            rate_long = pick("funding_rate_long", funding_rate_long)
            rate_short = pick("funding_rate_short", funding_rate_short)
            rate_long = rate if rate_long is None else rate_long
            rate_short = rate if rate_short is None else rate_short
        amm.cumulative_funding_rate_long += rate_long
        amm.cumulative_funding_rate_short += rate_short
        amm.last_funding_rate = rate
        amm.last_funding_rate_long = rate_long
        amm.last_funding_rate_short = rate_short
        amm.last24h_avg_funding_rate = funding.new_twap(
            rate, ts, amm.last24h_avg_funding_rate, amm.last_funding_rate_ts, 24 * 3600
        )
        amm.last_funding_rate_ts = ts
        amm.last_funding_oracle_twap = oracle_twap
        amm.historical_oracle_data.last_oracle_price_twap = oracle_twap
        amm.historical_oracle_data.last_oracle_price_twap_ts = ts
        amm.last_mark_price_twap = mark_twap
        amm.last_mark_price_twap_ts = ts
        pm.next_funding_rate_record_id += 1
        self._emit(
            FundingRateRecord(
                self._next_seq(),
                ts,
                key[1],
                rate,
                rate_long,
                rate_short,
                amm.cumulative_funding_rate_long,
                amm.cumulative_funding_rate_short,
                oracle_twap,
                mark_twap,
            )
        )
        out: list[FundingPaymentRecord] = []
        if not self.settle_funding_on_update:
            return out  # as on chain: settled at the position's next fill or settle_pnl
        for acct in list(self._exposed.get(key, ())):
            rec = self._settle_funding(acct, pm, ts)
            if rec is not None:
                out.append(rec)
            if self.auto_settle_pnl:
                self._settle_pnl(acct, key[1], ts)
        return out

    # ------------------------------------------------------------------ settle pnl

    def settle_pnl(self, key: UserKey | None, market: Any, ts: int) -> SettlePnlRecord | None:
        """`controller/pnl.rs::settle_pnl` for one perp market of one sub-account."""
        self._advance(ts)
        return self._settle_pnl(self._account(key), self._key(market)[1], ts)

    def _settle_pnl(self, acct: _Account, index: int, ts: int) -> SettlePnlRecord | None:
        self._changed(acct)
        market = self.perp_markets[index]
        pos = None
        for p in acct.user.perp_positions:
            if p.market_index == index and not rules.is_perp_position_available(p):
                pos = p
                break
        if pos is None:
            return None
        self._settle_funding(acct, market, ts)
        oracle = self._prices[(MarketType.PERP, index)]
        if rules.unrealized_pnl(pos, oracle) < 0:
            tc, req = self._maintenance_cached(acct)
            if tc < req:
                return None  # InsufficientCollateralForSettlingPNL
        pnl = rules.claimable_pnl(pos, oracle, self.pnl_pool_excess)
        if pnl == 0:
            return None
        usdc = self.spot_markets[QUOTE_SPOT_MARKET_INDEX]
        qpos = self._spot_position(acct, QUOTE_SPOT_MARKET_INDEX)
        rules.update_spot_balances(abs(pnl), pnl > 0, usdc, qpos)
        rules.update_quote_asset_amount(pos, market, -pnl)
        acct.user.settled_perp_pnl += pnl
        pos.settled_pnl += pnl
        self._touch(acct, (MarketType.SPOT, QUOTE_SPOT_MARKET_INDEX))
        return self._emit(
            SettlePnlRecord(
                self._next_seq(),
                ts,
                acct.authority,
                acct.key[1],
                index,
                pnl,
                pos.base_asset_amount,
                pos.quote_asset_amount,
                pos.quote_entry_amount,
                oracle,
            )
        )

    # ------------------------------------------------------------------ interest

    def set_interest_rates(
        self, market: Any, deposit_rate: Any, borrow_rate: Any, ts: int | None = None
    ) -> list[InterestRecord]:
        """Set a spot market's annual deposit and borrow rates from `ts` on.

        Rates are fractions (Decimal("0.05") = 5% APR) or ints in SPOT_RATE precision (1e6).
        Interest up to `ts` accrues at the old rates first.
        """
        key = self._key(market)
        out = self.accrue_interest(ts) if ts is not None else []
        self._rates[key[1]] = _Rates(
            _rate_to_spot_precision(deposit_rate), _rate_to_spot_precision(borrow_rate)
        )
        if ts is not None:
            self.spot_markets[key[1]].last_interest_ts = max(
                self.spot_markets[key[1]].last_interest_ts, ts
            )
        return out

    def _accrue_market(self, index: int, ts: int) -> list[InterestRecord]:
        rates = self._rates.get(index)
        market = self.spot_markets[index]
        if rates is None or (rates.deposit <= 0 and rates.borrow <= 0):
            market.last_interest_ts = max(market.last_interest_ts, ts)
            return []
        holders = []
        for acct in self._exposed.get((MarketType.SPOT, index), ()):
            pos = self._find_spot_position(acct.user, index)
            if pos is not None:
                holders.append((acct, pos, rules.signed_token_amount(pos, market)))
        if not rules.accrue_spot_interest(market, ts, rates.deposit, rates.borrow):
            return []
        out = []
        for acct, pos, before in sorted(holders, key=lambda h: (str(h[0].key[0]), h[0].key[1])):
            delta = rules.signed_token_amount(pos, market) - before
            acct.safe = None
            if delta:
                out.append(
                    self._emit(
                        InterestRecord(
                            self._next_seq(),
                            ts,
                            acct.authority,
                            acct.key[1],
                            index,
                            delta,
                            market.cumulative_deposit_interest,
                            market.cumulative_borrow_interest,
                        )
                    )
                )
        return out

    def accrue_interest(self, ts: int) -> list[InterestRecord]:
        """Advance every spot market's cumulative interest to `ts` at its current rates."""
        self._advance(ts)
        out: list[InterestRecord] = []
        for index in sorted(self.spot_markets):
            out.extend(self._accrue_market(index, ts))
        return out

    # ------------------------------------------------------------------ margin and liquidation

    def _maintenance_cached(self, acct: _Account) -> tuple[int, int]:
        """`_calc(acct, MAINTENANCE)`, reused from the liquidation check while nothing it
        reads moved: `acct.safe` is dropped on every change to the account, and kept
        with the record count and the prices it was computed at (a funding hour's
        liquidation check, its quiet bands and the backtest's hourly health sample are
        one calculation, not three)."""
        safe = acct.safe
        if safe is not None and safe[2] == len(self.records) and safe[3] == self._prices:
            return safe[4]
        return self._calc(acct, MarginCategory.MAINTENANCE)

    def maintenance_now(self, key: UserKey | None = None) -> tuple[int, int]:
        """`maintenance(key)` (the program's maintenance margin calculation), from the
        liquidation check's calculation when the account and prices are as it saw them."""
        return self._maintenance_cached(self._account(key))

    def sensitivity_now(self, key: UserKey | None = None) -> dict[MarketKey, tuple[int, float]]:
        """`_sensitivity` of the account, kept from the liquidation check when valid."""
        acct = self._account(key)
        safe = acct.safe
        if safe is not None and safe[2] == len(self.records) and safe[3] == self._prices:
            return safe[1]
        return self._sensitivity(acct)

    def _sensitivity(self, acct: _Account) -> dict[MarketKey, tuple[int, float]]:
        """Per market: an upper bound of |d(collateral - requirement)| per unit of price."""
        sens: dict[MarketKey, float] = {}
        for pos in acct.user.perp_positions:
            if rules.is_perp_position_available(pos):
                continue
            size = abs(pos.base_asset_amount) + max(pos.open_bids, -pos.open_asks)
            # uPnL (weight <= 1) plus requirement (ratio <= 1), x1.5 safety
            k = (MarketType.PERP, pos.market_index)
            sens[k] = sens.get(k, 0.0) + 3.0 * size / rules.BASE_PRECISION
        for pos in acct.user.spot_positions:
            if pos.market_index == QUOTE_SPOT_MARKET_INDEX or (
                pos.scaled_balance == 0 and pos.open_orders == 0
            ):
                continue
            market = self.spot_markets[pos.market_index]
            tokens = abs(rules.signed_token_amount(pos, market)) + max(
                pos.open_bids, -pos.open_asks
            )
            weight = max(market.initial_liability_weight, rules.SPOT_WEIGHT_PRECISION)
            k = (MarketType.SPOT, pos.market_index)
            factor = 3.0 * (1 + weight / rules.SPOT_WEIGHT_PRECISION)
            sens[k] = sens.get(k, 0.0) + factor * tokens / 10**market.decimals
        return {k: (self._prices[k], v) for k, v in sens.items()}

    def _possibly_liquidatable(self, acct: _Account) -> bool:
        if acct.safe is not None:
            free, sens = acct.safe[0], acct.safe[1]
            bound = 0.0
            for k, (p0, s) in sens.items():
                bound += s * abs(self._prices[k] - p0)
            if bound < free:
                return False
        tc, req = self._maintenance_cached(acct)
        if tc >= req:
            acct.safe = (
                tc - req,
                self._sensitivity(acct),
                len(self.records),
                dict(self._prices),
                (tc, req),
            )
            return False
        return True

    def liquidate_if_needed(self, ts: int) -> list[LiquidationRecord]:
        """Liquidate (perp first) every sub-account below maintenance margin."""
        self._advance(ts)
        out: list[LiquidationRecord] = []
        for acct in self._accounts.values():
            being = acct.user.status & UserStatus.BEING_LIQUIDATED
            if not being and not self._possibly_liquidatable(acct):
                continue
            out.extend(self._liquidate(acct, ts))
        return out

    def _liquidate(self, acct: _Account, ts: int) -> list[LiquidationRecord]:
        """`controller/liquidation.rs::liquidate_perp`, largest position first, repeated
        until the account can leave liquidation or no perp position is left."""
        self._changed(acct)
        out: list[LiquidationRecord] = []
        user = acct.user
        buffer = self.state.liquidation_margin_buffer_ratio
        for _ in range(16):
            positions = [p for p in user.perp_positions if p.base_asset_amount != 0]
            self._settle_all_funding(acct, ts)
            open_orders = [
                i for i, order in enumerate(user.orders) if rules.variant(order.status) == "Open"
            ]
            before_cancel = (
                calculate_margin(
                    user, self._snapshot, MarginCategory.MAINTENANCE, margin_buffer=buffer
                )
                if open_orders
                else None
            )
            canceled = []
            for i in open_orders:
                canceled.append(user.orders[i].order_id)
                self._close_order(acct, i, ts, "cancel", "liquidation")
            calc = calculate_margin(
                user, self._snapshot, MarginCategory.MAINTENANCE, margin_buffer=buffer
            )
            tc, req = calc.total_collateral, calc.margin_requirement
            req_plus_buffer = calc.margin_requirement_plus_buffer
            being = bool(user.status & UserStatus.BEING_LIQUIDATED)
            if not being and (tc >= req or not positions):
                break  # healthy, or spot-only (spot liquidation is not simulated)
            if not being:
                user.status |= UserStatus.BEING_LIQUIDATED
                user.liquidation_margin_freed = 0
                acct.liquidation_start_ts = ts
                liquidation_id = user.next_liquidation_id
                user.next_liquidation_id += 1
            else:
                liquidation_id = user.next_liquidation_id - 1
            shortage = max(0, req_plus_buffer - tc)
            if before_cancel is not None:
                # controller/liquidation.rs: the margin cancelling the orders freed
                freed = _margin_shortage(before_cancel) - shortage
                user.liquidation_margin_freed += max(0, freed)
            if tc >= req_plus_buffer:
                user.status &= ~UserStatus.BEING_LIQUIDATED
                break
            if not positions:
                break  # spot-only liquidation is not simulated
            prices = self._prices
            pos = max(
                positions,
                key=lambda p: (
                    abs(p.base_asset_amount) * prices[(MarketType.PERP, p.market_index)],
                    -p.market_index,
                ),
            )
            market = self.perp_markets[pos.market_index]
            oracle = prices[(MarketType.PERP, pos.market_index)]
            step = market.amm.order_step_size
            user_base = abs(pos.base_asset_amount)
            # controller/liquidation.rs::liquidate_perp: the program's margin ratio
            # (state/perp_market.rs get_margin_ratio, an integer, with the user's high
            # leverage mode); driftpy's calculate_market_margin_ratio returns a float once
            # the IMF size premium applies and ignores the mode.
            hlm = is_high_leverage_mode(user, MarginCategory.MAINTENANCE)
            margin_ratio = perp_margin_ratio(market, user_base, MarginCategory.MAINTENANCE, hlm)
            ratio_with_buffer = margin_ratio + buffer
            liquidator_fee = rules.base_liquidator_fee(market, hlm)
            if_fee_rate = rules.perp_if_fee(
                shortage,
                user_base,
                ratio_with_buffer,
                liquidator_fee,
                oracle,
                market.if_liquidation_fee,
            )
            to_cover = rules.standardize_ceil(
                rules.base_to_cover_margin_shortage(
                    shortage, ratio_with_buffer, liquidator_fee, if_fee_rate, oracle
                ),
                step,
            )
            slots = (ts - acct.liquidation_start_ts) * 5 // 2  # ~400 ms slots
            pct = rules.max_pct_to_liquidate(
                shortage,
                user.liquidation_margin_freed,
                slots,
                self.state.initial_pct_to_liquidate,
                self.state.liquidation_duration,
            )
            allowed = to_cover * pct // rules.LIQUIDATION_PCT_PRECISION
            if allowed == 0:
                break
            value_all = user_base * oracle // rules.PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO
            min_base = 0 if value_all > 50 * rules.QUOTE_PRECISION else user_base
            amount = rules.standardize_ceil(min(user_base, max(allowed, min_base)), step)
            value = amount * oracle // rules.PRICE_TIMES_AMM_TO_QUOTE_PRECISION_RATIO
            liq_fee = value * liquidator_fee // rules.LIQUIDATION_FEE_PRECISION
            if_fee = value * if_fee_rate // rules.LIQUIDATION_FEE_PRECISION
            long = pos.base_asset_amount > 0
            delta_base = -amount if long else amount
            delta_quote = value if long else -value
            realized = rules.update_position_and_market(pos, market, delta_base, delta_quote)
            rules.update_quote_asset_and_break_even_amount(pos, market, -liq_fee)
            rules.update_quote_asset_and_break_even_amount(pos, market, -if_fee)
            market.amm.total_liquidation_fee += if_fee
            market.next_fill_record_id += 1
            # controller/liquidation.rs calculate_margin_freed: the shortage this step
            # removed (initial - new), not the whole shortage
            after = calculate_margin(
                user, self._snapshot, MarginCategory.MAINTENANCE, margin_buffer=buffer
            )
            user.liquidation_margin_freed += max(0, shortage - _margin_shortage(after))
            acct.safe = None
            bankrupt = False
            if amount >= to_cover:
                user.status &= ~UserStatus.BEING_LIQUIDATED
            elif self._is_bankrupt(acct):
                user.status |= UserStatus.BANKRUPT
                bankrupt = True
            out.append(
                self._emit(
                    LiquidationRecord(
                        self._next_seq(),
                        ts,
                        acct.authority,
                        acct.key[1],
                        liquidation_id,
                        pos.market_index,
                        oracle,
                        delta_base,
                        delta_quote,
                        liq_fee,
                        if_fee,
                        realized,
                        req_plus_buffer,
                        tc,
                        bankrupt,
                        tuple(canceled),
                    )
                )
            )
            if self.auto_settle_pnl:
                self._settle_pnl(acct, pos.market_index, ts)
        return out

    def _is_bankrupt(self, acct: _Account) -> bool:
        """`math/bankruptcy.rs::is_user_bankrupt`: no assets left and some liability."""
        has_liability = False
        for pos in acct.user.spot_positions:
            if pos.scaled_balance == 0:
                continue
            if rules.variant(pos.balance_type) == "Deposit":
                return False
            has_liability = True
        for pos in acct.user.perp_positions:
            if pos.base_asset_amount != 0:
                return False
            if pos.quote_asset_amount > 0:
                return False
            if pos.quote_asset_amount < 0:
                has_liability = True
        return has_liability

    # ------------------------------------------------------------------ data events

    def apply(self, event: Any, *, liquidate: bool = True) -> list[Any]:
        """Apply one market-data event (`data.models`), then check liquidations.

        OracleTick -> set_oracle_price; FundingRecord -> accrue interest, update_funding;
        SpotRateRecord -> set_interest_rates; Candle -> nothing (ticks drive prices).
        """
        kind = getattr(event, "kind", None)
        out: list[Any] = []
        if kind == "oracle":
            if event.market.upper() not in self._by_symbol and not self._link_symbol(event.market):
                return out
            out.extend(
                self.set_oracle_price(
                    self._link_symbol(event.market) or event.market, event.price, event.ts
                )
            )
        elif kind == "funding":
            if event.market.upper() not in self._by_symbol:
                return out
            out.extend(self.accrue_interest(event.ts))
            out.extend(self.update_funding(event.market, event))
        elif kind == "spot_rate":
            if event.market.upper() not in self._by_symbol:
                return out
            out.extend(
                self.set_interest_rates(
                    event.market, event.deposit_rate, event.borrow_rate, event.ts
                )
            )
        elif kind == "candle":
            return out
        else:
            raise TypeError(f"not a market event: {event!r}")
        if liquidate:
            out.extend(self.liquidate_if_needed(event.ts))
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
    "DriftSimulator",
    "InsufficientCollateralError",
    "SimulationError",
]
