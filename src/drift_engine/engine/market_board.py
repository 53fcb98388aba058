"""What engines know about markets: latest oracle prices, funding history, spot rates.

The heartbeat (or the backtest) feeds every market data event into one `MarketBoard`;
each engine reads `MarketSnapshot`s from it. Snapshots are cached per market and rebuilt
only when something about that market changed, so a 1-minute replay does not rebuild
the 7-day funding tuple on every tick. A funding record only appends to the market's
history; the funding fields (the history tuples and the 24 h / 7 d averages) are worked
out from it when a snapshot is next read: a fast-stepped backtest feeds ~8,760 funding
hours a year and reads a few hundred snapshots, and a value computed at read time from
the same history is the same value (ADR-0020, session 5).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, fields
from operator import itemgetter
from typing import Any

from drift_engine.core.markets import MarketCatalog, UnknownMarketError
from drift_engine.core.types import MarketType
from drift_engine.strategies.base import HOURS_PER_YEAR, MarketSnapshot

FUNDING_HISTORY_HOURS = 168

#: `MarketBoard.apply` feeds a funding record inline: `hourly_rate` / `hourly_sides`
#: (their one scale) with `add_funding`'s writes, without those calls and the sides'
#: tuple (issue 14; an oracle tick still goes through `set_price`: inlining its two
#: calls an hour saved 0.10 %); False: `add_funding` of `hourly_rate` and
#: `hourly_sides` (the reference)
APPLY_INLINE = True
FUNDING_RATE_BUFFER = 10**3

#: Spot market that hedges each perp ("SOL-PERP" -> "SOL"; Drift lists BTC as wBTC).
_SPOT_FOR_BASE = {"BTC": "wBTC", "ETH": "wETH"}


def spot_symbol_for(perp_symbol: str) -> str:
    base = perp_symbol.upper().removesuffix("-PERP")
    return _SPOT_FOR_BASE.get(base, base)


def hourly_rate(record: Any) -> float:
    """A FundingRecord's hourly rate as a fraction of notional (for decisions, not money)."""
    twap = record.oracle_price_twap
    return record.funding_rate / (twap * FUNDING_RATE_BUFFER) if twap else 0.0


def hourly_sides(record: Any) -> tuple[float, float]:
    """(long, short) hourly rates of a FundingRecord: what longs paid, shorts received."""
    twap = record.oracle_price_twap
    if not twap:
        return 0.0, 0.0
    scale = twap * FUNDING_RATE_BUFFER
    return record.funding_rate_long / scale, record.funding_rate_short / scale


@dataclass
class _Market:
    snapshot: MarketSnapshot
    history: deque[tuple[int, float]] = field(
        default_factory=lambda: deque(maxlen=FUNDING_HISTORY_HOURS)
    )
    #: (ts, long rate, short rate) of the same records
    sides: deque[tuple[int, float, float]] = field(
        default_factory=lambda: deque(maxlen=FUNDING_HISTORY_HOURS)
    )
    dirty: bool = False
    #: funding was added since the funding fields were last worked out (`_publish_funding`
    #: runs when the snapshot is next read)
    funding_stale: bool = False
    pending: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.values = {f.name: getattr(self.snapshot, f.name) for f in fields(self.snapshot)}


class FundingRows:
    """A market's funding rows and `MarketSnapshot.funding_apr_over` (the same function)
    over them: what `MarketBoard.funding_view` gives."""

    __slots__ = ("funding_history", "funding_sides")
    funding_apr_over = MarketSnapshot.funding_apr_over

    def __init__(self, history: tuple, sides: tuple) -> None:
        self.funding_history = history
        self.funding_sides = sides


class MarketBoard:
    """Latest market state per perp symbol, fed with data events."""

    def __init__(self, symbols: list[str], catalog: MarketCatalog | None = None) -> None:
        self.catalog = catalog or MarketCatalog.from_constants()
        self._markets: dict[str, _Market] = {}
        self._spot_to_perp: dict[str, str] = {}
        self.last_ts = 0
        #: perp -> {series: "real: label (source)"}: what the data feeding this board is,
        #: set by whoever opened it (`data.pipeline.MarketData.sources_by_market`) and
        #: written into heartbeat rows for the dashboard.
        self.data_sources: dict[str, dict[str, str]] = {}
        for symbol in symbols:
            self.add(symbol)

    def add(self, symbol: str) -> None:
        if symbol in self._markets:
            return
        perp = self.catalog.by_symbol(symbol)
        spot_sym = spot_symbol_for(perp.symbol)
        try:
            spot = self.catalog.by_symbol(spot_sym)
        except UnknownMarketError:
            spot = None
        snap = MarketSnapshot(
            symbol=perp.symbol,
            perp_market_index=perp.market_index,
            oracle_price=0,
            spot_market_index=spot.market_index if spot else None,
            spot_decimals=spot.decimals if spot else 9,
            perp_step_size=perp.order_step_size,
            perp_min_order_size=perp.min_order_size,
            spot_step_size=spot.order_step_size if spot else 1,
            spot_min_order_size=spot.min_order_size if spot else 1,
        )
        self._markets[perp.symbol] = _Market(snap)
        if spot is not None:
            self._spot_to_perp[spot.symbol.upper()] = perp.symbol
            # Data sources name the spot leg by its asset ("BTC") as well as by Drift's
            # spot symbol ("wBTC").
            self._spot_to_perp[perp.symbol.removesuffix("-PERP")] = perp.symbol

    @property
    def symbols(self) -> list[str]:
        return list(self._markets)

    def _set(self, symbol: str, **changes: Any) -> None:
        m = self._markets[symbol]
        m.pending.update(changes)
        m.dirty = True

    # ------------------------------------------------------------------ feeding
    def set_price(self, symbol: str, price: int, ts: int = 0) -> None:
        """Oracle price of a perp symbol; the spot leg follows unless priced separately.
        (Called for every price tick of a replay: the pending values are set in place.)"""
        if ts > self.last_ts:
            self.last_ts = ts
        m = self._markets.get(symbol)
        if m is not None:
            pending = m.pending
            pending["oracle_price"] = price
            pending["spot_oracle_price"] = price
            m.dirty = True
            return
        perp = self._spot_to_perp.get(symbol.upper())
        if perp is not None:
            m = self._markets[perp]
            m.pending["spot_oracle_price"] = price
            m.dirty = True

    def add_funding(
        self,
        symbol: str,
        ts: int,
        rate: float,
        rate_long: float | None = None,
        rate_short: float | None = None,
    ) -> None:
        """One funding record: the market's hourly rate and what longs paid / shorts
        received (default: the rate)."""
        m = self._markets.get(symbol)
        if m is None:
            return
        if ts > self.last_ts:
            self.last_ts = ts
        m.history.append((ts, rate))
        m.sides.append(
            (
                ts,
                rate if rate_long is None else rate_long,
                rate if rate_short is None else rate_short,
            )
        )
        m.funding_stale = True
        m.dirty = True

    @staticmethod
    def _publish_funding(m: _Market) -> None:
        """Set the snapshot's funding fields from the history (at snapshot time). The
        averages add the rates oldest first, as `sum` over the history always did, so
        the floats are the same to the bit."""
        m.funding_stale = False
        hist = tuple(m.history)
        if not hist:
            return
        sides = tuple(m.sides)
        day = hist[-24:]
        ts, rate = hist[-1]
        rate_of = itemgetter(1)
        m.pending.update(
            funding_rate=rate,
            funding_rate_long=sides[-1][1],
            funding_rate_short=sides[-1][2],
            last_funding_ts=ts,
            funding_history=hist,
            funding_sides=sides,
            funding_apr_24h=sum(map(rate_of, day)) / len(day) * HOURS_PER_YEAR,
            funding_apr_7d=sum(map(rate_of, hist)) / len(hist) * HOURS_PER_YEAR,
        )
        m.dirty = True

    def backfill_funding(self, symbol: str, records: list[tuple[int, float, float, float]]) -> int:
        """Merge past funding records (ts, rate, long, short) into the history, e.g. read
        from the chain when a live engine starts: each funding time once, in time order,
        the newest `FUNDING_HISTORY_HOURS` kept. Returns how many were new."""
        m = self._markets.get(symbol)
        if m is None or not records:
            return 0
        merged = {
            ts: (ts, lng, sht, r) for (ts, lng, sht), (_, r) in zip(m.sides, m.history, strict=True)
        }
        new = 0
        for ts, rate, lng, sht in records:
            if ts not in merged:
                new += 1
            merged[ts] = (ts, lng, sht, rate)
        rows = [merged[ts] for ts in sorted(merged)][-FUNDING_HISTORY_HOURS:]
        m.history.clear()
        m.sides.clear()
        m.history.extend((ts, rate) for ts, _l, _s, rate in rows)
        m.sides.extend((ts, lng, sht) for ts, lng, sht, _r in rows)
        self.last_ts = max(self.last_ts, rows[-1][0])
        m.funding_stale = True
        m.dirty = True
        return new

    def set_oracle_status(self, symbol: str, perp: str = "", spot: str = "") -> None:
        """Why the perp's / spot leg's oracle blocks new risk ("" = valid)."""
        m = self._markets.get(symbol)
        if m is None:
            return
        values = {**m.values, **m.pending}
        if (
            values.get("oracle_invalid", "") != perp
            or values.get("spot_oracle_invalid", "") != spot
        ):
            self._set(symbol, oracle_invalid=perp, spot_oracle_invalid=spot)

    def set_spot_rates(self, symbol: str, deposit_apr: float, borrow_apr: float) -> None:
        perp = symbol if symbol in self._markets else self._spot_to_perp.get(symbol.upper())
        if perp is not None:
            self._set(perp, spot_deposit_apr=deposit_apr, spot_borrow_apr=borrow_apr)

    def set_open_interest(self, symbol: str, open_interest: int) -> None:
        if symbol in self._markets and self._markets[symbol].snapshot.open_interest != (
            open_interest
        ):
            self._set(symbol, open_interest=open_interest)

    def apply(self, event: Any) -> None:
        """Feed one data event (OracleTick, FundingRecord, SpotRateRecord, Candle)."""
        kind = getattr(event, "kind", None)
        if kind == "oracle":
            self.set_price(event.market, event.price, event.ts)
        elif kind == "funding":
            if not APPLY_INLINE:
                self.add_funding(event.market, event.ts, hourly_rate(event), *hourly_sides(event))
                return
            # `hourly_rate(event)` and `hourly_sides(event)` (one scale, the same float
            # divisions), then `add_funding` with both sides given
            twap = event.oracle_price_twap
            if twap:
                scale = twap * FUNDING_RATE_BUFFER
                rate = event.funding_rate / scale
                long, short = event.funding_rate_long / scale, event.funding_rate_short / scale
            else:
                rate, long, short = 0.0, 0.0, 0.0
            m = self._markets.get(event.market)
            if m is None:
                return
            ts = event.ts
            if ts > self.last_ts:
                self.last_ts = ts
            m.history.append((ts, rate))
            m.sides.append((ts, long, short))
            m.funding_stale = True
            m.dirty = True
        elif kind == "spot_rate":
            self.set_spot_rates(event.market, float(event.deposit_rate), float(event.borrow_rate))
        elif kind == "candle":
            self.set_price(event.market, event.close, event.time)

    # ------------------------------------------------------------------ reading
    def snapshot(self, symbol: str) -> MarketSnapshot:
        m = self._markets[symbol]
        if m.dirty:
            if m.funding_stale:
                self._publish_funding(m)
            # Keep the current field values and build the frozen snapshot from them:
            # several times faster than dataclasses.replace on every price tick.
            m.values.update(m.pending)
            m.snapshot = MarketSnapshot(**m.values)
            m.pending.clear()
            m.dirty = False
        return m.snapshot

    def funding_view(self, symbol: str) -> FundingRows:
        """The funding rows `snapshot(symbol)` would hold now (`funding_history`,
        `funding_sides`: what `_publish_funding` publishes, or what it last published)
        with `MarketSnapshot.funding_apr_over` over them, without building the snapshot
        (`engine.quiet.aprs_pass`, each quiet hour of a `FundingAprOutside`)."""
        m = self._markets[symbol]
        if m.funding_stale:
            return FundingRows(tuple(m.history), tuple(m.sides))
        return FundingRows(m.values["funding_history"], m.values["funding_sides"])

    def snapshots(self, symbols: list[str] | None = None) -> dict[str, MarketSnapshot]:
        return {s: self.snapshot(s) for s in (symbols or self.symbols)}

    # ------------------------------------------------------------------ persistence
    def dump(self) -> dict[str, Any]:
        """Everything fed so far (JSON-able), for `load` after a restart: per market the
        snapshot's values and the funding history (floats round-trip exactly in JSON)."""
        out: dict[str, Any] = {"last_ts": self.last_ts, "markets": {}}
        for symbol in self._markets:
            snap = self.snapshot(symbol)
            values = {f.name: getattr(snap, f.name) for f in fields(snap)}
            values["funding_history"] = [list(h) for h in snap.funding_history]
            values["funding_sides"] = [list(h) for h in snap.funding_sides]
            history = [list(h) for h in self._markets[symbol].history]
            sides = [list(h) for h in self._markets[symbol].sides]
            out["markets"][symbol] = {"values": values, "history": history, "sides": sides}
        return out

    def load(self, data: dict[str, Any]) -> None:
        """Put back what `dump` saved (markets not on this board are added)."""
        self.last_ts = data["last_ts"]
        for symbol, saved in data["markets"].items():
            self.add(symbol)
            m = self._markets[symbol]
            values = dict(saved["values"])
            values["funding_history"] = tuple(tuple(h) for h in values["funding_history"])
            # saved before the per-side rates existed: both sides had the market's rate
            sides = saved.get("sides") or [[ts, r, r] for ts, r in saved["history"]]
            values["funding_sides"] = tuple(
                tuple(h)
                for h in values.get("funding_sides")
                or [[ts, r, r] for ts, r in values["funding_history"]]
            )
            m.snapshot = MarketSnapshot(**values)
            m.values = dict(values)
            m.history.clear()
            m.history.extend(tuple(h) for h in saved["history"])
            m.sides.clear()
            m.sides.extend(tuple(h) for h in sides)
            m.pending.clear()
            m.funding_stale = False
            m.dirty = False

    def market_index(self, symbol: str, market_type: MarketType = MarketType.PERP) -> int | None:
        snap = self._markets[symbol].snapshot
        return snap.perp_market_index if market_type is MarketType.PERP else snap.spot_market_index


__all__ = ["MarketBoard", "hourly_rate", "hourly_sides", "spot_symbol_for"]
