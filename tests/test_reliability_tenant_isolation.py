"""Tenant isolation: two organizations, every role, every method, against a real server
process. Each call's code must match behaviour.md §1, and nothing one organization sees may
contain the other's ids (beyond the ids the caller itself sent)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from gitpod.v1 import prebuild_pb2 as pb

from server.models import Role
from server.store.database import Database
from tests.support.clients import TRANSPORTS, ApiClient, RpcFailure, make_client
from tests.support.postgres import SessionPostgres
from tests.support.servers import ServerProcess
from tests.support.tenants import Tenant, make_tenant


@dataclass
class World:
    server: ServerProcess
    a: Tenant
    b: Tenant
    a_pool: str
    b_pool: str


@pytest.fixture(scope="module")
async def world(
    pg: SessionPostgres, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[World]:
    url = await pg.new_database()
    db = await Database.connect(url, min_size=1, max_size=2)
    a, b = await make_tenant(db, extra_classes=1), await make_tenant(db, extra_classes=1)
    await db.close()
    server = ServerProcess.create(tmp_path_factory.mktemp("isolation"), database_url=url)
    server.start()
    client = make_client("grpc", server.grpc_port, server.http_port)
    pools = []
    for t in (a, b):
        resp = await client.call(
            "CreateWarmPool",
            pb.CreateWarmPoolRequest(project_id=t.project_id, environment_class_id=t.class_id),
            t.admin,
        )
        pools.append(resp.warm_pool.id)
    await client.close()
    yield World(server, a, b, pools[0], pools[1])
    server.stop()


# (method, request builder(caller, target tenant, target pool id)). Writes use ids that leave
# the pools usable for the next call: updates set the size they already have, creates use the
# extra class, deletes target a fresh id (own) or the other org's pool.
Call = tuple[str, Callable[[World, Tenant, str], Any]]
CALLS: list[Call] = [
    ("GetWarmPool", lambda w, t, pool: pb.GetWarmPoolRequest(warm_pool_id=pool)),
    ("UpdateWarmPool", lambda w, t, pool: pb.UpdateWarmPoolRequest(warm_pool_id=pool, max_size=1)),
    ("DeleteWarmPool", lambda w, t, pool: pb.DeleteWarmPoolRequest(warm_pool_id=pool)),
    (
        "CreateWarmPool",
        lambda w, t, pool: pb.CreateWarmPoolRequest(
            project_id=t.project_id, environment_class_id=t.extra_class_ids[0]
        ),
    ),
]
WRITE = {"UpdateWarmPool", "DeleteWarmPool", "CreateWarmPool"}


def expected(role: Role, method: str, own: bool) -> set[str]:
    if role is Role.RUNNER:
        return {"permission_denied"}
    if role is Role.VIEWER and method in WRITE:
        return {"permission_denied"}
    if not own:
        return {"not_found"}
    if method == "CreateWarmPool":
        return {"ok", "already_exists"}  # the second transport finds the first one's pool
    return {"ok"}


async def _code(client: ApiClient, method: str, request: Any, token: str) -> tuple[str, str]:
    try:
        response = await client.call(method, request, token)
    except RpcFailure as exc:
        return exc.code, exc.message
    return "ok", str(response)


def _leaks(text: str, other: Tenant, sent: str) -> list[str]:
    ids = [other.org_id, other.runner_id, other.project_id, other.class_id, *other.extra_class_ids]
    return [i for i in ids if i in text and i not in sent]


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize("role", list(Role))
async def test_role_and_organization_matrix(world: World, transport: str, role: Role) -> None:
    client = make_client(transport, world.server.grpc_port, world.server.http_port)
    try:
        for caller, other in ((world.a, world.b), (world.b, world.a)):
            token = caller.tokens[role]
            own_pool = world.a_pool if caller is world.a else world.b_pool
            other_pool = world.b_pool if caller is world.a else world.a_pool
            for method, build in CALLS:
                if method == "DeleteWarmPool":
                    targets = [
                        (caller, "00000000-0000-4000-8000-000000000000", True),
                        (other, other_pool, False),
                    ]
                else:
                    targets = [(caller, own_pool, True), (other, other_pool, False)]
                for target, pool, own in targets:
                    request = build(world, target, pool)
                    code, text = await _code(client, method, request, token)
                    want = expected(role, method, own)
                    if method == "DeleteWarmPool" and own and want == {"ok"}:
                        want = {"not_found"}  # the fresh id does not exist
                    assert code in want, (role, method, "own" if own else "other", code, text)
                    assert not _leaks(text, other, str(request)), (method, text)

            code, text = await _code(client, "ListWarmPools", pb.ListWarmPoolsRequest(), token)
            if role is Role.RUNNER:
                assert code == "permission_denied"
            else:
                assert code == "ok", text
                assert other_pool not in text
                assert not _leaks(text, other, "")
    finally:
        await client.close()


async def test_list_filter_by_the_other_orgs_project_returns_nothing(world: World) -> None:
    client = make_client("connect-json", world.server.grpc_port, world.server.http_port)
    try:
        request = pb.ListWarmPoolsRequest(
            filter=pb.ListWarmPoolsRequest.Filter(project_ids=[world.b.project_id])
        )
        response = await client.call("ListWarmPools", request, world.a.admin)
    finally:
        await client.close()
    assert list(response.warm_pools) == []
