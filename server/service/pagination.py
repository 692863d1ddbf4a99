"""Opaque, signed page tokens for keyset pagination.

A token carries the (created_at, id) of the last row served and is bound by an HMAC to the
organization, the list method and its filter: a token that was altered, that came from
another organization, or that is replayed with a different filter is rejected as
INVALID_ARGUMENT instead of silently returning another page.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from server.errors import FieldViolation, InvalidArgument
from server.store.warm_pools import PagePosition

if TYPE_CHECKING:
    from collections.abc import Iterable

_VERSION = 1
_LAYOUT = struct.Struct(">Bq16s")  # version, created_at in microseconds, id
_MAC_BYTES = 16
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INVALID = FieldViolation("pagination.token", "is not a valid page token for this request")
_TOKEN_CHARS = len(base64.urlsafe_b64encode(bytes(_LAYOUT.size + _MAC_BYTES)).rstrip(b"="))
_TOKEN_ALPHABET = re.compile(r"[A-Za-z0-9_-]+")


def page_scope(method: str, organization_id: str, *filters: Iterable[str]) -> bytes:
    """What a token is bound to: method, organization, and the (order-insensitive) filter."""
    digest = hashlib.sha256(f"{method}\x00{organization_id}".encode())
    for values in filters:
        digest.update(b"\x01" + "\x00".join(sorted(values)).encode())
    return digest.digest()


class PageTokens:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, scope: bytes, payload: bytes) -> bytes:
        return hmac.new(self._key, scope + payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, scope: bytes, position: PagePosition) -> str:
        delta = position.created_at - _EPOCH
        micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
        payload = _LAYOUT.pack(_VERSION, micros, uuid.UUID(position.id).bytes)
        raw = payload + self._mac(scope, payload)
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def decode(self, scope: bytes, token: str) -> PagePosition:
        # Exactly the unpadded base64url this class writes: the decoder alone would skip
        # foreign characters and accept padding, so altered tokens could still decode.
        if len(token) != _TOKEN_CHARS or _TOKEN_ALPHABET.fullmatch(token) is None:
            raise InvalidArgument(_INVALID)
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload, mac = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
        if not hmac.compare_digest(mac, self._mac(scope, payload)):
            raise InvalidArgument(_INVALID)
        version, micros, id_bytes = _LAYOUT.unpack(payload)
        if version != _VERSION:
            raise InvalidArgument(_INVALID)
        created_at = _EPOCH + timedelta(microseconds=micros)
        return PagePosition(created_at=created_at, id=str(uuid.UUID(bytes=id_bytes)))
