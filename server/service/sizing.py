"""Sizing rules of warm pools: defaults on create, presence-based merge on update.

`desired_size` is the deprecated fixed size; `min_size`/`max_size` replaced it. The two styles
cannot be mixed in one request. A pool always stores a resolved min and max; the deprecated
field is echoed in `spec.desired_size` only while the pool is sized by it.
"""

from __future__ import annotations

from server.errors import FieldViolation, InvalidArgument
from server.models import Sizing

_MIXED = FieldViolation("desired_size", "cannot be combined with min_size or max_size")


def _min_above_max(min_size: int, max_size: int) -> InvalidArgument:
    return InvalidArgument(
        FieldViolation("min_size", f"must not exceed max_size ({min_size} > {max_size})")
    )


def sizing_for_create(desired_size: int, min_size: int | None, max_size: int | None) -> Sizing:
    """Resolve a CreateWarmPool request's sizing; desired_size 0 means unset."""
    if desired_size and (min_size is not None or max_size is not None):
        raise InvalidArgument(_MIXED)
    if desired_size:
        return Sizing(desired_size, desired_size, desired_size)
    if min_size is not None and max_size is not None:
        if min_size > max_size:
            raise _min_above_max(min_size, max_size)
        return Sizing(0, min_size, max_size)
    if min_size is not None:
        return Sizing(0, min_size, max(min_size, 1))
    if max_size is not None:
        return Sizing(0, min(1, max_size), max_size)
    return Sizing(0, 1, 1)


def check_update_request(
    desired_size: int | None, min_size: int | None, max_size: int | None
) -> None:
    """The sizing rules an UpdateWarmPool request breaks on its own, before the pool is read."""
    if desired_size is not None and (min_size is not None or max_size is not None):
        raise InvalidArgument(_MIXED)
    if min_size is not None and max_size is not None and min_size > max_size:
        raise _min_above_max(min_size, max_size)


def sizing_for_update(
    current: Sizing, desired_size: int | None, min_size: int | None, max_size: int | None
) -> Sizing | None:
    """Merge the fields that are set into `current`; None when nothing would change."""
    if desired_size is not None and (min_size is not None or max_size is not None):
        raise InvalidArgument(_MIXED)
    if desired_size is not None:
        merged = Sizing(desired_size, desired_size, desired_size)
    elif min_size is not None or max_size is not None:
        new_min = current.min_size if min_size is None else min_size
        new_max = current.max_size if max_size is None else max_size
        if new_min > new_max:
            raise _min_above_max(new_min, new_max)
        merged = Sizing(0, new_min, new_max)
    else:
        return None
    return None if merged == current else merged
