"""Wiring for the entry points: settings -> database -> reader -> app -> server.

The dashboard only reads: it opens an existing database (`create=False`) and says so
when there is none, rather than leaving a new empty one behind.
"""

from __future__ import annotations

import contextlib
import socket
from typing import Any

from fastapi import FastAPI

from drift_engine.dashboard.control import EngineControl
from drift_engine.dashboard.reader import MarketFeed
from drift_engine.dashboard.server import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DashboardServer,
    bind_socket,
    check_bind,
    serve,
)


class ServeError(RuntimeError):
    """The dashboard cannot be served as asked (bad bind, bad config)."""


def resolve_token(settings: Any) -> str | None:
    """The control token from config (`Settings.dashboard_token`), or None when unset."""
    value = getattr(settings, "dashboard_token", None)
    if value is not None and hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    return str(value) if value else None


def build_app(
    database_url: str | None = None,
    *,
    control: EngineControl | None = None,
    settings: Any = None,
    markets: MarketFeed | None = None,
    **app_options: Any,
) -> tuple[FastAPI, str | None]:
    """The app over the configured (or given) database, and the token it enforces.

    `control` defaults to queueing commands in the engine store (applied by the process
    running the engines); `markets` is a live market feed when the engines run in this
    process (e.g. a `LatestMarkets` the heartbeat publishes to)."""
    from drift_engine.config import ConfigError, load_settings
    from drift_engine.dashboard.app import create_app
    from drift_engine.dashboard.reader import DashboardReader
    from drift_engine.storage import Database

    try:
        settings = settings or load_settings()
    except ConfigError as exc:
        raise ServeError(str(exc)) from None
    url = database_url or settings.resolved_database_url
    token = resolve_token(settings)
    database = Database.open(url, busy_timeout_ms=settings.sqlite_busy_timeout_ms, create=False)
    if control is None:
        from drift_engine.dashboard.control import QueuedEngineControl
        from drift_engine.engine.store import SqlEngineStore

        control = QueuedEngineControl(SqlEngineStore(database))
    reader = DashboardReader(database, markets=markets)
    app = create_app(reader, control=control, token=token, **app_options)
    return app, token


def _settings(settings: Any) -> Any:
    from drift_engine.config import ConfigError, load_settings

    try:
        return settings or load_settings()
    except ConfigError as exc:
        raise ServeError(str(exc)) from None


def reserve(host: str, port: int, settings: Any = None) -> socket.socket:
    """Take `host`:`port` now (ServeError: not a loopback address and no token; OSError
    (`server.PortInUseError`): taken), so a caller can refuse before it writes anything."""
    try:
        check_bind(host, resolve_token(_settings(settings)))
    except ValueError as exc:
        raise ServeError(str(exc)) from None
    return bind_socket(host, port)


def serve_in_background(
    sock: socket.socket,
    host: str,
    database_url: str | None = None,
    *,
    settings: Any = None,
    control: EngineControl | None = None,
    markets: MarketFeed | None = None,
    **app_options: Any,
) -> DashboardServer:
    """The dashboard on a socket from `reserve()`, in a background thread, started;
    `app_options` reach `create_app` (e.g. a runner's metrics `collectors`, `notifier`)."""
    settings = _settings(settings)
    app, token = build_app(
        database_url, control=control, settings=settings, markets=markets, **app_options
    )
    return DashboardServer(app, host=host, token=token, sock=sock).start()


def run_dashboard(
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    database_url: str | None = None,
    control: EngineControl | None = None,
    markets: MarketFeed | None = None,
    note: str | None = None,
) -> None:
    """Serve until interrupted (blocking; fine in a background thread too). Refuses a
    non-loopback bind without a token."""
    from drift_engine.config import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise ServeError(str(exc)) from None
    try:
        check_bind(host, resolve_token(settings))
    except ValueError as exc:
        raise ServeError(str(exc)) from None
    app, token = build_app(database_url, control=control, settings=settings, markets=markets)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: an interactive stop
        # a taken port: server.PortInUseError; `note` is printed once the port is bound
        serve(app, host=host, port=port, token=token, note=note)
