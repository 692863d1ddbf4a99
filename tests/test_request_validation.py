"""Field rules of the wire contract, checked without a server (pure request checks)."""

from __future__ import annotations

import pytest
from gitpod.v1 import prebuild_pb2 as pb

from server.errors import InvalidArgument
from server.service.warm_pools import check_create, check_list, check_update

PROJECT = "b0e12f6c-4c67-429d-a4a6-d9838b5da047"
CLASS = "d2c94c27-3b76-4a42-b88c-95a85e392c68"


def violations(exc: pytest.ExceptionInfo[InvalidArgument]) -> list[tuple[str, str]]:
    return [(v.field, v.description) for v in exc.value.violations]


def test_create_reports_every_violation_at_once_in_field_order() -> None:
    req = pb.CreateWarmPoolRequest(
        project_id="not-a-uuid", environment_class_id="", desired_size=21, max_size=0
    )
    with pytest.raises(InvalidArgument) as err:
        check_create(req)
    assert violations(err) == [
        ("project_id", "must be a valid UUID"),
        ("environment_class_id", "value is required"),
        ("desired_size", "must be between 1 and 20"),
        ("max_size", "must be between 1 and 20"),
    ]
    assert err.value.message == (
        "project_id: must be a valid UUID; environment_class_id: value is required; "
        "desired_size: must be between 1 and 20; max_size: must be between 1 and 20"
    )


def test_create_field_rules_come_before_sizing_rules() -> None:
    req = pb.CreateWarmPoolRequest(
        project_id="x", environment_class_id=CLASS, desired_size=2, min_size=1
    )
    with pytest.raises(InvalidArgument) as err:
        check_create(req)
    assert violations(err) == [("project_id", "must be a valid UUID")]


def test_create_desired_size_zero_means_unset_but_negative_is_out_of_range() -> None:
    assert check_create(pb.CreateWarmPoolRequest(project_id=PROJECT, environment_class_id=CLASS))
    with pytest.raises(InvalidArgument) as err:
        check_create(
            pb.CreateWarmPoolRequest(
                project_id=PROJECT, environment_class_id=CLASS, desired_size=-1
            )
        )
    assert violations(err) == [("desired_size", "must be between 1 and 20")]


def test_create_min_size_zero_is_allowed_when_set() -> None:
    req = pb.CreateWarmPoolRequest(project_id=PROJECT, environment_class_id=CLASS, min_size=0)
    _, _, sizing = check_create(req)
    assert (sizing.min_size, sizing.max_size) == (0, 1)


@pytest.mark.parametrize(("field", "value"), [("min_size", -1), ("min_size", 21), ("max_size", 21)])
def test_create_optional_sizes_are_range_checked(field: str, value: int) -> None:
    req = pb.CreateWarmPoolRequest(project_id=PROJECT, environment_class_id=CLASS, **{field: value})
    with pytest.raises(InvalidArgument) as err:
        check_create(req)
    assert violations(err)[0][0] == field


def test_create_ids_are_normalized_to_lowercase() -> None:
    req = pb.CreateWarmPoolRequest(project_id=PROJECT.upper(), environment_class_id=CLASS.upper())
    project_id, class_id, _ = check_create(req)
    assert (project_id, class_id) == (PROJECT, CLASS)


def test_update_rules() -> None:
    with pytest.raises(InvalidArgument) as err:
        check_update(pb.UpdateWarmPoolRequest(warm_pool_id="", desired_size=0, min_size=30))
    assert violations(err) == [
        ("warm_pool_id", "value is required"),
        ("desired_size", "must be between 1 and 20"),  # optional: 0 is set, so it is checked
        ("min_size", "must be between 0 and 20"),
    ]


def test_list_rules() -> None:
    req = pb.ListWarmPoolsRequest()
    req.pagination.page_size = 101
    req.filter.project_ids.extend([PROJECT] * 26)
    req.filter.environment_class_ids.append("nope")
    with pytest.raises(InvalidArgument) as err:
        check_list(req)
    assert violations(err) == [
        ("pagination.page_size", "must be between 0 and 100"),
        ("filter.project_ids", "must contain at most 25 items"),
        ("filter.environment_class_ids[0]", "must be a valid UUID"),
    ]


def test_list_negative_page_size_is_invalid() -> None:
    req = pb.ListWarmPoolsRequest()
    req.pagination.page_size = -1
    with pytest.raises(InvalidArgument):
        check_list(req)


@pytest.mark.parametrize(
    "value", [PROJECT + "\n", "\n" + PROJECT, PROJECT + " ", PROJECT[:-1], PROJECT.replace("-", "")]
)
def test_uuid_rule_accepts_nothing_around_or_missing(value: str) -> None:
    from server.service.validation import is_uuid

    assert not is_uuid(value)
