"""The warm-pool rules, as every interop client observes them (one parameter per client).

Each client ran the same plan (`plan.py`) against the server process with its own tenant;
these tests read its outcomes. A failure here is a wire mismatch between the server and that
client, or a rule the server breaks.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

import pytest

from tests.interop.outcomes import error, listed_across_three_pages, ok, pool, timestamp, violations

if TYPE_CHECKING:
    from tests.interop.plan import Outcome
    from tests.interop.session import Interop

READY = "WARM_POOL_PHASE_READY"
PENDING = "WARM_POOL_PHASE_PENDING"
DELETING = "WARM_POOL_PHASE_DELETING"
DELETED = "WARM_POOL_PHASE_DELETED"


def sizes(p: dict[str, Any]) -> tuple[int | None, int | None, int | None]:
    """(spec.desiredSize, spec.minSize, spec.maxSize); None when the field is absent."""
    spec = p["spec"]
    return spec.get("desiredSize"), spec.get("minSize"), spec.get("maxSize")


# --- CreateWarmPool ----------------------------------------------------------------------


@pytest.mark.interop("CreateWarmPool")
def test_create_returns_the_stored_pending_pool(
    interop: Interop, client: str, outcomes: dict[str, Outcome]
) -> None:
    t = interop.tenants[client]
    p = pool(outcomes, "create_min_max")
    uuid.UUID(p["id"])
    assert p["metadata"]["organizationId"] == t.org_id
    assert p["metadata"]["projectId"] == t.project_id
    assert p["metadata"]["environmentClassId"] == t.class_id
    assert p["metadata"]["runnerId"] == t.runner_id
    assert p["metadata"]["createdAt"] == p["metadata"]["updatedAt"]
    assert p["spec"]["specVersion"] == "1"  # uint64: a JSON string
    assert p["spec"]["desiredPhase"] == READY
    assert "snapshotId" not in p["spec"]
    assert p["status"]["phase"] == PENDING
    assert p["status"]["statusVersion"] == "1"


@pytest.mark.interop("CreateWarmPool")
def test_create_with_min_and_max_keeps_both_even_a_zero_min(
    outcomes: dict[str, Outcome],
) -> None:
    # minSize is `optional`: a set 0 must survive the client's encoding and the server's.
    p = pool(outcomes, "create_min_max")
    assert sizes(p) == (None, 0, 3)
    assert p["status"].get("desiredSize", 0) == 0


@pytest.mark.interop("CreateWarmPool")
def test_create_with_desired_size_sets_min_and_max_to_it(outcomes: dict[str, Outcome]) -> None:
    p = pool(outcomes, "create_desired")
    assert sizes(p) == (2, 2, 2)
    assert p["status"]["desiredSize"] == 2


@pytest.mark.interop("CreateWarmPool")
def test_create_without_sizes_defaults_min_and_max_to_one(outcomes: dict[str, Outcome]) -> None:
    assert sizes(pool(outcomes, "create_no_sizes")) == (None, 1, 1)


@pytest.mark.interop("CreateWarmPool")
def test_create_with_one_bound_derives_the_other(outcomes: dict[str, Outcome]) -> None:
    assert sizes(pool(outcomes, "create_fifth")) == (None, 1, 2)  # only maxSize 2
    assert sizes(pool(outcomes, "create_unlisted")) == (None, 2, 2)  # only minSize 2


@pytest.mark.interop("CreateWarmPool")
def test_create_after_delete_makes_a_new_pool_for_the_pair(outcomes: dict[str, Outcome]) -> None:
    again = pool(outcomes, "recreate_after_delete")
    before = pool(outcomes, "create_no_sizes")
    assert again["id"] != before["id"]
    assert again["metadata"]["environmentClassId"] == before["metadata"]["environmentClassId"]
    assert again["spec"]["specVersion"] == "1"


# --- GetWarmPool -------------------------------------------------------------------------


@pytest.mark.interop("GetWarmPool")
def test_get_returns_the_pool_as_created(outcomes: dict[str, Outcome]) -> None:
    assert pool(outcomes, "get") == pool(outcomes, "create_min_max")


@pytest.mark.interop("GetWarmPool")
def test_get_is_allowed_to_a_viewer(outcomes: dict[str, Outcome]) -> None:
    assert pool(outcomes, "get_as_viewer") == pool(outcomes, "create_desired")


@pytest.mark.interop("GetWarmPool")
def test_get_after_update_shows_the_update(outcomes: dict[str, Outcome]) -> None:
    assert pool(outcomes, "get_after_update") == pool(outcomes, "update_sizes")


# --- ListWarmPools -----------------------------------------------------------------------


@pytest.mark.interop("ListWarmPools")
def test_list_pages_through_the_filtered_pools_in_creation_order(
    outcomes: dict[str, Outcome],
) -> None:
    listed = listed_across_three_pages(outcomes, "list_filtered_pages", "warmPools")
    created = ["create_min_max", "create_desired", "create_no_sizes", "create_fourth"]
    created.append("create_fifth")  # create_unlisted's class is not in the filter
    assert listed == [pool(outcomes, step) for step in created]


@pytest.mark.interop("ListWarmPools")
def test_list_without_filter_returns_the_callers_pools_only(
    interop: Interop, client: str, outcomes: dict[str, Outcome]
) -> None:
    listed = ok(outcomes, "list_all")["warmPools"]
    assert len(listed) == 6
    assert {p["metadata"]["organizationId"] for p in listed} == {interop.tenants[client].org_id}
    assert ok(outcomes, "list_all").get("pagination", {}).get("nextToken", "") == ""


# --- UpdateWarmPool ----------------------------------------------------------------------


@pytest.mark.interop("UpdateWarmPool")
def test_update_changes_the_sizes_and_bumps_spec_version(outcomes: dict[str, Outcome]) -> None:
    before, after = pool(outcomes, "create_min_max"), pool(outcomes, "update_sizes")
    assert after["id"] == before["id"]
    assert sizes(after) == (None, 1, 4)
    assert after["spec"]["specVersion"] == "2"
    assert after["metadata"]["createdAt"] == before["metadata"]["createdAt"]
    assert timestamp(after["metadata"]["updatedAt"]) > timestamp(before["metadata"]["updatedAt"])


@pytest.mark.interop("UpdateWarmPool")
def test_update_to_a_zero_min_keeps_the_zero(outcomes: dict[str, Outcome]) -> None:
    # The one field set is an `optional` 0: the client must send its presence.
    after = pool(outcomes, "update_min_to_zero")
    assert sizes(after) == (None, 0, 1)
    assert after["spec"]["specVersion"] == "2"


@pytest.mark.interop("UpdateWarmPool")
def test_update_without_fields_answers_the_unchanged_pool(outcomes: dict[str, Outcome]) -> None:
    assert pool(outcomes, "update_nothing") == pool(outcomes, "update_sizes")


# --- DeleteWarmPool ----------------------------------------------------------------------


@pytest.mark.interop("DeleteWarmPool")
def test_delete_answers_empty_and_the_pool_is_deleting(outcomes: dict[str, Outcome]) -> None:
    assert ok(outcomes, "delete") == {}
    gone = pool(outcomes, "get_deleted")
    assert gone["status"]["phase"] == DELETING
    assert gone["spec"]["desiredPhase"] == DELETED


@pytest.mark.interop("DeleteWarmPool")
def test_delete_of_a_deleting_pool_answers_ok(outcomes: dict[str, Outcome]) -> None:
    assert ok(outcomes, "delete_again") == {}


# --- error paths, as the client's own errors ---------------------------------------------


@pytest.mark.interop("errors")
def test_unknown_pool_is_not_found(outcomes: dict[str, Outcome]) -> None:
    assert "not found" in error(outcomes, "error_not_found", "not_found")["message"]
    error(outcomes, "error_delete_not_found", "not_found")


@pytest.mark.interop("errors")
def test_second_pool_for_a_pair_already_exists(outcomes: dict[str, Outcome]) -> None:
    error(outcomes, "error_already_exists", "already_exists")


@pytest.mark.interop("errors")
def test_invalid_fields_are_invalid_argument_naming_each_field(
    outcomes: dict[str, Outcome],
) -> None:
    err = error(outcomes, "error_invalid_argument", "invalid_argument")
    assert err["message"] == (
        "project_id: must be a valid UUID; max_size: must be between 1 and 20"
    )
    assert violations(err) == [
        ("project_id", "must be a valid UUID"),
        ("max_size", "must be between 1 and 20"),
    ]


@pytest.mark.interop("errors")
def test_min_above_max_on_update_is_invalid_argument(outcomes: dict[str, Outcome]) -> None:
    error(outcomes, "error_min_above_max", "invalid_argument")


@pytest.mark.interop("errors")
def test_malformed_page_token_is_invalid_argument(outcomes: dict[str, Outcome]) -> None:
    err = error(outcomes, "error_bad_page_token", "invalid_argument")
    assert [field for field, _ in violations(err)] == ["pagination.token"]


@pytest.mark.interop("errors")
def test_missing_or_unknown_token_is_unauthenticated(outcomes: dict[str, Outcome]) -> None:
    error(outcomes, "error_unauthenticated", "unauthenticated")
    error(outcomes, "error_unknown_token", "unauthenticated")


@pytest.mark.interop("errors")
def test_viewer_may_not_create(outcomes: dict[str, Outcome]) -> None:
    error(outcomes, "error_permission_denied", "permission_denied")
