"""The dashboard's FastAPI app: JSON API, SSE stream, and the page (all assets local)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles
from pydantic import AfterValidator
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from drift_engine.dashboard.actions import NO_TOKEN_FIX, refusal
from drift_engine.dashboard.control import (
    ACTIONS,
    Action,
    ControlRejectedError,
    EngineControl,
    UnknownEngineError,
)
from drift_engine.dashboard.hotpath import HotPaths
from drift_engine.dashboard.jsoncache import DataVersion, FreshReads, JsonDump, SnapshotVersion
from drift_engine.dashboard.protect import EdgeGuard, StreamSlots
from drift_engine.dashboard.reader import DashboardReader
from drift_engine.dashboard.schemas import (
    ActivityPageOut,
    ControlOut,
    EngineDetailOut,
    EngineSummaryOut,
    ErrorBody,
    HealthOut,
    LedgerPageOut,
    MarketOut,
    PortfolioOut,
    RunOut,
    SnapshotSeriesOut,
    TimelineOut,
    VaultOut,
)
from drift_engine.storage.engine import sqlite_file

STATIC_DIR = Path(str(resources.files("drift_engine.dashboard").joinpath("static")))

_bearer = HTTPBearer(auto_error=False, description="The dashboard control token from config.")

_ERRORS_404 = {404: {"model": ErrorBody, "description": "Unknown id"}}
_ERRORS_CONTROL = {
    401: {"model": ErrorBody, "description": "Missing or wrong bearer token"},
    404: {"model": ErrorBody, "description": "Unknown engine"},
    409: {
        "model": ErrorBody,
        "description": "The action does not apply to the engine's state (the reason and "
        "what to do instead)",
    },
    503: {"model": ErrorBody, "description": "No engine control attached (read-only)"},
}

Category = Literal["decision", "fill", "funding", "risk", "operator", "state", "error", "capital"]

IdParam = Annotated[str, PathParam(min_length=1, max_length=128)]

#: Live streams (SSE) open at once; past it a new one gets 503 (dashboard/protect.py).
DEFAULT_MAX_STREAMS = 16


def _as_utc(value: datetime) -> datetime:
    """A query time in UTC (naive: taken as UTC); one that UTC cannot hold (year 1 at
    +14:00 is in year 0) is a 422, not an OverflowError."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("time is out of range once converted to UTC") from None


UtcTime = Annotated[datetime, AfterValidator(_as_utc)]

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/static/vendor/swagger-ui/swagger-ui.css">
<link rel="icon" href="data:,">
<title>drift-engine dashboard API</title>
</head>
<body>
<div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script>
</body>
</html>
"""


class _SlotStream(StreamingResponse):
    """A streaming response that gives its stream slot back however the stream ends
    (finished, client gone, server shutting down), even if it never started."""

    def __init__(self, slots: StreamSlots, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = slots

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._slots.release()


class _Notifier:
    """Wakes SSE streams at once after a control action (the stream also polls the DB)."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def register(self) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.add(event)
        return event

    def unregister(self, event: asyncio.Event) -> None:
        self._waiters.discard(event)

    def notify(self) -> None:
        for event in list(self._waiters):
            event.set()


def _json(body: bytes) -> Response:
    return Response(content=body, media_type="application/json")


def create_app(
    reader: DashboardReader,
    *,
    control: EngineControl | None = None,
    token: str | None = None,
    poll_interval: float = 0.5,
    keepalive_seconds: float = 15.0,
    max_streams: int = DEFAULT_MAX_STREAMS,
    hosts: Iterable[str] | None = None,
    collectors: Iterable[Any] = (),
    notifier: Any = None,
) -> FastAPI:
    """Build the app over `reader` (database read side) and optional engine `control`.

    Control endpoints need `Authorization: Bearer <token>`; with no token configured they
    always answer 401, so a dashboard without a token is read-only. `hosts`: the Host
    header values answered (default: set by the server from its bound address; an app
    not served by `server.py` answers any, e.g. under a test client).

    `/metrics` serves the database's engines and vaults as Prometheus metrics (the API's
    values, `metrics.fleet`) plus any `collectors` (a runner serving its dashboard adds
    its heartbeat and RPC metrics); `/healthz` and `/readyz` answer a supervisor.
    `notifier` (`drift_engine.notify.Notifier`) is the fan-out the SSE wake-up joins as a
    sink: control actions, and the engines' notices when they run in this process, wake
    the open streams at once.
    """
    app = FastAPI(
        title="drift-engine dashboard",
        version="1",
        docs_url=None,  # served below with local Swagger UI assets (FastAPI's uses a CDN)
        redoc_url=None,
        description="Engines, vaults, ledger, snapshots and markets of drift-engine. Money is "
        "integer micro-USDC plus an exact decimal string; never a float.",
    )
    from prometheus_client import CollectorRegistry

    from drift_engine.metrics.fleet import FleetCollector
    from drift_engine.notify import CallbackSink, NoticeKind, Notifier

    waker = _Notifier()
    notifier = notifier if notifier is not None else Notifier()
    notifier.add(CallbackSink("dashboard-sse", lambda _notice: waker.notify()))
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(reader))
    for collector in collectors:
        registry.register(collector)
    app.state.metrics_registry = registry
    app.state.reader = reader
    app.state.control = control
    app.state.notifier = notifier
    app.state.closing = False  # set by the server on shutdown: open SSE streams end
    app.state.allowed_hosts = None if hosts is None else frozenset(h.lower() for h in hosts)
    app.state.stream_slots = slots = StreamSlots(max_streams)
    hot: dict[str, Any] = {}  # filled below with the read API's hot paths
    app.add_middleware(HotPaths, routes=hot)
    app.add_middleware(EdgeGuard, state=app.state)  # added last: outermost

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        challenge = {"WWW-Authenticate": "Bearer"}
        if token is None:
            raise HTTPException(
                401,
                f"control is disabled: no dashboard token configured; to enable it, {NO_TOKEN_FIX}",
                headers=challenge,
            )
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise HTTPException(
                401,
                "missing bearer token: enter the dashboard's control token (the value of "
                "DRIFT_ENGINE_DASHBOARD_TOKEN) on the page",
                headers=challenge,
            )
        if not secrets.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(
                401,
                "wrong bearer token: enter the value of DRIFT_ENGINE_DASHBOARD_TOKEN that the "
                "dashboard's process was started with",
                headers=challenge,
            )

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:  # pragma: no cover
        return JSONResponse({"detail": f"internal error: {type(exc).__name__}"}, status_code=500)

    # ---- page ------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # ---- operations --------------------------------------------------------------
    @app.get("/metrics", include_in_schema=False)
    def metrics() -> PlainTextResponse:
        """Prometheus metrics: every engine and vault of the database (the API's values),
        with this process's runner metrics when it runs engines."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return PlainTextResponse(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        """Liveness: the server answers."""
        return JSONResponse({"status": "alive"})

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> JSONResponse:
        """Readiness: the database answers (503 while it does not)."""
        health = reader.health()
        ready = bool(health.db_ok)
        body = {"status": "ready" if ready else "not_ready", "db_ok": health.db_ok}
        return JSONResponse(body, status_code=200 if ready else 503)

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        # local Swagger UI assets, started by static/docs.js: no inline script, so the
        # page's Content-Security-Policy allows only our own files
        return HTMLResponse(DOCS_PAGE)

    # ---- read API --------------------------------------------------------------------
    # /api/engines, /api/health and /api/vaults answer from kept reads refreshed off the
    # request path (jsoncache.py: the freshness rule). The vault list is kept as JSON
    # bytes; health and engines carry liveness (run sessions, leases: wall-clock ages),
    # so what they read from the database is kept (`engines_read`) and each request adds
    # only the wall clock's part (`engines_at`, `health_at`: no query)
    url = reader.db.engine.url
    path = sqlite_file(url)
    if path is not None:
        version: Any = DataVersion(path)
    elif url.get_backend_name() == "postgresql":
        version = SnapshotVersion(reader.db)
    else:  # pragma: no cover - check_url admits only SQLite and PostgreSQL
        version = DataVersion(None)
    fresh = FreshReads(version)
    dump = JsonDump()
    app.state.fresh_reads = fresh

    def _vaults_json() -> bytes:
        return dump(list[VaultOut], reader.list_vaults())

    async def _health_since(t: float) -> HealthOut:
        try:
            await fresh.since("vaults", _vaults_json, t)
            read = await fresh.since("engines-read", reader.engines_read, t)
        except SQLAlchemyError:
            return await run_in_threadpool(reader.health)
        return reader.health_at(read, reader._clock())

    async def health_json() -> bytes:
        try:
            read = await fresh.get("engines-read", reader.engines_read)
        except SQLAlchemyError:
            return dump(HealthOut, await run_in_threadpool(reader.health))
        return dump(HealthOut, reader.health_at(read, reader._clock()))

    async def engines_json() -> bytes:
        read = await fresh.get("engines-read", reader.engines_read)
        return dump(list[EngineSummaryOut], reader.engines_at(read, reader._clock()))

    async def vaults_json() -> bytes:
        return await fresh.get("vaults", _vaults_json)

    # answered by HotPaths (hotpath.py) on a GET of exactly these paths; the routes below
    # give the same answers (OpenAPI, and the fallback when the hot path fails)
    hot.update(
        {"/api/health": health_json, "/api/engines": engines_json, "/api/vaults": vaults_json}
    )

    @app.get("/api/health", response_model=HealthOut, tags=["status"])
    async def health() -> Response:
        """Heartbeat age, engines running, and whether the database answers."""
        return _json(await health_json())

    @app.get("/api/engines", response_model=list[EngineSummaryOut], tags=["engines"])
    async def engines() -> Response:
        """Every engine with its state, mode, strategy and active vault."""
        return _json(await engines_json())

    @app.get(
        "/api/engines/{engine_id}",
        response_model=EngineDetailOut,
        responses=_ERRORS_404,
        tags=["engines"],
    )
    def engine(engine_id: IdParam) -> EngineDetailOut:
        """State, mode, strategy and config, risk limits, positions, margin metrics."""
        found = reader.get_engine(engine_id)
        if found is None:
            raise HTTPException(404, f"no engine with id {engine_id!r}")
        return found

    @app.get("/api/vaults", response_model=list[VaultOut], tags=["vaults"])
    async def vaults() -> Response:
        """Every vault: type, engine, balance, equity, PnL, funding, fees, `active`."""
        return _json(await vaults_json())

    @app.get(
        "/api/vaults/{vault_id}/ledger",
        response_model=LedgerPageOut,
        responses=_ERRORS_404,
        tags=["vaults"],
    )
    def ledger(
        vault_id: IdParam,
        limit: Annotated[int, Query(ge=1, le=500, description="Entries per page.")] = 50,
        # absent means "from the newest"; not declared nullable: a query value is never null
        before: Annotated[
            int,
            Query(ge=1, le=2**62, description="Only entries with an id below this (paging)."),
        ] = None,  # type: ignore[assignment]
    ) -> LedgerPageOut:
        """Ledger entries, newest first; page with `next_before`."""
        page = reader.ledger(vault_id, limit=limit, before=before)
        if page is None:
            raise HTTPException(404, f"no vault with id {vault_id!r}")
        return page

    @app.get(
        "/api/vaults/{vault_id}/snapshots",
        response_model=SnapshotSeriesOut,
        responses=_ERRORS_404,
        tags=["vaults"],
    )
    def snapshots(
        vault_id: IdParam,
        since: Annotated[
            UtcTime,
            Query(description="Only snapshots at or after this time (ISO 8601; naive = UTC)."),
        ] = None,  # type: ignore[assignment]
        limit: Annotated[int, Query(ge=1, le=10_000, description="Most recent N points.")] = 2000,
    ) -> SnapshotSeriesOut:
        """Equity, cumulative funding and health over time, oldest first."""
        series = reader.snapshots(vault_id, since=since, limit=limit)
        if series is None:
            raise HTTPException(404, f"no vault with id {vault_id!r}")
        return series

    @app.get(
        "/api/engines/{engine_id}/activity",
        response_model=ActivityPageOut,
        responses=_ERRORS_404,
        tags=["engines"],
    )
    def engine_activity(
        engine_id: IdParam,
        limit: Annotated[int, Query(ge=1, le=500, description="Entries, newest first.")] = 100,
        category: Annotated[
            list[Category],
            Query(description="Only these categories (default: all)."),
        ] = None,  # type: ignore[assignment]
    ) -> ActivityPageOut:
        """Strategy decisions with their reasons, fills, funding payments, risk rejections,
        operator commands, state changes and capital moves, newest first."""
        page = reader.activity(engine_id, limit=limit, categories=category or None)
        if page is None:
            raise HTTPException(404, f"no engine with id {engine_id!r}")
        return page

    @app.get(
        "/api/engines/{engine_id}/timeline",
        response_model=TimelineOut,
        responses=_ERRORS_404,
        tags=["engines"],
    )
    def engine_timeline(engine_id: IdParam) -> TimelineOut:
        """What the equity chart marks: entries, exits and halts, and in-market periods."""
        found = reader.timeline(engine_id)
        if found is None:
            raise HTTPException(404, f"no engine with id {engine_id!r}")
        return found

    @app.get("/api/portfolio", response_model=PortfolioOut, tags=["vaults"])
    def portfolio() -> PortfolioOut:
        """Each engine's booking vault, their total, the treasury and unassigned vaults."""
        return reader.portfolio()

    @app.get("/api/run", response_model=RunOut, tags=["status"])
    def run_info() -> RunOut:
        """The banner: simulated time, speed, data sources (real or synthetic), whether the
        replay finished, and whether this dashboard accepts control actions."""
        info = reader.run_info()
        if control is None:
            info.controls_reason = "read-only dashboard: no engine control attached"
        elif token is None:
            info.controls_reason = f"read-only: no control token; {NO_TOKEN_FIX}"
        else:
            info.controls_enabled = True
            info.controls_reason = "controls on: actions need the dashboard token"
        return info

    @app.get("/api/markets", response_model=list[MarketOut], tags=["markets"])
    def markets() -> list[MarketOut]:
        """Oracle prices, funding rates and funding APRs."""
        return reader.markets()

    # ---- control ---------------------------------------------------------------------
    def _register_control(action: Action) -> None:
        def act(engine_id: IdParam) -> ControlOut:
            if control is None:
                raise HTTPException(503, "read-only dashboard: no engine control attached")
            engine = reader.engine_summary(engine_id)
            if engine is None:
                raise HTTPException(404, f"no engine with id {engine_id!r}")
            why = refusal(action, engine.state, engine.holds_positions)
            if why is not None:
                raise HTTPException(409, f"cannot {action} {engine.name}: {why}")
            try:
                state = control.control(engine_id, action)
            except UnknownEngineError as exc:
                raise HTTPException(404, f"no engine with id {engine_id!r}") from exc
            except ControlRejectedError as exc:
                raise HTTPException(409, f"cannot {action} {engine.name}: {exc}") from exc
            fresh.clear()  # the action's effect shows on the next read
            notifier.send(NoticeKind.CONTROL, engine_id, f"{engine_id}: {action} ({state})")
            pending = bool(getattr(control, "pending", False))
            if not pending:
                message = f"{action} applied to {engine.name}: now {state}"
            elif engine.process == "running":
                message = f"{action} queued for {engine.name}: its process applies it next tick"
            else:
                message = (
                    f"{action} queued for {engine.name}, but no process runs it "
                    f"({engine.liveness}): it applies when `drift-engine run` next runs it"
                )
            return ControlOut(
                engine_id=engine_id, action=action, state=state, pending=pending, message=message
            )

        act.__name__ = f"{action}_engine"
        act.__doc__ = f"{action.capitalize()} the engine (needs the bearer token)."
        app.post(
            f"/api/engines/{{engine_id}}/{action}",
            response_model=ControlOut,
            responses=_ERRORS_CONTROL,
            tags=["control"],
            name=f"{action}_engine",
            dependencies=[Depends(require_token)],
        )(act)

    for action in ACTIONS:
        _register_control(action)

    # ---- live updates ----------------------------------------------------------------
    @app.get(
        "/api/stream",
        tags=["status"],
        response_class=StreamingResponse,
        responses={
            200: {"content": {"text/event-stream": {}}, "description": "SSE stream"},
            503: {"model": ErrorBody, "description": "Too many streams open; retry later"},
        },
    )
    async def stream(request: Request) -> StreamingResponse:
        """Server-Sent Events: `heartbeat` on each new heartbeat row, `change` when engines
        or vaults change otherwise (e.g. after a control action). Data is the health JSON.
        At most `max_streams` are open at once; past that: 503 with Retry-After."""
        if not slots.take():
            raise HTTPException(
                503,
                f"too many live streams open ({slots.limit}); close a dashboard tab or retry",
                headers={"Retry-After": "5"},
            )

        async def events() -> AsyncIterator[str]:
            wake = waker.register()
            last_beat: object = None
            last_marker: object = None
            idle = 0.0
            try:
                yield "retry: 2000\n\n"
                while not app.state.closing and not await request.is_disconnected():
                    asked = time.monotonic()
                    beat, marker = await run_in_threadpool(reader.change_marker)
                    if beat != last_beat or marker != last_marker:
                        kind = "heartbeat" if beat != last_beat and beat is not None else "change"
                        last_beat, last_marker = beat, marker
                        # announced only once the hot endpoints' kept reads include the
                        # change (a refresh started after it was seen): the page asks
                        # them next
                        seen = await _health_since(asked)
                        payload = seen.model_dump(mode="json")
                        data = json.dumps(payload, separators=(",", ":"))
                        yield f"event: {kind}\ndata: {data}\n\n"
                        idle = 0.0
                    elif idle >= keepalive_seconds:
                        yield ": keepalive\n\n"
                        idle = 0.0
                    wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.wait(), timeout=poll_interval)
                    idle += poll_interval
            finally:
                waker.unregister(wake)

        return _SlotStream(
            slots,
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return app
