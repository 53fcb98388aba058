"""Venues: where engines trade. PaperVenue (the simulator) and LiveVenue (venues/live.py, a Drift sub-account)."""

from drift_engine.venues.paper import PaperVenue, SimulatorFeed

__all__ = ["PaperVenue", "SimulatorFeed"]
