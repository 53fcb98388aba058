"""When an engine next needs a step: the promise behind fast backtest stepping (ADR-0020).

After an engine's step, `quiet_after_step` says what must hold for every following bar
to be a step that changes nothing but the engine's bookkeeping (step count, last tick
time, high-water mark), or None when the next bar must be stepped:

- the engine is RUNNING (or HALTED: see below), its last step took no action (no order,
  rejection, transition or log line) and it has no resting, working or unknown-outcome
  order;
- its risk checks are the built-in ones (`MaxDrawdown`, `HealthFloor`, `HealthHalt`;
  order checks run only on actions), so their triggers are known: health floors and a
  drawdown limit;
- its strategy declares its wake conditions (strategies/wake.py) and none is
  `EveryTick`: `AtTime` becomes a time, `PriceOutside` a price band, `HealthBelow` a
  health floor; `NextFunding` and `FundingOutside` say which funding hours wake it,
  `FundingAprOutside` after which records (asked on the board as the hour left it);
- its venue is a paper sub-account: the simulator gives the price bands inside which
  neither liquidation nor any health floor can be reached (`sim.quiet.quiet_bands`) and
  the exact equity terms (`sim.quiet.EquityLegs`) from which the heartbeat recomputes
  the high-water mark over the skipped bars and finds a drawdown halt to the bar;
- the engine record is saved on time: the next `persist_every_s` is a time too.

A HALTED engine's step asks neither its risk checks nor its strategy (`DriftEngine.step`:
it books, syncs orders, snapshots and saves), so for it only the simulator's
liquidation band, the equity terms and the record save hold the bars (`QUIET_HALTED`).

The heartbeat then scans the price arrays for the first bar that leaves a band or
reaches a time, applies the skipped bars' last prices and steps that bar for real.

Quiet funding hours: at a tick of funding records and rate updates, the heartbeat
applies the events (the simulator settles funding, interest and PnL with its own rules)
and then asks `passes_hour` whether a real step would do anything but book: the
strategy not woken by these records (no `NextFunding` for the market, the rate inside
any `FundingOutside` band, no `AtTime` due, prices inside its `PriceOutside` bands), the
simulator wrote payments only (no fill, order or liquidation record), the account's
margin bands recomputed after the payments still hold (`quiet_bands`: the liquidation
and health-floor bounds move with the collateral the hour changed) and no drawdown
halt. If so the engine takes `quiet_step` (book, high-water mark, record save), else
every engine steps for real at that tick, as per-bar stepping would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from drift_engine.core.types import MarketType
from drift_engine.engine.engine import QUOTE_SPOT_INDEX, EngineMode
from drift_engine.engine.ledger import VaultLedgerSink, _entries
from drift_engine.engine.market_board import hourly_rate, hourly_sides
from drift_engine.engine.ports import InterestEvent
from drift_engine.risk.checks import HealthFloor, HealthHalt, MaxDrawdown
from drift_engine.sim import quiet as sim_quiet
from drift_engine.sim.quiet import equity_legs, kept_legs, kept_terms, quiet_bands, refresh_legs
from drift_engine.strategies.base import FundingEvent
from drift_engine.strategies.wake import (
    AtTime,
    EveryTick,
    FundingAprOutside,
    FundingOutside,
    HealthBelow,
    NextFunding,
    NextSpotRate,
    PriceOutside,
)

if TYPE_CHECKING:
    from drift_engine.engine.engine import DriftEngine

MarketKey = tuple[MarketType, int]
#: read once: an enum member's look-up on its class costs ~80 ns on Python 3.11
#: (`EnumType.__getattr__`), a module global's ~10; the same object
_PAPER = EngineMode.PAPER


@dataclass
class Quiet:
    """What keeps an engine quiet: wake at the first tick at or after `until`, or at the
    first price outside its market's band; `legs`/`max_drawdown` drive the high-water
    mark and the drawdown halt over the skipped bars."""

    until: int | None = None
    bands: dict[MarketKey, tuple[int, int]] = field(default_factory=dict)
    legs: Any = None  # sim.quiet.EquityLegs
    max_drawdown: float | None = None
    #: quiet stretches (funding hours passed without a real step): the strategy's own
    #: `AtTime`, the markets whose funding always wakes it (`NextFunding`; "*" = it
    #: declared one or a `NextSpotRate`, so spot-rate updates wake it too), its
    #: `FundingOutside` bands, and
    #: every health floor (risk checks' and the strategy's)
    strategy_until: int | None = None
    funding_wakes: set[str] = field(default_factory=set)
    #: (keyed by market, or (market, "long"/"short") for a side's band)
    funding_bands: dict[Any, tuple[float, float]] = field(default_factory=dict)
    floors: list[int] = field(default_factory=list)
    strategy_bands: dict[MarketKey, tuple[int, int]] = field(default_factory=dict)
    #: its `FundingAprOutside` conditions (`books_pass` asks each on the board as the
    #: hour's records left it)
    funding_aprs: list[Any] = field(default_factory=list)
    #: after a quiet hour (`passes_hour`): the simulator's bands, the equity terms and
    #: the equity (exact: `EquityLegs.at`) of the account as the hour left it
    next_bands: dict[MarketKey, tuple[int, int]] | None = None
    next_legs: Any = None
    next_equity: int | None = None
    #: the account slots `legs`/`next_legs` were read from (`sim.quiet.LegSlots`: the
    #: next hour reads those again, `refresh_legs`)
    slots: Any = None

    def after_hour(self, engine: DriftEngine) -> Quiet | None:
        """The Quiet for the bars after a quiet hour (`quiet_step`): what the last real
        step derived stands (the strategy's wake conditions, its bands and times, the
        risk checks' floors and drawdown limit: only payments happened, the strategy was
        not asked, no order or transition), with the simulator's bands and the equity
        terms `passes_hour` took after the hour's payments, and the next record save.
        None when those could not be taken (the next tick is a real one)."""
        got = self._carried(engine)
        if got is None:
            return None
        until, bands, legs = got
        return Quiet(
            until,
            bands,
            legs,
            self.max_drawdown,
            self.strategy_until,
            self.funding_wakes,
            self.funding_bands,
            self.floors,
            self.strategy_bands,
            funding_aprs=self.funding_aprs,
            slots=self.slots,
        )

    def carry(self, engine: DriftEngine) -> bool:
        """`after_hour` in place: this Quiet becomes the one `after_hour` returns (its
        `until`, `bands` and `legs` taken again, the `next_*` cleared, the rest kept:
        equal field by field) and True; False, unchanged, where `after_hour` gives None.
        A quiet run of one engine (`fastforward._quiet_run`) carries its Quiet so."""
        got = self._carried(engine)
        if got is None:
            return False
        self.until, self.bands, self.legs = got
        self.next_bands = self.next_legs = self.next_equity = None
        return True

    def _carried(self, engine: DriftEngine) -> tuple[int | None, dict, Any] | None:
        """(until, bands, legs) of the Quiet after a quiet hour (`after_hour`), or None."""
        next_bands, legs = self.next_bands, self.next_legs
        if next_bands is None or legs is None:
            return None
        strategy = self.strategy_bands
        if strategy:  # the strategy's bands, each intersected with the simulator's
            bands = dict(strategy)
            for key, (lo, hi) in next_bands.items():
                old = bands.get(key)
                bands[key] = (lo, hi) if old is None else (max(old[0], lo), min(old[1], hi))
        else:  # (a dict of `passes_hour`'s own: nothing else holds it)
            bands = next_bands
        until = self.strategy_until
        save = engine.next_save()  # (`wake_at`)
        if save is not None and (until is None or save < until):
            until = save
        return until, bands, legs

    def wake_at(self, ts: int) -> None:
        if self.until is None or ts < self.until:
            self.until = ts

    def band(self, key: MarketKey, low: int, high: int) -> None:
        lo, hi = self.bands.get(key, (low, high))
        self.bands[key] = (max(lo, low), min(hi, high))


def quiet_after_step(
    engine: DriftEngine, *, light: bool = False, bands: dict | None = None
) -> Quiet | None:
    """See the module docstring. Called right after `engine.step(ts)`, or (`light`)
    after `quiet_step`: the strategy was not asked since its last real step, so its
    wake conditions are the ones it declared then; `bands` are the simulator's bands
    `passes_hour` computed for the state as it stands (not computed again)."""
    from drift_engine.engine.engine import EngineState

    snap = engine._last_snap
    state = engine.state
    halted = state is EngineState.HALTED and QUIET_HALTED
    if (
        (state is not EngineState.RUNNING and not halted)
        or engine._acted
        or snap is None
        or (snap.ts != engine.last_ts and not light)
    ):
        return None
    venue = engine.venue
    sim = getattr(venue, "sim", None)
    if sim is None or not hasattr(venue, "key") or _has_open_order(sim.user(venue.key)):
        return None
    if getattr(snap, "orders", ()) or getattr(engine.orders, "blocked", False):
        return None  # orders working or of unknown outcome: their events decide
    q = Quiet()
    floors: list[int] | None = [] if halted else _risk_and_wakes(engine, snap, q)
    if floors is None:
        return None
    q.floors = floors
    if bands is None:
        bands = quiet_bands(sim, venue.key, floors)
    if bands is None:
        return None
    for key, (lo, hi) in bands.items():
        q.band(key, lo, hi)
    # the high-water mark follows every bar
    q.legs, q.slots = (
        kept_legs(sim, venue.key) if CARRY_SLOTS else (equity_legs(sim, venue.key), None)
    )
    if q.legs is None:
        return None
    save = engine.next_save()  # the record is saved on time: a wake
    if save is not None:
        q.wake_at(save)
    return q


#: a HALTED engine's bars and funding hours may pass quietly (its step runs no risk check
#: and no strategy: only the liquidation band, the equity terms and the record save
#: matter); False: a HALTED engine is stepped at every bar (the reference)
QUIET_HALTED = True


def _risk_and_wakes(engine: DriftEngine, snap: Any, q: Quiet) -> list[int] | None:
    """What a RUNNING engine's risk checks and strategy wake conditions put on `q`
    (drawdown limit, time, funding wakes and bands, price bands) and the health floors
    they set; None when one of them may act on any bar (`EveryTick`, an unknown check or
    condition, a price band on a market the snapshot lacks)."""
    floors: list[int] = []
    for check in engine.risk.checks:
        if not hasattr(check, "assess"):
            continue
        if type(check) is MaxDrawdown:
            q.max_drawdown = check.max_drawdown
        elif type(check) is HealthFloor:
            floors.append(check.floor)
        elif type(check) is HealthHalt:
            if check.halt_health:  # a floor too (only while exposed: conservative)
                floors.append(check.halt_health)
        else:
            return None  # a plug-in whose trigger we do not know
    for c in engine.strategy.wake_conditions(snap):
        if isinstance(c, EveryTick):
            return None
        if isinstance(c, AtTime):
            q.wake_at(c.ts)
            if q.strategy_until is None or c.ts < q.strategy_until:
                q.strategy_until = c.ts
        elif isinstance(c, NextFunding):
            q.funding_wakes.update((c.market, "*"))
        elif isinstance(c, FundingOutside):
            key = c.market if c.side is None else (c.market, c.side)  # a side's own band
            lo, hi = q.funding_bands.get(key, (c.low, c.high))
            q.funding_bands[key] = (max(lo, c.low), min(hi, c.high))
        elif isinstance(c, NextSpotRate):
            q.funding_wakes.add("*")  # spot-rate updates wake it
        elif isinstance(c, FundingAprOutside):
            q.funding_aprs.append(c)
        elif isinstance(c, HealthBelow):
            floors.append(c.health)
        elif isinstance(c, PriceOutside):
            m = snap.markets.get(c.market)
            if m is None:
                return None
            key = (MarketType.PERP, m.perp_market_index)
            q.band(key, c.low, c.high)
            lo, hi = q.strategy_bands.get(key, (c.low, c.high))
            q.strategy_bands[key] = (max(lo, c.low), min(hi, c.high))
        else:
            return None
    return floors


def _has_open_order(user: Any) -> bool:
    """`venue.open_orders()` is not empty: an order slot in the Open variant (the test of
    `core.types.is_variant`, inlined: the 32 slots are read at every quiet hour, and the
    venue's list is rebuilt whenever a record was written, i.e. every funding hour)."""
    for order in user.orders:
        status = order.status
        if isinstance(status, str):
            name = status
        else:
            name = status.__name__ if isinstance(status, type) else type(status).__name__
        if name == "Open":
            return True
    return False


def passes_hour(engine: DriftEngine, q: Quiet, ts: int, events: list[Any], records: list) -> bool:
    """True if a real step of `engine` at `ts`, after this tick's `events` (funding
    records, spot-rate updates, prices inside the bands) were applied and the simulator
    wrote `records`, would do exactly what `quiet_step` does: book the payments and
    change nothing else. Conservative: False only costs a real step."""
    return events_pass(q, ts, events) and books_pass(engine, q, records)


def events_pass(q: Quiet, ts: int, events: list[Any]) -> bool:
    """`passes_hour`'s test of the time and the tick's events (read from the events
    alone: it may be asked before they are applied)."""
    if q.strategy_until is not None and ts >= q.strategy_until:
        return False
    wakes = q.funding_wakes
    for event in events:
        kind = event.kind
        if kind == "oracle":
            continue
        if kind == "spot_rate":
            if wakes:
                return False
        elif kind == "funding":
            market = event.market
            if market in wakes:
                return False
            bands = q.funding_bands
            band = bands.get(market)
            if band is not None and not band[0] <= hourly_rate(event) <= band[1]:
                return False
            if (market, "long") in bands or (market, "short") in bands:
                long, short = hourly_sides(event)
                lo, hi = bands.get((market, "long"), (long, long))
                if not lo <= long <= hi:
                    return False
                lo, hi = bands.get((market, "short"), (short, short))
                if not lo <= short <= hi:
                    return False
        else:
            return False
    return True


def books_pass(engine: DriftEngine, q: Quiet, records: list) -> bool:
    """`passes_hour`'s test of the account after the tick's events were applied and the
    simulator wrote `records`: payments only, the strategy's bands, the simulator's
    bands and equity terms taken again (kept on `q`), no drawdown halt. `KEPT_HOUR`:
    the walk over the records also keeps the account's payments for `quiet_step`."""
    if KEPT_HOUR:
        if not keep_payments(engine, records):
            return False
    else:
        booked = _BOOKED_QUIETLY
        for rec in records:  # payments only: a fill, an order or a liquidation is stepped
            if rec.kind not in booked:
                return False
    if q.funding_aprs and not aprs_pass(q, engine.board):
        return False
    venue = engine.venue
    sim = venue.sim
    prices = sim._prices
    for key, (lo, hi) in q.strategy_bands.items():
        if not lo <= prices[key] <= hi:
            return False
    user_key = venue.key
    q.next_bands = bands = quiet_bands(sim, user_key, q.floors)
    if bands is None:
        return False  # at or near a health floor or liquidation: the real step decides
    # the equity terms after the hour's payments: the next stretch's high-water mark
    # and drawdown scan, and the equity now (`EquityLegs.at` is `user_equity` exactly)
    if CARRY_SLOTS:  # the slots the last hour's legs were read from, read again
        if sim_quiet.KEPT_TERMS:  # (with what they read besides their amounts kept)
            legs, q.slots = kept_terms(sim, user_key, q.slots)
        else:
            legs, q.slots = refresh_legs(sim, user_key, q.slots)
    else:
        legs = equity_legs(sim, user_key)
    q.next_legs = legs
    q.next_equity = equity = venue.equity() if legs is None else legs.at(prices)
    if q.max_drawdown is not None:
        hwm = max(engine.high_water_mark, equity)
        # the risk check's own arithmetic, one ulp of margin
        if hwm > 0 and (hwm - equity) / hwm >= q.max_drawdown - 1e-12:
            return False
    return True


def aprs_pass(q: Quiet, board: Any) -> bool:
    """No `FundingAprOutside` of `q` holds on the market `board` as the hour's records
    left it (`board.funding_view`: the funding rows of the snapshot a real step would
    give the strategy; `APRS_VIEW` False: that whole snapshot, the reference)."""
    view = board.funding_view if APRS_VIEW else board.snapshot
    return not any(c.outside(view(c.market)) for c in q.funding_aprs)


#: `aprs_pass` reads the board's funding rows only (`MarketBoard.funding_view`); False:
#: the board's whole snapshot (`MarketBoard.snapshot`, which publishes every field)
APRS_VIEW = True


#: a quiet hour's equity terms are read from the account slots the stretch's last terms
#: were read from (`sim.quiet.refresh_legs`: the same terms); False: from every slot
#: (`equity_legs`, the reference the tests compare with)
CARRY_SLOTS = True

#: records a quiet funding hour may write (funding settlement, interest, the settled PnL)
_BOOKED_QUIETLY = frozenset({"funding_rate", "funding", "interest", "settle_pnl"})


def quiet_step(engine: DriftEngine, ts: int, equity: int | None = None) -> None:
    """The step `passes_hour` vouched for: book the hour's payments (the strategy's
    `on_funding` sees each), follow the equity's high-water mark, save the record when
    the step would have (`DriftEngine._persist_quiet`: the same record). No snapshot,
    no risk pass, no `on_tick`. `equity`: the account's equity after the hour, as
    `passes_hour` took it (booking does not move the account); None: asked here."""
    engine.last_ts = ts
    engine.stats.steps += 1
    engine._acted = False
    if QUIET_BOOKING:
        kept = engine._hour_books if KEPT_HOUR else None
        if kept is None or not book_kept(engine, kept):
            book_payments(engine, ts)
    else:
        engine._drain(ts)
    if equity is None:
        equity = engine.venue.equity()
    if equity > engine.high_water_mark:
        engine.high_water_mark = equity
    engine._persist_quiet()


#: a quiet hour's funding and interest payments are booked by `book_payments` (False:
#: by the engine's general `_drain`/`_handle`, the reference the tests compare with)
QUIET_BOOKING = True


def book_payments(engine: DriftEngine, ts: int) -> None:
    """`engine._drain(ts)` for a quiet hour, the same bookings, stats and strategy calls:
    a paper engine's `FundingEvent` and `InterestEvent` (exact types) are booked as
    `_handle` books them (the same kind, amount, no fee, the vault ledger's key for the
    market and time, the market index, no memo, the event's time) through the sink's
    `book_quiet` (`book_entry`, the row held as it is in a backtest's batch) with the
    key made at once, without the `Posting` and the general dispatch; every other event
    (a fill, a liquidation, an order update: `passes_hour` lets none through) and any
    other mode or sink goes to `_handle`."""
    events = engine.venue.poll_events(ts)
    # `book_quiet(kind, amount, key, index, ts)`: `book_entry(kind, amount, 0, key, index,
    # None, ts)` (a paper engine's `VaultLedgerSink`)
    book = getattr(engine.ledger, "book_quiet", None)
    if book is None or engine.mode is not EngineMode.PAPER:
        for event in events:
            engine._handle(event)
        return
    funding, interest = _payment_kinds()
    for event in events:
        kind = type(event)
        if kind is FundingEvent:
            _book_funding(engine, book, funding, event)
        elif kind is InterestEvent and event.market_index == QUOTE_SPOT_INDEX:
            _book_usdc_interest(
                engine.stats, book, interest, event.amount, event.market_index, event.ts
            )
        else:
            engine._handle(event)


def _payment_kinds() -> tuple[tuple[Any, Any], tuple[Any, Any]]:
    """((FUNDING, `funding_key`), (INTEREST, `interest_key`)) of `vaults.entries`: each
    payment's entry kind with its key's function, paired here once. Taken on first use
    and kept (the entries module is imported late, `_entries`; an enum member read
    through its class costs ~0.15 us, an import statement ~2 us, and a quiet hour books
    one or two payments)."""
    global _PAYMENT_KINDS
    if _PAYMENT_KINDS is None:
        entries = _entries()
        _PAYMENT_KINDS = (
            (entries.EntryKind.FUNDING, entries.funding_key),
            (entries.EntryKind.INTEREST, entries.interest_key),
        )
    return _PAYMENT_KINDS


_PAYMENT_KINDS: tuple[tuple[Any, Any], tuple[Any, Any]] | None = None


def _book_funding(engine: DriftEngine, book: Any, funding: Any, event: FundingEvent) -> None:
    """A quiet hour's funding payment booked as `_handle` books its `FundingEvent`: the
    FUNDING entry under the vault ledger's key for the market and time, then the stats
    and the strategy's `on_funding`; a key already booked counts a duplicate (and the
    strategy does not see the payment again). Written once for `book_payments` (the
    venue's event) and `book_kept` (the event the venue makes of a kept record), so the
    two cannot book a payment differently. `book`: the sink's `book_quiet`; `funding`:
    the FUNDING kind and its key (`_payment_kinds`)."""
    kind, key = funding
    index, at, amount = event.market_index, event.ts, event.amount
    if book(kind, amount, key(index or 0, at), index, at):
        engine.stats.funding += amount
        engine.strategy.on_funding(event)
    else:
        engine.stats.duplicates += 1


def _book_usdc_interest(
    stats: Any, book: Any, interest: Any, amount: int, index: int, at: int
) -> None:
    """A quiet hour's USDC interest (`amount`: its value, for USDC the token amount) booked
    as `_handle` books a spot market 0 `InterestEvent`: the INTEREST entry under the vault
    ledger's key for the market and time, counted in the stats, or a duplicate. Written
    once for `book_payments` and `book_kept` (see `_book_funding`); other spot markets'
    interest is valued by the venue and goes to `_handle`. `index`: the payment's market
    index (the caller's test: equal to `QUOTE_SPOT_INDEX`); `interest`: the INTEREST kind
    and its key (`_payment_kinds`)."""
    kind, key = interest
    if book(kind, amount, key(index or 0, at), index, at):
        stats.interest += amount
    else:
        stats.duplicates += 1


#: `books_pass`'s walk over the hour's records also keeps the account's payments
#: (`keep_payments`) and `quiet_step` books those (`book_kept`) instead of polling the
#: venue for the same records again; False: `book_payments` (the reference)
KEPT_HOUR = True


def _paper_venue() -> type:
    """`venues.paper.PaperVenue` (imported on first use: the venue imports the engine's
    modules)."""
    global _PAPER_VENUE
    if _PAPER_VENUE is None:
        from drift_engine.venues.paper import PaperVenue

        _PAPER_VENUE = PaperVenue
    return _PAPER_VENUE


_PAPER_VENUE: type | None = None


def keep_payments(engine: DriftEngine, records: list) -> bool:
    """`books_pass`'s test of the records (each a payment's kind) in the one walk that
    also keeps, on `engine._hour_books`, what the venue's `poll_events` would turn into
    events from them: the account's funding and interest records (`PaperVenue.owns`,
    the venue's own test), in order, with where they stand in the simulator's records
    (`book_kept` books them only if `poll_events` would read exactly these). Nothing
    is kept for a venue that is not exactly a `PaperVenue` (its events are its own)."""
    engine._hour_books = None
    booked = _BOOKED_QUIETLY
    venue = engine.venue
    keep = type(venue) is _paper_venue()
    payments = []
    for rec in records:
        kind = rec.kind
        if kind not in booked:
            return False
        if keep and (kind == "funding" or kind == "interest") and venue.owns(rec):
            payments.append(rec)
    if keep:
        every = venue.sim.records
        end = len(every)
        if not records:
            engine._hour_books = (end, end, payments, None)
        elif every[-1] is records[-1]:  # `records` is the simulator's last ones
            engine._hour_books = (end - len(records), end, payments, records[-1])
    return True


def book_kept(engine: DriftEngine, kept: tuple) -> bool:
    """`book_payments` of the payments `keep_payments` kept (and then forgets), False
    (nothing done) unless the venue's `poll_events` would read exactly the records they
    were kept from (its cursor at their start, no record since, the last the same
    object), the sink books quietly and the engine is a paper one. The venue's cursor
    moves past them as `poll_events` moves it; each payment is booked as `book_payments`
    books the event the venue makes of it: a funding record's `FundingEvent` (the
    venue's record id, time, market, payment), a USDC interest record's amount, any
    other interest record's `InterestEvent` (`PaperVenue.interest_event`) to `_handle`;
    the usual hour's two (USDC interest, then funding) with one call of the sink
    (`HOUR_PAIR`)."""
    engine._hour_books = None
    start, end, payments, last = kept
    venue = engine.venue
    every = venue.sim.records
    book = getattr(engine.ledger, "book_quiet", None)
    if (
        (last is not None and (len(every) != end or every[-1] is not last))
        or book is None
        or engine.mode is not _PAPER
        or not venue.take_records(start, end)  # (last: it moves the cursor)
    ):
        return False
    funding, interest = _payment_kinds()
    if HOUR_PAIR and len(payments) == 2:
        first, second = payments
        if (
            first.kind == "interest"
            and first.market_index == QUOTE_SPOT_INDEX
            and second.kind == "funding"
        ):
            _book_pair(engine, book, funding, interest, first, venue.funding_event(second))
            return True
    for rec in payments:
        if rec.kind == "funding":
            _book_funding(engine, book, funding, venue.funding_event(rec))
        elif rec.market_index == QUOTE_SPOT_INDEX:  # (the venue's value of it: its amount)
            _book_usdc_interest(engine.stats, book, interest, rec.amount, rec.market_index, rec.ts)
        else:
            engine._handle(venue.interest_event(rec))
    return True


#: `book_kept` of the usual quiet hour's two payments (its USDC interest, then its funding
#: payment) books both rows with one `book_quiet_two` call of the sink (`_book_pair`):
#: the sink's state, held write and booking time asked once, not once a row; then the
#: same stats and `on_funding` as `_book_usdc_interest` and `_book_funding`. Anything
#: `book_quiet_two` does not hold goes to those two, in order. False: each payment
#: through its own (the reference)
HOUR_PAIR = True


def _book_pair(
    engine: DriftEngine, book: Any, funding: Any, interest: Any, rec: Any, event: FundingEvent
) -> None:
    """`_book_usdc_interest` of the USDC interest record `rec`, then `_book_funding` of the
    funding `event`, both of one time (`HOUR_PAIR`): through the sink's `book_quiet_two`
    (a `VaultLedgerSink`, exactly) when it holds both (the keys made by the same key
    functions; each new, so each booking answers True), else through those two. The
    event is made before the interest is booked (the reference makes it after: making
    it changes nothing)."""
    kind_i, key_i = interest
    kind_f, key_f = funding
    amount_i, index_i, at_i = rec.amount, rec.market_index, rec.ts
    index, at, amount = event.market_index, event.ts, event.amount
    sink = engine.ledger
    if (
        type(sink) is VaultLedgerSink  # (exactly: a subclass's `book_quiet` is its own)
        and at == at_i
        and sink.book_quiet_two(
            kind_i,
            amount_i,
            key_i(index_i or 0, at_i),
            index_i,
            kind_f,
            amount,
            key_f(index or 0, at),
            index,
            at,
        )
    ):
        stats = engine.stats
        stats.interest += amount_i
        stats.funding += amount
        engine.strategy.on_funding(event)
        return
    _book_usdc_interest(engine.stats, book, interest, amount_i, index_i, at_i)
    _book_funding(engine, book, funding, event)


__all__ = [
    "Quiet",
    "aprs_pass",
    "book_kept",
    "book_payments",
    "books_pass",
    "events_pass",
    "keep_payments",
    "passes_hour",
    "quiet_after_step",
    "quiet_step",
]
