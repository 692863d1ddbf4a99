"""The controller end to end (behaviour.md §6): real Postgres, the simulated provider, real
clients. Each test runs its own server and database; waits and sampling loops are bounded.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING

import httpx
import pytest
from gitpod.v1 import prebuild_pb2 as pb
from warmpool.v1 import runtime_pb2

from server.providers.simulated import inject_snapshot_fault
from server.store import tenancy
from tests.support.clients import make_client
from tests.support.controller import (
    LIVE_STATES,
    claim,
    create_pool,
    get_pool,
    is_ready,
    live_counts,
    live_snapshots,
    run_prebuild,
    wait_for,
    wait_for_pool,
)
from tests.support.tenants import make_tenant

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from tests.support.clients import ApiClient
    from tests.support.servers import InProcessServer

READY = pb.WARM_POOL_PHASE_READY
PENDING = pb.WARM_POOL_PHASE_PENDING
DEGRADED = pb.WARM_POOL_PHASE_DEGRADED
DELETED = pb.WARM_POOL_PHASE_DELETED


@pytest.fixture
async def clients(controlled: InProcessServer) -> AsyncIterator[tuple[ApiClient, ApiClient]]:
    api = make_client("grpc", controlled.grpc_port, controlled.http_port)
    runtime = make_client("connect-proto", controlled.grpc_port, controlled.http_port, "runtime")
    yield api, runtime
    await api.close()
    await runtime.close()


async def test_pool_is_ready_with_correct_counts_after_the_first_prebuild(
    controlled: InProcessServer, clients: tuple[ApiClient, ApiClient]
) -> None:
    api, _ = clients
    t = await make_tenant(controlled.db)
    pool = await create_pool(api, t, min_size=3, max_size=5)
    await asyncio.sleep(0.2)
    waiting = await get_pool(api, t, pool.id)
    assert waiting.status.phase == PENDING  # no snapshot: no instances
    assert await live_counts(controlled.db, pool.id) == {}

    await run_prebuild(api, t)
    ready = await wait_for_pool(api, t, pool.id, is_ready(3), what="READY with 3 running")
    assert ready.spec.HasField("snapshot_id")
    assert ready.spec.spec_version == 2  # the snapshot is a spec change
    assert ready.status.desired_size == 3
    assert ready.status.failure_message == ""
    assert await live_counts(controlled.db, pool.id) == {"ready": 3}
    snapshots = await live_snapshots(controlled.db, pool.id)
    assert snapshots == {("ready", ready.spec.snapshot_id): 3}


async def test_claimed_instance_is_replenished(
    controlled: InProcessServer, clients: tuple[ApiClient, ApiClient]
) -> None:
    api, runtime = clients
    t = await make_tenant(controlled.db)
    pool = await create_pool(api, t, min_size=2, max_size=2)
    await run_prebuild(api, t)
    await wait_for_pool(api, t, pool.id, is_ready(2))
    before = {
        r["id"]
        for r in await controlled.db.fetch(
            "SELECT id::text FROM instances WHERE pool_id = $1 AND state = 'ready'", pool.id
        )
    }

    claimed = await claim(runtime, t, "claim-1", warm_pool_id=pool.id)
    assert claimed.outcome == runtime_pb2.CLAIM_OUTCOME_RUNNING
    assert claimed.instance.id in before

    async def ready_ids() -> set[str]:
        rows = await controlled.db.fetch(
            "SELECT id::text FROM instances WHERE pool_id = $1 AND state = 'ready'", pool.id
        )
        return {r["id"] for r in rows}

    now_ready = await wait_for(ready_ids, lambda ids: len(ids - before) == 1 and len(ids) == 2)
    assert claimed.instance.id not in now_ready
    replenished = await wait_for_pool(
        api, t, pool.id, lambda p: is_ready(2)(p) and p.status.status_version > 2
    )
    assert replenished.status.running_instances == 2
    state = await controlled.db.fetchval(
        "SELECT state FROM instances WHERE id = $1", claimed.instance.id
    )
    assert state == "claimed"


async def test_demand_burst_scales_out_then_idle_scales_in_to_min(
    controlled: InProcessServer, clients: tuple[ApiClient, ApiClient]
) -> None:
    api, runtime = clients
    t = await make_tenant(controlled.db)
    pool = await create_pool(api, t, min_size=1, max_size=8)
    await run_prebuild(api, t)
    await wait_for_pool(api, t, pool.id, is_ready(1))

    # A burst of 6 claims within the demand window (1 hit, then misses): running target 6.
    outcomes = [
        (await claim(runtime, t, f"burst-{i}", warm_pool_id=pool.id)).outcome for i in range(6)
    ]
    assert outcomes.count(runtime_pb2.CLAIM_OUTCOME_MISS) >= 1
    scaled = await wait_for_pool(
        api, t, pool.id, lambda p: p.status.running_instances >= 6, timeout=5, what="scale out"
    )
    assert scaled.status.desired_size >= 6

    # Idle: demand expires (1 s), then the running target falls after the stabilization
    # window (1 s): running instances are demoted to standby first, deleted one window later.
    seen_standby = 0
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        p = await get_pool(api, t, pool.id)
        seen_standby = max(seen_standby, p.status.stopped_instances)
        if is_ready(1)(p) and p.status.desired_size == 1:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError(f"did not scale in to min_size: {p.status}")
    assert seen_standby > 0, "instances were deleted without being demoted to standby first"
    await wait_for(  # the status counts running and stopped ones; the drained finish next
        lambda: live_counts(controlled.db, pool.id),
        lambda counts: {k: n for k, n in counts.items() if k in LIVE_STATES} == {"ready": 1},
        what="only min_size left",
    )


async def test_new_snapshot_rotates_every_unclaimed_instance_without_dipping_below_target(
    start_controlled: Callable[..., Awaitable[InProcessServer]],
) -> None:
    # A little provider latency so that the rotation is in flight while it is sampled.
    server = await start_controlled(sim_create_seconds=0.15, sim_delete_seconds=0.05)
    api = make_client("grpc", server.grpc_port, server.http_port)
    try:
        t = await make_tenant(server.db)
        pool = await create_pool(api, t, min_size=3, max_size=5)
        await run_prebuild(api, t)
        first = await wait_for_pool(api, t, pool.id, is_ready(3))
        old = first.spec.snapshot_id

        await run_prebuild(api, t)
        samples, low = 0, 99
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and samples < 5000:
            counts = await live_snapshots(server.db, pool.id)
            samples += 1
            ready = sum(n for (state, _), n in counts.items() if state == "ready")
            low = min(low, ready)
            assert ready >= 3, f"ready capacity dipped below the running target: {counts}"
            assert sum(counts.values()) <= 5, f"more live instances than max_size: {counts}"
            (state, snapshot), n = next(iter(counts.items()))
            if len(counts) == 1 and state == "ready" and snapshot != old and n == 3:
                break
            await asyncio.sleep(0.005)
        else:
            raise AssertionError(f"rotation did not finish: {counts}")
        assert samples > 10  # the rotation was actually watched while in flight
        final = await wait_for_pool(api, t, pool.id, is_ready(3))
        assert final.spec.snapshot_id != old
        assert await live_snapshots(server.db, pool.id) == {("ready", final.spec.snapshot_id): 3}
    finally:
        await api.close()


async def test_injected_failures_degrade_the_pool_then_a_fixed_snapshot_recovers_it(
    controlled: InProcessServer, clients: tuple[ApiClient, ApiClient]
) -> None:
    api, _ = clients
    t = await make_tenant(controlled.db)
    broken = await run_prebuild(api, t)
    snapshot = await controlled.db.fetchval(
        "SELECT snapshot_id::text FROM prebuilds WHERE id = $1", broken.id
    )
    await inject_snapshot_fault(controlled.db, snapshot, "kernel panic while booting (injected)")

    pool = await create_pool(api, t, min_size=2, max_size=3)
    assert pool.spec.snapshot_id == snapshot  # taken at once from the completed prebuild
    started = time.monotonic()
    degraded = await wait_for_pool(
        api, t, pool.id, lambda p: p.status.phase == DEGRADED, timeout=10, what="DEGRADED"
    )
    assert time.monotonic() - started < 5
    assert "consecutive instance creates failed" in degraded.status.failure_message
    assert "kernel panic" in degraded.status.failure_message
    counts = await live_counts(controlled.db, pool.id)
    assert sum(counts.get(s, 0) for s in LIVE_STATES) <= 3

    await run_prebuild(api, t)  # a fixed snapshot
    recovered = await wait_for_pool(api, t, pool.id, is_ready(2), what="recovered READY")
    assert recovered.status.failure_message == ""
    assert recovered.spec.snapshot_id != snapshot
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{controlled.http_port}/metrics")).text
    assert f'warmpool_instance_create_failures_total{{environment_class_id="{t.class_id}"}}' in text


async def test_delete_drains_to_deleted_with_no_live_instances(
    start_controlled: Callable[..., Awaitable[InProcessServer]],
) -> None:
    server = await start_controlled(sim_delete_seconds=0.2)
    api = make_client("grpc", server.grpc_port, server.http_port)
    try:
        t = await make_tenant(server.db)
        pool = await create_pool(api, t, min_size=3, max_size=3)
        await run_prebuild(api, t)
        await wait_for_pool(api, t, pool.id, is_ready(3))

        await api.call("DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=pool.id), t.admin)
        draining = await wait_for(
            lambda: live_counts(server.db, pool.id),
            lambda c: c.get("draining", 0) == 3,
            what="instances draining",
        )
        assert draining == {"draining": 3}
        assert (await get_pool(api, t, pool.id)).status.phase == pb.WARM_POOL_PHASE_DELETING
        gone = await wait_for_pool(api, t, pool.id, lambda p: p.status.phase == DELETED)
        assert gone.status.running_instances == gone.status.stopped_instances == 0
        assert await live_counts(server.db, pool.id) == {"deleted": 3}
        sim = await server.db.fetchval(
            "SELECT count(*) FROM sim_instances s JOIN instances i ON i.id = s.id "
            "WHERE i.pool_id = $1 AND NOT (s.transition = 'delete' AND s.done_at <= now())",
            pool.id,
        )
        assert sim == 0  # nothing left at the provider either
    finally:
        await api.close()


async def test_disabling_prebuilds_drains_the_projects_pools_to_deleted(
    controlled: InProcessServer, clients: tuple[ApiClient, ApiClient]
) -> None:
    api, _ = clients
    t = await make_tenant(controlled.db)
    pool = await create_pool(api, t, min_size=2, max_size=2)
    await run_prebuild(api, t)
    await wait_for_pool(api, t, pool.id, is_ready(2))
    await tenancy.upsert_project(
        controlled.db,
        t.org_id,
        "project",
        project_id=t.project_id,
        prebuilds_enabled=False,
        prebuild_environment_class_ids=[t.class_id],
        prebuild_timeout_seconds=3600,
    )
    await wait_for_pool(api, t, pool.id, lambda p: p.status.phase == DELETED)
    assert set(await live_counts(controlled.db, pool.id)) == {"deleted"}


async def test_a_pool_the_project_no_longer_allows_is_deleted_by_the_controller(
    controlled: InProcessServer, clients: tuple[ApiClient, ApiClient]
) -> None:
    # The configuration changed behind the API's back (not through upsert_project).
    api, _ = clients
    t = await make_tenant(controlled.db)
    pool = await create_pool(api, t, min_size=1, max_size=1)
    await wait_for(  # its first reconcile is over (it would overwrite the wake-up below)
        lambda: controlled.db.fetchval(
            "SELECT lease_token > 0 AND lease_owner IS NULL FROM warm_pools WHERE id = $1", pool.id
        ),
        bool,
    )
    await controlled.db.execute(
        "UPDATE projects SET prebuild_environment_class_ids = '{}' WHERE id = $1", t.project_id
    )
    await controlled.db.execute(
        "UPDATE warm_pools SET next_reconcile_at = now() WHERE id = $1", pool.id
    )
    deleted = await wait_for_pool(api, t, pool.id, lambda p: p.status.phase == DELETED)
    assert deleted.spec.desired_phase == DELETED


async def test_status_version_moves_only_when_status_changes(
    start_controlled: Callable[..., Awaitable[InProcessServer]],
) -> None:
    server = await start_controlled(resync_seconds=0.1)
    api = make_client("grpc", server.grpc_port, server.http_port)
    try:
        t = await make_tenant(server.db)
        pool = await create_pool(api, t, min_size=1, max_size=2)
        await run_prebuild(api, t)
        ready = await wait_for_pool(api, t, pool.id, is_ready(1))
        rounds = await server.db.fetchval(
            "SELECT lease_token FROM warm_pools WHERE id = $1", pool.id
        )
        await wait_for(  # several resync rounds pass
            lambda: server.db.fetchval("SELECT lease_token FROM warm_pools WHERE id = $1", pool.id),
            lambda token: token >= rounds + 5,
            what="resync rounds",
        )
        again = await get_pool(api, t, pool.id)
        assert again.status == ready.status
        assert again.metadata.updated_at == ready.metadata.updated_at
    finally:
        await api.close()


async def test_prebuild_runs_through_its_phases_and_logs_them(
    start_controlled: Callable[..., Awaitable[InProcessServer]],
) -> None:
    server = await start_controlled(sim_prebuild_seconds=1.0)
    api = make_client("connect-json", server.grpc_port, server.http_port)
    try:
        t = await make_tenant(server.db)
        req = pb.CreatePrebuildRequest(project_id=t.project_id, spec=pb.PrebuildSpec())
        created = (await api.call("CreatePrebuild", req, t.admin)).prebuild
        phases = [created.status.phase]
        versions = [created.status.status_version]
        deadline = time.monotonic() + 10
        while phases[-1] != pb.PREBUILD_PHASE_COMPLETED and time.monotonic() < deadline:
            got = await api.call(
                "GetPrebuild", pb.GetPrebuildRequest(prebuild_id=created.id), t.admin
            )
            if got.prebuild.status.phase != phases[-1]:
                phases.append(got.prebuild.status.phase)
                versions.append(got.prebuild.status.status_version)
            await asyncio.sleep(0.02)
        assert phases[0] == pb.PREBUILD_PHASE_PENDING
        assert phases[-1] == pb.PREBUILD_PHASE_COMPLETED
        order = [
            pb.PREBUILD_PHASE_PENDING,
            pb.PREBUILD_PHASE_STARTING,
            pb.PREBUILD_PHASE_RUNNING,
            pb.PREBUILD_PHASE_STOPPING,
            pb.PREBUILD_PHASE_SNAPSHOTTING,
            pb.PREBUILD_PHASE_COMPLETED,
        ]
        assert phases == sorted(phases, key=order.index)
        assert pb.PREBUILD_PHASE_RUNNING in phases
        assert versions == sorted(versions)
        done = (
            await api.call("GetPrebuild", pb.GetPrebuildRequest(prebuild_id=created.id), t.admin)
        ).prebuild
        assert done.status.snapshot_completion_percentage == 100
        assert done.status.HasField("completion_time")
        assert done.status.environment_id

        token = (
            await api.call(
                "CreatePrebuildLogsToken",
                pb.CreatePrebuildLogsTokenRequest(prebuild_id=created.id),
                t.admin,
            )
        ).access_token
        async with httpx.AsyncClient() as http:
            ok = await http.get(done.status.log_url, headers={"Authorization": f"Bearer {token}"})
            denied = await http.get(done.status.log_url, headers={"Authorization": "Bearer x"})
        assert ok.status_code == 200
        assert "running" in ok.text
        assert "completed: snapshot" in ok.text
        assert denied.status_code == 401
    finally:
        await api.close()


async def test_cancelled_prebuild_ends_cancelled_and_gives_no_snapshot(
    start_controlled: Callable[..., Awaitable[InProcessServer]],
) -> None:
    server = await start_controlled(sim_prebuild_seconds=30.0)
    api = make_client("grpc", server.grpc_port, server.http_port)
    try:
        t = await make_tenant(server.db)
        pool = await create_pool(api, t)
        req = pb.CreatePrebuildRequest(project_id=t.project_id, spec=pb.PrebuildSpec())
        created = (await api.call("CreatePrebuild", req, t.admin)).prebuild

        async def phase() -> int:
            got = await api.call(
                "GetPrebuild", pb.GetPrebuildRequest(prebuild_id=created.id), t.admin
            )
            return int(got.prebuild.status.phase)

        await wait_for(phase, lambda p: p != pb.PREBUILD_PHASE_PENDING, what="prebuild running")
        cancelled = await api.call(
            "CancelPrebuild", pb.CancelPrebuildRequest(prebuild_id=created.id), t.admin
        )
        assert cancelled.prebuild.status.phase == pb.PREBUILD_PHASE_CANCELLING
        await wait_for(phase, lambda p: p == pb.PREBUILD_PHASE_CANCELLED, what="CANCELLED")
        assert not (await get_pool(api, t, pool.id)).spec.HasField("snapshot_id")
    finally:
        await api.close()


async def test_prebuild_past_its_timeout_fails(
    controlled: InProcessServer, clients: tuple[ApiClient, ApiClient]
) -> None:
    api, _ = clients
    t = await make_tenant(controlled.db)
    # Created an hour and a bit ago (its timeout is 3600 s), before anything ran it.
    prebuild_id = await controlled.db.fetchval(
        "INSERT INTO prebuilds (id, organization_id, project_id, environment_class_id, runner_id,"
        " creator_id, creator_principal, timeout_seconds, created_at) "
        "VALUES (gen_random_uuid(), $1, $2, $3, $4, $5, 5, 3600, now() - interval '3601 s') "
        "RETURNING id::text",
        t.org_id,
        t.project_id,
        t.class_id,
        t.runner_id,
        str(uuid.uuid4()),
    )
    got = await wait_for(
        lambda: api.call("GetPrebuild", pb.GetPrebuildRequest(prebuild_id=prebuild_id), t.admin),
        lambda r: r.prebuild.status.phase == pb.PREBUILD_PHASE_FAILED,
        what="FAILED",
    )
    assert "timeout of 3600s" in got.prebuild.status.failure_message


async def test_metrics_expose_the_controller(
    controlled: InProcessServer, clients: tuple[ApiClient, ApiClient]
) -> None:
    api, runtime = clients
    t = await make_tenant(controlled.db)
    pool = await create_pool(api, t)
    await run_prebuild(api, t)
    await wait_for_pool(api, t, pool.id, is_ready(1))
    await claim(runtime, t, "m-1", warm_pool_id=pool.id)
    await claim(runtime, t, "m-2", warm_pool_id=pool.id)
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{controlled.http_port}/metrics")).text
    for name in (
        "warmpool_instances",
        "warmpool_pool_targets",
        "warmpool_pools",
        'warmpool_claims_total{outcome="running"}',
        'warmpool_claims_total{outcome="miss"}',
        "warmpool_claim_duration_seconds_bucket",
        "warmpool_reconcile_duration_seconds_bucket",
        "warmpool_reconcile_lag_seconds_bucket",
        "warmpool_convergence_seconds_bucket",
        "warmpool_reconciled_pools_total",
    ):
        assert name in text, name


async def test_deleted_prebuild_is_drained_to_deleted_and_pools_keep_its_snapshot(
    controlled: InProcessServer, clients: tuple[ApiClient, ApiClient]
) -> None:
    api, _ = clients
    t = await make_tenant(controlled.db)
    pool = await create_pool(api, t, min_size=1, max_size=1)
    done = await run_prebuild(api, t)
    ready = await wait_for_pool(api, t, pool.id, is_ready(1))
    await api.call("DeletePrebuild", pb.DeletePrebuildRequest(prebuild_id=done.id), t.admin)
    gone = await wait_for(
        lambda: api.call("GetPrebuild", pb.GetPrebuildRequest(prebuild_id=done.id), t.admin),
        lambda r: r.prebuild.status.phase == pb.PREBUILD_PHASE_DELETED,
        what="prebuild DELETED",
    )
    assert gone.prebuild.status.completion_time == done.status.completion_time
    listed = await api.call("ListPrebuilds", pb.ListPrebuildsRequest(), t.admin)
    assert done.id not in [p.id for p in listed.prebuilds]
    assert (await get_pool(api, t, pool.id)).spec.snapshot_id == ready.spec.snapshot_id
