"""Errors of the Drift boundary. Every validation error names the offending field."""

from __future__ import annotations


class DriftEngineError(Exception):
    """Base of all errors raised by drift_engine."""


class OrderValidationError(DriftEngineError, ValueError):
    """An order intent or instruction input broke a rule; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")
