"""warmpool.v1.WarmPoolRuntimeService.ClaimInstance over gRPC, Connect binary and Connect JSON:
runner role only, one atomic statement, running → current snapshot → oldest, idempotent by
claim id, stopped instances returned as starting, an explicit miss, every attempt is demand."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import pytest
from warmpool.v1 import runtime_pb2 as rpb

from server.models import Role
from tests.support.clients import TRANSPORTS, RpcFailure, make_client
from tests.support.controller import (
    claim,
    create_pool,
    is_ready,
    run_prebuild,
    wait_for,
    wait_for_pool,
)
from tests.support.tenants import Tenant, make_tenant

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from gitpod.v1 import prebuild_pb2 as pb

    from tests.support.clients import ApiClient
    from tests.support.servers import InProcessServer

RUNNING = rpb.CLAIM_OUTCOME_RUNNING
STARTING = rpb.CLAIM_OUTCOME_STARTING
MISS = rpb.CLAIM_OUTCOME_MISS


@pytest.fixture(params=TRANSPORTS)
async def runtime(
    request: pytest.FixtureRequest, shared_controlled: InProcessServer
) -> AsyncIterator[ApiClient]:
    s = shared_controlled
    client = make_client(request.param, s.grpc_port, s.http_port, "runtime")
    yield client
    await client.close()


@pytest.fixture
async def api(shared_controlled: InProcessServer) -> AsyncIterator[ApiClient]:
    client = make_client("grpc", shared_controlled.grpc_port, shared_controlled.http_port)
    yield client
    await client.close()


async def ready_pool(api: ApiClient, t: Tenant, size: int, **sizes: int) -> pb.WarmPool:
    pool = await create_pool(api, t, min_size=size, max_size=sizes.get("max_size", size))
    await run_prebuild(api, t)
    return await wait_for_pool(api, t, pool.id, is_ready(size))


async def failure(coro: object) -> RpcFailure:
    with pytest.raises(RpcFailure) as err:
        await coro  # type: ignore[misc]
    return err.value


async def test_only_the_runner_role_may_claim(
    runtime: ApiClient, shared_controlled: InProcessServer
) -> None:
    t = await make_tenant(shared_controlled.db)
    req = rpb.ClaimInstanceRequest(warm_pool_id=str(uuid.uuid4()), claim_id="c")
    for role in (Role.ADMIN, Role.WARMPOOL_ADMIN, Role.VIEWER):
        err = await failure(runtime.call("ClaimInstance", req, t.tokens[role]))
        assert err.code == "permission_denied"
    assert (await failure(runtime.call("ClaimInstance", req, None))).code == "unauthenticated"


async def test_claim_validates_every_field_at_once(
    runtime: ApiClient, shared_controlled: InProcessServer
) -> None:
    t = await make_tenant(shared_controlled.db)
    token = t.tokens[Role.RUNNER]
    cases = [
        (
            rpb.ClaimInstanceRequest(),
            [
                ("warm_pool_id", "value is required (or project_id with environment_class_id)"),
                ("claim_id", "value is required"),
            ],
        ),
        (
            rpb.ClaimInstanceRequest(warm_pool_id="x", claim_id="c" * 129),
            [
                ("warm_pool_id", "must be a valid UUID"),
                ("claim_id", "must be at most 128 characters"),
            ],
        ),
        (
            rpb.ClaimInstanceRequest(project_id=t.project_id, claim_id="c"),
            [("environment_class_id", "value is required")],
        ),
        (
            # Postgres text cannot hold U+0000: refused as the client's mistake, not a 500.
            rpb.ClaimInstanceRequest(warm_pool_id=str(uuid.uuid4()), claim_id="a\x00b"),
            [("claim_id", "must not contain the NUL character (U+0000)")],
        ),
        (
            rpb.ClaimInstanceRequest(
                warm_pool_id=str(uuid.uuid4()), project_id=t.project_id, claim_id="c"
            ),
            [
                (
                    "warm_pool_id",
                    "cannot be combined with project_id and environment_class_id: name the "
                    "pool one way",
                )
            ],
        ),
    ]
    for req, violations in cases:
        err = await failure(runtime.call("ClaimInstance", req, token))
        assert err.code == "invalid_argument"
        assert err.violations == violations


async def test_claim_of_unknown_or_foreign_pool_is_not_found(
    runtime: ApiClient, api: ApiClient, shared_controlled: InProcessServer
) -> None:
    t, other = await make_tenant(shared_controlled.db), await make_tenant(shared_controlled.db)
    foreign = await create_pool(api, other)
    for pool_id in (str(uuid.uuid4()), foreign.id):
        err = await failure(claim(runtime, t, "c", warm_pool_id=pool_id))
        assert err.code == "not_found"
    err = await failure(
        claim(runtime, t, "c", project_id=other.project_id, environment_class_id=other.class_id)
    )
    assert err.code == "not_found"


async def test_claim_takes_a_running_current_instance_oldest_first(
    runtime: ApiClient, api: ApiClient, shared_controlled: InProcessServer
) -> None:
    t = await make_tenant(shared_controlled.db)
    pool = await ready_pool(api, t, 2)
    oldest = await shared_controlled.db.fetchval(
        "SELECT id::text FROM instances WHERE pool_id = $1 AND state = 'ready' "
        "ORDER BY created_at, id LIMIT 1",
        pool.id,
    )
    got = await claim(runtime, t, "first", warm_pool_id=pool.id)
    assert got.outcome == RUNNING
    assert got.warm_pool_id == pool.id
    assert got.instance.id == oldest
    assert got.instance.snapshot_id == pool.spec.snapshot_id
    assert got.instance.current_snapshot
    assert got.instance.claim_id == "first"
    assert got.instance.claimed_at.seconds > 0


async def test_claim_by_pair_finds_the_live_pool(
    runtime: ApiClient, api: ApiClient, shared_controlled: InProcessServer
) -> None:
    t = await make_tenant(shared_controlled.db)
    pool = await ready_pool(api, t, 1)
    got = await claim(runtime, t, "pair", project_id=t.project_id, environment_class_id=t.class_id)
    assert (got.outcome, got.warm_pool_id) == (RUNNING, pool.id)


async def test_retrying_a_claim_id_returns_the_same_instance_and_is_not_new_demand(
    runtime: ApiClient, api: ApiClient, shared_controlled: InProcessServer
) -> None:
    t = await make_tenant(shared_controlled.db)
    pool = await ready_pool(api, t, 2)
    first = await claim(runtime, t, "again", warm_pool_id=pool.id)
    second = await claim(runtime, t, "again", warm_pool_id=pool.id)
    assert second == first
    attempts = await shared_controlled.db.fetchval(
        "SELECT count(*) FROM claim_attempts WHERE pool_id = $1", pool.id
    )
    assert attempts == 1
    claimed = await shared_controlled.db.fetchval(
        "SELECT count(*) FROM instances WHERE pool_id = $1 AND state = 'claimed'", pool.id
    )
    assert claimed == 1


async def test_a_claim_id_used_on_another_pool_already_exists(
    runtime: ApiClient, api: ApiClient, shared_controlled: InProcessServer
) -> None:
    t = await make_tenant(shared_controlled.db, extra_classes=1)
    pool = await ready_pool(api, t, 1)
    other = await create_pool(api, t, environment_class_id=t.extra_class_ids[0])
    await claim(runtime, t, "shared-id", warm_pool_id=pool.id)
    err = await failure(claim(runtime, t, "shared-id", warm_pool_id=other.id))
    assert err.code == "already_exists"


async def test_an_empty_pool_is_an_explicit_miss_and_counts_as_demand(
    runtime: ApiClient, api: ApiClient, shared_controlled: InProcessServer
) -> None:
    t = await make_tenant(shared_controlled.db)
    pool = await create_pool(api, t)  # no snapshot yet: no instances
    got = await claim(runtime, t, "nothing", warm_pool_id=pool.id)
    assert got.outcome == MISS
    assert got.warm_pool_id == pool.id
    assert not got.HasField("instance")
    outcomes = await shared_controlled.db.fetch(
        "SELECT outcome FROM claim_attempts WHERE pool_id = $1", pool.id
    )
    assert [r["outcome"] for r in outcomes] == [MISS]


async def test_a_stopped_instance_is_claimed_as_starting_and_then_started(
    runtime: ApiClient, api: ApiClient, shared_controlled: InProcessServer
) -> None:
    db = shared_controlled.db
    t = await make_tenant(db)
    pool = await ready_pool(api, t, 1)
    await db.execute("UPDATE warm_pools SET paused = true WHERE id = $1", pool.id)
    # Stop the only instance, as a scale-in would (provider first, then our record).
    instance_id = await db.fetchval(
        "SELECT id::text FROM instances WHERE pool_id = $1 AND state = 'ready'", pool.id
    )
    await db.execute(
        "UPDATE sim_instances SET transition = 'stop', done_at = now() WHERE id = $1", instance_id
    )
    await db.execute("UPDATE instances SET state = 'standby' WHERE id = $1", instance_id)

    got = await claim(runtime, t, "cold-ish", warm_pool_id=pool.id)
    assert got.outcome == STARTING
    assert got.instance.id == instance_id
    assert await db.fetchval("SELECT start_pending FROM instances WHERE id = $1", instance_id)

    await db.execute("UPDATE warm_pools SET paused = false WHERE id = $1", pool.id)
    await db.execute("SELECT pg_notify('warmpool_pool', $1)", pool.id)
    await wait_for(
        lambda: db.fetchval(
            "SELECT NOT i.start_pending AND s.transition = 'start' FROM instances i "
            "JOIN sim_instances s ON s.id = i.id WHERE i.id = $1",
            instance_id,
        ),
        bool,
        what="the claimed instance started",
    )
    again = await claim(runtime, t, "cold-ish", warm_pool_id=pool.id)
    assert again.outcome == STARTING  # a retry answers as the claim did


async def test_running_beats_current_snapshot_and_current_beats_stale(
    runtime: ApiClient, api: ApiClient, shared_controlled: InProcessServer
) -> None:
    db = shared_controlled.db
    t = await make_tenant(db)
    pool = await ready_pool(api, t, 3)
    await db.execute("UPDATE warm_pools SET paused = true WHERE id = $1", pool.id)
    ids = [
        r["id"]
        for r in await db.fetch(
            "SELECT id::text FROM instances WHERE pool_id = $1 ORDER BY created_at, id", pool.id
        )
    ]
    stale = str(uuid.uuid4())
    # oldest: stopped, current; middle: running, stale; newest: running, current
    await db.execute("UPDATE instances SET state = 'standby' WHERE id = $1", ids[0])
    await db.execute("UPDATE instances SET snapshot_id = $2 WHERE id = $1", ids[1], stale)
    first = await claim(runtime, t, "a", warm_pool_id=pool.id)
    second = await claim(runtime, t, "b", warm_pool_id=pool.id)
    third = await claim(runtime, t, "c", warm_pool_id=pool.id)
    assert [first.instance.id, second.instance.id, third.instance.id] == [ids[2], ids[1], ids[0]]
    assert [first.outcome, second.outcome, third.outcome] == [RUNNING, RUNNING, STARTING]
    assert not second.instance.current_snapshot
    assert (await claim(runtime, t, "d", warm_pool_id=pool.id)).outcome == MISS
    await db.execute("UPDATE warm_pools SET paused = false WHERE id = $1", pool.id)


async def test_concurrent_claims_never_share_an_instance(
    runtime: ApiClient, api: ApiClient, shared_controlled: InProcessServer
) -> None:
    db = shared_controlled.db
    t = await make_tenant(db)
    pool = await ready_pool(api, t, 4)
    await db.execute("UPDATE warm_pools SET paused = true WHERE id = $1", pool.id)
    results = await asyncio.gather(
        *(claim(runtime, t, f"c{i}", warm_pool_id=pool.id) for i in range(30))
    )
    hits = [r.instance.id for r in results if r.outcome != MISS]
    assert len(hits) == 4
    assert len(set(hits)) == 4
    retries = await asyncio.gather(
        *(claim(runtime, t, "same", warm_pool_id=pool.id) for _ in range(10))
    )
    assert len({r.SerializeToString() for r in retries}) == 1
    await db.execute("UPDATE warm_pools SET paused = false WHERE id = $1", pool.id)


async def test_claiming_from_a_deleted_pool_fails_precondition(
    runtime: ApiClient, api: ApiClient, shared_controlled: InProcessServer
) -> None:
    from gitpod.v1 import prebuild_pb2 as pb

    t = await make_tenant(shared_controlled.db)
    pool = await create_pool(api, t)
    await api.call("DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=pool.id), t.admin)
    err = await failure(claim(runtime, t, "late", warm_pool_id=pool.id))
    assert err.code == "failed_precondition"
    err = await failure(
        claim(runtime, t, "late", project_id=t.project_id, environment_class_id=t.class_id)
    )
    assert err.code == "not_found"  # the pair has no live pool any more
