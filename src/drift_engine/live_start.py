"""Moved to `drift_engine.live.start` (ADR 0021: one home for the live path).

This name stays importable and is the same module object."""

import sys

from drift_engine.live import start as _moved

sys.modules[__name__] = _moved
