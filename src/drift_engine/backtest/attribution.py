"""Where a backtest's PnL came from, to the micro-USDC: funding + interest + fees + slippage
+ price/basis = net PnL.

Sign convention (one, for every figure): each part is its signed contribution to the net
PnL in micro-USDC integers: positive = the account gained it, negative = it cost the
account. Funding received +, funding paid -; interest earned +, paid -; fees paid -
(a maker rebate +); slippage worse than the oracle -, better +.

How it is measured (exactly, without floats). The account's value is its Drift holdings
marked to the oracle with the program's integer rules (`leg_value`, through
`core.program_math`): USDC tokens, plus each spot balance's token value
(`math/spot_balance.rs::get_token_value`, a borrow floors), plus each perp's
`trunc(base x oracle / 1e9) + quote_asset_amount` (`math/position.rs`). That is the
program's user equity, `PaperVenue.equity()`: funding settles into every open position at
each update, so no unsettled funding is left out (tested: the two are equal).

`PnlAttribution` watches the simulator's records for one sub-account. Whenever records
appear (after each market event and after each engine step) it
1. marks the holdings it last saw to the current oracle prices: that change is
   price/basis PnL (prices moved, holdings did not);
2. reads the new holdings and values them at the same prices: that jump is what the
   records did, split by record: funding payments (their amounts), quote interest (its
   amount), token interest (the value of the tokens it added), fees (the fills' and
   liquidations' fees); what is left of a jump with fills is the fills' slippage against
   the oracle (including Drift's rounding of the balances they moved); what is left of a
   jump without fills (Drift's integer rounding when settled PnL or interest lands in a
   spot balance) is counted in price/basis as `rounding` (shown on its own too).
At the end, price/basis gets the last marks. The value of the holdings at their marks is
kept (`_marked`): step 1 needs it and the previous step 2 computed it at the same prices,
so each booking values the old holdings once and the new ones once. So the five parts add
up to the final value minus the initial capital exactly, by construction; what the tests
check is that each part also equals what was booked elsewhere (funding = the vault
ledger's FUNDING entries, fees = the ledger's fill fees) and that the tracked holdings are
the account's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from driftpy.constants.numeric_constants import AMM_RESERVE_PRECISION

from drift_engine.core import program_math
from drift_engine.core.program_math import trunc_div
from drift_engine.core.types import MarketType

QUOTE_INDEX = 0

#: (market type, market index, decimals) -> (base or token amount, perp quote amount)
Holdings = dict[tuple[MarketType, int, int], tuple[int, int]]


def leg_value(market_type: MarketType, index: int, decimals: int, amount: int, quote: int,
              price: int) -> int:  # fmt: skip
    """One holding's value in micro-USDC at `price` (PRICE 1e6), by the program's rules as
    `core.program_math` implements them (the same as `user_equity`): a perp's pnl
    `trunc(base x price / 1e9) + quote`, a spot balance's `get_token_value` (a borrow
    floors), USDC at $1."""
    if market_type is MarketType.PERP:
        # `program_math.perp_base_value_and_pnl(position, price)[1]` without building a
        # position and the call (twice per funding hour per leg; a Hypothesis test holds
        # the two equal): the pnl is the quote alone when flat, else
        # trunc(base x max(price, 0) / 1e9) + quote
        if amount == 0:
            return quote
        return trunc_div(amount * max(price, 0), AMM_RESERVE_PRECISION) + quote
    if index == QUOTE_INDEX:
        return amount
    return program_math._token_value(amount, decimals, price)  # math/spot_balance.rs


def holdings_of(positions: Any) -> Holdings:
    """The value-bearing part of a venue's positions (`DriftPosition`s)."""
    out: Holdings = {}
    for p in positions:
        quote = p.quote_asset_amount if p.market_type is MarketType.PERP else 0
        if p.base_asset_amount == 0 and quote == 0:
            continue
        out[(p.market_type, p.market_index, p.decimals)] = (p.base_asset_amount, quote)
    return out


def holdings_of_user(user: Any, spot_markets: Any) -> Holdings:
    """`holdings_of(positions_from_user(user, spot_markets))` (the venue's positions)
    read straight from the User account: the same keys, amounts and order, without a
    `DriftPosition` per slot (the attribution books every funding hour).

    A slot with a nonzero amount is never available (driftpy's `is_available` /
    `is_spot_position_available` ask for zero amounts), and a zero scaled balance is zero
    tokens, so the amounts alone decide which slots count."""
    out: Holdings = {}
    for pp in user.perp_positions:
        base, quote = pp.base_asset_amount, pp.quote_asset_amount
        if base != 0 or quote != 0:
            out[(MarketType.PERP, pp.market_index, 9)] = (base, quote)
    for sp in user.spot_positions:
        if sp.scaled_balance == 0:
            continue
        market = spot_markets[sp.market_index]
        amount = program_math.signed_token_amount(sp, market)
        if amount != 0:
            out[(MarketType.SPOT, sp.market_index, market.decimals)] = (amount, 0)
    return out


def holds_perp(user: Any) -> bool:
    """True if the User account holds a perp position (a nonzero base): what
    `holdings_of_user` would show as a perp holding with a base, without building it
    (the backtest asks every hourly sample; a loop, not `any` over a generator)."""
    for pp in user.perp_positions:  # noqa: SIM110 - a loop: no generator per sample
        if pp.base_asset_amount != 0:
            return True
    return False


@dataclass
class Attribution:
    """The parts of the net PnL (micro-USDC, signed contributions; see module docstring)."""

    funding: int = 0
    interest: int = 0
    fees: int = 0
    slippage: int = 0
    price_basis: int = 0
    #: part of price_basis: Drift's integer rounding when amounts land in spot balances
    rounding: int = 0

    @property
    def total(self) -> int:
        return self.funding + self.interest + self.fees + self.slippage + self.price_basis

    def to_json(self) -> dict[str, int]:
        d = asdict(self)
        d["total"] = self.total
        return d


class PnlAttribution:
    """Splits one simulated sub-account's value change into the parts of `Attribution`.

    Feed it as a heartbeat market sink (`apply(event)` runs after the simulator applied
    the event) and call `check()` after engines step; `finish()` at the end."""

    def __init__(self, sim: Any, venue: Any, capital: int) -> None:
        self.sim = sim
        self.venue = venue
        self.capital = capital
        self.parts = Attribution()
        self.funding_hours = 0  # funding updates applied to the markets it holds or trades
        self.funding_payments = 0
        #: time of the last funding update applied (None: none yet); the runner samples
        #: an hour at its funding update
        self.last_funding_ts: int | None = None
        self._authority = str(venue.key[0])
        self._sub = venue.sub_account_id
        self._cursor = len(sim.records)
        #: holdings key -> the simulator's key of its market in `sim._prices` (None: the
        #: quote market, priced 1); `_price` resolves each key once
        self._price_keys: dict[tuple[MarketType, int, int], Any] = {}
        self._sim_prices = sim._prices
        self._holdings = holdings_of(venue.positions())
        self._marks = self._prices(self._holdings)
        #: `_value(_holdings, _marks)`, kept with them
        self._marked = self._value(self._holdings, self._marks)
        self.initial_value = self._marked
        # depositing the capital may already round (scaled spot balances)
        self.parts.rounding += self.initial_value - capital
        self.parts.price_basis += self.initial_value - capital

    # ------------------------------------------------------------------ prices
    def _price(self, key: tuple[MarketType, int, int]) -> int:
        """`sim.oracle_price` of the key's market (1 for the quote market), read from the
        simulator's price dict by the market key resolved once (`sim._key` of its symbol:
        the same entry `oracle_price` reads)."""
        try:
            price_key = self._price_keys[key]
        except KeyError:
            market_type, index, _ = key
            if market_type is MarketType.SPOT and index == QUOTE_INDEX:
                price_key = None
            else:  # raises as `sim.symbol` does for a market the simulator does not hold
                price_key = self.sim._key(self.sim.symbol((market_type, index)))
            self._price_keys[key] = price_key
        return 1 if price_key is None else self._sim_prices[price_key]

    def _prices(self, holdings: Holdings) -> dict[tuple[MarketType, int, int], int]:
        price = self._price
        return {k: price(k) for k in holdings}

    @staticmethod
    def _value(holdings: Holdings, prices: dict) -> int:
        total = 0  # integers: the order of the legs does not matter
        for k, (amount, quote) in holdings.items():
            total += leg_value(k[0], k[1], k[2], amount, quote, prices[k])
        return total

    def value(self) -> int:
        """The account's value now (the holdings last seen, at the current prices)."""
        now = self._prices(self._holdings)
        if now == self._marks:  # priced as when last booked (a backtest's hourly sample)
            return self._marked
        return self._value(self._holdings, now)

    # ------------------------------------------------------------------ feeding
    def apply(self, event: Any) -> None:
        """Heartbeat market sink: runs after the simulator applied `event`."""
        if getattr(event, "kind", None) == "funding":
            self.funding_hours += 1
            self.last_funding_ts = event.ts
        if len(self.sim.records) != self._cursor:  # else `check` has nothing to do
            self.check()

    def check(self) -> None:
        records = self.sim.records
        n = len(records)
        if n == self._cursor:
            return
        if n < self._cursor:  # a rolled-back place_orders removed records it had not kept
            self._cursor = n
            return
        ours = [
            r
            for r in records[self._cursor : n]
            if getattr(r, "authority", None) == self._authority
            and getattr(r, "sub_account_id", None) == self._sub
        ]
        self._cursor = n
        if ours:
            self._book(ours)

    def _book(self, records: list[Any]) -> None:
        parts = self.parts
        before = self._holdings
        # `now = self._prices(before)` and `value_before = self._value(before, now)` in one
        # pass (every funding hour books here)
        price = self._price
        now: dict[tuple[MarketType, int, int], int] = {}
        value_before = 0
        for k, (amount, quote) in before.items():
            p = now[k] = price(k)
            value_before += leg_value(k[0], k[1], k[2], amount, quote, p)
        parts.price_basis += value_before - self._marked
        after = holdings_of_user(self.sim.user(self.venue.key), self.sim.spot_markets)
        same_keys = now.keys() == after.keys()
        prices = now
        if not same_keys and not now.keys() >= after.keys():  # a holding not priced yet
            prices = {**now, **self._prices({k: v for k, v in after.items() if k not in now})}
        value_after = self._value(after, prices)
        # `prices` is `now` on every key of `before`: its value at them is `value_before`
        jump = value_after - value_before
        explained = 0
        trading = False
        for r in records:
            kind = r.kind
            if kind == "funding":
                parts.funding += r.funding_payment
                explained += r.funding_payment
                self.funding_payments += 1
            elif kind == "interest":
                value = self._interest_value(r, before, prices)
                parts.interest += value
                explained += value
            elif kind == "fill":
                parts.fees -= r.fee
                explained -= r.fee
                trading = True
            elif kind == "liquidation":
                fee = r.liquidator_fee + r.if_fee
                parts.fees -= fee
                explained -= fee
                trading = True
        rest = jump - explained
        if trading:
            parts.slippage += rest
        else:
            parts.rounding += rest
            parts.price_basis += rest
        self._holdings = after
        # the oracle prices now (nothing moved them since `now` was read); `now` itself
        # when the holdings kept their keys (it is not written after this)
        self._marks = now if same_keys else {k: prices[k] for k in after}
        self._marked = value_after

    def _interest_value(self, record: Any, before: Holdings, prices: dict) -> int:
        if record.market_index == QUOTE_INDEX:
            return record.amount
        key = next(
            (k for k in before if k[0] is MarketType.SPOT and k[1] == record.market_index), None
        )
        if key is None:
            return 0
        amount, _ = before[key]
        price = prices[key]
        return leg_value(
            MarketType.SPOT, key[1], key[2], amount + record.amount, 0, price
        ) - leg_value(MarketType.SPOT, key[1], key[2], amount, 0, price)

    def finish(self) -> int:
        """Book what is pending and the last marks; returns the final account value."""
        self.check()
        now = self._prices(self._holdings)
        value = self._value(self._holdings, now)
        self.parts.price_basis += value - self._marked
        self._marks = now
        self._marked = value
        return value

    def holdings(self) -> Holdings:
        return dict(self._holdings)


__all__ = [
    "Attribution",
    "Holdings",
    "PnlAttribution",
    "holdings_of",
    "holdings_of_user",
    "holds_perp",
    "leg_value",
]
