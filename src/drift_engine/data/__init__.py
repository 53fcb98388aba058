"""Market data: real bundled history, Drift file import, a local store, synthetic and live sources.

Every source implements `MarketDataSource.events(markets, start, end)` and yields
`OracleTick`, `Candle`, `FundingRecord` and `SpotRateRecord` in time order; see
`drift_engine.data.source` for how to consume them with a clock. What a run replays, and
which part of it is real, is decided in one place: `drift_engine.data.pipeline`
(`open_market_data`: bundled real hourly records by default, the store, synthetic, or a
file). Drift's published formats (S3 archive CSVs, Data API pages) are read by
`drift_engine.data.readers` / `published`.
"""

from drift_engine.data.bundled import BundledSource
from drift_engine.data.csvformat import DataFileError
from drift_engine.data.importer import DriftHistoricalImporter, import_paths
from drift_engine.data.models import (
    Candle,
    FundingRecord,
    MarketEvent,
    OracleTick,
    SpotRateRecord,
    event_sort_key,
    merge_events,
)
from drift_engine.data.rates import ConstantSpotRates
from drift_engine.data.source import MarketDataSource, replay
from drift_engine.data.store import LocalStore, StoreEntry, StoreSource
from drift_engine.data.synthetic import SyntheticMarket

__all__ = [
    "BundledSource",
    "Candle",
    "ConstantSpotRates",
    "DataFileError",
    "DriftHistoricalImporter",
    "FundingRecord",
    "LocalStore",
    "MarketDataSource",
    "MarketEvent",
    "OracleTick",
    "SpotRateRecord",
    "StoreEntry",
    "StoreSource",
    "SyntheticMarket",
    "event_sort_key",
    "import_paths",
    "merge_events",
    "replay",
]
