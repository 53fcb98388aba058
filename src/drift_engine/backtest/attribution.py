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
so each booking values the old holdings once and the new ones once. A booking of payments
alone (a quiet funding hour: funding, interest) takes the new holdings from the old ones
moved by what the records say instead of reading every slot, and the new value from the
old one and each leg's change (`KEPT_BOOKING`; ADR-0020 points 69-70); a check whose new
records are payments only books them the short way (`HOUR_ATTRIBUTION`: one walk for
the account's and the payments test, the jump taken from the payments; points 100-101),
and after a market event in one function without the calls between (`HOUR_FUSED`).
So the five parts add up to the final value minus the initial capital exactly, by
construction; what the tests check is that each part also equals what was booked
elsewhere (funding = the vault ledger's FUNDING entries, fees = the ledger's fill fees)
and that the tracked holdings are the account's.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from driftpy.constants.numeric_constants import AMM_RESERVE_PRECISION

from drift_engine.core import program_math
from drift_engine.core.program_math import trunc_div
from drift_engine.core.types import MarketType

QUOTE_INDEX = 0
#: the market types read once: an enum member's look-up on its class costs ~1,000
#: instructions (Python 3.11), a module global's ~80; the same objects
_PERP, _SPOT = MarketType.PERP, MarketType.SPOT

#: a booking whose records since the last one are payments (`_PAYMENTS`) takes the
#: account's new holdings from the last ones moved by its payments (`moved_by`: a funding
#: payment moves its perp's quote, interest its balance's tokens) instead of reading
#: every slot, and values them from the old holdings' values and each leg's change
#: (`leg_change`: a perp whose base stayed moved by its quote, USDC by its amount);
#: `value()` tests the marks price by price. False: `_book_reference` (every slot read
#: with `holdings_of_user`, both holdings valued) and `value()` building the price dict:
#: the reference
KEPT_BOOKING = True

#: a check whose new records are payments only, the holdings last read or booked at
#: the check's start (`KEPT_BOOKING`'s kept read: without it every check takes the
#: general way), books them the short way (`_book_hour`): one walk for the
#: account's test and the payments test (no list of the account's records, no second
#: walk in `_read`), `moved_by`, one pass over the holdings (their values at the prices
#: now, each moved leg's change) and the parts (funding, interest, the rest to
#: rounding) without `_read`, `_close` and `_explain`; anything else (a non-payment
#: record, a holding `moved_by` cannot move, another User object) takes `check`'s
#: general way. `value()` tests its marks against the simulator's prices by their
#: resolved keys, without a `_price` call per mark. False: the general way for every
#: check, `value()` as `KEPT_BOOKING` has it (the reference)
HOUR_ATTRIBUTION = True

#: `apply`'s check after a market event takes `_book_hour` in one function
#: (`_check_hour`): `check`'s tests, the User read from the simulator's account dict,
#: the payments walk with `moved_by`'s moves, then `_book_moves`, without the calls
#: between them (~6 a funding hour); each leg is still valued by `leg_value`,
#: `leg_change` and `_interest_value`. Anything `_book_hour` would refuse goes to
#: `check` whole, before anything changed. False: `check` (the reference)
HOUR_FUSED = True

#: records that move no holding but by what they say: a funding rate update (none: a
#: position's funding moves its quote when settled, which is a `funding` record), a
#: funding settlement (its `funding_payment` into the position's quote), interest (its
#: `amount` into the balance's tokens: the token amount after the accrual less the one
#: before, `sim.funding_interest._accrue_market`). Every other record (fills, orders,
#: deposits, withdrawals, settle_pnl, liquidations) means a full read.
_PAYMENTS = frozenset({"funding_rate", "funding", "interest"})

#: (market type, market index, decimals) -> (base or token amount, perp quote amount)
Holdings = dict[tuple[MarketType, int, int], tuple[int, int]]


def leg_value(market_type: MarketType, index: int, decimals: int, amount: int, quote: int,
              price: int) -> int:  # fmt: skip
    """One holding's value in micro-USDC at `price` (PRICE 1e6), by the program's rules as
    `core.program_math` implements them (the same as `user_equity`): a perp's pnl
    `trunc(base x price / 1e9) + quote`, a spot balance's `get_token_value` (a borrow
    floors), USDC at $1."""
    if market_type is _PERP:
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
        quote = p.quote_asset_amount if p.market_type is _PERP else 0
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
            out[(_PERP, pp.market_index, 9)] = (base, quote)
    for sp in user.spot_positions:
        if sp.scaled_balance == 0:
            continue
        market = spot_markets[sp.market_index]
        amount = program_math.signed_token_amount(sp, market)
        if amount != 0:
            out[(_SPOT, sp.market_index, market.decimals)] = (amount, 0)
    return out


def holds_perp(user: Any) -> bool:
    """True if the User account holds a perp position (a nonzero base): what
    `holdings_of_user` would show as a perp holding with a base, without building it
    (the backtest asks every hourly sample; a loop, not `any` over a generator)."""
    for pp in user.perp_positions:  # noqa: SIM110 - a loop: no generator per sample
        if pp.base_asset_amount != 0:
            return True
    return False


def leg_change(key: tuple[MarketType, int, int], old: tuple[int, int] | None,
               new: tuple[int, int] | None, price: int) -> int:  # fmt: skip
    """`leg_value` of holding `new` less that of `old` (None: not held) at one `price`,
    without valuing a leg whose price term stays: a perp whose base is the same moved by
    its quote (trunc(base x price / 1e9) is the same), USDC by its amount."""
    market_type, index, decimals = key
    if new is None:
        return 0 if old is None else -leg_value(market_type, index, decimals, *old, price)
    if old is None:
        return leg_value(market_type, index, decimals, *new, price)
    if market_type is _PERP:
        if new[0] == old[0]:
            return new[1] - old[1]
    elif index == QUOTE_INDEX:
        return new[0] - old[0]
    return leg_value(market_type, index, decimals, *new, price) - leg_value(
        market_type, index, decimals, *old, price
    )


def moved_by(holdings: Holdings, records: list[Any], spot_markets: Any) -> Holdings | None:
    """`holdings` moved by the payments `records` of their account: a funding payment
    added to its perp's quote, interest to its balance's tokens; None when a record is
    of another kind or moves a holding not held, or a holding ends at nothing (the
    caller reads the account instead)."""
    out = dict(holdings)
    for r in records:
        kind = r.kind
        if kind == "funding":
            key = (_PERP, r.market_index, 9)
            held = out.get(key)
            if held is None:
                return None
            held = out[key] = (held[0], held[1] + r.funding_payment)
        elif kind == "interest":
            index = r.market_index
            key = (_SPOT, index, spot_markets[index].decimals)
            held = out.get(key)
            if held is None:
                return None
            held = out[key] = (held[0] + r.amount, 0)
        else:
            return None
        if held[0] == 0 and held[1] == 0:
            return None
    return out


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
        #: (the User, its perp and spot slot lists, the record count) when the holdings
        #: were last read (`_read`); None: read the account next
        self._kept: tuple[Any, Any, Any, int] | None = None
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
            if market_type is _SPOT and index == QUOTE_INDEX:
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
        if HOUR_ATTRIBUTION:
            # each mark's key was priced through `_price`, which resolved its price key:
            # `_price` of each mark without the call
            keys, now = self._price_keys, self._sim_prices
            for k, p in self._marks.items():
                price_key = keys[k]
                if (1 if price_key is None else now[price_key]) != p:
                    break
            else:  # priced as when last booked (a backtest's hourly sample)
                return self._marked
            return self._value(self._holdings, self._prices(self._holdings))
        if KEPT_BOOKING:
            # `_marks` holds a price for each holding (the dict test below), so the marks
            # price by price are that test without building the dict
            price = self._price
            for k, p in self._marks.items():
                if price(k) != p:
                    break
            else:  # priced as when last booked (a backtest's hourly sample)
                return self._marked
            return self._value(self._holdings, self._prices(self._holdings))
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
            if HOUR_FUSED and HOUR_ATTRIBUTION:
                self._check_hour()
            else:
                self.check()

    def _check_hour(self) -> None:
        """`check` with `_book_hour`'s short way in this one function (`HOUR_FUSED`):
        the same tests in the same order, `moved_by`'s moves in the payments walk (a
        failure of either leaves everything as it was, and `check` decides whole), then
        `_book_moves`' booking. Every value is `leg_value`'s, `leg_change`'s or
        `_interest_value`'s, as in `_book_moves`."""
        sim = self.sim
        records = sim.records
        n = len(records)
        start = self._cursor
        kept = self._kept
        if n <= start or kept is None or kept[3] != start:
            self.check()  # (nothing new, a roll-back, or no kept read: `check`'s way)
            return
        acct = sim._accounts.get(self.venue.key)  # `sim.user(key)`
        if acct is None:
            self.check()  # (raises as `sim.user` does)
            return
        user = acct.user
        perp_list, spot_list = user.perp_positions, user.spot_positions
        if user is not kept[0] or perp_list is not kept[1] or spot_list is not kept[2]:
            self.check()
            return
        # `_hour_payments`, each of the account's records moving the holdings as
        # `moved_by` moves them
        authority, sub = self._authority, self._sub
        payments = _PAYMENTS
        spot_markets = sim.spot_markets
        after: Holdings | None = None
        funding = count = 0
        interest: list[Any] = []
        for r in records[start:n]:
            kind = r.kind
            if kind not in payments:
                self.check()
                return
            if (
                getattr(r, "authority", None) == authority
                and getattr(r, "sub_account_id", None) == sub
            ):
                if after is None:
                    after = dict(self._holdings)
                if kind == "funding":
                    payment = r.funding_payment
                    funding += payment
                    count += 1
                    key = (_PERP, r.market_index, 9)
                    held = after.get(key)
                    if held is None:
                        self.check()
                        return
                    held = after[key] = (held[0], held[1] + payment)
                elif kind == "interest":
                    interest.append(r)
                    index = r.market_index
                    key = (_SPOT, index, spot_markets[index].decimals)
                    held = after.get(key)
                    if held is None:
                        self.check()
                        return
                    held = after[key] = (held[0] + r.amount, 0)
                else:  # (a funding rate record of the account: `moved_by` refuses it)
                    self.check()
                    return
                if held[0] == 0 and held[1] == 0:
                    self.check()
                    return
        if after is not None:
            self._book_moves(after, funding, count, interest)
        self._cursor = n
        self._kept = (user, perp_list, spot_list, n)

    def check(self) -> None:
        records = self.sim.records
        n = len(records)
        if n == self._cursor:
            return
        if n < self._cursor:  # a rolled-back place_orders removed records it had not kept
            self._cursor = n
            return
        if HOUR_ATTRIBUTION and self._book_hour(records, n):
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

    def _book_hour(self, records: list[Any], n: int) -> bool:
        """`check` of `records[cursor:n]` when they are payments only and the holdings
        were last read or booked at the cursor (`_kept`'s count), the User and its slot
        lists the same objects. One walk (`_hour_payments`) is the general way's filter
        (authority and sub-account) and `_read`'s payments test; the account's payments
        move the holdings (`moved_by`, as `_read` takes them) and `_book_moves` books
        them as `_book` and `_close` do. With none of the account's, nothing is booked
        (the general way books nothing either) and the kept count moves to `n`: the
        holdings stand, as `_read` would find (payments only since). False, nothing
        changed: the general way decides (a non-payment record, a holding `moved_by`
        cannot move)."""
        start = self._cursor
        kept = self._kept
        if kept is None or kept[3] != start:
            return False
        sim = self.sim
        user = sim.user(self.venue.key)
        perp_list, spot_list = user.perp_positions, user.spot_positions
        if user is not kept[0] or perp_list is not kept[1] or spot_list is not kept[2]:
            return False
        payments = self._hour_payments(records, start, n)
        if payments is None:
            return False
        ours = payments[0]
        if ours:
            after = moved_by(self._holdings, ours, sim.spot_markets)
            if after is None:
                return False
            self._book_moves(after, *payments[1:])
        self._cursor = n
        self._kept = (user, perp_list, spot_list, n)
        return True

    def _hour_payments(
        self, records: list[Any], start: int, n: int
    ) -> tuple[list[Any], int, int, list[Any]] | None:
        """One walk over `records[start:n]`: None unless each is a payment (`_PAYMENTS`);
        else the account's records (`check`'s filter), their funding sum, how many are
        funding payments, and their interest records, in order."""
        authority, sub = self._authority, self._sub
        payments = _PAYMENTS
        ours: list[Any] = []
        funding = count = 0
        interest: list[Any] = []
        for r in records[start:n]:
            kind = r.kind
            if kind not in payments:
                return None
            if (
                getattr(r, "authority", None) == authority
                and getattr(r, "sub_account_id", None) == sub
            ):
                ours.append(r)
                if kind == "funding":
                    funding += r.funding_payment
                    count += 1
                elif kind == "interest":
                    interest.append(r)
        return ours, funding, count, interest

    def _book_moves(self, after: Holdings, funding: int, count: int, interest: list[Any]) -> None:
        """`_book` and `_close` of payments that moved the holdings to `after` (their
        keys: `moved_by` moves held legs only). Each old leg is valued at the price now
        (read by its resolved price key: `_price` resolved each held key when it was
        marked). The jump is `leg_change` summed over the legs, taken the short way: a
        perp's base stays (funding moves its quote), so its change is its payments and
        the perps' together are `funding`; USDC's is its interest amounts (also their
        value, `_interest_value`); another balance's is `leg_change` of the balance, its
        interest valued by `_interest_value`. The price move since the last marks goes
        to price/basis, funding and interest to their parts, the rest of the jump (a
        balance's accruals valued one by one) to rounding (no trade); the new holdings,
        their marks and marked value are kept."""
        before = self._holdings
        keys, prices = self._price_keys, self._sim_prices
        marks: dict[tuple[MarketType, int, int], int] = {}
        value_before = 0
        for k, old in before.items():
            price_key = keys[k]
            p = marks[k] = 1 if price_key is None else prices[price_key]
            value_before += leg_value(k[0], k[1], k[2], old[0], old[1], p)
        jump = funding
        earned = 0
        moved: set[tuple[MarketType, int, int]] | None = None
        for r in interest:
            index = r.market_index
            if index == QUOTE_INDEX:
                earned += r.amount
                jump += r.amount
                continue
            earned += self._interest_value(r, before, marks)
            key = (_SPOT, index, self.sim.spot_markets[index].decimals)  # (`moved_by`'s)
            if moved is None:
                moved = set()
            if key not in moved:
                moved.add(key)
                jump += leg_change(key, before[key], after[key], marks[key])
        parts = self.parts
        parts.funding += funding
        self.funding_payments += count
        parts.interest += earned
        rest = jump - funding - earned
        parts.rounding += rest
        parts.price_basis += value_before - self._marked + rest
        self._holdings = after
        self._marks = marks
        self._marked = value_before + jump

    def _book(self, records: list[Any]) -> None:
        if not KEPT_BOOKING:
            self._kept = None
            self._book_reference(records)
            return
        parts = self.parts
        before = self._holdings
        after = self._read(records)
        # each old leg at the prices now (its value and its change to the new holding)
        price = self._price
        prices: dict[tuple[MarketType, int, int], int] = {}
        value_before = 0
        jump = 0
        found = 0
        for k, old in before.items():
            p = prices[k] = price(k)
            value_before += leg_value(k[0], k[1], k[2], old[0], old[1], p)
            new = after.get(k)
            if new is not None:
                found += 1
            if new != old:
                jump += leg_change(k, old, new, p)
        parts.price_basis += value_before - self._marked
        same_keys = found == len(before) == len(after)
        if found != len(after):  # a holding not priced yet
            for k, new in after.items():
                if k not in prices:
                    p = prices[k] = price(k)
                    jump += leg_change(k, None, new, p)
        # the oracle prices now (nothing moved them since they were read): `prices`
        # itself when the holdings kept their keys (it is not written after this)
        marks = prices if same_keys else {k: prices[k] for k in after}
        self._close(records, before, after, prices, jump, marks, value_before + jump)

    def _read(self, records: list[Any]) -> Holdings:
        """`holdings_of_user` of the account now, after the booking's `records` (its
        own since the last booking). When every record written since the holdings were
        last read is a payment (`_PAYMENTS`) and the User and its slot lists are the same
        objects (a restore or load writes others): the last holdings moved by the
        payments (`moved_by`), as nothing else moved them; else the account is read."""
        sim = self.sim
        written = sim.records
        n = len(written)
        user = sim.user(self.venue.key)
        perp_list, spot_list = user.perp_positions, user.spot_positions
        kept = self._kept
        after = None
        if (
            kept is not None
            and user is kept[0]
            and perp_list is kept[1]
            and spot_list is kept[2]
            and kept[3] <= n
        ):
            payments = _PAYMENTS
            for r in written[kept[3] : n]:
                if r.kind not in payments:
                    break
            else:
                after = moved_by(self._holdings, records, sim.spot_markets)
        if after is None:
            after = holdings_of_user(user, sim.spot_markets)
        self._kept = (user, perp_list, spot_list, n)
        return after

    def _explain(self, records: list[Any], before: Holdings, prices: dict) -> tuple[int, bool]:
        """Book each record's own part (funding, interest, fees); returns the sum of
        those parts (what the records explain of the value's jump) and whether any was a
        trade (a fill or liquidation: the rest of the jump is slippage)."""
        parts = self.parts
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
        return explained, trading

    def _book_reference(self, records: list[Any]) -> None:
        """`_book` with every slot of the account read (`holdings_of_user`) and both
        holdings valued (`KEPT_BOOKING = False`: the reference)."""
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
        # the oracle prices now (nothing moved them since `now` was read); `now` itself
        # when the holdings kept their keys (it is not written after this)
        marks = now if same_keys else {k: prices[k] for k in after}
        self._close(records, before, after, prices, jump, marks, value_after)

    def _close(
        self,
        records: list[Any],
        before: Holdings,
        after: Holdings,
        prices: dict[tuple[MarketType, int, int], int],
        jump: int,
        marks: dict[tuple[MarketType, int, int], int],
        marked: int,
    ) -> None:
        """A booking's end (both ways): the value's `jump` less what the records explain
        goes to slippage after a trade, else to rounding (and the price basis); the new
        holdings, their marks and marked value are kept for the next booking."""
        parts = self.parts
        explained, trading = self._explain(records, before, prices)
        rest = jump - explained
        if trading:
            parts.slippage += rest
        else:
            parts.rounding += rest
            parts.price_basis += rest
        self._holdings = after
        self._marks = marks
        self._marked = marked

    def _interest_value(self, record: Any, before: Holdings, prices: dict) -> int:
        if record.market_index == QUOTE_INDEX:
            return record.amount
        key = next((k for k in before if k[0] is _SPOT and k[1] == record.market_index), None)
        if key is None:
            return 0
        amount, _ = before[key]
        price = prices[key]
        return leg_value(_SPOT, key[1], key[2], amount + record.amount, 0, price) - leg_value(
            _SPOT, key[1], key[2], amount, 0, price
        )

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
    "leg_change",
    "leg_value",
    "moved_by",
]
