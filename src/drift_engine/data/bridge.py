"""A seeded Brownian bridge between real hourly prices: minute paths where they are needed.

Drift's FundingRateRecords carry the hour's oracle TWAP: a real price once an hour. A run
that ticks faster than hourly (a paper engine in real time, a backtest with `--bridge 60`)
can ask for prices in between; this module makes them, and only them, synthetic:

- between two consecutive real points (t_a, P_a) and (t_b, P_b) the log price follows a
  Brownian bridge pinned at both ends, sampled at every multiple of `resolution` seconds
  strictly between t_a and t_b, so the real points are never moved;
- its volatility is the root mean square of the previous `vol_window` (default 24) hourly
  log returns of the real points, scaled to the step: the real path's own recent
  volatility, not an assumption. TWAPs are smoothed, so this understates the intra-hour
  volatility of the spot price; the bridge adds texture, not risk that was not there;
- every gap draws from its own random stream, seeded by (seed, market, t_a): the same
  seed gives the same path for any window, and a window's paths are made lazily, one hour
  at a time, as numpy arrays.

Ticks are labelled `label` (default "synthetic (Brownian bridge ...)"), the real points
keep their own label, so every output can tell the two apart.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence

import numpy as np

from drift_engine.data.columns import Codes, Columns, oracle_columns
from drift_engine.data.models import OracleTick

HOUR = 3600


def bridge_label(resolution: int, seed: int) -> str:
    return (
        f"synthetic (Brownian bridge between real hourly oracle TWAPs, "
        f"{resolution}s steps, seed {seed})"
    )


class BrownianBridge:
    """Seeded intra-hour price paths between real points (see the module docstring)."""

    def __init__(self, seed: int, resolution: int = 60, *, vol_window: int = 24) -> None:
        if resolution <= 0 or resolution >= HOUR:
            raise ValueError("the bridge resolution must be between 1 and 3599 seconds")
        if vol_window < 1:
            raise ValueError("vol_window must be at least 1")
        self.seed = int(seed)
        self.resolution = int(resolution)
        self.vol_window = int(vol_window)
        self.label = bridge_label(self.resolution, self.seed)

    def hourly_vols(self, prices: Sequence[int]) -> np.ndarray:
        """sigma per hour for each gap i (between points i-1 and i): RMS of the up to
        `vol_window` log returns before it (gap 0 and 1 use the first return)."""
        p = np.asarray(prices, dtype=np.float64)
        n = len(p)
        out = np.zeros(n, dtype=np.float64)
        if n < 2:
            return out
        r2 = np.diff(np.log(p)) ** 2  # r2[k] = squared return of gap k + 1
        csum = np.concatenate(([0.0], np.cumsum(r2)))
        hi = np.arange(n) - 1  # gap i uses the returns r2[lo .. hi - 1], strictly before it
        lo = np.maximum(0, hi - self.vol_window)
        count = hi - lo
        ok = count > 0
        out[ok] = np.sqrt((csum[hi[ok]] - csum[lo[ok]]) / count[ok])
        out[1] = math.sqrt(r2[0])  # no return before the second gap: use the first one
        return out

    def _rng(self, market: str, t_a: int) -> np.random.Generator:
        key = (zlib.crc32(market.encode("utf-8")), int(t_a))
        seq = np.random.SeedSequence(self.seed, spawn_key=key)
        return np.random.Generator(np.random.PCG64(seq))

    def gap(
        self, market: str, t_a: int, p_a: int, t_b: int, p_b: int, sigma_hour: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(ts, prices 1e6) of the grid points strictly between t_a and t_b."""
        step = self.resolution
        first = (t_a // step + 1) * step
        ts = np.arange(first, t_b, step, dtype=np.int64)
        if len(ts) == 0:
            return ts, ts.copy()
        span = float(t_b - t_a)
        times = np.concatenate((ts, [t_b])).astype(np.float64)
        dt = np.diff(np.concatenate(([float(t_a)], times)))
        sd = sigma_hour * np.sqrt(dt / HOUR)
        walk = np.cumsum(self._rng(market, t_a).standard_normal(len(dt)) * sd)
        frac = (times - t_a) / span
        bridge = walk - frac * walk[-1]
        la, lb = math.log(p_a), math.log(p_b)
        logs = la + frac[:-1] * (lb - la) + bridge[:-1]
        prices = np.maximum(np.rint(np.exp(logs)), 1).astype(np.int64)
        return ts, prices

    def _gaps(
        self,
        market: str,
        points_ts: Sequence[int],
        points_price: Sequence[int],
        start: int,
        end: int,
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Each gap's bridge (times, prices) for `market`, kept to start <= ts < end, made
        one gap at a time: the one walk that `ticks` and `columns` both read."""
        n = len(points_ts)
        if n < 2 or start >= end:
            return
        vols = self.hourly_vols(points_price)
        lo = max(1, int(np.searchsorted(np.asarray(points_ts), start, side="right")))
        for i in range(lo, n):
            t_a, t_b = int(points_ts[i - 1]), int(points_ts[i])
            if t_a >= end:
                return
            ts, prices = self.gap(
                market, t_a, int(points_price[i - 1]), t_b, int(points_price[i]), vols[i]
            )
            keep = (ts >= start) & (ts < end)
            yield ts[keep], prices[keep]

    def ticks(
        self,
        market: str,
        points_ts: Sequence[int],
        points_price: Sequence[int],
        start: int,
        end: int,
    ) -> Iterator[OracleTick]:
        """Bridge ticks for `market` with start <= ts < end, made one gap at a time."""
        label = self.label
        for ts, prices in self._gaps(market, points_ts, points_price, start, end):
            for t, price in zip(ts.tolist(), prices.tolist(), strict=True):
                yield OracleTick(t, market, price, label)

    def columns(
        self,
        market: str,
        points_ts: Sequence[int],
        points_price: Sequence[int],
        start: int,
        end: int,
        codes: Codes,
    ) -> Iterator[Columns]:
        """`ticks(...)` as column chunks (one per gap: the gap's arrays as made)."""
        for ts, prices in self._gaps(market, points_ts, points_price, start, end):
            yield oracle_columns(codes, market, self.label, ts, prices)


__all__ = ["BrownianBridge", "bridge_label"]
