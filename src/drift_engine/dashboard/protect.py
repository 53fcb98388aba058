"""The dashboard's HTTP edge: which Host it answers, the headers every answer carries,
and how many live streams it keeps open.

- Host check (DNS rebinding): a page on `evil.example` whose name is made to resolve to
  127.0.0.1 can make the browser send requests to the dashboard, with `Host:
  evil.example:8000`. The dashboard answers only the names it is served under: the
  loopback names (127.0.0.1, localhost, [::1]) and the configured host, each with the
  bound port. The server sets the allowed set once it knows its port (server.py); an app
  made without a server (tests) checks nothing unless given one.
- Security headers on every response: a Content-Security-Policy that allows only the
  dashboard's own (vendored) scripts and styles and no framing, `nosniff`, `DENY`
  framing, no referrer, same-origin opener and resources.
- Live streams (SSE) are capped: each holds a connection and polls the database, so
  past `max_streams` a new one is refused with 503 and `Retry-After`.

A pure ASGI middleware, so the SSE stream passes through unbuffered.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
WILDCARD_HOSTS = ("0.0.0.0", "::", "[::]", "")

#: The page: its own scripts and styles (static/, vendored uPlot), its own API, no frames.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
#: /docs: Swagger UI styles its widgets inline; its scripts are still only our own files.
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)


def _host_literal(host: str) -> str:
    """`::1` -> `[::1]` (how a Host header writes an IPv6 address); names unchanged."""
    bare = host.strip().strip("[]")
    try:
        if ipaddress.ip_address(bare).version == 6:
            return f"[{bare}]"
    except ValueError:
        pass
    return host.strip().lower().rstrip(".")


def allowed_hosts(host: str, port: int, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host header values the dashboard answers when bound to `host`:`port`."""
    names = {*LOOPBACK_NAMES, _host_literal(host), *(_host_literal(e) for e in extra)}
    if host.strip() in WILDCARD_HOSTS:  # every interface: this machine's own names too
        names |= {_host_literal(socket.gethostname()), _host_literal(socket.getfqdn())}
    names -= {"", "[::]", "0.0.0.0"}
    values = {f"{name}:{port}" for name in names}
    if port == 80:  # a browser leaves the default port out
        values |= names
    return frozenset(v.lower() for v in values)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return None


async def _refuse(send: Send, status: int, detail: str, headers: dict[str, str]) -> None:
    body = json.dumps({"detail": detail}).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.encode(), v.encode()) for k, v in headers.items()]
    raw += list(SECURITY_HEADERS) + [(b"content-security-policy", b"default-src 'none'")]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class EdgeGuard:
    """ASGI middleware: Host check, then security headers on whatever the app answers.

    `state` is the FastAPI app's `state`; its `allowed_hosts` (a set, or None for no
    check) is read per request, so the server can set it after binding."""

    def __init__(self, app: ASGIApp, state: Any) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        allowed = getattr(self.state, "allowed_hosts", None)
        if allowed is not None:
            host = (_header(scope, b"host") or "").strip().lower()
            if host not in allowed:
                await _refuse(
                    send,
                    421,
                    f"this dashboard does not answer for host {host or '(none)'!r}; open it "
                    "at the address it printed",
                    {},
                )
                return
        csp = (DOCS_CSP if scope.get("path") == "/docs" else PAGE_CSP).encode()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                for key, value in (*SECURITY_HEADERS, (b"content-security-policy", csp)):
                    if key not in present:
                        headers.append((key, value))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class StreamSlots:
    """At most `limit` live streams; `take()` is False when all are in use."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("max_streams must be at least 1")
        self.limit = limit
        self.open = 0

    def take(self) -> bool:
        if self.open >= self.limit:
            return False
        self.open += 1
        return True

    def release(self) -> None:
        self.open = max(0, self.open - 1)


__all__ = [
    "DOCS_CSP",
    "PAGE_CSP",
    "SECURITY_HEADERS",
    "EdgeGuard",
    "StreamSlots",
    "allowed_hosts",
]
