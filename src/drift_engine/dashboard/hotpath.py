"""The hot read endpoints answered without the framework's per-request machinery.

Every open page asks `/api/health`, `/api/engines` and `/api/vaults` on each heartbeat,
and their answers come from kept reads (jsoncache.py) in ~0.1 ms; FastAPI's routing,
dependency solving and response objects cost several times that per request. So a GET of
exactly one of these paths is answered here, inside `EdgeGuard` (the Host check and
security headers apply as to any answer), with the same bytes and headers the FastAPI
route gives. The routes stay (OpenAPI, and every other method or a path with a trailing
slash goes to them), and anything that fails here is handed to the route, whose error
handling answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from drift_engine.dashboard.protect import ASGIApp, Receive, Scope, Send

JSON = b"application/json"


class HotPaths:
    """ASGI middleware: `routes` maps a path to what makes its JSON body."""

    def __init__(self, app: ASGIApp, routes: Mapping[str, Callable[[], Awaitable[bytes]]]):
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            make = self.routes.get(scope["path"])
            if make is not None:
                try:
                    body = await make()
                except Exception:  # the route answers, with its own error handling
                    await self.app(scope, receive, send)
                    return
                headers = [(b"content-length", b"%d" % len(body)), (b"content-type", JSON)]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


__all__ = ["HotPaths"]
