"""Authorization header parsing and the role matrix (behaviour.md §1)."""

from __future__ import annotations

import pytest

from server.errors import PermissionDenied, Unauthenticated
from server.models import Principal, Role
from server.service import admin
from server.service.auth import Action, authorize, bearer_token, hash_token, new_token
from server.store import tenancy
from tests.support.servers import InProcessServer
from tests.support.tenants import Tenant


@pytest.mark.parametrize(
    "header", [None, "", "Bearer", "Bearer ", "Basic abc", "bearer a b", "tok"]
)
def test_missing_or_malformed_authorization_is_unauthenticated(header: str | None) -> None:
    with pytest.raises(Unauthenticated):
        bearer_token(header)


@pytest.mark.parametrize("header", ["Bearer abc", "bearer abc", "BEARER abc", "  Bearer   abc "])
def test_bearer_scheme_is_case_insensitive(header: str) -> None:
    assert bearer_token(header) == "abc"


def test_tokens_are_random_and_stored_as_sha256() -> None:
    a, b = new_token(), new_token()
    assert a != b
    assert a.startswith("wpt_")
    assert len(hash_token(a)) == 32
    assert hash_token(a) != a.encode()


ALLOWED = {
    Role.ADMIN: {Action.READ, Action.WRITE},
    Role.WARMPOOL_ADMIN: {Action.READ, Action.WRITE},
    Role.VIEWER: {Action.READ},
    Role.RUNNER: {Action.CLAIM},
}


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("action", list(Action))
def test_role_matrix(role: Role, action: Action) -> None:
    principal = Principal("t", "o", role)
    if action in ALLOWED[role]:
        authorize(principal, action, "M")
    else:
        with pytest.raises(PermissionDenied, match=f"role '{role.value}' may not call M"):
            authorize(principal, action, "M")


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_known_tokens_are_remembered_for_the_cache_lifetime_only(
    server: InProcessServer, tenant: Tenant
) -> None:
    from server.service.auth import Authenticator

    clock = _Clock()
    auth = Authenticator(server.db, cache_seconds=2.0, clock=clock)
    token_id, secret = await admin.create_token(server.db, tenant.org_id, Role.VIEWER, "c")
    header = f"Bearer {secret}"
    assert (await auth.authenticate(header)).token_id == token_id
    await tenancy.revoke_token(server.db, token_id)
    clock.now += 1.9
    assert (await auth.authenticate(header)).token_id == token_id  # still remembered
    clock.now += 0.2
    with pytest.raises(Unauthenticated):
        await auth.authenticate(header)


async def test_unknown_tokens_are_never_remembered(server: InProcessServer, tenant: Tenant) -> None:
    from server.service.auth import Authenticator

    auth = Authenticator(server.db, cache_seconds=60.0, clock=_Clock())
    with pytest.raises(Unauthenticated):
        await auth.authenticate("Bearer wpt_not_yet")
    token_id, secret = await admin.create_token(server.db, tenant.org_id, Role.VIEWER, "late")
    assert (await auth.authenticate(f"Bearer {secret}")).token_id == token_id
