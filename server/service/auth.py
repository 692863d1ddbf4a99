"""Bearer tokens and roles: who may call what.

Tokens are random secrets shown once at creation; the database keeps only their SHA-256.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import time
from typing import TYPE_CHECKING

from server.errors import PermissionDenied, Unauthenticated
from server.models import Principal, Role
from server.store import tenancy

if TYPE_CHECKING:
    from collections.abc import Callable

    from server.store.database import Database

TOKEN_PREFIX = "wpt_"
UNKNOWN_TOKEN = "unknown or revoked token"


class Action(enum.Enum):
    READ = "read"  # Get/List of warm pools and prebuilds, prebuild log tokens
    WRITE = "write"  # create, update, delete warm pools; create, cancel, delete prebuilds
    CLAIM = "claim"  # the runner-facing API


_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.ADMIN: frozenset({Action.READ, Action.WRITE}),
    Role.WARMPOOL_ADMIN: frozenset({Action.READ, Action.WRITE}),
    Role.VIEWER: frozenset({Action.READ}),
    Role.RUNNER: frozenset({Action.CLAIM}),
}


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value."""
    if authorization is None or authorization == "":
        raise Unauthenticated("missing Authorization header: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise Unauthenticated("malformed Authorization header: expected 'Bearer <token>'")
    return token


class Authenticator:
    """Resolves bearer tokens, remembering known ones for `cache_seconds`.

    The token lookup would otherwise be a database round trip on every call, as expensive as
    the call's own statement. Only known tokens are remembered, so a new token works at once;
    a revoked one stops working within `cache_seconds` (0 turns the cache off).
    """

    _MAX_ENTRIES = 10_000

    def __init__(
        self,
        db: Database,
        cache_seconds: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._known: dict[bytes, tuple[Principal, float]] = {}

    async def authenticate(self, authorization: str | None) -> Principal:
        digest = hash_token(bearer_token(authorization))
        now = self._clock()
        known = self._known.get(digest)
        if known is not None and known[1] > now:
            return known[0]
        principal = await tenancy.principal_for_token_hash(self._db, digest)
        if principal is None:
            self._known.pop(digest, None)
            raise Unauthenticated(UNKNOWN_TOKEN)
        if self._cache_seconds > 0:
            if len(self._known) >= self._MAX_ENTRIES:
                self._known.clear()  # a flood of distinct tokens: start over, stay bounded
            self._known[digest] = (principal, now + self._cache_seconds)
        return principal


def authorize(principal: Principal, action: Action, method: str) -> None:
    if action not in _ALLOWED[principal.role]:
        raise PermissionDenied(f"role '{principal.role.value}' may not call {method}")
