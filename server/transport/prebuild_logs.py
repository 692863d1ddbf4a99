"""A prebuild's log over plain HTTP: GET /prebuild-logs/<prebuild id>, with the logs token.

`CreatePrebuildLogsToken` hands out the token (valid one hour) and the prebuild's `log_url`
points here; the token, not an API token, is the credential: it names one prebuild of one
organization and is checked without a database lookup.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from server.errors import DomainError, NotFound, PermissionDenied, Unauthenticated

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from server.service.prebuilds import PrebuildService

PATH_PREFIX = "/prebuild-logs/"
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]
_STATUS: dict[type[DomainError], int] = {
    Unauthenticated: 401,
    PermissionDenied: 403,
    NotFound: 404,
}


class PrebuildLogsApp:
    def __init__(self, prebuilds: PrebuildService) -> None:
        self._prebuilds = prebuilds

    async def __call__(
        self,
        scope: dict[str, Any],
        receive: Callable[[], Awaitable[dict[str, Any]]],
        send: Callable[[dict[str, Any]], Awaitable[None]],
    ) -> None:
        status, body = await self._answer(scope)
        await send({"type": "http.response.start", "status": status, "headers": _TEXT})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _answer(self, scope: dict[str, Any]) -> tuple[int, bytes]:
        if scope.get("method") not in ("GET", "HEAD"):
            return 405, b"use GET\n"
        prebuild_id = scope["path"][len(PATH_PREFIX) :].strip("/")
        authorization = None
        for key, value in scope.get("headers", ()):
            if bytes(key).lower() == b"authorization":
                authorization = bytes(value).decode("latin-1")
        try:
            text = await self._prebuilds.read_log(authorization, prebuild_id)
        except DomainError as exc:
            return _STATUS.get(type(exc), 503), f"{exc.message}\n".encode()
        return 200, text.encode()
