"""Market data loaded once per sweep and shared by every run.

`load_market_data` reads the backtest's own data entry point (`market_events`, the same
events `drift-engine backtest` replays) once, for the whole period and every market
the strategy trades, into a `MarketData`: the time-ordered events as a tuple, and
their label. Workers get it once (a process pool's initializer, Ray's object store)
and slice windows from it (`window`), so a run never reloads or regenerates data.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from drift_engine.data.models import KIND_SPOT_RATE, event_sort_key


@dataclass(frozen=True)
class MarketData:
    """Time-ordered market events of `markets` over [start, end), with their label."""

    events: tuple[Any, ...]
    label: str
    markets: tuple[str, ...]
    start: int
    end: int
    source: str = ""
    _times: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._times:
            object.__setattr__(self, "_times", tuple(e.time for e in self.events))

    def window(self, start: int, end: int) -> Sequence[Any]:
        """What a source yields for [start, end): the events with start <= time < end,
        and the spot rates prevailing at `start` stated at `start` (sources state the
        rates in force when a window opens; a slice alone would lose them)."""
        if start < self.start or end > self.end:
            raise ValueError(
                f"window {start}..{end} is outside the loaded data {self.start}..{self.end}"
            )
        lo = bisect.bisect_left(self._times, start)
        hi = bisect.bisect_left(self._times, end)
        events = self.events[lo:hi]
        if start == self.start:
            return events
        prevailing: dict[str, Any] = {}
        for e in self.events[:lo]:
            if e.kind == KIND_SPOT_RATE:
                prevailing[e.market] = e
        stated = {e.market for e in events if e.kind == KIND_SPOT_RATE and e.time == start}
        restated = [replace(e, ts=start) for m, e in prevailing.items() if m not in stated]
        if not restated or start >= end:
            return events
        return sorted([*events, *restated], key=event_sort_key)


def resolve_source(source: str, market: str, start: int, end: int) -> str:
    """`auto` picks what `drift-engine backtest` picks for this window."""
    if source != "auto":
        return source
    from drift_engine.commands.backtest import _auto_source

    return _auto_source(market, start, end)


def load_market_data(
    source: str, markets: Sequence[str], start: int, end: int, seed: int = 7
) -> MarketData:
    """Load the events of `markets` over [start, end) from `source` once."""
    from drift_engine.backtest.runner import market_events

    markets = tuple(dict.fromkeys(markets))
    events, label = market_events(source, list(markets), start, end, seed)
    return MarketData(tuple(events), label, markets, start, end, source)


__all__ = ["MarketData", "load_market_data", "resolve_source"]
