"""The interop plan: one scripted session of warm-pool calls that every client performs.

Each client (the gitpod-sdk, old and new, grpcurl, buf curl, curl, the generated TypeScript
client, grpcio) executes the same steps against the same kind of tenant, so the assertions
in `test_warm_pool_methods.py` are written once and hold for all of them.

Stdlib only: the gitpod-sdk runs this module in its own virtual environment (see
`sdk_client.py` and `legacy_sdk_client.py`), next to its own pinned dependencies. The
TypeScript executor (`ts/src/client.ts`) implements the same contract: steps in, outcomes
out.

A step's request is canonical proto3 JSON (camelCase names). A string value `"${step.a.b}"`
is replaced by that field of an earlier step's response before the call, which is how later
steps name pools that earlier steps created. An outcome is `{"ok": <response JSON>}`,
`{"pages": [<response JSON>, …]}` for a paged list, or `{"error": {"code", "message",
"violations", …}}` with the Connect spelling of the code.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

JSON = Any
Outcome = dict[str, Any]
# (method, request JSON, token or None) -> outcome
Call = Callable[[str, JSON, str | None], Outcome]

# Every method of gitpod.v1.PrebuildService, in declaration order.
WARM_POOL_METHODS = (
    "CreateWarmPool",
    "GetWarmPool",
    "ListWarmPools",
    "UpdateWarmPool",
    "DeleteWarmPool",
)
# The prebuild methods are being implemented on another branch. When they land, add steps for
# them to `build_plan` and tests marked with their method names; the matrix shows a column for
# every method that has at least one test.
PREBUILD_METHODS = (
    "CreatePrebuild",
    "ListPrebuilds",
    "GetPrebuild",
    "CancelPrebuild",
    "DeletePrebuild",
    "CreatePrebuildLogsToken",
)

PAGE_SIZE = 2
MAX_PAGES = 10
UNKNOWN_POOL_ID = "00000000-0000-4000-8000-00000000a11d"

_REF = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")


@dataclass(frozen=True)
class PlanTenant:
    """What the plan needs to know about its tenant: ids and one token per role."""

    project_id: str
    class_ids: list[str]  # six classes, all in the project's prebuild configuration
    admin_token: str
    viewer_token: str


@dataclass(frozen=True)
class Step:
    name: str
    method: str
    request: JSON
    token: str = "admin"  # "admin", "viewer", "none" (no header) or "unknown"
    paged: bool = False  # follow pagination.nextToken until it is empty

    def as_json(self) -> JSON:
        return asdict(self)


@dataclass(frozen=True)
class Plan:
    steps: list[Step]
    tokens: dict[str, str | None] = field(default_factory=dict)

    def as_json(self) -> JSON:
        return {"steps": [s.as_json() for s in self.steps], "tokens": self.tokens}


def build_plan(t: PlanTenant) -> Plan:
    """The scripted session. Step names are what the tests look outcomes up by."""
    c = t.class_ids
    assert len(c) >= 6, "the plan needs six configured environment classes"
    p = t.project_id
    steps = [
        Step(
            "create_min_max",
            "CreateWarmPool",
            {"projectId": p, "environmentClassId": c[0], "minSize": 0, "maxSize": 3},
        ),
        Step(
            "create_desired",
            "CreateWarmPool",
            {"projectId": p, "environmentClassId": c[1], "desiredSize": 2},
        ),
        Step("create_no_sizes", "CreateWarmPool", {"projectId": p, "environmentClassId": c[2]}),
        Step("create_fourth", "CreateWarmPool", {"projectId": p, "environmentClassId": c[3]}),
        Step(
            "create_fifth",
            "CreateWarmPool",
            {"projectId": p, "environmentClassId": c[4], "maxSize": 2},
        ),
        Step(
            "create_unlisted",
            "CreateWarmPool",
            {"projectId": p, "environmentClassId": c[5], "minSize": 2},
        ),
        Step("get", "GetWarmPool", {"warmPoolId": "${create_min_max.warmPool.id}"}),
        Step(
            "get_as_viewer",
            "GetWarmPool",
            {"warmPoolId": "${create_desired.warmPool.id}"},
            token="viewer",
        ),
        # Five of the six pools match (c[5] is filtered out): pages of 2, 2 and 1.
        Step(
            "list_filtered_pages",
            "ListWarmPools",
            {
                "pagination": {"pageSize": PAGE_SIZE},
                "filter": {"projectIds": [p], "environmentClassIds": c[:5]},
            },
            paged=True,
        ),
        Step("list_all", "ListWarmPools", {}),
        Step(
            "update_sizes",
            "UpdateWarmPool",
            {"warmPoolId": "${create_min_max.warmPool.id}", "minSize": 1, "maxSize": 4},
        ),
        Step(
            "update_min_to_zero",
            "UpdateWarmPool",
            {"warmPoolId": "${create_fourth.warmPool.id}", "minSize": 0},
        ),
        Step("update_nothing", "UpdateWarmPool", {"warmPoolId": "${create_min_max.warmPool.id}"}),
        Step("get_after_update", "GetWarmPool", {"warmPoolId": "${create_min_max.warmPool.id}"}),
        Step("delete", "DeleteWarmPool", {"warmPoolId": "${create_no_sizes.warmPool.id}"}),
        Step("get_deleted", "GetWarmPool", {"warmPoolId": "${create_no_sizes.warmPool.id}"}),
        Step("delete_again", "DeleteWarmPool", {"warmPoolId": "${create_no_sizes.warmPool.id}"}),
        Step(
            "recreate_after_delete", "CreateWarmPool", {"projectId": p, "environmentClassId": c[2]}
        ),
        # Error paths.
        Step("error_not_found", "GetWarmPool", {"warmPoolId": UNKNOWN_POOL_ID}),
        Step("error_delete_not_found", "DeleteWarmPool", {"warmPoolId": UNKNOWN_POOL_ID}),
        Step(
            "error_already_exists", "CreateWarmPool", {"projectId": p, "environmentClassId": c[0]}
        ),
        Step(
            "error_invalid_argument",
            "CreateWarmPool",
            {"projectId": "not-a-uuid", "environmentClassId": c[0], "maxSize": 30},
        ),
        Step(
            "error_min_above_max",
            "UpdateWarmPool",
            {"warmPoolId": "${create_min_max.warmPool.id}", "minSize": 5, "maxSize": 2},
        ),
        Step("error_bad_page_token", "ListWarmPools", {"pagination": {"token": "bm90LWEtdG9rZW4"}}),
        Step("error_unauthenticated", "ListWarmPools", {}, token="none"),
        Step(
            "error_unknown_token",
            "GetWarmPool",
            {"warmPoolId": "${create_min_max.warmPool.id}"},
            token="unknown",
        ),
        Step(
            "error_permission_denied",
            "CreateWarmPool",
            {"projectId": p, "environmentClassId": c[5]},
            token="viewer",
        ),
    ]
    tokens: dict[str, str | None] = {
        "admin": t.admin_token,
        "viewer": t.viewer_token,
        "none": None,
        "unknown": "wpt_" + uuid.UUID(int=0xDEADBEEF).hex,
    }
    return Plan(steps, tokens)


def plan_from_json(data: JSON) -> Plan:
    return Plan([Step(**s) for s in data["steps"]], dict(data["tokens"]))


def resolve(value: JSON, outcomes: dict[str, Outcome]) -> JSON:
    """Replace every `"${step.path}"` in `value` with that field of an earlier response."""
    if isinstance(value, dict):
        return {k: resolve(v, outcomes) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, outcomes) for v in value]
    if isinstance(value, str) and (m := _REF.match(value)):
        step, *path = m.group(1).split(".")
        found: JSON = outcomes[step].get("ok")
        if found is None:
            raise LookupError(f"{value}: step {step!r} did not succeed: {outcomes[step]}")
        for key in path:
            found = found[key]
        return found
    return value


def run_plan(plan: Plan, call: Call, paged: Call | None = None) -> dict[str, Outcome]:
    """Run every step in order with `call`; a step that raises is recorded, not fatal.

    A paged step follows `pagination.nextToken` with `call`, unless the client brings its
    own paginator: then `paged` makes the whole walk and returns `{"pages": [...]}`.
    """
    outcomes: dict[str, Outcome] = {}
    for step in plan.steps:
        try:
            request = resolve(step.request, outcomes)
            token = plan.tokens[step.token]
            if step.paged and paged is not None:
                outcomes[step.name] = paged(step.method, request, token)
            elif step.paged:
                outcomes[step.name] = _pages(step.method, request, token, call)
            else:
                outcomes[step.name] = call(step.method, request, token)
        except Exception as exc:
            outcomes[step.name] = {"crash": f"{type(exc).__name__}: {exc}"}
    return outcomes


def _pages(method: str, request: JSON, token: str | None, call: Call) -> Outcome:
    pages: list[JSON] = []
    while len(pages) < MAX_PAGES:
        outcome = call(method, request, token)
        if "ok" not in outcome:
            return {**outcome, "pagesBefore": pages}
        pages.append(outcome["ok"])
        next_token = outcome["ok"].get("pagination", {}).get("nextToken", "")
        if not next_token:
            return {"pages": pages}
        request = {**request, "pagination": {**request.get("pagination", {}), "token": next_token}}
    return {"crash": f"more than {MAX_PAGES} pages", "pages": pages}
