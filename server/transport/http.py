"""The HTTP port: routes to the Connect applications and serves /healthz, /readyz, /metrics.

Also decides what must be decided before a body is read: the size limit (by Content-Length),
the supported content encodings, the shape of GET queries, gRPC sent to the wrong port, and
the public deployment's `/api` prefix. Headers are made safe for the protocol library first.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from server.metrics import HTTP_RESPONSES
from server.transport.connect import parse_query, request_query

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SUPPORTED_ENCODINGS = ("", "identity", "gzip")
_JSON = [(b"content-type", b"application/json")]
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_BASE64URL = re.compile(r"[A-Za-z0-9_\-=]*")


async def _send(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _connect_error(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}, separators=(",", ":")).encode()
    await _send(send, status, _JSON, body)


async def _grpc_error(send: Send, content_type: str, code: int, message: str) -> None:
    """A trailers-only gRPC (or gRPC-Web) answer: the status travels in the headers."""
    headers = [
        (b"content-type", content_type.encode("latin-1")),
        (b"grpc-status", str(code).encode()),
        (b"grpc-message", message.replace("%", "%25").encode()),
    ]
    await _send(send, 200, headers, b"")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return bytes(value).decode("latin-1")
    return None


def _safe_headers(scope: Scope) -> Scope:
    """Header values are octets; the protocol library reads them as UTF-8 and fails on any
    other byte. Re-encode such values (read as Latin-1) as UTF-8, and lowercase
    Content-Encoding, whose values are case-insensitive."""
    headers = scope.get("headers", ())
    rewrite = False
    for key, value in headers:
        if not value.isascii() or (key.lower() == b"content-encoding" and value != value.lower()):
            rewrite = True
            break
    if not rewrite:
        return scope
    fixed = []
    for key, value in headers:
        value = bytes(value)
        if not value.isascii():
            value = value.decode("latin-1").encode("utf-8")
        if key.lower() == b"content-encoding":
            value = value.lower()
        fixed.append((bytes(key).lower(), value))
    return dict(scope, headers=fixed)


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
        prefix, app = next(((p, a) for p, a in self._apps if path.startswith(p)), ("", None))
        counted = _counting(send, prefix.strip("/") or "unknown")
        if app is None:
            await _connect_error(counted, 404, "not_found", f"no such service or method: {path}")
            return
        if self.draining:
            await _connect_error(counted, 503, "unavailable", "server is shutting down; retry")
            return
        scope = _safe_headers(scope)
        admitted = await self._admissible(scope, receive, counted)
        if admitted is None:
            return
        receive = admitted
        query = scope.get("query_string") or b""
        token = request_query.set(parse_query(query) if query else None)
        try:
            await app(scope, receive, counted)
        finally:
            request_query.reset(token)

    async def _admissible(self, scope: Scope, receive: Receive, send: Send) -> Receive | None:
        """The `receive` to serve the request with, or None when it was refused here."""
        content_type = _header(scope, b"content-type") or ""
        if content_type.startswith("application/grpc-web"):
            encoding = (_header(scope, b"grpc-encoding") or "").strip().lower()
            if encoding not in _SUPPORTED_ENCODINGS:
                await _grpc_error(
                    send,
                    content_type,
                    3,
                    f"grpc-encoding {encoding!r} is not supported; use gzip or identity",
                )
                return None
            if encoding in ("", "identity"):
                return await _uncompressed_grpc_web(receive, send, content_type)
            return receive
        if content_type.startswith("application/grpc"):
            await _grpc_error(
                send,
                content_type,
                12,
                "this port serves Connect and gRPC-Web; send gRPC to the gRPC port "
                "(9090 by default)",
            )
            return None
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
            return None
        encoding = (_header(scope, b"content-encoding") or "").strip()
        if scope.get("method") == "GET":
            query = parse_query(scope.get("query_string") or b"")
            encoding = query.get("compression", [""])[-1]
            problem = _get_query_problem(query)
            if problem:
                await _connect_error(send, 400, "invalid_argument", problem)
                return None
        if encoding not in _SUPPORTED_ENCODINGS:
            await _connect_error(
                send,
                400,
                "invalid_argument",
                f"content-encoding {encoding!r} is not supported; use gzip or identity",
            )
            return None
        return receive

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _uncompressed_grpc_web(receive: Receive, send: Send, content_type: str) -> Receive | None:
    """Refuse a gRPC-Web message flagged compressed when no grpc-encoding says how.

    connectrpc answers that INTERNAL (as the gRPC specification has it); here it is the
    client's mistake, so INVALID_ARGUMENT. The body chunks read to see the flag byte are
    handed on unchanged.
    """
    seen: list[dict[str, Any]] = []
    while True:
        message = await receive()
        seen.append(message)
        if message.get("body") or not message.get("more_body") or message["type"] != "http.request":
            break
    body = seen[-1].get("body") or b""
    if body and body[0] & 1:
        await _grpc_error(
            send,
            content_type,
            3,
            "message is flagged compressed but no grpc-encoding was sent: send grpc-encoding "
            "gzip with it, or send it uncompressed",
        )
        return None

    async def replay() -> dict[str, Any]:
        return seen.pop(0) if seen else await receive()

    return replay


def _get_query_problem(query: dict[str, list[str]]) -> str | None:
    """What the Connect GET encoding forbids that the protocol library would let through."""
    if query.get("connect", ["v1"])[-1] != "v1":
        return "connect: must be v1"
    if query.get("base64", [""])[-1] == "1":
        message = query.get("message", [""])[-1]
        if _BASE64URL.fullmatch(message) is None:
            return "message: must be base64url-encoded when base64=1"
    return None


def _counting(send: Send, service: str) -> Send:
    """`send` that counts each response's HTTP status, whoever produced it (protocol errors
    such as 415 or 429 never reach the RPC metrics)."""

    async def counted(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            HTTP_RESPONSES.labels(service, str(message["status"])).inc()
        await send(message)

    return counted
