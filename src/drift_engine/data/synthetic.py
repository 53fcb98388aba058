"""A seeded synthetic market: price paths and hourly funding, calibrated to the real files.

Everything it yields carries source="synthetic"; reports must say so.

Prices (an assumption, not a calibration)
-----------------------------------------
The bundled real prices are LUNA's crash, which says nothing about SOL, BTC or ETH in
normal times, so price paths are not fitted to data. Each base asset follows a geometric
Brownian motion with Poisson jumps, sampled every `interval` seconds (default 60):

    log P(t+dt) - log P(t) = (drift - vol^2/2) dt + vol sqrt(dt) Z + sum of N jumps,
    N ~ Poisson(jumps_per_year dt), each jump ~ Normal(jump_mean, jump_std)

with the stated defaults in `DEFAULT_PRICE_MODELS`: zero drift; annual volatility 80% SOL,
50% BTC, 65% ETH (round numbers in the range these assets have realised in 2023-2025);
12 / 6 / 9 jumps a year of 4% / 3% / 3.5% standard deviation; nominal start prices $100,
$100,000, $3,000. Prices are rounded to PRICE precision (1e6 integers), never below 1.

Funding (calibrated to drift_funding_daily_2026-01-10_02-15.csv, per market)
---------------------------------------------------------------------------
The hourly rate (fraction of notional) is a two-regime mean plus an AR(1):

    r_h = level[s_h] + x_h,   x_h = phi x_(h-1) + b e_h,   s_h in {+, -}

where s is a Markov chain that leaves "+" with probability q+ and "-" with q- each hour.
The file gives 37 daily averages per market; calibration matches the daily statistics of
the model to them:

- mean: the chain's stationary share of "+" is the share of positive days and the two
  levels sit on either side of the file's mean so that the model's mean equals it exactly;
- vol and persistence (std and lag-1 autocorrelation of daily averages): for a given
  regime (its share of the daily variance and its mean duration) they are solved exactly
  from the closed-form variance/covariance of 24-hour averages of the two components
  (each has autocovariance V a^|k|), which fixes the level spread, phi and the AR(1)
  variance;
- flip rate (share of consecutive days whose average changes sign): sign changes have no
  closed form, so the regime share (0, 0.1, ..., 0.9) and duration (3 h ... 32 days) are
  picked from a grid as the pair whose fixed-seed simulation of 3,000 days comes closest.
  Matched for SOL-PERP (0.16 vs 0.167); BTC-PERP and ETH-PERP combine low day-to-day
  correlation with a sticky sign, which this family cannot reproduce together, so they
  keep mean/std/persistence exact and get the closest flip rate (~0.33 vs 0.17, ~0.40 vs
  0.25). Calibration takes about a second per market and is cached per process.

Funding records are at every hour boundary after `origin`; `oracle_price_twap` is the mean
of that hour's ticks (floored to an integer), `funding_rate` = round(r x twap x 1e3),
long = short = funding_rate, cumulative rates start at 0 at `origin`, `mark_price_twap` is
implied as twap + funding_rate x 24 / 1e3.

Determinism and streaming
-------------------------
Random numbers come from numpy PCG64 streams derived from (seed, asset or market, purpose),
drawn one day at a time from `origin`, so the same seed gives the same records (and the same
file bytes) whatever the window, and any window is a slice of the same path. Generation is
vectorised per day and streamed day by day: memory is O(one day).
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache

import numpy as np
from driftpy.constants.numeric_constants import ONE_YEAR

from drift_engine.data import symbols
from drift_engine.data.bundled import daily_funding
from drift_engine.data.columns import (
    Codes,
    Columns,
    batched,
    from_events,
    merge_columns,
    oracle_columns,
)
from drift_engine.data.models import (
    FUNDING_PERIOD,
    FUNDING_RATE_BUFFER,
    PRICE_PRECISION,
    SOURCE_SYNTHETIC,
    FundingRecord,
    MarketEvent,
    OracleTick,
    base_asset,
    check_window,
    is_perp,
    merge_events,
)
from drift_engine.data.rates import ConstantSpotRates

DAY = 86_400
HOURS_PER_DAY = 24
SECONDS_PER_YEAR = ONE_YEAR  # (driftpy's: the program's 365-day year)
DEFAULT_ORIGIN = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
CALIBRATION_SEED = 20260110
CALIBRATION_DAYS = 3_000

#: Assets priced at 1 by construction (the quote asset): no oracle ticks are generated.
QUOTE_ASSETS = frozenset({"USDC"})


@dataclass(frozen=True, slots=True)
class PriceModel:
    """GBM with Poisson jumps. Rates are annual; `start_price` in PRICE precision."""

    start_price: int
    annual_vol: float
    annual_drift: float = 0.0
    jumps_per_year: float = 0.0
    jump_mean: float = 0.0
    jump_std: float = 0.0


#: Stated assumptions (module docstring), keyed by base asset.
DEFAULT_PRICE_MODELS: dict[str, PriceModel] = {
    "SOL": PriceModel(100 * PRICE_PRECISION, 0.80, 0.0, 12.0, 0.0, 0.04),
    "BTC": PriceModel(100_000 * PRICE_PRECISION, 0.50, 0.0, 6.0, 0.0, 0.03),
    "ETH": PriceModel(3_000 * PRICE_PRECISION, 0.65, 0.0, 9.0, 0.0, 0.035),
}


# -- statistics of daily averages ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailyStats:
    """Statistics of a series of daily-average hourly funding rates (fractions)."""

    days: int
    mean: float
    std: float  # sample standard deviation (ddof=1)
    persistence: float  # lag-1 autocorrelation
    flip_rate: float  # share of consecutive days whose sign differs


def daily_stats(daily: Sequence[float] | np.ndarray) -> DailyStats:
    d = np.asarray(daily, dtype=float)
    if d.size < 3:
        raise ValueError("need at least 3 days")
    centred = d - d.mean()
    denom = float(np.sum(centred**2))
    persistence = float(np.sum(centred[:-1] * centred[1:]) / denom) if denom > 0 else 0.0
    signs = d > 0
    return DailyStats(
        days=int(d.size),
        mean=float(d.mean()),
        std=float(d.std(ddof=1)),
        persistence=persistence,
        flip_rate=float(np.mean(signs[:-1] != signs[1:])),
    )


def _g0(a: float) -> float:
    """Var of a 24-hour mean of a unit-variance process with autocorrelation a^|k|."""
    k = np.arange(HOURS_PER_DAY)
    lags = np.abs(k[:, None] - k[None, :])
    return float(np.sum(np.power(a, lags)) / HOURS_PER_DAY**2)


def _g1(a: float) -> float:
    """Cov of consecutive 24-hour means of the same process."""
    k = np.arange(HOURS_PER_DAY)
    lags = HOURS_PER_DAY + k[None, :] - k[:, None]
    return float(np.sum(np.power(a, lags)) / HOURS_PER_DAY**2)


# -- funding model -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FundingModel:
    """Hourly funding model parameters (fractions of notional per hour)."""

    market: str
    level_pos: float
    level_neg: float
    share_pos: float  # stationary probability of the "+" regime
    regime_lambda: float  # 1 - q+ - q-: hourly persistence of the regime chain
    phi: float  # hourly AR(1) coefficient
    noise_var: float  # stationary variance of the AR(1) part
    target: DailyStats  # what it was calibrated to

    @property
    def q_pos(self) -> float:
        return (1 - self.regime_lambda) * (1 - self.share_pos)

    @property
    def q_neg(self) -> float:
        return (1 - self.regime_lambda) * self.share_pos

    @property
    def mean(self) -> float:
        return self.share_pos * self.level_pos + (1 - self.share_pos) * self.level_neg

    def expected_daily(self) -> tuple[float, float, float]:
        """Model (mean, std, lag-1 autocorrelation) of daily averages, in closed form."""
        v_r = self.share_pos * (1 - self.share_pos) * (self.level_pos - self.level_neg) ** 2
        var = v_r * _g0(self.regime_lambda) + self.noise_var * _g0(self.phi)
        cov = v_r * _g1(self.regime_lambda) + self.noise_var * _g1(self.phi)
        return self.mean, math.sqrt(var), cov / var if var > 0 else 0.0


def _fit_phi(ratio: float) -> float:
    """phi with g1(phi)/g0(phi) == ratio (bisection; the ratio rises from 0 to 1)."""
    if ratio <= 0:
        return 0.0
    lo, hi = 0.0, 0.99999
    if _g1(hi) / _g0(hi) <= ratio:
        return hi
    for _ in range(60):
        mid = (lo + hi) / 2
        if _g1(mid) / _g0(mid) < ratio:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _model(
    market: str, target: DailyStats, share_pos: float, regime_share: float, lam: float
) -> FundingModel | None:
    """The model whose regime explains `regime_share` of the daily variance, or None.

    Levels keep the mean: level+ = mean + a sqrt(p-/p+), level- = mean - a sqrt(p+/p-), whose
    hourly variance is a^2. phi and the AR(1) variance then match std and persistence
    exactly; None when no phi in [0, 1) can (the regime alone is too persistent).
    """
    var = target.std**2
    cov = target.persistence * var
    v_r = regime_share * var / _g0(lam)
    rest = (1 - regime_share) * var
    ratio = (cov - v_r * _g1(lam)) / rest
    if regime_share > 0 and not (0 <= ratio < _g1(0.99999) / _g0(0.99999)):
        return None
    phi = _fit_phi(ratio)
    a = math.sqrt(v_r)
    return FundingModel(
        market=market,
        level_pos=target.mean + a * math.sqrt((1 - share_pos) / share_pos),
        level_neg=target.mean - a * math.sqrt(share_pos / (1 - share_pos)),
        share_pos=share_pos,
        regime_lambda=lam,
        phi=phi,
        noise_var=rest / _g0(phi),
        target=target,
    )


#: Calibration grid: share of daily variance explained by the regime, and the regime's mean
#: duration in hours (time between switches = 1 / (q+ + q-)).
REGIME_SHARES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
REGIME_DURATIONS_H = (3.0, 6.0, 12.0, 24.0, 48.0, 96.0, 192.0, 384.0, 768.0)


def simulated_flip_rate(model: FundingModel, days: int = CALIBRATION_DAYS) -> float:
    gen = _FundingGenerator(model, np.random.SeedSequence(CALIBRATION_SEED))
    hourly = gen.take(days * HOURS_PER_DAY)
    return daily_stats(hourly.reshape(-1, HOURS_PER_DAY).mean(axis=1)).flip_rate


def calibrate_funding(market: str, daily: Sequence[float | Decimal]) -> FundingModel:
    """Fit the hourly model to daily-average rates (see the module docstring).

    Mean, std and persistence are matched exactly for every candidate; among the feasible
    (regime share, regime duration) pairs of the grid, the one whose simulated flip rate
    (fixed seed, CALIBRATION_DAYS days) is closest to the file's wins (ties: the smaller
    regime share, then the shorter duration).
    """
    d = np.asarray([float(x) for x in daily], dtype=float)
    target = daily_stats(d)
    share_pos = float((d > 0).mean())
    if share_pos in (0.0, 1.0):
        share_pos = 0.5
    best: tuple[float, FundingModel] | None = None
    for regime_share in REGIME_SHARES:
        for duration in REGIME_DURATIONS_H:
            model = _model(market, target, share_pos, regime_share, 1.0 - 1.0 / duration)
            if model is None:
                continue
            error = abs(simulated_flip_rate(model) - target.flip_rate)
            if best is None or error < best[0] - 1e-12:
                best = (error, model)
            if regime_share == 0.0:
                break  # without a regime the duration does not matter
    assert best is not None  # regime_share 0 is always feasible
    return best[1]


@cache
def bundled_funding_model(market: str) -> FundingModel:
    """The model calibrated to the bundled real daily funding file for `market`."""
    days = [x.avg_hourly_rate for x in daily_funding() if x.market == market]
    if not days:
        known = sorted({x.market for x in daily_funding()})
        raise KeyError(f"no real funding data to calibrate {market!r} (have {known})")
    return calibrate_funding(market, days)


class _FundingGenerator:
    """Streams hourly rates of a FundingModel; draws do not depend on chunk sizes."""

    def __init__(self, model: FundingModel, seed_seq: np.random.SeedSequence) -> None:
        regime_ss, noise_ss = seed_seq.spawn(2)
        self.model = model
        self.regime_rng = np.random.Generator(np.random.PCG64(regime_ss))
        self.noise_rng = np.random.Generator(np.random.PCG64(noise_ss))
        self.state = 1 if self.regime_rng.random() < model.share_pos else -1
        self.left = self._duration()
        self.x = self.noise_rng.standard_normal() * math.sqrt(model.noise_var)
        phi = model.phi
        k = np.arange(HOURS_PER_DAY)
        lags = k[:, None] - k[None, :]
        self._kernel = np.where(lags >= 0, np.power(phi, np.maximum(lags, 0)), 0.0)
        self._carry_w = np.power(phi, k + 1)
        self._b = math.sqrt(model.noise_var * (1 - phi * phi))

    def _duration(self) -> int:
        q = self.model.q_pos if self.state > 0 else self.model.q_neg
        return int(self.regime_rng.geometric(q)) if q > 0 else 2**62

    def _regimes(self, n: int) -> np.ndarray:
        out = np.empty(n, dtype=np.int8)
        i = 0
        while i < n:
            k = min(self.left, n - i)
            out[i : i + k] = self.state
            i += k
            self.left -= k
            if self.left == 0:
                self.state = -self.state
                self.left = self._duration()
        return out

    def take(self, n: int) -> np.ndarray:
        """The next n hourly rates (n a multiple of 24)."""
        if n % HOURS_PER_DAY:
            raise ValueError("hours must be whole days")
        days = n // HOURS_PER_DAY
        eps = self.noise_rng.standard_normal(n).reshape(days, HOURS_PER_DAY) * self._b
        local = eps @ self._kernel.T
        x = np.empty_like(local)
        carry = self.x
        w = self._carry_w
        phi24 = w[-1]
        for d in range(days):
            x[d] = local[d] + w * carry
            carry = local[d, -1] + phi24 * carry
        self.x = carry
        s = self._regimes(n)
        levels = np.where(s > 0, self.model.level_pos, self.model.level_neg)
        return levels + x.reshape(-1)


# -- prices --------------------------------------------------------------------------------


class _PriceGenerator:
    def __init__(self, model: PriceModel, seed_seq: np.random.SeedSequence, interval: int) -> None:
        diffusion_ss, jump_ss = seed_seq.spawn(2)
        self.model = model
        self.diffusion = np.random.Generator(np.random.PCG64(diffusion_ss))
        self.jumps = np.random.Generator(np.random.PCG64(jump_ss))
        dt = interval / SECONDS_PER_YEAR
        self.mu_dt = (model.annual_drift - model.annual_vol**2 / 2) * dt
        self.sigma_sqrt_dt = model.annual_vol * math.sqrt(dt)
        self.jump_lam = model.jumps_per_year * dt
        self.log_price = math.log(model.start_price)
        self.first = True

    def take(self, n: int) -> np.ndarray:
        steps = self.mu_dt + self.sigma_sqrt_dt * self.diffusion.standard_normal(n)
        if self.jump_lam > 0:
            counts = self.jumps.poisson(self.jump_lam, n)
            sizes = self.jumps.standard_normal(n)
            steps += counts * self.model.jump_mean + np.sqrt(counts) * self.model.jump_std * sizes
        if self.first:
            steps[0] = 0.0  # the first tick is the start price
            self.first = False
        logs = self.log_price + np.cumsum(steps)
        self.log_price = float(logs[-1])
        prices = np.rint(np.exp(logs)).astype(np.int64)
        return np.maximum(prices, 1)


def _stream_key(*parts: str) -> int:
    return zlib.crc32("/".join(parts).encode("utf-8"))


class SyntheticMarket:
    """Deterministic synthetic prices and funding; a `MarketDataSource` (source="synthetic").

    `events(markets, start, end)` needs origin <= start and whole seconds; perps get oracle
    ticks and hourly funding, spot markets get oracle ticks of their base asset (none for
    USDC) and constant assumed spot rates (`rates.ConstantSpotRates`).
    """

    label = SOURCE_SYNTHETIC

    def __init__(
        self,
        seed: int,
        *,
        origin: int = DEFAULT_ORIGIN,
        interval: int = 60,
        price_models: Mapping[str, PriceModel] | None = None,
        funding_models: Mapping[str, FundingModel] | None = None,
        spot_rates: ConstantSpotRates | None = None,
    ) -> None:
        if interval <= 0 or FUNDING_PERIOD % interval:
            raise ValueError("interval must be a positive divisor of 3600 seconds")
        self.seed = int(seed)
        self.origin = int(origin)
        self.interval = int(interval)
        self.price_models = dict(DEFAULT_PRICE_MODELS)
        if price_models:
            self.price_models.update({k.upper(): v for k, v in price_models.items()})
        self.funding_models = dict(funding_models or {})
        self.spot_rates = (
            spot_rates if spot_rates is not None else ConstantSpotRates(label=SOURCE_SYNTHETIC)
        )

    @property
    def ticks_per_day(self) -> int:
        return DAY // self.interval

    def describe(self) -> str:
        return f"seed={self.seed}, origin={self.origin}, interval={self.interval}s"

    def price_model(self, market: str) -> PriceModel:
        asset = base_asset(market)
        try:
            return self.price_models[asset]
        except KeyError:
            raise KeyError(
                f"no price model for {asset!r} (have {sorted(self.price_models)}); "
                "pass price_models={...}"
            ) from None

    def funding_model(self, market: str) -> FundingModel:
        if market not in self.funding_models:
            self.funding_models[market] = bundled_funding_model(market)
        return self.funding_models[market]

    def _seed_seq(self, *parts: str) -> np.random.SeedSequence:
        return np.random.SeedSequence(self.seed, spawn_key=(_stream_key(*parts),))

    def _day_range(self, start: int, end: int) -> tuple[int, int]:
        if start < self.origin:
            raise ValueError(f"start {start} is before the synthetic origin {self.origin}")
        first_day = (start - self.origin) // DAY
        last_day = max(first_day, -(-(end - self.origin) // DAY))
        return first_day, last_day

    # -- vectorised paths --------------------------------------------------------------
    def price_days(self, market: str, days: int) -> Iterator[tuple[int, np.ndarray]]:
        """(day start ts, int64 prices of that day's ticks) for `days` days from origin."""
        asset = base_asset(market)
        gen = _PriceGenerator(
            self.price_model(market), self._seed_seq("price", asset), self.interval
        )
        for day in range(days):
            yield self.origin + day * DAY, gen.take(self.ticks_per_day)

    def price_path(self, market: str, start: int, end: int) -> tuple[np.ndarray, np.ndarray]:
        """Arrays (ts, price 1e6) of the ticks in [start, end)."""
        check_window(start, end)
        first_day, last_day = self._day_range(start, end)
        ts_parts, price_parts = [], []
        offsets = np.arange(self.ticks_per_day, dtype=np.int64) * self.interval
        for day_start, prices in self.price_days(market, last_day):
            day = (day_start - self.origin) // DAY
            if day < first_day:
                continue
            ts = day_start + offsets
            keep = (ts >= start) & (ts < end)
            ts_parts.append(ts[keep])
            price_parts.append(prices[keep])
        if not ts_parts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return np.concatenate(ts_parts), np.concatenate(price_parts)

    def hourly_rates(self, market: str, days: int) -> np.ndarray:
        """The model's hourly funding rates (fractions) for `days` days from origin."""
        gen = _FundingGenerator(self.funding_model(market), self._seed_seq("funding", market))
        return gen.take(days * HOURS_PER_DAY)

    # -- the event stream --------------------------------------------------------------
    def events(self, markets: Iterable[str], start: int, end: int) -> Iterator[MarketEvent]:
        check_window(start, end)
        wanted = list(dict.fromkeys(markets))
        streams: list[Iterable[MarketEvent]] = []
        for market in wanted:
            if is_perp(market):
                streams.append(self._perp_stream(market, start, end))
            elif base_asset(market) not in QUOTE_ASSETS:
                streams.append(self._tick_stream(market, start, end))
            elif not self.spot_rates.covers(market):
                raise KeyError(f"the synthetic market has nothing for {market!r}")
        streams.append(self.spot_rates.events(wanted, start, end))
        return merge_events(*streams)

    def oracle_events(self, market: str, start: int, end: int) -> Iterator[OracleTick]:
        return self._tick_stream(market, start, end)

    def funding_events(self, market: str, start: int, end: int) -> Iterator[FundingRecord]:
        return (e for e in self._perp_stream(market, start, end) if isinstance(e, FundingRecord))

    def _tick_stream(self, market: str, start: int, end: int) -> Iterator[OracleTick]:
        if start >= end:
            return
        first_day, last_day = self._day_range(start, end)
        interval = self.interval
        for day_start, prices in self.price_days(market, last_day):
            if day_start < self.origin + first_day * DAY:
                continue
            t = day_start
            for price in prices.tolist():
                if t >= end:
                    return
                if t >= start:
                    yield OracleTick(t, market, price, SOURCE_SYNTHETIC)
                t += interval

    def _perp_days(
        self, market: str, start: int, end: int
    ) -> Iterator[tuple[int, np.ndarray, list[FundingRecord | None]]]:
        """(day start, the day's prices, its funding record at each hour or None) for the
        days that reach into [start, end); records are made for every day from origin."""
        if start >= end:
            return
        _, last_day = self._day_range(start, end)
        model = self.funding_model(market)
        funding = _FundingGenerator(model, self._seed_seq("funding", market))
        index = symbols.perp_index(market)
        per_hour = FUNDING_PERIOD // self.interval
        cumulative = 0
        pending: FundingRecord | None = None  # funding at this day's 00:00, made yesterday
        for day_start, prices in self.price_days(market, last_day):
            rates = funding.take(HOURS_PER_DAY)
            sums = prices.reshape(HOURS_PER_DAY, per_hour).sum(axis=1)
            twaps = (sums // per_hour).tolist()
            fund = np.rint(rates * np.asarray(twaps, dtype=float) * FUNDING_RATE_BUFFER)
            records: list[FundingRecord | None] = [pending]
            for hour, (twap, rate) in enumerate(
                zip(twaps, fund.astype(np.int64).tolist(), strict=True)
            ):
                cumulative += rate
                records.append(
                    FundingRecord(
                        ts=day_start + (hour + 1) * FUNDING_PERIOD,
                        market=market,
                        market_index=index,
                        funding_rate=rate,
                        funding_rate_long=rate,
                        funding_rate_short=rate,
                        cumulative_funding_rate_long=cumulative,
                        cumulative_funding_rate_short=cumulative,
                        oracle_price_twap=twap,
                        mark_price_twap=twap + rate * 24 // FUNDING_RATE_BUFFER,
                        source=SOURCE_SYNTHETIC,
                    )
                )
            pending = records.pop()
            if day_start + DAY <= start:
                continue
            yield day_start, prices, records

    def _perp_stream(self, market: str, start: int, end: int) -> Iterator[MarketEvent]:
        per_hour = FUNDING_PERIOD // self.interval
        interval = self.interval
        for day_start, prices, records in self._perp_days(market, start, end):
            price_list = prices.tolist()
            for hour in range(HOURS_PER_DAY):
                t = day_start + hour * FUNDING_PERIOD
                if t >= end:
                    return
                block = price_list[hour * per_hour : (hour + 1) * per_hour]
                if t >= start:
                    yield OracleTick(t, market, block[0], SOURCE_SYNTHETIC)
                record = records[hour]
                if record is not None and t >= start:
                    yield record
                t += interval
                for price in block[1:]:
                    if t >= end:
                        return
                    if t >= start:
                        yield OracleTick(t, market, price, SOURCE_SYNTHETIC)
                    t += interval

    # -- the same events as column chunks (`data.columns`) -----------------------------
    def columns(
        self, markets: Iterable[str], start: int, end: int, codes: Codes
    ) -> Iterator[Columns]:
        """`events(markets, start, end)` as column chunks: the price arrays as they are
        generated, no object per tick (the funding and rate records stay objects)."""
        check_window(start, end)
        wanted = list(dict.fromkeys(markets))
        streams: list[Iterator[Columns]] = []
        for market in wanted:
            if is_perp(market):
                streams.append(batched(self._perp_columns(market, start, end, codes)))
            elif base_asset(market) not in QUOTE_ASSETS:
                streams.append(batched(self._tick_columns(market, start, end, codes)))
            elif not self.spot_rates.covers(market):
                raise KeyError(f"the synthetic market has nothing for {market!r}")
        streams.append(from_events(codes, self.spot_rates.events(wanted, start, end)))
        return merge_columns(codes, streams)

    def _tick_columns(self, market: str, start: int, end: int, codes: Codes) -> Iterator[Columns]:
        if start >= end:
            return
        first_day, last_day = self._day_range(start, end)
        offsets = np.arange(self.ticks_per_day, dtype=np.int64) * self.interval
        for day_start, prices in self.price_days(market, last_day):
            if day_start < self.origin + first_day * DAY:
                continue
            ts = day_start + offsets
            keep = (ts >= start) & (ts < end)
            yield oracle_columns(codes, market, SOURCE_SYNTHETIC, ts[keep], prices[keep])

    def _perp_columns(self, market: str, start: int, end: int, codes: Codes) -> Iterator[Columns]:
        per_hour = FUNDING_PERIOD // self.interval
        offsets = np.arange(self.ticks_per_day, dtype=np.int64) * self.interval
        for day_start, prices, records in self._perp_days(market, start, end):
            day = oracle_columns(codes, market, SOURCE_SYNTHETIC, day_start + offsets, prices)
            found = [(h, r) for h, r in enumerate(records) if r is not None]
            if found:  # each hour's record right after the hour's first tick
                at = np.asarray([h for h, _ in found], np.int64) * per_hour + 1
                day = Columns(
                    np.insert(day.time, at, [r.ts for _, r in found]),
                    np.insert(day.rank, at, FundingRecord.rank),
                    np.insert(day.market, at, day.market[0]),
                    np.insert(day.source, at, day.source[0]),
                    np.insert(day.price, at, 0),
                    # (np.insert puts row j before old row at[j]: it lands at at[j] + j)
                    {
                        a + j: r
                        for j, (a, (_, r)) in enumerate(zip(at.tolist(), found, strict=True))
                    },
                )
            keep = (day.time >= start) & (day.time < end)
            yield day if keep.all() else day.take(np.flatnonzero(keep))


__all__ = [
    "CALIBRATION_DAYS",
    "CALIBRATION_SEED",
    "DEFAULT_ORIGIN",
    "DEFAULT_PRICE_MODELS",
    "DailyStats",
    "FundingModel",
    "PriceModel",
    "SyntheticMarket",
    "bundled_funding_model",
    "calibrate_funding",
    "daily_stats",
]
