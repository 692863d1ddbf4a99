"""The prebuild rules, as every interop client observes them (one parameter per client).

Each client ran the same plan (`plan.py`) against the server process with its own tenant;
these tests read its outcomes. The server runs no controller, so the plan's own prebuilds
stay where the API puts them (PENDING, CANCELLING, DELETING); the one COMPLETED prebuild of
each tenant was run by the controller before the server started (see conftest.py), and every
client must read it exactly as that server answered it.
"""

from __future__ import annotations

import copy
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.interop.outcomes import error, listed_across_three_pages, ok, timestamp, violations
from tests.interop.plan import UNKNOWN_PREBUILD_ID

if TYPE_CHECKING:
    from tests.interop.plan import JSON, Outcome
    from tests.interop.session import Interop

PENDING = "PREBUILD_PHASE_PENDING"
COMPLETED = "PREBUILD_PHASE_COMPLETED"
CANCELLING = "PREBUILD_PHASE_CANCELLING"
CANCELLED = "PREBUILD_PHASE_CANCELLED"
DELETING = "PREBUILD_PHASE_DELETING"
DELETED = "PREBUILD_PHASE_DELETED"
LOGS_TOKEN_PREFIX = "wpl_"
# In the order the plan creates them (all PENDING, all MANUAL).
CREATED = [
    "prebuild_create",
    "prebuild_create_default_class",
    "prebuild_create_to_cancel",
    "prebuild_create_to_delete",
    "prebuild_create_fifth",
]


def prebuild(outcomes: dict[str, Outcome], step: str) -> dict[str, Any]:
    response = ok(outcomes, step)
    assert "prebuild" in response, f"{step}: response has no prebuild: {response}"
    found: dict[str, Any] = response["prebuild"]
    return found


def comparable(p: JSON) -> JSON:
    """A prebuild with its timestamps as instants: clients render the same instant with 3, 6
    or 9 fractional digits (all canonical proto3 JSON)."""
    p = copy.deepcopy(p)
    for part, key in (("metadata", "createdAt"), ("metadata", "updatedAt")):
        p[part][key] = timestamp(p[part][key])
    if "completionTime" in p["status"]:
        p["status"]["completionTime"] = timestamp(p["status"]["completionTime"])
    return p


def log_url(interop: Interop, prebuild_id: str) -> str:
    return f"{interop.env.server.base_url}/prebuild-logs/{prebuild_id}"


def expected_completed(interop: Interop, client: str) -> JSON:
    """The completed prebuild as the controller's server answered it, with the log URL of
    the server the clients talk to."""
    expected = copy.deepcopy(interop.completed_prebuilds[client])
    expected["status"]["logUrl"] = log_url(interop, expected["id"])
    return expected


# --- CreatePrebuild ----------------------------------------------------------------------


@pytest.mark.interop("CreatePrebuild")
def test_create_returns_the_stored_pending_prebuild(
    interop: Interop, client: str, outcomes: dict[str, Outcome]
) -> None:
    t = interop.tenants[client]
    p = prebuild(outcomes, "prebuild_create")
    uuid.UUID(p["id"])
    creator = p["metadata"]["creator"]
    uuid.UUID(creator["id"])
    assert p["metadata"] == {
        "organizationId": t.org_id,
        "projectId": t.project_id,
        "environmentClassId": t.extra_class_ids[0],
        "creator": {"id": creator["id"], "principal": "PRINCIPAL_SERVICE_ACCOUNT"},
        "createdAt": p["metadata"]["createdAt"],
        "updatedAt": p["metadata"]["createdAt"],
        "triggeredBy": "PREBUILD_TRIGGER_MANUAL",
        "executor": {"id": t.runner_id, "principal": "PRINCIPAL_RUNNER"},
    }
    # uint64 versions are JSON strings; the project's timeout is a Duration; nothing unset
    # (no completion time, no snapshot size, no environment yet) is written.
    assert p["spec"] == {"specVersion": "1", "desiredPhase": COMPLETED, "timeout": "3600s"}
    assert p["status"] == {
        "phase": PENDING,
        "statusVersion": "1",
        "logUrl": log_url(interop, p["id"]),
    }


@pytest.mark.interop("CreatePrebuild")
def test_create_without_class_takes_the_projects_first_and_the_requested_timeout(
    interop: Interop, client: str, outcomes: dict[str, Outcome]
) -> None:
    p = prebuild(outcomes, "prebuild_create_default_class")
    assert p["metadata"]["environmentClassId"] == interop.tenants[client].class_id
    assert p["spec"]["timeout"] == "900s"
    assert prebuild(outcomes, "prebuild_create_to_delete")["spec"]["timeout"] == "1800s"


@pytest.mark.interop("CreatePrebuild")
def test_each_create_makes_a_new_prebuild_by_the_same_creator(
    outcomes: dict[str, Outcome],
) -> None:
    created = [prebuild(outcomes, step) for step in CREATED]
    assert len({p["id"] for p in created}) == len(CREATED)
    assert len({p["metadata"]["creator"]["id"] for p in created}) == 1
    instants = [timestamp(p["metadata"]["createdAt"]) for p in created]
    assert instants == sorted(instants)


# --- GetPrebuild -------------------------------------------------------------------------


@pytest.mark.interop("GetPrebuild")
def test_get_returns_the_prebuild_as_created(outcomes: dict[str, Outcome]) -> None:
    assert prebuild(outcomes, "prebuild_get") == prebuild(outcomes, "prebuild_create")


@pytest.mark.interop("GetPrebuild")
def test_get_of_a_completed_prebuild_shows_everything_the_controller_recorded(
    interop: Interop, client: str, outcomes: dict[str, Outcome]
) -> None:
    # Read by a viewer. Every status field the controller fills is on the wire here: a
    # Timestamp, an int32, an int64 (a JSON string) and a UUID, on top of the versions.
    got = prebuild(outcomes, "prebuild_get_completed")
    expected = expected_completed(interop, client)
    assert comparable(got) == comparable(expected)
    status = got["status"]
    assert status["phase"] == COMPLETED
    assert status["snapshotCompletionPercentage"] == 100
    assert isinstance(status["snapshotSizeBytes"], str)
    assert int(status["snapshotSizeBytes"]) > 0
    uuid.UUID(status["environmentId"])
    assert int(status["statusVersion"]) > 1
    assert timestamp(status["completionTime"]) >= timestamp(got["metadata"]["createdAt"])


# --- ListPrebuilds -----------------------------------------------------------------------


@pytest.mark.interop("ListPrebuilds")
def test_list_pages_through_the_filtered_prebuilds_in_creation_order(
    outcomes: dict[str, Outcome],
) -> None:
    listed = listed_across_three_pages(outcomes, "prebuild_list_filtered_pages", "prebuilds")
    assert listed == [prebuild(outcomes, step) for step in CREATED]


@pytest.mark.interop("ListPrebuilds")
def test_list_without_filter_returns_the_callers_prebuilds_only(
    interop: Interop, client: str, outcomes: dict[str, Outcome]
) -> None:
    # By a viewer; the controller's completed prebuild was created first.
    response = ok(outcomes, "prebuild_list_all")
    listed = response["prebuilds"]
    assert len(listed) == 1 + len(CREATED)
    assert {p["metadata"]["organizationId"] for p in listed} == {interop.tenants[client].org_id}
    assert comparable(listed[0]) == comparable(expected_completed(interop, client))
    assert listed[1:] == [prebuild(outcomes, step) for step in CREATED]
    assert response.get("pagination", {}).get("nextToken", "") == ""


@pytest.mark.interop("ListPrebuilds")
def test_list_filters_on_phases_creators_and_executors(outcomes: dict[str, Outcome]) -> None:
    listed = ok(outcomes, "prebuild_list_cancelling_or_deleting")["prebuilds"]
    assert listed == [
        prebuild(outcomes, "prebuild_get_cancelled"),
        prebuild(outcomes, "prebuild_get_deleted"),
    ]


# --- CreatePrebuildLogsToken -------------------------------------------------------------


@pytest.mark.interop("CreatePrebuildLogsToken")
def test_logs_token_reads_the_prebuilds_log_and_no_other(
    interop: Interop, outcomes: dict[str, Outcome]
) -> None:
    token = ok(outcomes, "prebuild_logs_token")["accessToken"]
    assert token.startswith(LOGS_TOKEN_PREFIX), token
    assert len(token) > len(LOGS_TOKEN_PREFIX) + 40
    created = prebuild(outcomes, "prebuild_create")
    headers = {"Authorization": f"Bearer {token}"}
    own = httpx.get(created["status"]["logUrl"], headers=headers, timeout=10)
    assert own.status_code == 200, own.text
    other = prebuild(outcomes, "prebuild_get_completed")
    foreign = httpx.get(other["status"]["logUrl"], headers=headers, timeout=10)
    assert foreign.status_code == 403, foreign.text


@pytest.mark.interop("CreatePrebuildLogsToken")
def test_viewer_gets_a_logs_token_for_the_completed_prebuilds_log(
    interop: Interop, outcomes: dict[str, Outcome]
) -> None:
    token = ok(outcomes, "prebuild_logs_token_completed")["accessToken"]
    assert token.startswith(LOGS_TOKEN_PREFIX), token
    assert token != ok(outcomes, "prebuild_logs_token")["accessToken"]
    url = prebuild(outcomes, "prebuild_get_completed")["status"]["logUrl"]
    answer = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.text.strip(), "the completed prebuild's log is empty"
    assert httpx.get(url, timeout=10).status_code == 401


# --- CancelPrebuild ----------------------------------------------------------------------


@pytest.mark.interop("CancelPrebuild")
def test_cancel_answers_the_cancelling_prebuild_and_bumps_both_versions(
    outcomes: dict[str, Outcome],
) -> None:
    before = prebuild(outcomes, "prebuild_create_to_cancel")
    after = prebuild(outcomes, "prebuild_cancel")
    assert after["id"] == before["id"]
    assert after["spec"] == {**before["spec"], "specVersion": "2", "desiredPhase": CANCELLED}
    assert after["status"] == {**before["status"], "statusVersion": "2", "phase": CANCELLING}
    assert {**after["metadata"], "updatedAt": None} == {**before["metadata"], "updatedAt": None}
    assert timestamp(after["metadata"]["updatedAt"]) > timestamp(before["metadata"]["updatedAt"])


@pytest.mark.interop("CancelPrebuild")
def test_cancel_again_changes_nothing(outcomes: dict[str, Outcome]) -> None:
    first = prebuild(outcomes, "prebuild_cancel")
    assert prebuild(outcomes, "prebuild_cancel_again") == first
    assert prebuild(outcomes, "prebuild_get_cancelled") == first


# --- DeletePrebuild ----------------------------------------------------------------------


@pytest.mark.interop("DeletePrebuild")
def test_delete_answers_empty_and_the_prebuild_is_deleting(outcomes: dict[str, Outcome]) -> None:
    assert ok(outcomes, "prebuild_delete") == {}
    before = prebuild(outcomes, "prebuild_create_to_delete")
    gone = prebuild(outcomes, "prebuild_get_deleted")
    assert gone["id"] == before["id"]
    assert gone["spec"] == {**before["spec"], "specVersion": "2", "desiredPhase": DELETED}
    assert gone["status"] == {**before["status"], "statusVersion": "2", "phase": DELETING}


@pytest.mark.interop("DeletePrebuild")
def test_delete_of_a_deleting_prebuild_answers_ok(outcomes: dict[str, Outcome]) -> None:
    assert ok(outcomes, "prebuild_delete_again") == {}


# --- error paths, as the client's own errors ---------------------------------------------


@pytest.mark.interop("errors")
def test_unknown_prebuild_is_not_found_by_every_method(outcomes: dict[str, Outcome]) -> None:
    for step in (
        "prebuild_error_not_found",
        "prebuild_error_cancel_not_found",
        "prebuild_error_delete_not_found",
        "prebuild_error_logs_token_not_found",
    ):
        err = error(outcomes, step, "not_found")
        assert err["message"] == f"prebuild {UNKNOWN_PREBUILD_ID} not found", step


@pytest.mark.interop("errors")
def test_invalid_prebuild_fields_are_invalid_argument_naming_each_field(
    outcomes: dict[str, Outcome],
) -> None:
    err = error(outcomes, "prebuild_error_invalid_argument", "invalid_argument")
    assert err["message"] == (
        "project_id: must be a valid UUID; environment_class_id: must be a valid UUID; "
        "spec.timeout: must be between 300s and 7200s"
    )
    assert violations(err) == [
        ("project_id", "must be a valid UUID"),
        ("environment_class_id", "must be a valid UUID"),
        ("spec.timeout", "must be between 300s and 7200s"),
    ]
    # `spec` is a required message: a client must not send an empty one in its place.
    missing = error(outcomes, "prebuild_error_missing_spec", "invalid_argument")
    assert violations(missing) == [("spec", "value is required")]
    bad_id = error(outcomes, "prebuild_error_invalid_id", "invalid_argument")
    assert violations(bad_id) == [("prebuild_id", "must be a valid UUID")]


@pytest.mark.interop("errors")
def test_invalid_list_request_is_invalid_argument(outcomes: dict[str, Outcome]) -> None:
    err = error(outcomes, "prebuild_error_invalid_list", "invalid_argument")
    assert violations(err) == [
        ("pagination.page_size", "must be between 0 and 100"),
        ("filter.project_ids[1]", "must be a valid UUID"),
    ]


@pytest.mark.interop("errors")
def test_prebuild_preconditions_are_failed_precondition(
    interop: Interop, client: str, outcomes: dict[str, Outcome]
) -> None:
    t = interop.tenants[client]
    disabled = error(outcomes, "prebuild_error_prebuilds_disabled", "failed_precondition")
    assert "does not have prebuilds enabled" in disabled["message"]
    unconfigured = error(outcomes, "prebuild_error_class_not_configured", "failed_precondition")
    assert t.other_class_id in unconfigured["message"]
    completed = error(outcomes, "prebuild_error_cancel_completed", "failed_precondition")
    assert "already completed" in completed["message"]
    deleting = error(outcomes, "prebuild_error_cancel_deleting", "failed_precondition")
    assert "being deleted" in deleting["message"]


@pytest.mark.interop("errors")
def test_viewer_may_not_create_a_prebuild(outcomes: dict[str, Outcome]) -> None:
    error(outcomes, "prebuild_error_viewer_create", "permission_denied")


@pytest.mark.interop("errors")
def test_prebuild_calls_without_a_known_token_are_unauthenticated(
    outcomes: dict[str, Outcome],
) -> None:
    error(outcomes, "prebuild_error_unauthenticated", "unauthenticated")
    error(outcomes, "prebuild_error_unknown_token", "unauthenticated")
