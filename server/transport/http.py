"""The HTTP port: routes to the Connect applications and serves /healthz, /readyz, /metrics.

Also enforces what must be decided before a body is read: the size limit (by
Content-Length), the supported content encodings, and the public deployment's `/api` prefix.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from server.transport.connect import parse_query, request_query

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SUPPORTED_ENCODINGS = ("", "identity", "gzip")
_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _connect_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()
    await _send(send, status, _JSON, body)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


class HttpRouter:
    def __init__(
        self,
        connect_apps: Sequence[tuple[str, ASGIApp]],
        *,
        readiness: Callable[[], Awaitable[tuple[bool, str]]],
        metrics: Callable[[], tuple[bytes, str]],
        max_request_bytes: int,
    ) -> None:
        # (path prefix such as "/gitpod.v1.PrebuildService/", app)
        self._apps = [(prefix.rstrip("/") + "/", app) for prefix, app in connect_apps]
        self._readiness = readiness
        self._metrics = metrics
        self._max_request_bytes = max_request_bytes
        self.draining = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if path == "/healthz":
            await _send(send, 200, _TEXT, b"ok\n")
            return
        if path == "/readyz":
            ready, detail = await self._readiness()
            if self.draining:
                ready, detail = False, "shutting down"
            await _send(send, 200 if ready else 503, _TEXT, detail.encode() + b"\n")
            return
        if path == "/metrics":
            body, content_type = self._metrics()
            await _send(send, 200, [(b"content-type", content_type.encode())], body)
            return

        if path.startswith("/api/"):
            path = path[len("/api") :]
            scope = dict(scope, path=path, raw_path=path.encode())
        app = next((app for prefix, app in self._apps if path.startswith(prefix)), None)
        if app is None:
            await _connect_error(send, 404, "not_found", f"no such service or method: {path}")
            return

        if self.draining:
            await _connect_error(send, 503, "unavailable", "server is shutting down; retry")
            return
        if not await self._admissible(scope, send):
            return
        query = scope.get("query_string") or b""
        token = request_query.set(parse_query(query) if query else None)
        try:
            await app(scope, receive, send)
        finally:
            request_query.reset(token)

    async def _admissible(self, scope: Scope, send: Send) -> bool:
        content_type = _header(scope, b"content-type") or ""
        if content_type.startswith("application/grpc"):
            return True  # gRPC-Web: errors travel in its own framing; connectrpc checks it
        length = _header(scope, b"content-length")
        if (
            length is not None
            and length.strip().isdigit()
            and int(length) > self._max_request_bytes
        ):
            await _connect_error(
                send,
                429,
                "resource_exhausted",
                f"request body of {int(length)} bytes exceeds the limit of "
                f"{self._max_request_bytes} bytes",
            )
            return False
        encoding = (_header(scope, b"content-encoding") or "").strip()
        if scope.get("method") == "GET":
            query = parse_query(scope.get("query_string") or b"")
            encoding = query.get("compression", [""])[-1]
        if encoding not in _SUPPORTED_ENCODINGS:
            await _connect_error(
                send,
                400,
                "invalid_argument",
                f"content-encoding {encoding!r} is not supported; use gzip or identity",
            )
            return False
        return True

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
