"""Compatibility package for code written against the original delta-neutral system.

New code imports `drift_engine`. Modules here re-export the new names and warn
(`DeprecationWarning`) when imported; see `delta_neutral.drift_order_builder`.
"""

from delta_neutral.engine import DeltaNeutralEngine  # noqa: E402

__all__ = ["DeltaNeutralEngine"]
