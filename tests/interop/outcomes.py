"""Reading plan outcomes in tests: a success, the pages of a list, or an error of a code."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING, Any

from google.rpc import error_details_pb2

if TYPE_CHECKING:
    from tests.interop.plan import JSON, Outcome

BAD_REQUEST = "google.rpc.BadRequest"


def ok(outcomes: dict[str, Outcome], step: str) -> JSON:
    outcome = outcomes[step]
    assert "ok" in outcome, f"{step}: expected success, got {outcome}"
    return outcome["ok"]


def pool(outcomes: dict[str, Outcome], step: str) -> dict[str, Any]:
    response = ok(outcomes, step)
    assert "warmPool" in response, f"{step}: response has no warmPool: {response}"
    found: dict[str, Any] = response["warmPool"]
    return found


def pages(outcomes: dict[str, Outcome], step: str) -> list[JSON]:
    outcome = outcomes[step]
    assert "pages" in outcome, f"{step}: expected pages, got {outcome}"
    found: list[JSON] = outcome["pages"]
    return found


def listed_across_three_pages(outcomes: dict[str, Outcome], step: str, key: str) -> list[JSON]:
    """The items of a list walked with page size 2 over five items: pages of 2, 2 and 1,
    each but the last with its own next token, the last with none."""
    walked = pages(outcomes, step)
    assert [len(p.get(key, [])) for p in walked] == [2, 2, 1], walked
    tokens = [p.get("pagination", {}).get("nextToken", "") for p in walked]
    assert all(tokens[:-1]), tokens
    assert tokens[-1] == "", tokens
    assert len(set(tokens[:-1])) == 2, tokens
    return [item for page in walked for item in page[key]]


def error(outcomes: dict[str, Outcome], step: str, code: str) -> dict[str, Any]:
    outcome = outcomes[step]
    assert "error" in outcome, f"{step}: expected {code}, got {outcome}"
    found: dict[str, Any] = outcome["error"]
    assert found["code"] == code, f"{step}: expected {code}, got {found}"
    return found


def violations(err: dict[str, Any]) -> list[tuple[str, str]]:
    """The google.rpc.BadRequest field violations the client received with an error."""
    if "violations" in err:
        return [(f, d) for f, d in err["violations"]]
    found: list[tuple[str, str]] = []
    for detail in err.get("details", []):
        if detail.get("type") == BAD_REQUEST:
            raw = detail["value"]
            bad = error_details_pb2.BadRequest.FromString(
                base64.b64decode(raw + "=" * (-len(raw) % 4))
            )
            found += [(v.field, v.description) for v in bad.field_violations]
    return found


def timestamp(value: str) -> datetime:
    """An RFC 3339 timestamp of proto3 JSON (`…Z`, 0 to 9 fractional digits)."""
    head, _, frac = value.rstrip("Z").partition(".")
    micros = (frac + "000000")[:6]
    return datetime.fromisoformat(f"{head}.{micros}+00:00")
