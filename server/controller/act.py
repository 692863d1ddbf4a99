"""Act: write a batch's plans (intents first), call the provider, hand the pools back.

Order matters for crash safety: the fenced write records every intent ('creating',
'starting', 'stopping', 'draining') before the provider hears of it, so whatever happens
after, the next owner of the pool sees the intent and reissues the call. Provider calls are
idempotent by instance id, so reissuing one that did land is harmless.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from server.errors import Unavailable
from server.models import InstanceState
from server.providers.base import InstanceSpec, PrebuildSpec
from server.store import controller as store
from server.store import prebuilds as prebuild_store
from server.store.prebuilds import PrebuildProgress

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from server.controller.plan import ObservedInstance, PoolPlan
    from server.controller.prebuild_plan import PrebuildPlan
    from server.providers.base import RuntimeProvider
    from server.store.controller import LeasedPool
    from server.store.database import Database
    from server.store.prebuilds import LeasedPrebuild

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Requests:
    """The provider calls of one round (each list is one batched call)."""

    create: list[InstanceSpec]
    start: list[str]
    stop: list[str]
    delete: list[str]

    def __bool__(self) -> bool:
        return bool(self.create or self.start or self.stop or self.delete)


@dataclass(frozen=True, slots=True)
class Acted:
    fenced: set[str]  # pools whose plans were written (still leased, spec unchanged)
    next_wake: dict[str, datetime]
    provider_ok: bool  # False: a provider call failed (the intents stay for a retry)


async def act_on_pools(
    db: Database,
    provider: RuntimeProvider,
    owner: str,
    leases: Sequence[LeasedPool],
    plans: Sequence[PoolPlan],
    instances: dict[str, list[ObservedInstance]],
    provider_timeout: float,
    retry_after: float,
) -> Acted:
    """Apply the plans and make the provider calls; the caller releases the leases."""
    new_ids = {p.pool_id: [str(uuid.uuid4()) for _ in range(p.create)] for p in plans if p.create}
    applied = await store.apply_plans(db, owner, leases, plans, new_ids)

    classes = {x.pool.id: x.pool.environment_class_id for x in leases}
    snapshots = {i.id: i.snapshot_id for found in instances.values() for i in found}
    pool_of = {i.id: pool_id for pool_id, found in instances.items() for i in found}
    mine = [p for p in plans if p.pool_id in applied.fenced]
    intents = applied.intents
    requests = Requests(
        create=[InstanceSpec(c.id, c.snapshot_id, classes[c.pool_id]) for c in applied.created]
        + [
            InstanceSpec(i, snapshots[i], classes[pool_of[i]])
            for p in mine
            for i in p.reissue_create
        ],
        start=[i for i, s in intents.items() if s == InstanceState.STARTING]
        + [i for p in mine for i in p.reissue_start],
        stop=[i for i, s in intents.items() if s == InstanceState.STOPPING]
        + [i for p in mine for i in p.reissue_stop],
        delete=[i for i, s in intents.items() if s == InstanceState.DRAINING]
        + [i for p in mine for i in p.reissue_delete],
    )

    now = leases[0].now
    next_wake = {p.pool_id: p.next_wake for p in plans}
    for x in leases:
        if x.pool.id not in applied.fenced:
            next_wake[x.pool.id] = now  # lost the fence (spec changed): look again at once
    provider_ok = True
    if requests:
        try:
            async with asyncio.timeout(provider_timeout):
                await _send(provider, requests)
        except Exception as exc:
            # The intents are written: the next round reissues them. Not at once, though —
            # give a failing provider a moment.
            log.warning(
                "runtime provider %s failed (%s: %s); retrying in %.1fs",
                provider.name,
                type(exc).__name__,
                exc,
                retry_after,
                exc_info=not isinstance(exc, (Unavailable, TimeoutError)),
            )
            later = now + timedelta(seconds=retry_after)
            next_wake = {k: max(v, later) for k, v in next_wake.items()}
            provider_ok = False
    return Acted(applied.fenced, next_wake, provider_ok)


async def _send(provider: RuntimeProvider, requests: Requests) -> None:
    if requests.delete:
        await provider.delete_instances(requests.delete)
    if requests.stop:
        await provider.stop_instances(requests.stop)
    if requests.start:
        await provider.start_instances(requests.start)
    if requests.create:
        await provider.create_instances(requests.create)


async def act_on_prebuild(
    db: Database,
    provider: RuntimeProvider,
    owner: str,
    leased: LeasedPrebuild,
    plan: PrebuildPlan,
    provider_timeout: float,
) -> int:
    """Call the provider if the plan says so, then record the progress (fenced).

    The prebuild's own phase is the intent (PENDING: start; CANCELLING/DELETING: stop), so
    the provider call can come first. Returns the number of pools given a new snapshot.
    """
    async with asyncio.timeout(provider_timeout):
        if plan.start:
            await provider.start_prebuild(
                PrebuildSpec(
                    leased.id,
                    leased.project_id,
                    leased.environment_class_id,
                    leased.timeout_seconds,
                )
            )
        if plan.cancel:
            await provider.cancel_prebuild(leased.id)
    return await prebuild_store.record_prebuild(
        db,
        owner,
        leased,
        PrebuildProgress(
            phase=plan.phase,
            failure_message=plan.failure_message,
            environment_id=plan.environment_id,
            snapshot_completion_percentage=plan.snapshot_completion_percentage,
            snapshot_size_bytes=plan.snapshot_size_bytes,
            snapshot_id=plan.snapshot_id,
            log=plan.log,
            next_wake=plan.next_wake,
        ),
    )
