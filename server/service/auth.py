"""Bearer tokens and roles: who may call what.

Tokens are random secrets shown once at creation; the database keeps only their SHA-256.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from typing import TYPE_CHECKING

from server.errors import PermissionDenied, Unauthenticated
from server.models import Principal, Role
from server.store import tenancy

if TYPE_CHECKING:
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
    def __init__(self, db: Database) -> None:
        self._db = db

    async def authenticate(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        principal = await tenancy.principal_for_token_hash(self._db, hash_token(token))
        if principal is None:
            raise Unauthenticated(UNKNOWN_TOKEN)
        return principal


def authorize(principal: Principal, action: Action, method: str) -> None:
    if action not in _ALLOWED[principal.role]:
        raise PermissionDenied(f"role '{principal.role.value}' may not call {method}")
