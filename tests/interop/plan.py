"""The interop plan: one scripted session of API calls that every client performs.

Each client (the gitpod-sdk, old and new, grpcurl, buf curl, curl, the generated TypeScript
client, grpcio) executes the same steps against the same kind of tenant, so the assertions
in `test_warm_pool_methods.py` and `test_prebuild_methods.py` are written once and hold for
all of them.

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
UNKNOWN_PREBUILD_ID = "00000000-0000-4000-8000-0000000b1d00"
PENDING = "PREBUILD_PHASE_PENDING"

_REF = re.compile(r"^\$\{([A-Za-z0-9_.]+)\}$")


@dataclass(frozen=True)
class PlanTenant:
    """What the plan needs to know about its tenant: ids and one token per role."""

    project_id: str
    class_ids: list[str]  # seven classes, all in the project's prebuild configuration
    admin_token: str
    viewer_token: str
    disabled_project_id: str  # a project with prebuilds disabled
    unconfigured_class_id: str  # a class of the organization, not configured on project_id
    completed_prebuild_id: str  # a COMPLETED prebuild of <project_id, class_ids[6]>


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
    assert len(c) >= 7, "the plan needs seven configured environment classes"
    p = t.project_id
    steps = [*_warm_pool_steps(p, c), *_prebuild_steps(t)]
    tokens: dict[str, str | None] = {
        "admin": t.admin_token,
        "viewer": t.viewer_token,
        "none": None,
        "unknown": "wpt_" + uuid.UUID(int=0xDEADBEEF).hex,
    }
    return Plan(steps, tokens)


def _warm_pool_steps(p: str, c: list[str]) -> list[Step]:
    """Warm pools on the first six classes; the seventh has the completed prebuild."""
    return [
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


def _prebuild_steps(t: PlanTenant) -> list[Step]:
    """Prebuilds: the plan's own stay where the API puts them (the server runs no controller);
    the completed one was run to COMPLETED by the controller before the server started."""
    c, p, done = t.class_ids, t.project_id, t.completed_prebuild_id
    created = "${prebuild_create.prebuild.id}"
    to_cancel = "${prebuild_create_to_cancel.prebuild.id}"
    to_delete = "${prebuild_create_to_delete.prebuild.id}"
    return [
        Step(
            "prebuild_create",
            "CreatePrebuild",
            {"projectId": p, "environmentClassId": c[1], "spec": {}},
        ),
        # No class: the project's first prebuild class (c[0]); a timeout of its own.
        Step(
            "prebuild_create_default_class",
            "CreatePrebuild",
            {"projectId": p, "spec": {"timeout": "900s"}},
        ),
        Step(
            "prebuild_create_to_cancel",
            "CreatePrebuild",
            {"projectId": p, "environmentClassId": c[2], "spec": {}},
        ),
        Step(
            "prebuild_create_to_delete",
            "CreatePrebuild",
            {"projectId": p, "environmentClassId": c[3], "spec": {"timeout": "1800s"}},
        ),
        Step(
            "prebuild_create_fifth",
            "CreatePrebuild",
            {"projectId": p, "environmentClassId": c[4], "spec": {}},
        ),
        Step("prebuild_get", "GetPrebuild", {"prebuildId": created}),
        Step("prebuild_get_completed", "GetPrebuild", {"prebuildId": done}, token="viewer"),
        # The five PENDING ones match (the completed one does not): pages of 2, 2 and 1.
        Step(
            "prebuild_list_filtered_pages",
            "ListPrebuilds",
            {
                "pagination": {"pageSize": PAGE_SIZE},
                "filter": {
                    "projectIds": [p],
                    "phases": [PENDING, "PREBUILD_PHASE_RUNNING"],
                    "triggeredBy": ["PREBUILD_TRIGGER_MANUAL"],
                },
            },
            paged=True,
        ),
        Step("prebuild_list_all", "ListPrebuilds", {}, token="viewer"),
        Step("prebuild_logs_token", "CreatePrebuildLogsToken", {"prebuildId": created}),
        Step(
            "prebuild_logs_token_completed",
            "CreatePrebuildLogsToken",
            {"prebuildId": done},
            token="viewer",
        ),
        Step("prebuild_cancel", "CancelPrebuild", {"prebuildId": to_cancel}),
        Step("prebuild_cancel_again", "CancelPrebuild", {"prebuildId": to_cancel}),
        Step("prebuild_get_cancelled", "GetPrebuild", {"prebuildId": to_cancel}),
        Step("prebuild_delete", "DeletePrebuild", {"prebuildId": to_delete}),
        Step("prebuild_get_deleted", "GetPrebuild", {"prebuildId": to_delete}),
        Step("prebuild_delete_again", "DeletePrebuild", {"prebuildId": to_delete}),
        # Filters on the ids the first create answered (its creator and executor).
        Step(
            "prebuild_list_cancelling_or_deleting",
            "ListPrebuilds",
            {
                "filter": {
                    "phases": ["PREBUILD_PHASE_CANCELLING", "PREBUILD_PHASE_DELETING"],
                    "creatorIds": ["${prebuild_create.prebuild.metadata.creator.id}"],
                    "executorIds": ["${prebuild_create.prebuild.metadata.executor.id}"],
                }
            },
        ),
        # Error paths.
        Step("prebuild_error_not_found", "GetPrebuild", {"prebuildId": UNKNOWN_PREBUILD_ID}),
        Step(
            "prebuild_error_cancel_not_found",
            "CancelPrebuild",
            {"prebuildId": UNKNOWN_PREBUILD_ID},
        ),
        Step(
            "prebuild_error_delete_not_found",
            "DeletePrebuild",
            {"prebuildId": UNKNOWN_PREBUILD_ID},
        ),
        Step(
            "prebuild_error_logs_token_not_found",
            "CreatePrebuildLogsToken",
            {"prebuildId": UNKNOWN_PREBUILD_ID},
        ),
        Step(
            "prebuild_error_invalid_argument",
            "CreatePrebuild",
            {
                "projectId": "not-a-uuid",
                "environmentClassId": "also-not-a-uuid",
                "spec": {"timeout": "60s"},
            },
        ),
        Step("prebuild_error_missing_spec", "CreatePrebuild", {"projectId": p}),
        Step("prebuild_error_invalid_id", "GetPrebuild", {"prebuildId": "not-a-uuid"}),
        Step(
            "prebuild_error_invalid_list",
            "ListPrebuilds",
            {"pagination": {"pageSize": 101}, "filter": {"projectIds": [p, "nope"]}},
        ),
        Step(
            "prebuild_error_prebuilds_disabled",
            "CreatePrebuild",
            {"projectId": t.disabled_project_id, "spec": {}},
        ),
        Step(
            "prebuild_error_class_not_configured",
            "CreatePrebuild",
            {"projectId": p, "environmentClassId": t.unconfigured_class_id, "spec": {}},
        ),
        Step("prebuild_error_cancel_completed", "CancelPrebuild", {"prebuildId": done}),
        Step("prebuild_error_cancel_deleting", "CancelPrebuild", {"prebuildId": to_delete}),
        Step(
            "prebuild_error_viewer_create",
            "CreatePrebuild",
            {"projectId": p, "spec": {}},
            token="viewer",
        ),
        Step("prebuild_error_unauthenticated", "ListPrebuilds", {}, token="none"),
        Step(
            "prebuild_error_unknown_token",
            "GetPrebuild",
            {"prebuildId": done},
            token="unknown",
        ),
    ]


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
