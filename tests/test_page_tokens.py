"""Page tokens are opaque, bound to their scope, and reject tampering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.errors import InvalidArgument
from server.service.pagination import PageTokens, page_scope
from server.store.warm_pools import PagePosition

POSITION = PagePosition(
    datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC), "25cc4dcc-393e-44bc-887e-a4b4db8a3de2"
)


def test_token_round_trips_the_position_exactly() -> None:
    tokens = PageTokens(b"k" * 32)
    scope = page_scope("ListWarmPools", "org", ["p"], [])
    assert tokens.decode(scope, tokens.encode(scope, POSITION)) == POSITION


def test_token_is_url_safe_and_opaque() -> None:
    token = PageTokens(b"k" * 32).encode(page_scope("m", "o"), POSITION)
    assert token.replace("-", "").replace("_", "").isalnum()
    assert POSITION.id not in token


@pytest.mark.parametrize(
    "other_scope",
    [
        page_scope("ListWarmPools", "other-org", ["p"], []),
        page_scope("ListWarmPools", "org", ["q"], []),
        page_scope("ListPrebuilds", "org", ["p"], []),
    ],
)
def test_token_from_another_scope_is_invalid(other_scope: bytes) -> None:
    tokens = PageTokens(b"k" * 32)
    token = tokens.encode(page_scope("ListWarmPools", "org", ["p"], []), POSITION)
    with pytest.raises(InvalidArgument) as err:
        tokens.decode(other_scope, token)
    assert err.value.violations[0].field == "pagination.token"


def test_filter_order_does_not_change_the_scope() -> None:
    assert page_scope("m", "o", ["a", "b"]) == page_scope("m", "o", ["b", "a"])


@pytest.mark.parametrize("token", ["", "x", "!!!!", "A" * 60, "eyJwYWdlIjoyfQ"])
def test_malformed_tokens_are_invalid(token: str) -> None:
    with pytest.raises(InvalidArgument):
        PageTokens(b"k" * 32).decode(page_scope("m", "o"), token)


def test_tampered_token_is_invalid() -> None:
    tokens = PageTokens(b"k" * 32)
    scope = page_scope("m", "o")
    token = tokens.encode(scope, POSITION)
    flipped = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    with pytest.raises(InvalidArgument):
        tokens.decode(scope, flipped)


def test_token_signed_with_another_key_is_invalid() -> None:
    scope = page_scope("m", "o")
    token = PageTokens(b"a" * 32).encode(scope, POSITION)
    with pytest.raises(InvalidArgument):
        PageTokens(b"b" * 32).decode(scope, token)


def test_tokens_with_foreign_characters_or_padding_are_invalid() -> None:
    tokens = PageTokens(b"k" * 32)
    scope = page_scope("m", "o")
    token = tokens.encode(scope, POSITION)
    for altered in (f"!!{token}!!", f"{token[:10]}$$$${token[10:]}", f"{token}==", f" {token}"):
        with pytest.raises(InvalidArgument):
            tokens.decode(scope, altered)
