"""A prebuild's log over plain HTTP: GET /prebuild-logs/<prebuild id>, with the logs token.

`CreatePrebuildLogsToken` hands out the token (valid one hour) and the prebuild's `log_url`
points here; the token, not an API token, is the credential: it names one prebuild of one
organization and is checked without a database lookup.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from server.errors import Unauthenticated, Unavailable
from server.service.auth import bearer_token
from server.service.prebuilds import InvalidLogsToken
from server.service.validation import is_uuid, normalize_uuid
from server.store import prebuilds as store

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from server.service.prebuilds import LogsTokens
    from server.store.database import Database

PATH_PREFIX = "/prebuild-logs/"
_TEXT = [(b"content-type", b"text/plain; charset=utf-8")]


class PrebuildLogsApp:
    def __init__(self, db: Database, tokens: LogsTokens) -> None:
        self._db = db
        self._tokens = tokens

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
        if not is_uuid(prebuild_id):
            return 404, b"no such prebuild\n"
        authorization = None
        for key, value in scope.get("headers", ()):
            if bytes(key).lower() == b"authorization":
                authorization = bytes(value).decode("latin-1")
        try:
            org_id, token_prebuild = self._tokens.verify(
                bearer_token(authorization), datetime.now(UTC)
            )
        except (InvalidLogsToken, Unauthenticated) as exc:
            return 401, f"a valid prebuild logs token is required ({exc})\n".encode()
        if token_prebuild != normalize_uuid(prebuild_id):
            return 403, b"the token is for another prebuild\n"
        try:
            text = await store.read_log(self._db, org_id, token_prebuild)
        except Unavailable as exc:
            return 503, f"{exc.message}\n".encode()
        if text is None:
            return 404, b"no such prebuild\n"
        return 200, text.encode()
