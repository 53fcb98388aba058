"""Margin and liquidation: the maintenance check after every event, the cached decision
that an account cannot be liquidatable yet (`_Account.safe`), and
`controller/liquidation.rs::liquidate_perp`.

`LiquidationMixin` is one of the mixins `simulator.DriftSimulator` is composed of (see
there for why mixins).
"""

from __future__ import annotations

from typing import Any

from driftpy.constants.numeric_constants import SPOT_WEIGHT_PRECISION
from driftpy.math.margin import MarginCategory
from driftpy.types import UserStatus

from drift_engine.core import funding
from drift_engine.core.margin import health as margin_health
from drift_engine.core.program_math import (
    _perp_position_is_available,
    _spot_position_is_available,
    _worst_case_base_asset_amount,
    calculate_margin,
    is_high_leverage_mode,
    perp_margin_ratio,
    signed_token_amount,
    spot_asset_weight,
    spot_liability_weight,
)
from drift_engine.core.steps import round_up_to_step
from drift_engine.core.types import MarketType
from drift_engine.sim import rules
from drift_engine.sim.records import LiquidationRecord
from drift_engine.sim.state import QUOTE_SPOT_MARKET_INDEX, MarketKey, UserKey, _Account

_BEING_LIQUIDATED = UserStatus.BEING_LIQUIDATED
_QUOTE = (MarketType.SPOT, QUOTE_SPOT_MARKET_INDEX)
_ONE = rules.PRICE_PRECISION  # the quote price at which a payment's terms are exact
_WEIGHT_ONE = SPOT_WEIGHT_PRECISION

#: A quiet hour's payments carry the kept maintenance calculation instead of dropping it
#: (ADR-0020 point 58): `acct.safe` holds (collateral, requirement) exactly as the
#: program computes them for the account as it is now at the prices of the last full
#: calculation (`safe[3]`). A funding update moves the position's uPnL by its payment,
#: a settled pnl moves it into the USDC balance, interest moves the USDC balance: each
#: term is a plain integer when the quote price was $1 and the perp's maintenance uPnL
#: weight is 1, so the kept pair moves by exactly those amounts; any other payment
#: drops the kept check as before. The price moves since are bounded by the kept
#: sensitivities (the liquidation check, `quiet_bands`) or by per-side slopes (the
#: hourly health sample, `health_now`). False: every payment drops `acct.safe` and the
#: pair is reused only at the same record count and prices (the reference).
CHARGED_SLACK = True

#: `kept_margin` takes a new full calculation when the price moves since the kept one
#: have used more than this share of its free collateral (narrower quiet bands cost
#: real steps; a full calculation costs one margin pass).
REFRESH_SHARE = 0.125

#: `health_now` answers without `health` when its corners lie inside the last corners
#: that gave one health: `health` grows with the collateral and falls with the
#: requirement, so every pair between those corners has that health (the fact
#: `health_now`'s own corners rest on; it holds for any account, so one box is kept).
#: False: both corners asked at every sample (the reference)
HEALTH_BOX = True
#: (lowest collateral, highest requirement, highest collateral, lowest requirement
#: before the clamp at 0, their one health) of the last corners that agreed, or None
_HEALTH_BOX: list[tuple[int, int, int, int, int] | None] = [None]


def _margin_shortage(calc: Any) -> int:
    """`MarginCalculation::cross_margin_margin_shortage`: requirement plus the liquidation
    buffer above total collateral (0 when covered)."""
    return max(0, calc.margin_requirement_plus_buffer - calc.total_collateral)


class LiquidationMixin:
    """Maintenance margin checks and liquidation of `DriftSimulator`."""

    def _maintenance_cached(self, acct: _Account) -> tuple[int, int]:
        """`_calc(acct, MAINTENANCE)`, reused from the liquidation check while nothing it
        reads moved: `acct.safe` is dropped on every change to the account, and kept
        with the record count and the prices it was computed at (a funding hour's
        liquidation check, its quiet bands and the backtest's hourly health sample are
        one calculation, not three). With `CHARGED_SLACK` the kept pair is carried
        through the payments (exact at the kept prices): reused while the prices are
        those, and a new calculation is kept."""
        safe = acct.safe
        if CHARGED_SLACK:
            if safe is not None and safe[3] == self._prices:
                return safe[4]
            return self._keep(acct)
        if safe is not None and safe[2] == len(self.records) and safe[3] == self._prices:
            return safe[4]
        return self._calc(acct, MarginCategory.MAINTENANCE)

    def _keep(self, acct: _Account) -> tuple[int, int]:
        """The program's maintenance calculation of `acct` now, kept in `acct.safe`."""
        tc, req = self._calc(acct, MarginCategory.MAINTENANCE)
        self._kept(acct, tc, req)
        return tc, req

    def _kept(self, acct: _Account, tc: int, req: int) -> None:
        """Keep (collateral, requirement) of `acct` at the prices now in `acct.safe`."""
        acct.safe = (
            tc - req,
            self._sensitivity(acct),
            len(self.records),
            dict(self._prices),
            (tc, req),
            None,  # per-side slopes (`_side_slopes`), made when the health sample asks
        )

    # ------------------------------------------------------------------ payments

    def _carry(self, acct: _Account, d_tc: int, d_req: int) -> None:
        """The kept pair of `acct` moved by a payment's exact terms."""
        safe = acct.safe
        if safe is not None and (d_tc or d_req):
            tc, req = safe[4]
            tc += d_tc
            req += d_req
            acct.safe = (tc - req, safe[1], safe[2], safe[3], (tc, req), safe[5])

    def _exact_terms(self, acct: _Account) -> bool:
        """True when a payment's terms are plain integers at the kept prices: a check is
        kept, computed with the quote at $1, and USDC has 6 decimals (a token is a
        micro-USDC of collateral or requirement)."""
        safe = acct.safe
        return (
            safe is not None
            and safe[3][_QUOTE] == _ONE
            and self.spot_markets[QUOTE_SPOT_MARKET_INDEX].decimals == 6
        )

    def _perp_quote_moved(self, acct: _Account, market: Any, d_upnl: int) -> None:
        """A payment moved the (unweighted) uPnL of `acct`'s position in `market` by
        `d_upnl` (funding, or a settled pnl leaving it): at maintenance weight 1 and a
        $1 quote the weighted uPnL the collateral counts is the uPnL itself."""
        if not d_upnl or acct.safe is None:
            return
        if (
            not CHARGED_SLACK
            or not self._exact_terms(acct)
            or market.unrealized_pnl_maintenance_asset_weight != _WEIGHT_ONE
            or market.quote_spot_market_index != QUOTE_SPOT_MARKET_INDEX
        ):
            acct.safe = None
            return
        self._carry(acct, d_upnl, 0)

    def _funding_moved(self, acct: _Account, market: Any, pos: Any) -> None:
        """`update_funding` has just moved the market's cumulative rates by its last rates
        and will settle `pos` (not yet settled): its uPnL moved by the unsettled funding
        now less the unsettled funding before the update (the settlement that follows
        moves none: the payment leaves the unsettled funding for the quote amount)."""
        if not CHARGED_SLACK or acct.safe is None or pos.base_asset_amount == 0:
            return  # (the reference: the settlement drops the kept check)
        amm = market.amm
        if pos.base_asset_amount > 0:
            now, step = amm.cumulative_funding_rate_long, amm.last_funding_rate_long
        else:
            now, step = amm.cumulative_funding_rate_short, amm.last_funding_rate_short
        before = now - step
        moved = funding.funding_payment(now, pos)
        if pos.last_cumulative_funding_rate != before:
            moved -= funding.funding_payment(before, pos)
        self._perp_quote_moved(acct, market, moved)

    def _quote_balance_moved(
        self, acct: _Account, market_index: int, before: int, after: int
    ) -> None:
        """A payment moved `acct`'s signed token amount in spot market `market_index` from
        `before` to `after` (a settled pnl, interest). USDC at $1 with 6 decimals: a
        deposit is that much collateral, a borrow that much requirement (weight 1);
        another market's balance drops the kept check."""
        if before == after or acct.safe is None:
            return
        if (
            not CHARGED_SLACK
            or market_index != QUOTE_SPOT_MARKET_INDEX
            or not self._exact_terms(acct)
        ):
            acct.safe = None
            return
        self._carry(
            acct,
            max(after, 0) - max(before, 0),
            max(-after, 0) - max(-before, 0),
        )

    def maintenance_now(self, key: UserKey | None = None) -> tuple[int, int]:
        """`maintenance(key)` (the program's maintenance margin calculation), from the
        liquidation check's calculation when the account and prices are as it saw them."""
        return self._maintenance_cached(self._account(key))

    def kept_margin(
        self, key: UserKey | None = None
    ) -> tuple[int, int, dict[MarketKey, tuple[int, float]], float]:
        """(collateral, requirement, sensitivity, moved): the kept maintenance pair (exact
        at the kept prices) and `_sensitivity`, and the bound on |d(collateral -
        requirement)| of the price moves since, sum(s x |p - p0|); a new calculation
        (moved 0) when none is kept, the quote price moved, or the moves have used more
        than `REFRESH_SHARE` of the free collateral. Without `CHARGED_SLACK`:
        `maintenance_now`, `sensitivity_now`, 0."""
        if not CHARGED_SLACK:
            return (*self.maintenance_now(key), self.sensitivity_now(key), 0.0)
        acct = self._account(key)
        safe = acct.safe
        if safe is not None:
            moved = self._moved(safe)
            tc, req = safe[4]
            if moved is not None and moved <= REFRESH_SHARE * (tc - req):
                return tc, req, safe[1], moved
        tc, req = self._keep(acct)
        return tc, req, acct.safe[1], 0.0

    def _moved(self, safe: tuple[Any, ...]) -> float | None:
        """`_moved_by(safe)`, None when the quote price moved."""
        if self._prices[_QUOTE] != safe[3][_QUOTE]:
            return None
        return self._moved_by(safe)

    def _moved_by(self, safe: tuple[Any, ...]) -> float:
        """sum(s x |p - p0|) of the kept sensitivity: the bound on |d(collateral -
        requirement)| of the price moves since the kept calculation."""
        prices = self._prices
        moved = 0.0
        for k, (p0, s) in safe[1].items():
            moved += s * abs(prices[k] - p0)
        return moved

    def health_now(self, key: UserKey | None = None) -> int:
        """`core.margin.health` of the maintenance calculation now, exactly. With
        `CHARGED_SLACK` and a kept pair at other prices: collateral and requirement each
        lie within the kept value plus the price moves times the per-side slopes; health
        is increasing in collateral and decreasing in requirement, so when both corners
        give one value it is the health; otherwise a new calculation."""
        acct = self._account(key)
        safe = acct.safe
        if not CHARGED_SLACK or safe is None:
            return margin_health(*self._maintenance_cached(acct))
        tc, req = safe[4]
        prices, kept = self._prices, safe[3]
        if prices == kept:
            return margin_health(tc, req)
        slopes = safe[5]
        if slopes is None:
            slopes = self._side_slopes(acct)
            acct.safe = (*safe[:5], slopes)
        if slopes is not False and prices[_QUOTE] == kept[_QUOTE]:
            d_tc, d_req = slopes[0], slopes[1]  # the rounding constants
            for k, (a, b) in slopes[2].items():
                move = abs(prices[k] - kept[k])
                d_tc += a * move
                d_req += b * move
            d_tc = int(d_tc) + 1
            d_req = int(d_req) + 1
            if HEALTH_BOX:
                box = _HEALTH_BOX[0]
                # both corners inside a box whose corners gave one health: that health
                # (the same monotony the corners' test rests on; `health` not asked)
                if (
                    box is not None
                    and tc - d_tc >= box[0]
                    and req + d_req <= box[1]
                    and tc + d_tc <= box[2]
                    and req - d_req >= box[3]
                ):
                    return box[4]
            low = margin_health(tc - d_tc, req + d_req)
            if low == margin_health(tc + d_tc, max(0, req - d_req)):
                if HEALTH_BOX:  # (these corners agreed: the next box)
                    _HEALTH_BOX[0] = (tc - d_tc, req + d_req, tc + d_tc, req - d_req, low)
                return low
        return margin_health(*self._keep(acct))

    def _side_slopes(self, acct: _Account) -> Any:
        """(tc constant, req constant, {market: (|d collateral|, |d requirement|) per
        price unit}) of `acct`'s positions, from the program's weights and margin ratios
        (price-independent in the maintenance category), with each term's rounding as a
        constant; False when some position is outside what the slopes cover (spot open
        orders, LP shares, a perp not quoted in USDC)."""
        user = acct.user
        hlm = is_high_leverage_mode(user, MarginCategory.MAINTENANCE)
        quote = max(self._prices[_QUOTE], _ONE) / _ONE * 1.000001
        c_tc = c_req = 0
        out: dict[MarketKey, tuple[float, float]] = {}
        for pos in user.perp_positions:
            if _perp_position_is_available(pos):
                continue
            market = self.perp_markets[pos.market_index]
            if pos.lp_shares or market.quote_spot_market_index != QUOTE_SPOT_MARKET_INDEX:
                return False
            wcb = _worst_case_base_asset_amount(pos)
            ratio = perp_margin_ratio(market, wcb, MarginCategory.MAINTENANCE, hlm)
            w = max(market.unrealized_pnl_maintenance_asset_weight, _WEIGHT_ONE) / _WEIGHT_ONE
            a = abs(pos.base_asset_amount) / rules.BASE_PRECISION * w * quote
            b = abs(wcb) / rules.BASE_PRECISION * ratio / rules.MARGIN_PRECISION * quote
            c_tc += 3
            c_req += 3 + ratio // rules.MARGIN_PRECISION
            k = (MarketType.PERP, pos.market_index)
            a0, b0 = out.get(k, (0.0, 0.0))
            out[k] = (a0 + a, b0 + b)
        for pos in user.spot_positions:
            if _spot_position_is_available(pos):
                continue
            if pos.market_index == QUOTE_SPOT_MARKET_INDEX:
                continue  # no price but the quote's (checked unmoved)
            if pos.open_orders or pos.open_bids or pos.open_asks:
                return False
            market = self.spot_markets[pos.market_index]
            tokens = signed_token_amount(pos, market)
            size = abs(tokens)
            cat = MarginCategory.MAINTENANCE
            if tokens >= 0:
                w = spot_asset_weight(
                    market, size, self._prices[(MarketType.SPOT, pos.market_index)], cat
                )
            else:
                w = spot_liability_weight(market, size, cat)
            s = size / 10**market.decimals * max(w, 0) / _WEIGHT_ONE * 1.000001
            k = (MarketType.SPOT, pos.market_index)
            a0, b0 = out.get(k, (0.0, 0.0))
            if tokens >= 0:
                out[k] = (a0 + s, b0)
                c_tc += 3
            else:
                out[k] = (a0, b0 + s)
                c_req += 3
        return (c_tc, c_req, out)

    def sensitivity_now(self, key: UserKey | None = None) -> dict[MarketKey, tuple[int, float]]:
        """`_sensitivity` of the account, kept from the liquidation check when valid."""
        acct = self._account(key)
        safe = acct.safe
        if safe is not None and safe[2] == len(self.records) and safe[3] == self._prices:
            return safe[1]
        return self._sensitivity(acct)

    def _sensitivity(self, acct: _Account) -> dict[MarketKey, tuple[int, float]]:
        """Per market: an upper bound of |d(collateral - requirement)| per unit of price.

        A perp moves the collateral by its uPnL (weight <= 1) and the requirement by its
        worst-case size times the maintenance margin ratio; a spot balance moves one side
        by its tokens times its weight. The ratio and the liability weight are the
        program's for the position's size (`perp_margin_ratio`, `spot_liability_weight`:
        the IMF size premium has no cap, and a large position in a market with a large
        `imf_factor` has a ratio above 100 %), with x1.5 of safety and never below the
        flat factors this bound always used (3 x size; 3 x (1 + w) x tokens)."""
        sens: dict[MarketKey, float] = {}
        user = acct.user
        hlm: bool | None = None
        for pos in user.perp_positions:
            if _perp_position_is_available(pos):
                continue
            size = abs(pos.base_asset_amount) + max(pos.open_bids, -pos.open_asks)
            if hlm is None:
                hlm = is_high_leverage_mode(user, MarginCategory.MAINTENANCE)
            ratio = perp_margin_ratio(
                self.perp_markets[pos.market_index], size, MarginCategory.MAINTENANCE, hlm
            )
            factor = max(3.0, 1.5 * (1 + ratio / rules.MARGIN_PRECISION))
            k = (MarketType.PERP, pos.market_index)
            sens[k] = sens.get(k, 0.0) + factor * size / rules.BASE_PRECISION
        for pos in user.spot_positions:
            if pos.market_index == QUOTE_SPOT_MARKET_INDEX or _spot_position_is_available(pos):
                continue
            market = self.spot_markets[pos.market_index]
            tokens = abs(rules.signed_token_amount(pos, market)) + max(
                pos.open_bids, -pos.open_asks
            )
            weight = max(
                market.initial_liability_weight,
                SPOT_WEIGHT_PRECISION,
                spot_liability_weight(market, tokens, MarginCategory.MAINTENANCE),
            )
            k = (MarketType.SPOT, pos.market_index)
            factor = 3.0 * (1 + weight / SPOT_WEIGHT_PRECISION)
            sens[k] = sens.get(k, 0.0) + factor * tokens / 10**market.decimals
        return {k: (self._prices[k], v) for k, v in sens.items()}

    def _possibly_liquidatable(self, acct: _Account) -> bool:
        """False when `acct` cannot be below maintenance margin: its kept check
        (`acct.safe`: free collateral at the prices it saw, dropped on every change to the
        account) bounds what the price moves since can have taken, or a fresh
        calculation finds it above (and is kept). True: `_liquidate` decides exactly."""
        safe = acct.safe
        if safe is not None:
            bound = self._moved(safe) if CHARGED_SLACK else self._moved_by(safe)
            if bound is not None and bound < safe[0]:
                return False
        if CHARGED_SLACK:
            tc, req = self._maintenance_cached(acct)  # kept (`_keep`) when computed
            return tc < req
        tc, req = self._maintenance_cached(acct)
        if tc >= req:
            self._kept(acct, tc, req)
            return False
        return True

    def liquidate_if_needed(self, ts: int) -> list[LiquidationRecord]:
        """Liquidate (perp first) every sub-account below maintenance margin."""
        self._advance(ts)
        return self._liquidate_due(ts)

    def _liquidate_due(self, ts: int) -> list[LiquidationRecord]:
        """`liquidate_if_needed` once the clock stands at `ts` (`apply`: its event moved it)."""
        out: list[LiquidationRecord] = []
        for acct in self._accounts.values():
            if acct.user.status & _BEING_LIQUIDATED or self._possibly_liquidatable(acct):
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
            to_cover = round_up_to_step(
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
            amount = round_up_to_step(min(user_base, max(allowed, min_base)), step)
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


__all__ = ["LiquidationMixin"]
