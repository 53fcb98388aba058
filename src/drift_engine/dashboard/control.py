"""What the dashboard needs from the engine side to act on engines.

The dashboard never reaches into an engine object itself: the process that owns the
engines (the `demo`, `run`, or a test) hands the app an `EngineControl`. Without one, the
control endpoints answer 503 (read-only dashboard).
"""

from __future__ import annotations

from typing import Any, Literal, Protocol, runtime_checkable

Action = Literal["start", "pause", "stop", "kill"]
ACTIONS: tuple[Action, ...] = ("start", "pause", "stop", "kill")


class UnknownEngineError(LookupError):
    """No engine with that id."""


class ControlRejectedError(RuntimeError):
    """The engine refused the action in its current state (e.g. start a HALTED engine)."""


@runtime_checkable
class EngineControl(Protocol):
    """Start/pause/stop/kill one engine by id; returns its state name afterwards.

    Implementations raise `UnknownEngineError` for an unknown id and
    `ControlRejectedError` for an action the state machine refuses. `kill` is the kill
    switch: cancel open orders and flatten, then HALT. The resulting state must be
    persisted (the dashboard's read side only sees the database).
    """

    def control(self, engine_id: str, action: Action) -> str: ...


class CommandStore(Protocol):
    """The engine store's operator-command queue (`engine.store.SqlEngineStore`)."""

    def load(self, engine_id: str) -> Any: ...

    def request(self, engine_id: str, command: str, *, source: str = ...) -> bool: ...


class QueuedEngineControl:
    """Control through the database: the action is appended to the engine's command queue
    (`SqlEngineStore.request`, `engine.commands`) and the runner holding the engine — paper
    or live, this process or another — applies it at the start of its next tick. Queued
    actions never replace each other (a kill stays a kill)."""

    pending = True

    def __init__(self, store: CommandStore) -> None:
        self.store = store

    def control(self, engine_id: str, action: Action) -> str:
        if action not in ACTIONS:  # pragma: no cover - the API only routes the four
            raise ControlRejectedError(f"unknown action {action!r}")
        record = self.store.load(engine_id)
        if record is None or not self.store.request(engine_id, action, source="dashboard"):
            raise UnknownEngineError(engine_id)
        return str(record.state).upper()
