"""Field rules of the wire contract, checked by hand (the protos carry no validation options).

Each `check_*` function returns every violation of one request, in field order, so a client
learns all its mistakes from one answer. Field paths use the proto field names, as
protovalidate does: `filter.project_ids[2]`, `pagination.page_size`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from server.errors import FieldViolation, InvalidArgument

if TYPE_CHECKING:
    from collections.abc import Sequence

# fullmatch, not match with "$": "$" also matches before a trailing newline.
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

REQUIRED = "value is required"
# A request may break many rules (say, 25 malformed ids); the error stays small enough for
# gRPC's metadata limits by reporting at most this many, then a count of the rest.
MAX_REPORTED_VIOLATIONS = 10
UUID_RULE = "must be a valid UUID"
# Postgres text cannot hold U+0000; a free-text field that carries it is refused as such.
NO_NUL = "must not contain the NUL character (U+0000)"
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 25


def is_uuid(value: str) -> bool:
    return _UUID.fullmatch(value) is not None


def between(low: int, high: int) -> str:
    return f"must be between {low} and {high}"


class Violations:
    """Collects violations; `raise_if_any` turns them into one InvalidArgument."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def required_uuid(self, field: str, value: str) -> None:
        if value == "":
            self.add(field, REQUIRED)
        elif not is_uuid(value):
            self.add(field, UUID_RULE)

    def optional_uuid(self, field: str, value: str | None) -> None:
        if value is not None and not is_uuid(value):
            self.add(field, UUID_RULE)

    def in_range(self, field: str, value: int | None, low: int, high: int) -> None:
        if value is not None and not low <= value <= high:
            self.add(field, between(low, high))

    def uuid_list(self, field: str, values: Sequence[str], max_items: int) -> None:
        if len(values) > max_items:
            self.add(field, f"must contain at most {max_items} items")
            return  # the list is refused as a whole; its items are not examined
        for i, value in enumerate(values):
            if not is_uuid(value):
                self.add(f"{field}[{i}]", UUID_RULE)

    def defined_enum(self, field: str, value: int, defined: set[int]) -> None:
        if value not in defined:
            self.add(field, "must be a defined enum value")

    def defined_enums(
        self, field: str, values: Sequence[int], defined: set[int], max_items: int
    ) -> None:
        if len(values) > max_items:
            self.add(field, f"must contain at most {max_items} items")
            return
        for i, value in enumerate(values):
            self.defined_enum(f"{field}[{i}]", value, defined)

    def page_size(self, value: int) -> None:
        self.in_range("pagination.page_size", value, 0, MAX_PAGE_SIZE)

    def raise_if_any(self) -> None:
        if not self.items:
            return
        reported = self.items[:MAX_REPORTED_VIOLATIONS]
        if len(self.items) > MAX_REPORTED_VIOLATIONS:
            more = len(self.items) - MAX_REPORTED_VIOLATIONS
            reported.append(FieldViolation("request", f"{more} more violations not listed"))
        raise InvalidArgument(reported)


def normalize_uuid(value: str) -> str:
    """The canonical (lowercase) form ids are stored and compared in."""
    return value.lower()
