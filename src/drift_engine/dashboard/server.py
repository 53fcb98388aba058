"""Serving the dashboard: loopback by default, a token required for anything else.

`serve()` blocks (for `run_dashboard.py` / `drift-engine dashboard`); `DashboardServer`
runs it in a background thread (for `drift-engine demo`, tests and the load bench) on a
socket bound before the thread starts, so the URL is known and port 0 works. A caller
that must know the port is free before doing anything else (`drift-engine run` checks it
before it writes to the database) binds it first with `bind_socket()` and hands the
socket over. Once bound, the app answers only Host headers naming that address
(dashboard/protect.py: DNS rebinding).
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from drift_engine.dashboard.protect import allowed_hosts
from drift_engine.heap import freeze_start_up

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
#: the GIL switch interval of a process that only serves the dashboard (`serve`)
SWITCH_INTERVAL_S = 0.0005


class UnsafeBindError(ValueError):
    """A non-loopback bind was asked for without a control token configured."""


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and `localhost`; every other name or address is not."""
    if host.strip().lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to expose the dashboard beyond this machine unless a token protects control."""
    if not is_loopback(host) and not token:
        raise UnsafeBindError(
            f"refusing to bind {host}: it is not a loopback address and no dashboard token is "
            "configured (set one, or bind 127.0.0.1)"
        )


def url_for(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return f"http://{shown}:{port}/"


class PortInUseError(OSError):
    """The dashboard's address cannot be bound (taken, not local, not permitted)."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket on `host`:`port` (0: any free port); PortInUseError names the
    address when it cannot be had."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted connections only
    # when the listening socket's proto says TCP, and without it each small response
    # waits ~40 ms for the client's delayed ACK (Nagle's algorithm)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise PortInUseError(
            exc.errno, f"cannot serve the dashboard on {host}:{port}: {reason}"
        ) from None
    sock.set_inheritable(True)
    return sock


def _answer_only_bound_address(app: FastAPI, host: str, port: int) -> None:
    if getattr(app.state, "allowed_hosts", None) is None:
        app.state.allowed_hosts = allowed_hosts(host, port)


def _config(app: FastAPI, host: str, port: int, log_level: str) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        timeout_graceful_shutdown=2,  # SSE streams never end by themselves
        lifespan="off",
    )


def serve(
    app: FastAPI,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    token: str | None = None,
    log_level: str = "warning",
    announce: bool = True,
    note: str | None = None,
) -> None:
    """Serve `app` until interrupted. Raises UnsafeBindError before binding anything."""
    check_bind(host, token)
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    _answer_only_bound_address(app, host, actual_port)
    if announce:
        print(f"drift-engine dashboard: {url_for(host, actual_port)}", flush=True)
        if note:
            print(note, flush=True)
    server = uvicorn.Server(_config(app, host, actual_port, log_level))
    # everything imported and built so far (FastAPI, pydantic, SQLAlchemy: ~10^6 objects)
    # lives as long as the process; out of the collector's generations, a full collection
    # no longer walks it (a 100-200 ms pause of the event loop otherwise, ADR-0020)
    freeze_start_up()
    # a refresh (jsoncache.py) holds the GIL in a worker thread for tens of ms; each time
    # the event loop gives it up (a socket call) it waits up to the switch interval to
    # get it back, several times per request: 0.5 ms instead of 5 ms bounds that wait
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()


class DashboardServer:
    """The dashboard in a background thread: `with DashboardServer(app) as srv: srv.url`."""

    def __init__(
        self,
        app: FastAPI,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        token: str | None = None,
        log_level: str = "warning",
        sock: socket.socket | None = None,
    ) -> None:
        check_bind(host, token)
        self._sock = sock if sock is not None else bind_socket(host, port)
        self._app = app
        self.host = host
        self.port: int = self._sock.getsockname()[1]
        _answer_only_bound_address(app, host, self.port)
        self.url = url_for(host, self.port).rstrip("/")
        self._server = uvicorn.Server(_config(app, host, self.port, log_level))
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [self._sock]},
            daemon=True,
            name="drift-engine-dashboard",
        )

    def start(self, timeout: float = 10.0) -> DashboardServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("dashboard server did not start")
            time.sleep(0.02)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._app.state.closing = True  # end SSE streams, so shutdown need not time out
        self._server.should_exit = True
        self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
