"""Funding and interest: hourly funding updates and each position's funding payment
(`controller/funding.rs`), settling PnL into USDC (`controller/pnl.rs::settle_pnl`),
and spot interest accrual at the data's rates.

`FundingInterestMixin` is one of the mixins `simulator.DriftSimulator` is composed of
(see there for why mixins). The integer formulas are `rules` and `core.funding`; this
module decides which position settles when and what record it leaves.
"""

from __future__ import annotations

from typing import Any

from drift_engine.core import frozen, funding
from drift_engine.core.program_math import token_amount_at
from drift_engine.core.types import MarketType
from drift_engine.sim import liquidation, rules
from drift_engine.sim.liquidation import _ONE, _QUOTE, _WEIGHT_ONE
from drift_engine.sim.records import (
    FundingPaymentRecord,
    FundingRateRecord,
    InterestRecord,
    SettlePnlRecord,
)
from drift_engine.sim.state import (
    QUOTE_SPOT_MARKET_INDEX,
    SimulationError,
    UserKey,
    _Account,
    _rate_to_spot_precision,
    _Rates,
)

#: the funding hour's three records made through their twins (`core.frozen.TWIN_BUILD`)
_RATE_TWIN = frozen.twin_of(FundingRateRecord)
_PAYMENT_TWIN = frozen.twin_of(FundingPaymentRecord)
_INTEREST_TWIN = frozen.twin_of(InterestRecord)

#: the market types read once: an enum member's look-up on its class costs ~80 ns on
#: Python 3.11 (`EnumType.__getattr__`), a module global's ~10; the same objects
_PERP, _SPOT = MarketType.PERP, MarketType.SPOT

#: `apply`'s funding record in one pass (`_funding_event`): the interest of every spot
#: market, the market's funding update from the record's fields read once, and each
#: exposed position's kept-check move and settlement with its payment computed once,
#: the same effects and records in the same order as the reference (ADR-0020 point 84);
#: False: `accrue_interest(ts)` then `update_funding(market, record)` (the reference)
FUNDING_EVENT = True


#: `_funding_event`'s interest in one pass over the spot markets (`_accrue_all`): each
#: holder's position found, and its token amounts before and after read from its scaled
#: balance and the market's cumulative interest, inline (`rules.signed_token_amount`'s
#: integers), the rest as `_accrue_market` (ADR-0020 point 85); False: `_accrue_market`
#: per market (the reference)
INTEREST_PASS = True

#: `_funding_event` answers `_settle_position_pnl` itself when it settles nothing: no
#: uPnL, or a gain of which nothing is claimable (`rules.claimable_pnl`: the realized
#: part and the pnl pool's excess both 0), the uPnL computed inline as
#: `rules.unrealized_pnl` does; a loss or a claimable gain goes to `_settle_position_pnl`
#: (ADR-0020 point 88); False: `_settle_position_pnl` at every position (the reference)
PNL_TEST = True

#: `_funding_event` settles each position's funding with the kept check's carry and the
#: settlement's writes inline: `_perp_quote_moved` (`_exact_terms`, `_carry`) and
#: `_funding_paid` (its record, the quote and break-even moves of
#: `rules.update_quote_asset_and_break_even_amount` for a position with a base) without
#: their calls; the payment is still `funding.funding_payment`'s (a program rule is
#: kept in one place; issue 14); False: those calls (the reference)
PAYMENT_INLINE = True

#: `_accrue_all` books each holder's interest inline: the kept check as `_interest_paid`
#: carries it (`_quote_balance_moved`, `_exact_terms`, `_carry`, with conditionals for
#: their `max` calls) and its record, without those calls; the token amounts are still
#: `program_math.token_amount_at`'s (issue 14); False: `_interest_paid` per holder (the
#: reference)
INTEREST_INLINE = True

#: the hour tick's reads without calls: `_funding_event` reads the record's rate, its
#: long and short rates and its TWAPs as attributes (an `AttributeError` sends it to the
#: `getattr` reads), and `simulator.DriftSimulator.apply`'s oracle tick finds its moved
#: keys in a loop (no comprehension's frame) and writes them with `_set_prices_lazily`
#: when `accounts.LAZY_ORACLES` is on (what `_set_prices` calls then); False: `getattr`
#: with None for each field, the comprehension and `_set_prices` (the reference)
PULL_PLAIN = True

#: the funding hour's plumbing done once: `apply` finds a funding record's market key and
#: perp market in a plan made at the market name's first record (`_funding_plan`; no
#: `str.upper` nor symbol look-ups an hour), and `_accrue_all` walks the spot markets in
#: the index order kept at construction (no `sorted`, no key tuple built an hour); names,
#: markets and their accounts are fixed at construction; the rate update is still
#: `_funding_written`'s (ADR-0028: no rule's arithmetic here); False: the look-ups and
#: `sorted` an hour (the reference)
HOUR_PLAN = True


class FundingInterestMixin:
    """Funding, PnL settlement and spot interest of `DriftSimulator`."""

    def _settle_funding(self, acct: _Account, market: Any, ts: int) -> FundingPaymentRecord | None:
        """`controller/funding.rs::settle_funding_payment` for one position."""
        self._changed(acct)
        pos = self._find_perp_position(acct.user, market.market_index)
        if pos is None:
            return None
        return self._settle_position_funding(acct, market, pos, ts)

    def _settle_position_funding(
        self, acct: _Account, market: Any, pos: Any, ts: int
    ) -> FundingPaymentRecord | None:
        """`_settle_funding` of `pos`, the account's position in `market` (found by the
        caller; `_changed(acct)` already called)."""
        base = pos.base_asset_amount
        if base == 0:
            return None
        amm = market.amm
        cumulative = (
            amm.cumulative_funding_rate_long if base > 0 else amm.cumulative_funding_rate_short
        )
        last = pos.last_cumulative_funding_rate
        if cumulative == last:
            return None
        payment = funding.funding_payment(cumulative, pos)
        return self._emit(
            self._funding_paid(acct, market, pos, payment, base, last, cumulative, ts)
        )

    def _funding_paid(
        self,
        acct: _Account,
        market: Any,
        pos: Any,
        payment: int,
        base: int,
        last: int,
        cumulative: int,
        ts: int,
    ) -> FundingPaymentRecord:
        """The settlement's writes (the account's cumulative funding, the position's quote
        and break-even amounts and funding mark, the market's unsettled funding pnl) and
        its `FundingPaymentRecord`, for the caller to emit: one rule for
        `_settle_position_funding` and the funding record's one pass (`FUNDING_EVENT`)."""
        amm = market.amm
        acct.user.cumulative_perp_funding += payment
        record = FundingPaymentRecord(
            self._next_seq(),
            ts,
            acct.authority,
            acct.key[1],
            market.market_index,
            payment,
            base,
            last,
            amm.cumulative_funding_rate_long,
            amm.cumulative_funding_rate_short,
        )
        pos.last_cumulative_funding_rate = cumulative
        rules.update_quote_asset_and_break_even_amount(pos, market, payment)
        amm.net_unsettled_funding_pnl -= payment
        if not liquidation.CHARGED_SLACK:  # a settlement moves no uPnL (ADR-0020 p. 58)
            acct.safe = None
        return record

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

    def _funding_written(
        self,
        pm: Any,
        index: int,
        ts: int,
        rate: int,
        rate_long: int,
        rate_short: int,
        oracle_twap: int,
        mark_twap: int,
    ) -> FundingRateRecord:
        """The funding update's writes to perp market `pm` (controller/funding.rs: the
        cumulative rates of both sides, the last rates, the 24h average, the TWAPs the
        period used) and its `FundingRateRecord`, for the caller to emit: one rule for
        `update_funding` and the funding record's one pass (`FUNDING_EVENT`)."""
        amm = pm.amm
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
        hist = amm.historical_oracle_data
        hist.last_oracle_price_twap = oracle_twap
        hist.last_oracle_price_twap_ts = ts
        amm.last_mark_price_twap = mark_twap
        amm.last_mark_price_twap_ts = ts
        pm.next_funding_rate_record_id += 1
        return (_RATE_TWIN if frozen.TWIN_BUILD else FundingRateRecord)(
            self._next_seq(),
            ts,
            index,
            rate,
            rate_long,
            rate_short,
            amm.cumulative_funding_rate_long,
            amm.cumulative_funding_rate_short,
            oracle_twap,
            mark_twap,
        )

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
        # a keyword overrides the record's field (read only where no keyword is given)
        if record is not None:
            if ts is None:
                ts = getattr(record, "ts", None)
            if oracle_price_twap is None:
                oracle_price_twap = getattr(record, "oracle_price_twap", None)
            if mark_price_twap is None:
                mark_price_twap = getattr(record, "mark_price_twap", None)
        derive = self.derive_funding if derive is None else derive
        if derive:
            rate = None
        elif funding_rate is None and record is not None:
            rate = getattr(record, "funding_rate", None)
        else:
            rate = funding_rate
        given_oracle = oracle_price_twap
        given_mark = mark_price_twap
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
            rate_long, rate_short = funding_rate_long, funding_rate_short
            if record is not None:
                if rate_long is None:
                    rate_long = getattr(record, "funding_rate_long", None)
                if rate_short is None:
                    rate_short = getattr(record, "funding_rate_short", None)
            rate_long = rate if rate_long is None else rate_long
            rate_short = rate if rate_short is None else rate_short
        self._emit(
            self._funding_written(
                pm, key[1], ts, rate, rate_long, rate_short, oracle_twap, mark_twap
            )
        )
        out: list[FundingPaymentRecord] = []
        if not self.settle_funding_on_update:
            # as on chain: settled at the position's next fill or settle_pnl. The new
            # cumulative rate still moves each position's unsettled funding, which the
            # maintenance calculation counts: the kept "cannot be liquidated" check of
            # every account in the market no longer holds (it bounds price moves only).
            for acct in self._exposed.get(key, ()):
                acct.safe = None
            return out
        settle_pnl = self.auto_settle_pnl
        index = key[1]
        find = self._find_perp_position
        for acct in list(self._exposed.get(key, ())):
            # `_settle_funding`, then `_settle_pnl` (whose own funding settlement finds
            # nothing left to settle), with the position found once
            self._changed(acct)
            pos = find(acct.user, index)
            if pos is None:
                continue
            self._funding_moved(acct, pm, pos)  # before its settlement (kept check)
            rec = self._settle_position_funding(acct, pm, pos, ts)
            if rec is not None:
                out.append(rec)
            if settle_pnl:
                self._settle_position_pnl(acct, pm, pos, index, ts)
        return out

    def _funding_plan(self, name: str) -> tuple[Any, Any] | None:
        """`apply`'s plan of a funding record for market `name` (`HOUR_PLAN`): its key
        and its perp market (None for a spot market: `_funding_event` then takes the
        reference, which refuses it), or None for a market not simulated."""
        key = self._by_symbol.get(name.upper())
        if key is None:
            return None
        return key, (self.perp_markets.get(key[1]) if key[0] is _PERP else None)

    def _funding_event(self, event: Any, plan: tuple[Any, Any] | None = None) -> list[Any]:
        """`apply`'s funding branch for a simulated market (the caller checked the name):
        `accrue_interest(event.ts)` then `update_funding(event.market, event)`. With
        `FUNDING_EVENT`, the usual hour (a perp market, a given rate, a funding time
        after the market's last, settlement on update) runs in one pass: its conditions
        are read before anything changes, so any other record takes the reference whole
        (and fails as it does). The effects are the reference's, in its order: the clock,
        each spot market's interest (`_accrue_market`), the market's rates, TWAPs and
        record, then per exposed account `_changed`, the position's funding move into
        the kept check (`_funding_moved`), its settlement (`_settle_position_funding`)
        and its pnl (`_settle_position_pnl`); the position's payment is computed once
        (the move and the settlement read the same cumulative rate and position).
        `plan` is `apply`'s (`HOUR_PLAN`): the market's key and perp market."""
        ts = event.ts
        if plan is not None:
            key, pm = plan
        else:
            key = self._by_symbol.get(event.market.upper()) if FUNDING_EVENT else None
            pm = self.perp_markets.get(key[1]) if key is not None and key[0] is _PERP else None
        given = None
        if PULL_PLAIN:
            try:  # (the fields of a `data.models.FundingRecord`)
                given = (
                    event.funding_rate,
                    event.oracle_price_twap,
                    event.mark_price_twap,
                    event.funding_rate_long,
                    event.funding_rate_short,
                )
            except AttributeError:
                given = None
        rate = getattr(event, "funding_rate", None) if given is None else given[0]
        if (
            pm is None
            or type(ts) is not int
            or ts < self.now
            or ts <= pm.amm.last_funding_rate_ts
            or self.derive_funding
            or rate is None
            or not self.settle_funding_on_update
        ):
            out = self.accrue_interest(ts)
            out.extend(self.update_funding(event.market, event))
            return out
        self.now = ts  # (`accrue_interest`'s `_advance`)
        if INTEREST_PASS:
            out: list[Any] = self._accrue_all(ts)
        else:
            out = []
            for index in sorted(self.spot_markets):
                records = self._accrue_market(index, ts)
                if records:
                    out.extend(records)
        # `update_funding(market, event)` from its `_advance` on (the clock stands at ts)
        amm = pm.amm
        if given is not None:
            oracle_twap = given[1] or self._prices[key]
            mark_twap = given[2] or oracle_twap
            rate_long, rate_short = given[3], given[4]
        else:
            oracle_twap = getattr(event, "oracle_price_twap", None) or self._prices[key]
            mark_twap = getattr(event, "mark_price_twap", None) or oracle_twap
            rate_long = getattr(event, "funding_rate_long", None)
            rate_short = getattr(event, "funding_rate_short", None)
        rate_long = rate if rate_long is None else rate_long
        rate_short = rate if rate_short is None else rate_short
        index = key[1]
        self.records.append(
            self._funding_written(
                pm, index, ts, rate, rate_long, rate_short, oracle_twap, mark_twap
            )
        )
        exposed = self._exposed.get(key)
        if not exposed:
            return out
        settle_pnl = self.auto_settle_pnl
        oracle = self._prices[key]  # (`_settle_position_pnl`'s oracle; no price moves here)
        excess = self.pnl_pool_excess
        charged = liquidation.CHARGED_SLACK
        encoded, encoded_stats = self._encoded, self._encoded_stats
        payment_of = funding.funding_payment
        quote_decimals = self.spot_markets[QUOTE_SPOT_MARKET_INDEX].decimals
        for acct in list(exposed):
            encoded.pop(acct.key, None)  # `_changed(acct)`
            encoded_stats.pop(acct.authority, None)
            pos = None
            for p in acct.user.perp_positions:  # `_find_perp_position`
                if p.market_index == index and not rules.is_perp_position_available(p):
                    pos = p
                    break
            if pos is None:
                continue
            base = pos.base_asset_amount
            if base != 0 and PAYMENT_INLINE:
                if base > 0:
                    now, step = amm.cumulative_funding_rate_long, amm.last_funding_rate_long
                else:
                    now, step = amm.cumulative_funding_rate_short, amm.last_funding_rate_short
                last = pos.last_cumulative_funding_rate
                delta = now - last
                payment = payment_of(now, pos)  # (the rule's own: 0 when delta is 0)
                safe = acct.safe
                if charged and safe is not None:  # `_funding_moved`
                    moved = payment
                    if last != now - step:
                        moved -= payment_of(now - step, pos)
                    if moved:  # `_perp_quote_moved`: `_exact_terms`, then `_carry`
                        if (
                            safe[3][_QUOTE] == _ONE
                            and quote_decimals == 6
                            and pm.unrealized_pnl_maintenance_asset_weight == _WEIGHT_ONE
                            and pm.quote_spot_market_index == QUOTE_SPOT_MARKET_INDEX
                        ):
                            tc, req = safe[4]
                            tc += moved
                            acct.safe = (tc - req, safe[1], safe[2], safe[3], (tc, req), safe[5])
                        else:
                            acct.safe = None
                if delta:  # `_funding_paid` with this payment
                    acct.user.cumulative_perp_funding += payment
                    self._seq += 1  # `_next_seq`
                    record = (_PAYMENT_TWIN if frozen.TWIN_BUILD else FundingPaymentRecord)(
                        self._seq,
                        ts,
                        acct.authority,
                        acct.key[1],
                        pm.market_index,
                        payment,
                        base,
                        last,
                        amm.cumulative_funding_rate_long,
                        amm.cumulative_funding_rate_short,
                    )
                    pos.last_cumulative_funding_rate = now
                    if payment:  # `rules.update_quote_asset_and_break_even_amount` (a base)
                        pos.quote_asset_amount += payment
                        amm.quote_asset_amount += payment
                        pos.quote_break_even_amount += payment
                        if base > 0:
                            amm.quote_break_even_amount_long += payment
                        else:
                            amm.quote_break_even_amount_short += payment
                    amm.net_unsettled_funding_pnl -= payment
                    if not charged:
                        acct.safe = None
                    self.records.append(record)
                    out.append(record)
            elif base != 0:
                if base > 0:
                    now, step = amm.cumulative_funding_rate_long, amm.last_funding_rate_long
                else:
                    now, step = amm.cumulative_funding_rate_short, amm.last_funding_rate_short
                last = pos.last_cumulative_funding_rate
                payment = payment_of(now, pos)  # (0 when now == last)
                if charged and acct.safe is not None:  # `_funding_moved`
                    moved = payment
                    if last != now - step:
                        moved -= payment_of(now - step, pos)
                    self._perp_quote_moved(acct, pm, moved)
                if now != last:  # `_settle_position_funding` with this payment
                    record = self._funding_paid(acct, pm, pos, payment, base, last, now, ts)
                    self.records.append(record)
                    out.append(record)
            if settle_pnl:
                if PNL_TEST:  # `_settle_position_pnl`'s answer when it settles nothing
                    quote = pos.quote_asset_amount
                    if base == 0:
                        upnl = quote
                    else:  # `rules.unrealized_pnl` (base unchanged by the settlement)
                        num = base * max(oracle, 0)
                        upnl = abs(num) // rules.BASE_PRECISION
                        upnl = (upnl if num >= 0 else -upnl) + quote
                    # no uPnL, or a gain with nothing claimable (`claimable_pnl`): None,
                    # with no margin asked (asked for a loss only)
                    if upnl == 0 or (
                        upnl > 0 and max(quote - pos.quote_entry_amount, 0) + max(excess, 0) == 0
                    ):
                        continue
                self._settle_position_pnl(acct, pm, pos, index, ts)
        return out

    # ------------------------------------------------------------------ settle pnl

    def settle_pnl(self, key: UserKey | None, market: Any, ts: int) -> SettlePnlRecord | None:
        """`controller/pnl.rs::settle_pnl` for one perp market of one sub-account."""
        self._advance(ts)
        return self._settle_pnl(self._account(key), self._key(market)[1], ts)

    def _settle_pnl(self, acct: _Account, index: int, ts: int) -> SettlePnlRecord | None:
        self._changed(acct)
        market = self.perp_markets[index]
        pos = self._find_perp_position(acct.user, index)
        if pos is None:
            return None
        self._settle_position_funding(acct, market, pos, ts)
        return self._settle_position_pnl(acct, market, pos, index, ts)

    def _settle_position_pnl(
        self, acct: _Account, market: Any, pos: Any, index: int, ts: int
    ) -> SettlePnlRecord | None:
        """`_settle_pnl` of `pos` (the account's position in perp market `index`) once its
        funding is settled."""
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
        before = rules.signed_token_amount(qpos, usdc)
        rules.update_spot_balances(abs(pnl), pnl > 0, usdc, qpos)
        rules.update_quote_asset_amount(pos, market, -pnl)
        acct.user.settled_perp_pnl += pnl
        pos.settled_pnl += pnl
        self._expose(acct, (MarketType.SPOT, QUOTE_SPOT_MARKET_INDEX))
        self._perp_quote_moved(acct, market, -pnl)  # kept check: carried or dropped
        after = rules.signed_token_amount(qpos, usdc)
        self._quote_balance_moved(acct, QUOTE_SPOT_MARKET_INDEX, before, after)
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
        exposed = self._exposed.get((MarketType.SPOT, index))
        if exposed:
            find = self._find_spot_position
            for acct in exposed:
                pos = find(acct.user, index)
                if pos is not None:
                    holders.append((acct, pos, rules.signed_token_amount(pos, market)))
        if not rules.accrue_spot_interest(market, ts, rates.deposit, rates.borrow):
            return []
        if len(holders) > 1:
            # `acct.authority` is str(authority)
            holders.sort(key=lambda h: (h[0].authority, h[0].key[1]))
        out = []
        for acct, pos, before in holders:
            delta = rules.signed_token_amount(pos, market) - before
            record = self._interest_paid(acct, market, index, before, delta, ts)
            if record is not None:
                out.append(self._emit(record))
        return out

    def _interest_paid(
        self, acct: _Account, market: Any, index: int, before: int, delta: int, ts: int
    ) -> InterestRecord | None:
        """A holder's interest accrual of `delta` tokens on `before`: the kept check
        carried (or dropped) and its `InterestRecord` for the caller to emit (None for no
        change): one rule for `_accrue_market` and the interest pass (`INTEREST_PASS`)."""
        if liquidation.CHARGED_SLACK:  # kept check: carried or dropped (p. 58)
            self._quote_balance_moved(acct, index, before, before + delta)
        else:
            acct.safe = None
        if not delta:
            return None
        return InterestRecord(
            self._next_seq(),
            ts,
            acct.authority,
            acct.key[1],
            index,
            delta,
            market.cumulative_deposit_interest,
            market.cumulative_borrow_interest,
        )

    def _accrue_all(self, ts: int) -> list[InterestRecord]:
        """`accrue_interest(ts)` once the clock stands at `ts`: `_accrue_market` of every
        spot market in index order, in one pass. A holder's signed token amount is
        `rules.signed_token_amount`'s: its balance type read before the accrual (which
        changes no position), then `program_math.token_amount_at` at the cumulative interest before
        and after it;
        the records, their order and the kept checks' moves are `_accrue_market`'s."""
        out: list[InterestRecord] = []
        charged = liquidation.CHARGED_SLACK
        all_rates = self._rates
        exposed_by = self._exposed
        markets = self.spot_markets
        plan = HOUR_PLAN
        for entry in self._spot_order if plan else sorted(markets):
            if plan:  # (the spot markets in index order with their keys, kept at construction)
                index, spot_key, market = entry
            else:
                index = entry
                market = markets[index]
                spot_key = (_SPOT, index)
            rates = all_rates.get(index)
            if rates is None or (rates.deposit <= 0 and rates.borrow <= 0):
                market.last_interest_ts = max(market.last_interest_ts, ts)
                continue
            holders = []
            exposed = exposed_by.get(spot_key)
            if exposed:
                for acct in exposed:
                    for pos in acct.user.spot_positions:  # `_find_spot_position`
                        if pos.market_index == index and (
                            pos.scaled_balance != 0 or pos.open_orders != 0
                        ):
                            deposit = type(pos.balance_type).__name__ == "Deposit"
                            holders.append((acct, pos, deposit))
                            break
            deposit_before = market.cumulative_deposit_interest
            borrow_before = market.cumulative_borrow_interest
            if not rules.accrue_spot_interest(market, ts, rates.deposit, rates.borrow):
                continue
            if not holders:
                continue
            if len(holders) > 1:
                # `acct.authority` is str(authority)
                holders.sort(key=lambda h: (h[0].authority, h[0].key[1]))
            decimals = market.decimals
            deposit_after = market.cumulative_deposit_interest
            borrow_after = market.cumulative_borrow_interest
            if INTEREST_INLINE:
                amount = token_amount_at  # (the rule's own, as the reference reads it)
                for acct, pos, deposit in holders:
                    scaled = pos.scaled_balance
                    if deposit:
                        before = amount(scaled, deposit_before, decimals, True)
                        delta = amount(scaled, deposit_after, decimals, True) - before
                    else:  # a borrow's signed amount is minus its token amount
                        before = -amount(scaled, borrow_before, decimals, False)
                        delta = -amount(scaled, borrow_after, decimals, False) - before
                    # `_interest_paid`: the kept check carried or dropped, then the record
                    if charged:
                        safe = acct.safe
                        if delta and safe is not None:  # `_quote_balance_moved`
                            if (
                                index == QUOTE_SPOT_MARKET_INDEX  # (then `market` is USDC)
                                and safe[3][_QUOTE] == _ONE  # `_exact_terms`
                                and decimals == 6
                            ):
                                after = before + delta
                                d_tc = (after if after > 0 else 0) - (before if before > 0 else 0)
                                d_req = (-after if after < 0 else 0) - (
                                    -before if before < 0 else 0
                                )
                                if d_tc or d_req:  # `_carry`
                                    tc, req = safe[4]
                                    tc += d_tc
                                    req += d_req
                                    acct.safe = (
                                        tc - req,
                                        safe[1],
                                        safe[2],
                                        safe[3],
                                        (tc, req),
                                        safe[5],
                                    )
                            else:
                                acct.safe = None
                    else:
                        acct.safe = None
                    if delta:
                        self._seq += 1  # `_next_seq`
                        record = (_INTEREST_TWIN if frozen.TWIN_BUILD else InterestRecord)(
                            self._seq,
                            ts,
                            acct.authority,
                            acct.key[1],
                            index,
                            delta,
                            deposit_after,
                            borrow_after,
                        )
                        self.records.append(record)
                        out.append(record)
                continue
            amount = token_amount_at
            for acct, pos, deposit in holders:
                scaled = pos.scaled_balance
                if deposit:
                    before = amount(scaled, deposit_before, decimals, True)
                    delta = amount(scaled, deposit_after, decimals, True) - before
                else:  # a borrow's signed amount is minus its token amount
                    before = -amount(scaled, borrow_before, decimals, False)
                    delta = -amount(scaled, borrow_after, decimals, False) - before
                record = self._interest_paid(acct, market, index, before, delta, ts)
                if record is not None:
                    self.records.append(record)
                    out.append(record)
        return out

    def accrue_interest(self, ts: int) -> list[InterestRecord]:
        """Advance every spot market's cumulative interest to `ts` at its current rates."""
        self._advance(ts)
        out: list[InterestRecord] = []
        for index in sorted(self.spot_markets):
            records = self._accrue_market(index, ts)
            if records:
                out.extend(records)
        return out

    # ------------------------------------------------------------------ margin and liquidation


__all__ = ["FundingInterestMixin"]
