"""Helpers for controller tests: servers with short windows, bounded waits, scenario steps.

Every wait here is bounded in time and in number of samples; a timeout fails the test with
the last thing it saw.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, TypeVar

from gitpod.v1 import prebuild_pb2 as pb
from warmpool.v1 import runtime_pb2

from server.controller.plan import LIVE
from server.models import Role

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from server.store.database import Database
    from tests.support.clients import ApiClient
    from tests.support.tenants import Tenant

T = TypeVar("T")

# Windows short enough for tests, long enough to be observed by sampling.
FAST: dict[str, Any] = {
    "controller_enabled": True,
    "demand_window_seconds": 1.0,
    "scale_in_stabilization_seconds": 1.0,
    "create_backoff_seconds": 0.05,
    "create_backoff_max_seconds": 0.2,
    "degraded_probe_seconds": 0.3,
    "instance_deadline_seconds": 10.0,
    "min_capacity_grace_seconds": 60.0,
    "resync_seconds": 5.0,
    "poll_seconds": 0.2,
    "provider_poll_seconds": 0.1,
}

# The states that count against max_size, as the planner defines them.
LIVE_STATES = tuple(sorted(state.value for state in LIVE))


async def wait_for(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "condition",
) -> T:
    """Poll `probe` until `done(value)`; at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    value = await probe()
    while not done(value):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {value}")
        await asyncio.sleep(interval)
        value = await probe()
    return value


async def get_pool(api: ApiClient, t: Tenant, pool_id: str) -> pb.WarmPool:
    resp = await api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=pool_id), t.admin)
    pool: pb.WarmPool = resp.warm_pool
    return pool


async def create_pool(api: ApiClient, t: Tenant, **fields: Any) -> pb.WarmPool:
    fields.setdefault("project_id", t.project_id)
    fields.setdefault("environment_class_id", t.class_id)
    resp = await api.call("CreateWarmPool", pb.CreateWarmPoolRequest(**fields), t.admin)
    pool: pb.WarmPool = resp.warm_pool
    return pool


async def run_prebuild(api: ApiClient, t: Tenant, timeout: float = 10.0) -> pb.Prebuild:
    """Create a prebuild of the tenant's pair and wait until it has COMPLETED."""
    req = pb.CreatePrebuildRequest(
        project_id=t.project_id, environment_class_id=t.class_id, spec=pb.PrebuildSpec()
    )
    created = (await api.call("CreatePrebuild", req, t.admin)).prebuild

    async def probe() -> pb.Prebuild:
        get = pb.GetPrebuildRequest(prebuild_id=created.id)
        found: pb.Prebuild = (await api.call("GetPrebuild", get, t.admin)).prebuild
        return found

    return await wait_for(
        probe,
        lambda p: p.status.phase == pb.PREBUILD_PHASE_COMPLETED,
        timeout=timeout,
        what="prebuild COMPLETED",
    )


async def wait_for_pool(
    api: ApiClient,
    t: Tenant,
    pool_id: str,
    done: Callable[[pb.WarmPool], bool],
    *,
    timeout: float = 10.0,
    what: str = "pool state",
) -> pb.WarmPool:
    return await wait_for(lambda: get_pool(api, t, pool_id), done, timeout=timeout, what=what)


def is_ready(running: int, stopped: int = 0) -> Callable[[pb.WarmPool], bool]:
    def check(p: pb.WarmPool) -> bool:
        s = p.status
        return (
            s.phase == pb.WARM_POOL_PHASE_READY
            and s.running_instances == running
            and s.stopped_instances == stopped
        )

    return check


async def claim(
    runtime: ApiClient, t: Tenant, claim_id: str, **target: str
) -> runtime_pb2.ClaimInstanceResponse:
    req = runtime_pb2.ClaimInstanceRequest(claim_id=claim_id, **target)
    resp: runtime_pb2.ClaimInstanceResponse = await runtime.call(
        "ClaimInstance", req, t.tokens[Role.RUNNER]
    )
    return resp


async def live_counts(db: Database, pool_id: str) -> dict[str, int]:
    """Instances of the pool by state, straight from the database (the truth)."""
    rows = await db.fetch(
        "SELECT state, count(*)::int AS n FROM instances WHERE pool_id = $1 GROUP BY state",
        pool_id,
    )
    return {r["state"]: r["n"] for r in rows}


async def live_snapshots(db: Database, pool_id: str) -> dict[tuple[str, str], int]:
    """(state, snapshot id) -> count of the pool's live instances."""
    rows = await db.fetch(
        "SELECT state, snapshot_id::text AS snapshot, count(*)::int AS n FROM instances "
        "WHERE pool_id = $1 AND state = ANY ($2::text[]) GROUP BY 1, 2",
        pool_id,
        list(LIVE_STATES),
    )
    return {(r["state"], r["snapshot"]): r["n"] for r in rows}
