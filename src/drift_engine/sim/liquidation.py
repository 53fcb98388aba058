"""Margin and liquidation: the maintenance check after every event, the cached decision
that an account cannot be liquidatable yet (`_Account.safe`), and
`controller/liquidation.rs::liquidate_perp`.

`LiquidationMixin` is one of the mixins `simulator.DriftSimulator` is composed of (see
there for why mixins).
"""

from __future__ import annotations

from typing import Any

from driftpy.math.margin import MarginCategory
from driftpy.types import UserStatus

from drift_engine.core.program_math import (
    calculate_margin,
    is_high_leverage_mode,
    perp_margin_ratio,
)
from drift_engine.core.types import MarketType
from drift_engine.sim import rules
from drift_engine.sim.records import LiquidationRecord
from drift_engine.sim.state import QUOTE_SPOT_MARKET_INDEX, MarketKey, UserKey, _Account

_BEING_LIQUIDATED = UserStatus.BEING_LIQUIDATED


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
            if (  # rules.is_perp_position_available, inline (8 slots per check)
                pos.base_asset_amount == 0
                and pos.quote_asset_amount == 0
                and pos.open_orders == 0
                and pos.lp_shares == 0
            ):
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
        """False when `acct` cannot be below maintenance margin: its kept check
        (`acct.safe`: free collateral at the prices it saw, dropped on every change to the
        account) bounds what the price moves since can have taken, or a fresh
        calculation finds it above (and is kept). True: `_liquidate` decides exactly."""
        safe = acct.safe
        if safe is not None:
            prices = self._prices
            bound = 0.0
            for k, (p0, s) in safe[1].items():
                bound += s * abs(prices[k] - p0)
            if bound < safe[0]:
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


__all__ = ["LiquidationMixin"]
