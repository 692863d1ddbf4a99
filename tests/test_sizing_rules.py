"""Sizing defaults and merge rules (behaviour.md §2), as pure functions."""

from __future__ import annotations

import pytest

from server.errors import InvalidArgument
from server.models import Sizing
from server.service.sizing import check_update_request, sizing_for_create, sizing_for_update


@pytest.mark.parametrize(
    ("desired", "min_size", "max_size", "expected"),
    [
        (0, None, None, Sizing(0, 1, 1)),  # none → min = max = 1
        (2, None, None, Sizing(2, 2, 2)),  # only desired → min = max = desired, echoed
        (0, 0, None, Sizing(0, 0, 1)),  # only min → max = max(min, 1)
        (0, 5, None, Sizing(0, 5, 5)),
        (0, None, 3, Sizing(0, 1, 3)),  # only max → min = min(1, max)
        (0, None, 1, Sizing(0, 1, 1)),
        (0, 0, 20, Sizing(0, 0, 20)),
        (0, 4, 4, Sizing(0, 4, 4)),
    ],
)
def test_create_sizing_defaults(
    desired: int, min_size: int | None, max_size: int | None, expected: Sizing
) -> None:
    assert sizing_for_create(desired, min_size, max_size) == expected


@pytest.mark.parametrize(("min_size", "max_size"), [(3, None), (None, 3), (0, 1)])
def test_create_rejects_desired_size_mixed_with_min_or_max(
    min_size: int | None, max_size: int | None
) -> None:
    with pytest.raises(InvalidArgument) as err:
        sizing_for_create(2, min_size, max_size)
    assert [v.field for v in err.value.violations] == ["desired_size"]
    assert "cannot be combined" in err.value.message


def test_create_rejects_min_above_max() -> None:
    with pytest.raises(InvalidArgument) as err:
        sizing_for_create(0, 5, 3)
    assert err.value.violations[0].field == "min_size"
    assert "5 > 3" in err.value.message


def test_update_changes_only_fields_that_are_set() -> None:
    current = Sizing(0, 1, 5)
    assert sizing_for_update(current, None, None, 8) == Sizing(0, 1, 8)
    assert sizing_for_update(current, None, 3, None) == Sizing(0, 3, 5)


def test_update_with_desired_size_sets_min_and_max() -> None:
    assert sizing_for_update(Sizing(0, 1, 5), 3, None, None) == Sizing(3, 3, 3)


def test_update_with_min_or_max_clears_the_deprecated_desired_size() -> None:
    assert sizing_for_update(Sizing(2, 2, 2), None, None, 4) == Sizing(0, 2, 4)


def test_update_that_changes_nothing_returns_none() -> None:
    assert sizing_for_update(Sizing(0, 1, 5), None, None, None) is None
    assert sizing_for_update(Sizing(0, 1, 5), None, 1, 5) is None
    assert sizing_for_update(Sizing(3, 3, 3), 3, None, None) is None


def test_update_rejects_merged_min_above_max() -> None:
    with pytest.raises(InvalidArgument) as err:
        sizing_for_update(Sizing(0, 1, 2), None, 5, None)
    assert "5 > 2" in err.value.message


def test_update_request_rejects_mixing_before_reading_the_pool() -> None:
    with pytest.raises(InvalidArgument):
        check_update_request(2, 1, None)
    with pytest.raises(InvalidArgument):
        check_update_request(None, 4, 3)
    check_update_request(None, 3, 4)
