"""The domain vocabulary shared by store, services, controller and transports.

Ids are lowercase UUID strings throughout (the wire format), so no layer converts them. Enum
values are the proto numbers, so the store and the wire agree without a mapping table.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datetime import datetime


class WarmPoolPhase(enum.IntEnum):
    UNSPECIFIED = 0
    PENDING = 10
    READY = 20
    DEGRADED = 30
    DELETING = 40
    DELETED = 50


class Role(enum.StrEnum):
    ADMIN = "admin"
    WARMPOOL_ADMIN = "warmpool_admin"
    VIEWER = "viewer"
    RUNNER = "runner"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: resolved from a bearer token."""

    token_id: str
    organization_id: str
    role: Role


@dataclass(frozen=True, slots=True)
class WarmPool:
    id: str
    organization_id: str
    project_id: str
    environment_class_id: str
    runner_id: str
    created_at: datetime
    updated_at: datetime
    # spec
    spec_version: int
    legacy_desired_size: int  # spec.desired_size (deprecated); 0 when unset
    min_size: int
    max_size: int
    snapshot_id: str | None
    desired_phase: WarmPoolPhase
    # status
    phase: WarmPoolPhase
    failure_message: str
    status_version: int
    running_instances: int
    stopped_instances: int
    target_size: int  # status.desired_size


@dataclass(frozen=True, slots=True)
class Sizing:
    """A pool's sizing as stored: min/max always resolved, desired only if the client used it."""

    legacy_desired_size: int
    min_size: int
    max_size: int


@dataclass(frozen=True, slots=True)
class Project:
    id: str
    organization_id: str
    name: str
    prebuilds_enabled: bool
    prebuild_environment_class_ids: tuple[str, ...]
    prebuild_timeout_seconds: int
