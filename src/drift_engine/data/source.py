"""The one interface every market data source implements, and how to consume it.

A source yields `MarketEvent`s (OracleTick, Candle, FundingRecord, SpotRateRecord) for a set
of markets over a half-open window [start, end) of unix seconds, lazily and in
`event_sort_key` order (time, kind rank, market). Consumers (the simulator, backtests)
drive time with a clock:

    for event in replay(source, ["SOL-PERP", "SOL", "USDC"], start, end, clock):
        ...  # clock.now() == event.time here

`replay` sleeps the clock until each event's time before yielding it, so a SimulatedClock
jumps (backtest), an AcceleratedClock paces a demo and a WallClock waits in real time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from drift_engine.data.models import MarketEvent, event_sort_key

if TYPE_CHECKING:
    from drift_engine.clock import Clock


@runtime_checkable
class MarketDataSource(Protocol):
    """A source of market events. `label` names it in reports ("real", "synthetic", ...)."""

    label: str

    def events(self, markets: Iterable[str], start: int, end: int) -> Iterator[MarketEvent]:
        """Events for `markets` with start <= event.time < end, in `event_sort_key` order."""
        ...


class OutOfOrderError(RuntimeError):
    """A source yielded an event earlier than the one before it."""


def replay(
    source: MarketDataSource,
    markets: Iterable[str],
    start: int,
    end: int,
    clock: Clock,
    *,
    check_order: bool = True,
) -> Iterator[MarketEvent]:
    """Yield the source's events, sleeping `clock` until each event's time first."""
    previous: tuple[int, int, str] | None = None
    for event in source.events(list(markets), start, end):
        if check_order:
            key = event_sort_key(event)
            if previous is not None and key < previous:
                raise OutOfOrderError(f"{event!r} comes after an event at {previous}")
            previous = key
        if event.time > clock.now():
            clock.sleep_until(event.time)
        yield event


__all__ = ["MarketDataSource", "OutOfOrderError", "replay"]
