"""`bulk.UTC_TEXT`: a UTC datetime bound to a `UTCDateTime` column on SQLite goes to the
driver as its `isoformat` text (`bulk._utc_text`). The text must be what the column's
own bind processors write (`UTCDateTime` then SQLite's DATETIME) for every datetime,
every zone, and what they refuse must be refused the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine

from drift_engine.storage.models import LedgerEntryRow
from drift_engine.vaults import bulk

DIALECT = create_engine("sqlite://").dialect
TYPE = LedgerEntryRow.__table__.c["occurred_at"].type


class _Sub(datetime):
    pass


ZONES = st.one_of(
    st.just(UTC),
    st.just(timezone(timedelta(0))),  # +00:00 but not UTC itself
    st.integers(-23 * 60, 23 * 60).map(lambda m: timezone(timedelta(minutes=m))),
    st.none(),
)
VALUES = st.one_of(
    st.datetimes(timezones=ZONES, allow_imaginary=False),
    st.datetimes(timezones=st.just(UTC)).map(
        lambda d: _Sub(*d.timetuple()[:6], d.microsecond, tzinfo=UTC)
    ),
    st.dates(),
    st.none(),
    st.integers(),
)


def _outcome(process, value):  # type: ignore[no-untyped-def]
    try:
        return ("ok", process(value))
    except Exception as e:  # noqa: BLE001 (the same refusal either way)
        return ("raised", type(e), str(e))


@settings(max_examples=500, deadline=None)
@given(VALUES)
def test_utc_text_is_the_bind_processors_text(value) -> None:  # type: ignore[no-untyped-def]
    reference = TYPE.dialect_impl(DIALECT).bind_processor(DIALECT)
    fast = bulk._bind_processor(TYPE, DIALECT)
    assert fast is not reference  # the wrapped one
    assert _outcome(fast, value) == _outcome(reference, value)


def test_every_utc_datetime_column_of_the_flush_is_wrapped() -> None:
    for insert in (bulk._LEDGER_INSERT, bulk._SNAPSHOT_INSERT):
        _, _, processors = insert._compile(DIALECT)
        for column, process in zip(insert.columns, processors, strict=True):
            if column.endswith("_at"):
                assert process.__qualname__ == "_utc_text.<locals>.text", column
    # a year before 1000 and the microseconds 0: still the processors' text
    for value in (datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)):
        assert bulk._bind_processor(TYPE, DIALECT)(value) == TYPE.dialect_impl(
            DIALECT
        ).bind_processor(DIALECT)(value)
