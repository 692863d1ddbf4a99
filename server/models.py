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


class PrebuildPhase(enum.IntEnum):
    UNSPECIFIED = 0
    PENDING = 10
    STARTING = 20
    RUNNING = 30
    STOPPING = 40
    SNAPSHOTTING = 50
    COMPLETED = 60
    FAILED = 70
    CANCELLING = 75
    CANCELLED = 80
    DELETING = 85
    DELETED = 90

    @property
    def terminal(self) -> bool:
        """No further change happens by itself (DELETING is not terminal: it still drains)."""
        return self in _TERMINAL_PREBUILD_PHASES


_TERMINAL_PREBUILD_PHASES = frozenset(
    {PrebuildPhase.COMPLETED, PrebuildPhase.FAILED, PrebuildPhase.CANCELLED, PrebuildPhase.DELETED}
)


class PrebuildTrigger(enum.IntEnum):
    UNSPECIFIED = 0
    MANUAL = 1
    SCHEDULED = 2


class SubjectKind(enum.IntEnum):
    """gitpod.v1.Principal: what kind of actor a Subject is."""

    UNSPECIFIED = 0
    ACCOUNT = 1
    USER = 2
    RUNNER = 3
    ENVIRONMENT = 4
    SERVICE_ACCOUNT = 5
    RUNNER_MANAGER = 6


@dataclass(frozen=True, slots=True)
class Prebuild:
    id: str
    organization_id: str
    project_id: str
    environment_class_id: str
    runner_id: str  # metadata.executor (a runner)
    creator_id: str
    creator_kind: SubjectKind
    triggered_by: PrebuildTrigger
    created_at: datetime
    updated_at: datetime
    # spec
    spec_version: int
    desired_phase: PrebuildPhase
    timeout_seconds: int
    # status
    phase: PrebuildPhase
    status_version: int
    completion_time: datetime | None
    failure_message: str
    warning_message: str
    environment_id: str | None
    snapshot_completion_percentage: int
    snapshot_size_bytes: int


class InstanceState(enum.StrEnum):
    """Where a warm-pool instance is in its life (see docs/controller.md, state machine)."""

    CREATING = "creating"  # intent written; the provider is asked to create it
    WARMING = "warming"  # the provider has it and is booting it from the snapshot
    READY = "ready"  # running: claimable at once
    STOPPING = "stopping"  # intent: stop (demotion to standby)
    STANDBY = "standby"  # stopped: cheap, claimable as "starting"
    STARTING = "starting"  # intent: start (promotion to ready)
    CLAIMED = "claimed"  # handed to a runner; no longer part of the pool
    DRAINING = "draining"  # intent: delete
    FAILED = "failed"  # broken; will be drained
    DELETED = "deleted"  # gone at the provider


class ClaimOutcome(enum.IntEnum):
    """warmpool.v1.ClaimOutcome."""

    UNSPECIFIED = 0
    RUNNING = 1
    STARTING = 2
    MISS = 3


@dataclass(frozen=True, slots=True)
class ClaimedInstance:
    id: str
    pool_id: str
    snapshot_id: str
    current_snapshot: bool
    claim_id: str
    claimed_at: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Claim:
    outcome: ClaimOutcome
    pool_id: str
    instance: ClaimedInstance | None  # None on a miss
