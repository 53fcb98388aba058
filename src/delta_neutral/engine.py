"""`DeltaNeutralEngine`: the name users know for "a DriftEngine running DeltaNeutralStrategy".

A thin subclass of `drift_engine.engine.DriftEngine`; everything (risk limits, modes,
states, ledger booking, persistence) is the DriftEngine's.
"""

from __future__ import annotations

from typing import Any

from drift_engine.engine import DriftEngine
from drift_engine.strategies import DeltaNeutralConfig, DeltaNeutralStrategy


class DeltaNeutralEngine(DriftEngine):
    """A DriftEngine whose strategy is `DeltaNeutralStrategy(config)`."""

    def __init__(
        self,
        engine_id: str,
        venue: Any,
        ledger: Any,
        board: Any,
        config: DeltaNeutralConfig | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(engine_id, DeltaNeutralStrategy(config), venue, ledger, board, **kwargs)

    @classmethod
    def paper(
        cls,
        stack: Any,
        engine_id: str,
        capital: int,
        config: DeltaNeutralConfig | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> DriftEngine:
        """A paper DeltaNeutral engine in a `drift_engine.engine.paper.PaperStack`."""
        engine = stack.add_engine(engine_id, DeltaNeutralStrategy(config), capital, **kwargs)
        engine.__class__ = cls
        return engine


__all__ = ["DeltaNeutralEngine"]
