"""The built-in `simulated` provider: instances and prebuilds that exist only in Postgres.

Latencies are configurable (zero in tests, seconds in the demo) and failures can be injected
by rate (each create fails with a probability) and by snapshot (every create from a listed
snapshot fails; see `inject_snapshot_fault` and `python -m server admin sim-fault`). Since
its state lives in the shared database, every replica sees the same simulated world.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from server.models import PrebuildPhase
from server.providers.base import InstanceStatus, PrebuildStatus, ProviderState
from server.store import simulated as store

if TYPE_CHECKING:
    from collections.abc import Sequence

    from server.providers.base import InstanceSpec, PrebuildSpec
    from server.store.database import Database
    from server.store.simulated import SimInstanceRow, SimPrebuildRow

GIB = 1024**3

# Share of a prebuild's duration spent in each phase before SNAPSHOTTING (the rest).
_PREBUILD_PHASES = (
    (0.1, PrebuildPhase.STARTING),
    (0.6, PrebuildPhase.RUNNING),
    (0.7, PrebuildPhase.STOPPING),
)


@dataclass(frozen=True)
class SimulatedSettings:
    create_seconds: float = 0.0
    start_seconds: float = 0.0
    stop_seconds: float = 0.0
    delete_seconds: float = 0.0
    prebuild_seconds: float = 0.0
    failure_rate: float = 0.0  # probability that one create fails
    failing_snapshots: tuple[str, ...] = field(default_factory=tuple)


class SimulatedProvider:
    name = "simulated"

    def __init__(
        self, db: Database, settings: SimulatedSettings, rng: random.Random | None = None
    ) -> None:
        self._db = db
        self._s = settings
        self._rng = rng or random.Random()

    async def create_instances(self, specs: Sequence[InstanceSpec]) -> None:
        if not specs:
            return
        await store.create_instances(
            self._db,
            [s.id for s in specs],
            [s.snapshot_id for s in specs],
            [s.environment_class_id for s in specs],
            [self._rng.random() < self._s.failure_rate for _ in specs],
            self._s.create_seconds,
            self._s.failing_snapshots,
        )

    async def start_instances(self, ids: Sequence[str]) -> None:
        if ids:
            await store.start_instances(self._db, ids, self._s.start_seconds)

    async def stop_instances(self, ids: Sequence[str]) -> None:
        if ids:
            await store.stop_instances(self._db, ids, self._s.stop_seconds)

    async def delete_instances(self, ids: Sequence[str]) -> None:
        if ids:
            await store.delete_instances(self._db, ids, self._s.delete_seconds)

    async def describe_instances(self, ids: Sequence[str]) -> dict[str, InstanceStatus]:
        if not ids:
            return {}
        found = {
            row.id: _instance_status(row) for row in await store.describe_instances(self._db, ids)
        }
        return {i: found.get(i, InstanceStatus(ProviderState.MISSING)) for i in ids}

    async def start_prebuild(self, spec: PrebuildSpec) -> None:
        size = self._rng.randint(1 * GIB, 4 * GIB)
        await store.start_prebuild(self._db, spec.id, self._s.prebuild_seconds, size)

    async def cancel_prebuild(self, prebuild_id: str) -> None:
        await store.cancel_prebuild(self._db, prebuild_id)

    async def describe_prebuilds(self, ids: Sequence[str]) -> dict[str, PrebuildStatus]:
        if not ids:
            return {}
        found = {
            row.id: prebuild_status(row) for row in await store.describe_prebuilds(self._db, ids)
        }
        return {i: found.get(i, PrebuildStatus(None)) for i in ids}


_IN_PROGRESS = {
    "provision": ProviderState.PROVISIONING,
    "start": ProviderState.STARTING,
    "stop": ProviderState.STOPPING,
    "delete": ProviderState.DELETING,
}
_DONE = {
    "provision": ProviderState.RUNNING,
    "start": ProviderState.RUNNING,
    "stop": ProviderState.STOPPED,
    "delete": ProviderState.MISSING,
}


def _instance_status(row: SimInstanceRow) -> InstanceStatus:
    if not row.done:
        return InstanceStatus(_IN_PROGRESS[row.transition], expected_at=row.done_at)
    if row.transition == "provision" and row.fails:
        return InstanceStatus(ProviderState.FAILED, row.message)
    return InstanceStatus(_DONE[row.transition])


def prebuild_status(row: SimPrebuildRow) -> PrebuildStatus:
    """The phase of a simulated run: a function of the time elapsed since it started."""
    end = row.started_at + timedelta(seconds=row.seconds)
    if row.cancelled_at is not None and row.cancelled_at < end:
        return PrebuildStatus(
            PrebuildPhase.CANCELLED, environment_id=row.environment_id, message="cancelled"
        )
    if row.now >= end:
        return PrebuildStatus(
            PrebuildPhase.COMPLETED,
            snapshot_id=row.snapshot_id,
            environment_id=row.environment_id,
            snapshot_completion_percentage=100,
            snapshot_size_bytes=row.size_bytes,
        )
    elapsed = (row.now - row.started_at).total_seconds() / row.seconds
    for until, phase in _PREBUILD_PHASES:
        if elapsed < until:
            return PrebuildStatus(
                phase,
                environment_id=row.environment_id,
                expected_at=row.started_at + timedelta(seconds=row.seconds * until),
            )
    done = _PREBUILD_PHASES[-1][0]
    percentage = int(100 * (elapsed - done) / (1 - done))
    return PrebuildStatus(
        PrebuildPhase.SNAPSHOTTING,
        environment_id=row.environment_id,
        snapshot_completion_percentage=min(percentage, 99),
        # Look again in a tenth of the run so the percentage visibly moves.
        expected_at=min(end, row.now + timedelta(seconds=row.seconds / 10)),
    )


async def inject_snapshot_fault(db: Database, snapshot_id: str, message: str = "") -> None:
    """Make every future create from `snapshot_id` fail (failure injection by snapshot)."""
    text = message or f"snapshot {snapshot_id} cannot be booted (injected failure)"
    await store.inject_snapshot_fault(db, snapshot_id, text)


async def clear_snapshot_fault(db: Database, snapshot_id: str) -> bool:
    return await store.clear_snapshot_fault(db, snapshot_id)
