"""Operating the controller: pause and resume (admin CLI), crash recovery by reissued
intents, and fencing of a replica that lost its lease."""

from __future__ import annotations

import asyncio
import sys
import uuid
from typing import TYPE_CHECKING

from gitpod.v1 import prebuild_pb2 as pb

from server.controller.plan import PoolPlan, Transition
from server.models import InstanceState
from server.store import controller as store
from tests.support.clients import make_client
from tests.support.controller import (
    create_pool,
    get_pool,
    is_ready,
    live_counts,
    run_prebuild,
    wait_for,
    wait_for_pool,
)
from tests.support.servers import REPO
from tests.support.tenants import make_tenant

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.support.clients import ApiClient
    from tests.support.servers import InProcessServer

import pytest


@pytest.fixture
async def api(controlled: InProcessServer) -> AsyncIterator[ApiClient]:
    client = make_client("grpc", controlled.grpc_port, controlled.http_port)
    yield client
    await client.close()


async def admin_cli(server: InProcessServer, *args: str) -> str:
    """`python -m server admin ...` against the server's database, as an operator runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "admin",
        "--database-url",
        server.settings.database_url,
        *args,
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, out.decode()
    return out.decode()


async def test_a_paused_pool_is_left_alone_until_resumed(
    controlled: InProcessServer, api: ApiClient
) -> None:
    t = await make_tenant(controlled.db)
    pool = await create_pool(api, t, min_size=1, max_size=3)
    await run_prebuild(api, t)
    await wait_for_pool(api, t, pool.id, is_ready(1))

    assert "paused" in await admin_cli(controlled, "pause", "--pool", pool.id)
    await api.call(
        "UpdateWarmPool", pb.UpdateWarmPoolRequest(warm_pool_id=pool.id, min_size=3), t.admin
    )
    await asyncio.sleep(0.5)
    assert await live_counts(controlled.db, pool.id) == {"ready": 1}  # nothing acted

    assert "resumed" in await admin_cli(controlled, "resume", "--pool", pool.id)
    await wait_for_pool(api, t, pool.id, is_ready(3))


async def test_a_paused_controller_runs_nothing_until_resumed(
    controlled: InProcessServer, api: ApiClient
) -> None:
    assert "controller paused" in await admin_cli(controlled, "pause")
    t = await make_tenant(controlled.db)
    pool = await create_pool(api, t, min_size=2, max_size=2)
    req = pb.CreatePrebuildRequest(project_id=t.project_id, spec=pb.PrebuildSpec())
    prebuild = (await api.call("CreatePrebuild", req, t.admin)).prebuild
    await asyncio.sleep(0.5)
    got = await api.call("GetPrebuild", pb.GetPrebuildRequest(prebuild_id=prebuild.id), t.admin)
    assert got.prebuild.status.phase == pb.PREBUILD_PHASE_PENDING
    assert (await get_pool(api, t, pool.id)).status.phase == pb.WARM_POOL_PHASE_PENDING

    assert "controller resumed" in await admin_cli(controlled, "resume")
    await wait_for_pool(api, t, pool.id, is_ready(2))


async def test_intents_left_by_a_crash_are_reissued(
    controlled: InProcessServer, api: ApiClient
) -> None:
    db = controlled.db
    t = await make_tenant(db)
    pool = await create_pool(api, t, min_size=3, max_size=4)
    await run_prebuild(api, t)
    ready = await wait_for_pool(api, t, pool.id, is_ready(3))
    ids = [
        r["id"]
        for r in await db.fetch(
            "SELECT id::text FROM instances WHERE pool_id = $1 ORDER BY created_at, id", pool.id
        )
    ]
    await db.execute("UPDATE warm_pools SET paused = true WHERE id = $1", pool.id)
    # A replica wrote these intents, then died before calling the provider:
    # - a create the provider never heard of,
    new_id = str(uuid.uuid4())
    await db.execute(
        "INSERT INTO instances (id, pool_id, organization_id, snapshot_id, state) "
        "VALUES ($1, $2, $3, $4, 'creating')",
        new_id,
        pool.id,
        t.org_id,
        ready.spec.snapshot_id,
    )
    # - a delete of an instance the provider still runs,
    await db.execute("UPDATE instances SET state = 'draining' WHERE id = $1", ids[0])
    # - a start of an instance the provider has stopped.
    await db.execute(
        "UPDATE sim_instances SET transition = 'stop', done_at = now() WHERE id = $1", ids[1]
    )
    await db.execute("UPDATE instances SET state = 'starting' WHERE id = $1", ids[1])

    await db.execute("UPDATE warm_pools SET paused = false WHERE id = $1", pool.id)
    await db.execute("SELECT pg_notify('warmpool_pool', $1)", pool.id)
    states = await wait_for(
        lambda: db.fetch(
            "SELECT id::text, state FROM instances WHERE id = ANY ($1::uuid[])",
            [new_id, ids[0], ids[1]],
        ),
        lambda rows: (
            {r["id"]: r["state"] for r in rows}
            == {new_id: "ready", ids[0]: "deleted", ids[1]: "ready"}
        ),
        what="reissued intents carried out",
    )
    assert len(states) == 3
    await wait_for_pool(api, t, pool.id, is_ready(3))


async def test_a_replica_that_lost_its_lease_writes_nothing(server: InProcessServer) -> None:
    # The shared server runs no controller: the two "replicas" here are store calls, taking
    # only the woken pool (limit 0 for due ones: other tests' pools are due here, forever).
    db = server.db
    t = await make_tenant(db)
    pool_id = await db.fetchval(
        "INSERT INTO warm_pools (id, organization_id, project_id, environment_class_id, "
        "runner_id, min_size, max_size, snapshot_id) "
        "VALUES (gen_random_uuid(), $1, $2, $3, $4, 1, 2, gen_random_uuid()) RETURNING id::text",
        t.org_id,
        t.project_id,
        t.class_id,
        t.runner_id,
    )
    instance_id = str(uuid.uuid4())
    await db.execute(
        "INSERT INTO instances (id, pool_id, organization_id, snapshot_id, state) "
        "VALUES ($1, $2, $3, gen_random_uuid(), 'ready')",
        instance_id,
        pool_id,
        t.org_id,
    )
    (a,) = await store.acquire_pools(db, "replica-a", [pool_id], 0, 30, 60)
    assert await store.acquire_pools(db, "replica-b", [pool_id], 0, 30, 60) == []  # held
    await db.execute(  # replica-a stalls past its lease...
        "UPDATE warm_pools SET lease_expires_at = now() - interval '1 s' WHERE id = $1", pool_id
    )
    (b,) = await store.acquire_pools(db, "replica-b", [pool_id], 0, 30, 60)
    assert b.token > a.token

    drain = Transition(instance_id, InstanceState.READY, 1, InstanceState.DRAINING)
    late = PoolPlan(
        pool_id, next_wake=a.now, intents=[drain], create=1, snapshot_id=str(uuid.uuid4())
    )
    applied = await store.apply_plans(db, "replica-a", [a], [late], {pool_id: [str(uuid.uuid4())]})
    assert applied.fenced == set()
    assert applied.intents == {}
    assert applied.created == []
    await store.release_pools(db, "replica-a", [a], {pool_id: a.now})
    row = await db.fetchrow(
        "SELECT lease_owner, lease_token FROM warm_pools WHERE id = $1", pool_id
    )
    assert row is not None
    assert (row["lease_owner"], row["lease_token"]) == ("replica-b", b.token)
    assert await live_counts(db, pool_id) == {"ready": 1}

    applied = await store.apply_plans(db, "replica-b", [b], [late], {pool_id: []})
    assert applied.fenced == {pool_id}
    assert applied.intents == {instance_id: InstanceState.DRAINING}
