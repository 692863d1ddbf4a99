"""Observe: everything the planner needs about a batch of leased pools, in two round trips.

One query reads the live instances of all pools in the batch; one provider call describes
the in-flight ones (steady instances — ready, standby — are not asked about every round).
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from server.controller.plan import IN_FLIGHT, ObservedInstance
from server.controller.prebuild_plan import ObservedPrebuild
from server.models import InstanceState
from server.store import controller as store

if TYPE_CHECKING:
    from collections.abc import Sequence

    from server.providers.base import RuntimeProvider
    from server.store.controller import LeasedPool
    from server.store.database import Database
    from server.store.prebuilds import LeasedPrebuild


def _described(inst: ObservedInstance) -> bool:
    return inst.state in IN_FLIGHT or (inst.state == InstanceState.CLAIMED and inst.start_pending)


async def observe_pools(
    db: Database, provider: RuntimeProvider, leases: Sequence[LeasedPool]
) -> dict[str, list[ObservedInstance]]:
    """The instances of each leased pool, in-flight ones with the provider's word on them."""
    found = await store.observe_instances(db, [x.pool.id for x in leases])
    ask = [i.id for instances in found.values() for i in instances if _described(i)]
    if not ask:
        return found
    statuses = await provider.describe_instances(ask)
    return {
        pool_id: [
            dataclasses.replace(i, provider=statuses.get(i.id)) if _described(i) else i
            for i in instances
        ]
        for pool_id, instances in found.items()
    }


async def observe_prebuilds(
    provider: RuntimeProvider, leases: Sequence[LeasedPrebuild]
) -> list[ObservedPrebuild]:
    runs = await provider.describe_prebuilds([x.id for x in leases])
    return [
        ObservedPrebuild(
            id=x.id,
            project_id=x.project_id,
            environment_class_id=x.environment_class_id,
            spec_version=x.spec_version,
            desired_phase=x.desired_phase,
            phase=x.phase,
            created_at=x.created_at,
            timeout_seconds=x.timeout_seconds,
            environment_id=x.environment_id,
            snapshot_completion_percentage=x.snapshot_completion_percentage,
            snapshot_size_bytes=x.snapshot_size_bytes,
            failure_message=x.failure_message,
            provider=runs[x.id],
        )
        for x in leases
    ]
