"""Venues: where engines trade. PaperVenue (the simulator) now; LiveVenue later."""

from drift_engine.venues.paper import PaperVenue, SimulatorFeed

__all__ = ["PaperVenue", "SimulatorFeed"]
