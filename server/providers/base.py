"""The runtime-provider interface: the only way the controller touches infrastructure.

Requests are asynchronous and idempotent, keyed by our ids: `create_instances` for an id
that already exists, `stop_instances` for an instance already stopping, `delete_instances`
for one already gone — all are no-ops, never errors. Progress is read back with the
`describe_*` calls. That is what lets the controller write an intent, call the provider,
crash, and have another replica simply reissue the call (docs/controller.md, "Intents").
Every method takes a batch: one call per reconcile round, not one per instance.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from server.models import PrebuildPhase


class ProviderState(enum.StrEnum):
    """What the provider says about one instance."""

    MISSING = "missing"  # unknown to the provider (never created, or deleted)
    PROVISIONING = "provisioning"  # being created and booted from its snapshot
    RUNNING = "running"
    STARTING = "starting"
    STOPPING = "stopping"
    STOPPED = "stopped"
    DELETING = "deleting"
    FAILED = "failed"  # will not become usable; `message` says why


@dataclass(frozen=True, slots=True)
class InstanceSpec:
    id: str  # ours; the provider's idempotency key
    snapshot_id: str
    environment_class_id: str


@dataclass(frozen=True, slots=True)
class InstanceStatus:
    state: ProviderState
    message: str = ""
    # When the provider expects the current transition to finish, if it knows: the
    # controller looks again then instead of polling.
    expected_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PrebuildSpec:
    id: str  # ours; the provider's idempotency key
    project_id: str
    environment_class_id: str
    timeout_seconds: int


@dataclass(frozen=True, slots=True)
class PrebuildStatus:
    """A prebuild run as the provider sees it; phase uses the public PrebuildPhase values."""

    phase: PrebuildPhase | None  # None: the provider has no such run (yet)
    snapshot_id: str | None = None  # set once COMPLETED
    environment_id: str | None = None
    snapshot_completion_percentage: int = 0
    snapshot_size_bytes: int = 0
    message: str = ""  # failure or cancellation reason
    expected_at: datetime | None = None


class RuntimeProvider(Protocol):
    """Creates, starts, stops, deletes and describes instances; runs prebuilds."""

    name: str

    async def create_instances(self, specs: Sequence[InstanceSpec]) -> None:
        """Create each instance from its snapshot and boot it; it ends up RUNNING."""

    async def start_instances(self, ids: Sequence[str]) -> None:
        """Start stopped instances."""

    async def stop_instances(self, ids: Sequence[str]) -> None:
        """Stop running instances (they keep their disk: cheap to keep, quick to start)."""

    async def delete_instances(self, ids: Sequence[str]) -> None:
        """Delete instances in any state."""

    async def describe_instances(self, ids: Sequence[str]) -> dict[str, InstanceStatus]:
        """The status of each id (MISSING for ids the provider does not know)."""

    async def start_prebuild(self, spec: PrebuildSpec) -> None:
        """Run a prebuild: start an environment, run its tasks, snapshot it."""

    async def cancel_prebuild(self, prebuild_id: str) -> None:
        """Stop a prebuild run; it ends CANCELLED (or stays COMPLETED/FAILED if it ended)."""

    async def describe_prebuilds(self, ids: Sequence[str]) -> dict[str, PrebuildStatus]:
        """The status of each prebuild run."""
