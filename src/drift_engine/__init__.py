"""drift-engine: trading engines on Drift Protocol v2 with paper and live vaults."""

__version__ = "0.1.0"
