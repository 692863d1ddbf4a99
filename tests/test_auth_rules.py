"""Authorization header parsing and the role matrix (behaviour.md §1)."""

from __future__ import annotations

import pytest

from server.errors import PermissionDenied, Unauthenticated
from server.models import Principal, Role
from server.service.auth import Action, authorize, bearer_token, hash_token, new_token


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
