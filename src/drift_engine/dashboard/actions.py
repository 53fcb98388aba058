"""Which control actions make sense for an engine in its state, and why not otherwise.

One table for the page (buttons enabled or disabled, with the reason as their
description) and the API (a 409 that says why and what to do instead), so the two never
disagree. The engine's own state machine stays the judge of what actually happens when
the runner applies a queued action; this only refuses actions that could not do
anything useful, before they are queued.
"""

from __future__ import annotations

from drift_engine.dashboard.control import ACTIONS, Action

#: The fix shown with a refusal because no token is configured.
NO_TOKEN_FIX = (
    "set the DRIFT_ENGINE_DASHBOARD_TOKEN environment variable for the process serving "
    "the dashboard and restart it"
)


def refusal(action: Action, state: str, holds_positions: bool) -> str | None:
    """Why `action` is refused for an engine in `state` (None: allowed). The text names
    the state and says what to do instead."""
    state = state.upper()
    if action == "start" and state in ("RUNNING", "REDUCING"):
        return f"already {state}: nothing to start"
    if action == "pause" and state not in ("RUNNING", "REDUCING"):
        fix = "start it first" if state in ("STOPPED", "PAUSED") else "start (resume) it first"
        return f"it is {state}: only a running engine can be paused; {fix}"
    if action == "stop" and state == "STOPPED":
        return "already STOPPED"
    if action == "kill" and state in ("STOPPED", "HALTED") and not holds_positions:
        return f"it is {state} and flat: there is nothing to cancel or close"
    return None


def allowed_actions(state: str, holds_positions: bool) -> dict[str, str | None]:
    """action -> None when allowed, else the reason it is not."""
    return {a: refusal(a, state, holds_positions) for a in ACTIONS}


__all__ = ["NO_TOKEN_FIX", "allowed_actions", "refusal"]
