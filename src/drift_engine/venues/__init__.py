"""Venues: where engines trade.

PaperVenue trades on the simulator; LiveVenue (venues/live.py) on a Drift sub-account.
"""

from drift_engine.venues.paper import PaperVenue, SimulatorFeed

__all__ = ["PaperVenue", "SimulatorFeed"]
