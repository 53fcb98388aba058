"""The headless runner's HTTP server: `/metrics`, `/healthz`, `/readyz` (`run --metrics-port`).

A small threaded WSGI server (prometheus_client's exposition app for `/metrics`) on a
socket bound before anything is written, like the dashboard's (port 0: any free port,
announced). For a supervisor:

* `/healthz` — 200 while the heartbeat keeps ticking; 503 once the last tick is older
  than `stall_after_s` wall seconds (a wedged runner: restart it);
* `/readyz` — 200 once the runner holds its engines and has ticked, 503 before that and
  after it lost a lease or stopped.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

DEFAULT_HOST = "127.0.0.1"


class MetricsBindError(OSError):
    """The metrics address cannot be bound."""


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise MetricsBindError(
            exc.errno, f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
        ) from None
    return sock


class RunnerStatus:
    """What the health endpoints say: set by the runner as it goes."""

    def __init__(self, *, stall_after_s: float = 120.0, clock: Callable[[], float] = time.time):
        self.stall_after_s = stall_after_s
        self.clock = clock
        self.ready = False
        self.reason = "starting"
        self.last_tick_wall: Callable[[], float | None] = lambda: None

    def health(self) -> tuple[bool, dict[str, Any]]:
        last = self.last_tick_wall()
        if last is None:
            return True, {"status": "alive", "last_tick_age_s": None}
        age = self.clock() - last
        alive = age <= self.stall_after_s
        body = {"status": "alive" if alive else "stalled", "last_tick_age_s": round(age, 3)}
        return alive, body

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        ok = self.ready and self.last_tick_wall() is not None
        return ok, {"status": "ready" if ok else "not_ready", "reason": self.reason}


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib's name
        pass


def _app(registry: Any, status: RunnerStatus) -> Callable[..., Iterable[bytes]]:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path in ("/healthz", "/readyz"):
            ok, body = status.health() if path == "/healthz" else status.readiness()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "application/json")],
            )
            return [json.dumps(body).encode()]
        if path == "/metrics":
            return metrics(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /metrics, /healthz, /readyz\n"]

    return app


class MetricsServer:
    """Serves `registry` on a bound socket in a daemon thread."""

    def __init__(self, sock: socket.socket, host: str, registry: Any, status: RunnerStatus):
        self.host = host
        self.port = sock.getsockname()[1]
        self.status = status
        shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
        self.url = f"http://{shown}:{self.port}"
        server_class: type[WSGIServer] = ThreadingWSGIServer
        if ":" in host:
            server_class = type("V6", (ThreadingWSGIServer,), {"address_family": socket.AF_INET6})
        self._server = server_class((host.strip("[]"), self.port), _Quiet, bind_and_activate=False)
        self._server.socket.close()
        self._server.socket = sock
        self._server.server_address = sock.getsockname()[:2]
        self._server.server_name = host.strip("[]")
        self._server.server_port = self.port
        self._server.setup_environ()
        self._server.set_app(_app(registry, status))
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="drift-engine-metrics", daemon=True
        )

    def start(self) -> MetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


__all__ = ["DEFAULT_HOST", "MetricsBindError", "MetricsServer", "RunnerStatus", "bind"]
