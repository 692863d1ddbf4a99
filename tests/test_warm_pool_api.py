"""Warm-pool API rules (behaviour.md §2, §3) over gRPC, Connect binary and Connect JSON."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from gitpod.v1 import prebuild_pb2 as pb

from server.models import Role
from server.store import tenancy
from tests.support.clients import ApiClient, RpcFailure
from tests.support.tenants import Tenant, make_tenant

if TYPE_CHECKING:
    from tests.support.servers import InProcessServer

READY = pb.WARM_POOL_PHASE_READY
PENDING = pb.WARM_POOL_PHASE_PENDING
DELETING = pb.WARM_POOL_PHASE_DELETING
DELETED = pb.WARM_POOL_PHASE_DELETED


async def create(api: ApiClient, t: Tenant, token: str | None = None, **fields: Any) -> pb.WarmPool:
    fields.setdefault("project_id", t.project_id)
    fields.setdefault("environment_class_id", t.class_id)
    resp: pb.CreateWarmPoolResponse = await api.call(
        "CreateWarmPool", pb.CreateWarmPoolRequest(**fields), token or t.admin
    )
    return resp.warm_pool


async def failure(coro: Any) -> RpcFailure:
    with pytest.raises(RpcFailure) as err:
        await coro
    return err.value


# --- CreateWarmPool ----------------------------------------------------------------------


async def test_create_returns_the_stored_pending_pool(api: ApiClient, tenant: Tenant) -> None:
    pool = await create(api, tenant)
    uuid.UUID(pool.id)
    assert pool.metadata.organization_id == tenant.org_id
    assert pool.metadata.project_id == tenant.project_id
    assert pool.metadata.environment_class_id == tenant.class_id
    assert pool.metadata.runner_id == tenant.runner_id
    assert pool.metadata.created_at.seconds > 0
    assert pool.metadata.updated_at == pool.metadata.created_at
    assert pool.spec.spec_version == 1
    assert pool.spec.desired_phase == READY
    assert pool.status.phase == PENDING
    assert pool.status.status_version == 1
    assert not pool.spec.HasField("snapshot_id")


async def test_create_without_sizes_defaults_min_and_max_to_one(
    api: ApiClient, tenant: Tenant
) -> None:
    pool = await create(api, tenant)
    assert pool.spec.HasField("min_size")
    assert pool.spec.HasField("max_size")
    assert (pool.spec.min_size, pool.spec.max_size, pool.spec.desired_size) == (1, 1, 0)
    assert pool.status.desired_size == 1


async def test_create_with_desired_size_sets_min_max_and_echoes_it(
    api: ApiClient, tenant: Tenant
) -> None:
    pool = await create(api, tenant, desired_size=2)
    assert (pool.spec.min_size, pool.spec.max_size, pool.spec.desired_size) == (2, 2, 2)
    assert pool.status.desired_size == 2


async def test_create_with_min_zero_keeps_min_zero_and_max_one(
    api: ApiClient, tenant: Tenant
) -> None:
    pool = await create(api, tenant, min_size=0)
    assert pool.spec.HasField("min_size")
    assert pool.spec.min_size == 0
    assert pool.spec.max_size == 1
    assert pool.status.desired_size == 0


async def test_create_with_only_max_sets_min_to_one(api: ApiClient, tenant: Tenant) -> None:
    pool = await create(api, tenant, max_size=7)
    assert (pool.spec.min_size, pool.spec.max_size) == (1, 7)


async def test_create_rejects_desired_size_mixed_with_min_size(
    api: ApiClient, tenant: Tenant
) -> None:
    err = await failure(create(api, tenant, desired_size=2, min_size=1))
    assert err.code == "invalid_argument"
    assert err.violations == [("desired_size", "cannot be combined with min_size or max_size")]


async def test_create_rejects_min_above_max(api: ApiClient, tenant: Tenant) -> None:
    err = await failure(create(api, tenant, min_size=5, max_size=3))
    assert err.code == "invalid_argument"
    assert err.violations[0][0] == "min_size"


async def test_create_reports_all_field_violations_with_bad_request_detail(
    api: ApiClient, tenant: Tenant
) -> None:
    err = await failure(
        create(api, tenant, project_id="nope", environment_class_id="", max_size=30)
    )
    assert err.code == "invalid_argument"
    assert err.violations == [
        ("project_id", "must be a valid UUID"),
        ("environment_class_id", "value is required"),
        ("max_size", "must be between 1 and 20"),
    ]
    assert "project_id: must be a valid UUID" in err.message
    assert "max_size: must be between 1 and 20" in err.message


async def test_create_of_unknown_project_is_not_found(api: ApiClient, tenant: Tenant) -> None:
    err = await failure(create(api, tenant, project_id=str(uuid.uuid4())))
    assert err.code == "not_found"


async def test_create_in_another_orgs_project_is_not_found(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    other = await make_tenant(server.db)
    err = await failure(
        create(api, tenant, project_id=other.project_id, environment_class_id=other.class_id)
    )
    assert err.code == "not_found"
    assert other.org_id not in err.message


async def test_create_with_prebuilds_disabled_fails_precondition(
    api: ApiClient, tenant: Tenant
) -> None:
    err = await failure(create(api, tenant, project_id=tenant.disabled_project_id))
    assert err.code == "failed_precondition"
    assert "prebuilds" in err.message


async def test_create_with_class_outside_prebuild_config_fails_precondition(
    api: ApiClient, tenant: Tenant
) -> None:
    err = await failure(create(api, tenant, environment_class_id=tenant.other_class_id))
    assert err.code == "failed_precondition"
    assert tenant.other_class_id in err.message


async def test_create_second_live_pool_for_pair_already_exists(
    api: ApiClient, tenant: Tenant
) -> None:
    await create(api, tenant)
    err = await failure(create(api, tenant, min_size=3))
    assert err.code == "already_exists"


async def test_create_checks_in_documented_order(api: ApiClient, tenant: Tenant) -> None:
    # role before fields, fields before existence, existence before preconditions
    viewer = tenant.tokens[Role.VIEWER]
    assert (await failure(create(api, tenant, token=viewer, project_id="x"))).code == (
        "permission_denied"
    )
    bad_and_missing = create(api, tenant, project_id=str(uuid.uuid4()), max_size=0)
    assert (await failure(bad_and_missing)).code == "invalid_argument"
    missing_and_mixed = create(
        api, tenant, project_id=str(uuid.uuid4()), desired_size=1, max_size=1
    )
    assert (await failure(missing_and_mixed)).code == "invalid_argument"
    unknown_project_and_class = create(
        api, tenant, project_id=str(uuid.uuid4()), environment_class_id=tenant.other_class_id
    )
    assert (await failure(unknown_project_and_class)).code == "not_found"


async def test_get_after_create_returns_the_same_pool(api: ApiClient, tenant: Tenant) -> None:
    created = await create(api, tenant, min_size=2, max_size=4)
    got = await api.call(
        "GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=created.id), tenant.admin
    )
    assert got.warm_pool == created


async def test_uppercase_ids_are_accepted_and_normalized(api: ApiClient, tenant: Tenant) -> None:
    created = await create(
        api,
        tenant,
        project_id=tenant.project_id.upper(),
        environment_class_id=tenant.class_id.upper(),
    )
    assert created.metadata.project_id == tenant.project_id
    got = await api.call(
        "GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=created.id.upper()), tenant.admin
    )
    assert got.warm_pool.id == created.id


async def test_concurrent_creates_of_one_pair_give_exactly_one_pool(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    results = await asyncio.gather(
        *(create(api, tenant) for _ in range(50)), return_exceptions=True
    )
    created = [r for r in results if isinstance(r, pb.WarmPool)]
    failed = [r for r in results if isinstance(r, RpcFailure)]
    assert len(created) == 1
    assert len(failed) == 49
    assert {f.code for f in failed} == {"already_exists"}
    rows = await server.db.fetchval(
        "SELECT count(*) FROM warm_pools WHERE project_id = $1", tenant.project_id
    )
    assert rows == 1


# --- GetWarmPool ---------------------------------------------------------------------------


async def test_get_of_unknown_and_foreign_pool_is_not_found_alike(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    other = await make_tenant(server.db)
    foreign = await create(api, other)
    unknown_id = str(uuid.uuid4())
    e1 = await failure(
        api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=unknown_id), tenant.admin)
    )
    e2 = await failure(
        api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=foreign.id), tenant.admin)
    )
    assert e1.code == e2.code == "not_found"
    assert e2.message == e1.message.replace(unknown_id, foreign.id)


async def test_get_with_malformed_id_is_invalid_argument(api: ApiClient, tenant: Tenant) -> None:
    err = await failure(
        api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id="42"), tenant.admin)
    )
    assert err.code == "invalid_argument"
    assert err.violations == [("warm_pool_id", "must be a valid UUID")]


async def test_get_returns_deleting_pools(api: ApiClient, tenant: Tenant) -> None:
    pool = await create(api, tenant)
    await api.call("DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=pool.id), tenant.admin)
    got = await api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=pool.id), tenant.admin)
    assert got.warm_pool.status.phase == DELETING


async def test_deleted_pool_is_readable_during_retention_then_not_found(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    pool = await create(api, tenant)
    await api.call("DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=pool.id), tenant.admin)
    # What the controller does once the pool is drained:
    await server.db.execute(
        "UPDATE warm_pools SET phase = 50, deleted_at = now() WHERE id = $1", pool.id
    )
    got = await api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=pool.id), tenant.admin)
    assert got.warm_pool.status.phase == DELETED
    retention = server.settings.deleted_retention_seconds
    await server.db.execute(
        "UPDATE warm_pools SET deleted_at = now() - make_interval(secs => $2) WHERE id = $1",
        pool.id,
        float(retention + 1),
    )
    err = await failure(
        api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=pool.id), tenant.admin)
    )
    assert err.code == "not_found"


# --- ListWarmPools -------------------------------------------------------------------------


async def _pools_for(
    api: ApiClient, server: InProcessServer, classes: int
) -> tuple[Tenant, list[pb.WarmPool]]:
    t = await make_tenant(server.db, extra_classes=classes)
    pools = [await create(api, t, environment_class_id=c) for c in t.extra_class_ids]
    return t, pools


async def list_all(api: ApiClient, t: Tenant, page_size: int, **filters: Any) -> list[list[str]]:
    pages: list[list[str]] = []
    token = ""
    while True:
        req = pb.ListWarmPoolsRequest(filter=pb.ListWarmPoolsRequest.Filter(**filters))
        req.pagination.page_size = page_size
        req.pagination.token = token
        resp = await api.call("ListWarmPools", req, t.admin)
        pages.append([p.id for p in resp.warm_pools])
        token = resp.pagination.next_token
        if not token:
            return pages


async def test_list_pages_through_every_pool_once_in_creation_order(
    api: ApiClient, server: InProcessServer
) -> None:
    t, pools = await _pools_for(api, server, 7)
    pages = await list_all(api, t, 3)
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [i for page in pages for i in page] == [p.id for p in pools]


async def test_list_default_page_size_is_25(api: ApiClient, server: InProcessServer) -> None:
    t, _pools = await _pools_for(api, server, 26)
    resp = await api.call("ListWarmPools", pb.ListWarmPoolsRequest(), t.admin)
    assert len(resp.warm_pools) == 25
    assert resp.pagination.next_token


async def test_list_exact_last_page_has_no_next_token(
    api: ApiClient, server: InProcessServer
) -> None:
    t, _ = await _pools_for(api, server, 4)
    assert [len(p) for p in await list_all(api, t, 2)] == [2, 2]


async def test_list_filters_or_within_and_across(api: ApiClient, server: InProcessServer) -> None:
    t, pools = await _pools_for(api, server, 3)
    c0, c1 = t.extra_class_ids[0], t.extra_class_ids[1]
    ids = [i for page in await list_all(api, t, 10, environment_class_ids=[c0, c1]) for i in page]
    assert ids == [pools[0].id, pools[1].id]
    both = await list_all(api, t, 10, project_ids=[t.project_id], environment_class_ids=[c1])
    assert [i for page in both for i in page] == [pools[1].id]
    none = await list_all(
        api, t, 10, project_ids=[t.disabled_project_id], environment_class_ids=[c1]
    )
    assert none == [[]]


async def test_list_shows_only_the_callers_organization(
    api: ApiClient, server: InProcessServer
) -> None:
    a, a_pools = await _pools_for(api, server, 2)
    _b, _ = await _pools_for(api, server, 2)
    ids = [i for page in await list_all(api, a, 10) for i in page]
    assert ids == [p.id for p in a_pools]


async def test_list_leaves_out_deleted_but_keeps_deleting_pools(
    api: ApiClient, server: InProcessServer
) -> None:
    t, pools = await _pools_for(api, server, 3)
    for p in pools[:2]:
        await api.call("DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=p.id), t.admin)
    await server.db.execute(
        "UPDATE warm_pools SET phase = 50, deleted_at = now() WHERE id = $1", pools[0].id
    )
    ids = [i for page in await list_all(api, t, 10) for i in page]
    assert ids == [pools[1].id, pools[2].id]


async def test_list_rejects_page_size_above_100(api: ApiClient, tenant: Tenant) -> None:
    req = pb.ListWarmPoolsRequest()
    req.pagination.page_size = 101
    err = await failure(api.call("ListWarmPools", req, tenant.admin))
    assert err.code == "invalid_argument"
    assert err.violations == [("pagination.page_size", "must be between 0 and 100")]


async def test_list_rejects_malformed_and_foreign_page_tokens(
    api: ApiClient, server: InProcessServer
) -> None:
    a, _ = await _pools_for(api, server, 3)
    b, _ = await _pools_for(api, server, 3)
    req = pb.ListWarmPoolsRequest()
    req.pagination.page_size = 1
    a_token = (await api.call("ListWarmPools", req, a.admin)).pagination.next_token
    for token, caller in [("garbage", a), (a_token, b), (a_token[:-2], a)]:
        bad = pb.ListWarmPoolsRequest()
        bad.pagination.token = token
        err = await failure(api.call("ListWarmPools", bad, caller.admin))
        assert err.code == "invalid_argument"
        assert err.violations == [
            ("pagination.token", "is not a valid page token for this request")
        ]
    refiltered = pb.ListWarmPoolsRequest(
        filter=pb.ListWarmPoolsRequest.Filter(project_ids=[a.project_id])
    )
    refiltered.pagination.token = a_token
    assert (
        await failure(api.call("ListWarmPools", refiltered, a.admin))
    ).code == "invalid_argument"


# --- UpdateWarmPool ------------------------------------------------------------------------


async def update(api: ApiClient, t: Tenant, pool_id: str, **fields: Any) -> pb.WarmPool:
    req = pb.UpdateWarmPoolRequest(warm_pool_id=pool_id, **fields)
    resp: pb.UpdateWarmPoolResponse = await api.call("UpdateWarmPool", req, t.admin)
    return resp.warm_pool


async def test_update_changes_only_set_fields_and_bumps_spec_version(
    api: ApiClient, tenant: Tenant
) -> None:
    pool = await create(api, tenant, min_size=1, max_size=3)
    await asyncio.sleep(0.002)
    updated = await update(api, tenant, pool.id, max_size=6)
    assert (updated.spec.min_size, updated.spec.max_size) == (1, 6)
    assert updated.spec.spec_version == 2
    assert updated.metadata.updated_at.ToDatetime() > pool.metadata.updated_at.ToDatetime()
    assert updated.metadata.created_at == pool.metadata.created_at
    assert updated.metadata.project_id == pool.metadata.project_id


async def test_update_to_min_zero_is_a_change(api: ApiClient, tenant: Tenant) -> None:
    pool = await create(api, tenant)
    updated = await update(api, tenant, pool.id, min_size=0)
    assert updated.spec.HasField("min_size")
    assert updated.spec.min_size == 0
    assert updated.spec.spec_version == 2


async def test_update_with_desired_size_sets_min_and_max(api: ApiClient, tenant: Tenant) -> None:
    pool = await create(api, tenant)
    updated = await update(api, tenant, pool.id, desired_size=4)
    assert (updated.spec.desired_size, updated.spec.min_size, updated.spec.max_size) == (4, 4, 4)


async def test_update_that_changes_nothing_answers_ok_unchanged(
    api: ApiClient, tenant: Tenant
) -> None:
    pool = await create(api, tenant, min_size=1, max_size=3)
    assert await update(api, tenant, pool.id) == pool
    assert await update(api, tenant, pool.id, max_size=3) == pool


async def test_update_rejects_merged_min_above_max(api: ApiClient, tenant: Tenant) -> None:
    pool = await create(api, tenant, min_size=1, max_size=3)
    err = await failure(update(api, tenant, pool.id, min_size=5))
    assert err.code == "invalid_argument"
    assert "5 > 3" in err.message


async def test_update_rejects_mixing_desired_with_min_max(api: ApiClient, tenant: Tenant) -> None:
    pool = await create(api, tenant)
    err = await failure(update(api, tenant, pool.id, desired_size=2, max_size=3))
    assert err.code == "invalid_argument"


async def test_update_of_deleting_pool_fails_precondition(api: ApiClient, tenant: Tenant) -> None:
    pool = await create(api, tenant)
    await api.call("DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=pool.id), tenant.admin)
    err = await failure(update(api, tenant, pool.id, max_size=2))
    assert err.code == "failed_precondition"


async def test_update_of_unknown_pool_is_not_found(api: ApiClient, tenant: Tenant) -> None:
    assert (await failure(update(api, tenant, str(uuid.uuid4()), max_size=2))).code == "not_found"


async def test_concurrent_updates_each_get_their_own_spec_version(
    api: ApiClient, tenant: Tenant
) -> None:
    pool = await create(api, tenant, min_size=0, max_size=20)
    results = await asyncio.gather(
        *(update(api, tenant, pool.id, min_size=i) for i in range(1, 11))
    )
    versions = sorted(r.spec.spec_version for r in results)
    assert versions == list(range(2, 12))
    final = (
        await api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=pool.id), tenant.admin)
    ).warm_pool
    assert final.spec.spec_version == 11
    assert final.spec.min_size == next(
        r.spec.min_size for r in results if r.spec.spec_version == 11
    )


# --- DeleteWarmPool ------------------------------------------------------------------------


async def test_delete_is_async_and_bumps_both_versions(api: ApiClient, tenant: Tenant) -> None:
    pool = await create(api, tenant)
    resp = await api.call(
        "DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=pool.id), tenant.admin
    )
    assert resp == pb.DeleteWarmPoolResponse()
    got = (
        await api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=pool.id), tenant.admin)
    ).warm_pool
    assert got.spec.desired_phase == DELETED
    assert got.status.phase == DELETING
    assert got.spec.spec_version == 2
    assert got.status.status_version == 2


async def test_second_delete_answers_ok_without_changes(api: ApiClient, tenant: Tenant) -> None:
    pool = await create(api, tenant)
    req = pb.DeleteWarmPoolRequest(warm_pool_id=pool.id)
    await api.call("DeleteWarmPool", req, tenant.admin)
    await api.call("DeleteWarmPool", req, tenant.admin)
    got = (
        await api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=pool.id), tenant.admin)
    ).warm_pool
    assert got.spec.spec_version == 2


async def test_delete_frees_the_pair_for_a_new_pool_at_once(api: ApiClient, tenant: Tenant) -> None:
    old = await create(api, tenant)
    await api.call("DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=old.id), tenant.admin)
    new = await create(api, tenant)
    assert new.id != old.id


async def test_delete_of_foreign_pool_is_not_found_and_changes_nothing(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    other = await make_tenant(server.db)
    foreign = await create(api, other)
    err = await failure(
        api.call("DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=foreign.id), tenant.admin)
    )
    assert err.code == "not_found"
    got = (
        await api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=foreign.id), other.admin)
    ).warm_pool
    assert got.status.phase == PENDING


async def test_disabling_prebuilds_deletes_the_projects_pools(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    pool = await create(api, tenant)
    _, deleted = await tenancy.upsert_project(
        server.db,
        tenant.org_id,
        "project",
        project_id=tenant.project_id,
        prebuilds_enabled=False,
        prebuild_environment_class_ids=[tenant.class_id],
        prebuild_timeout_seconds=3600,
    )
    assert deleted == 1
    got = (
        await api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=pool.id), tenant.admin)
    ).warm_pool
    assert got.status.phase == DELETING


async def test_removing_the_class_from_the_config_deletes_its_pool(
    api: ApiClient, server: InProcessServer
) -> None:
    t = await make_tenant(server.db, extra_classes=1)
    kept = await create(api, t)
    removed = await create(api, t, environment_class_id=t.extra_class_ids[0])
    await tenancy.upsert_project(
        server.db,
        t.org_id,
        "project",
        project_id=t.project_id,
        prebuilds_enabled=True,
        prebuild_environment_class_ids=[t.class_id],
        prebuild_timeout_seconds=3600,
    )
    phases = {}
    for p in (kept, removed):
        got = await api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=p.id), t.admin)
        phases[p.id] = got.warm_pool.status.phase
    assert phases == {kept.id: PENDING, removed.id: DELETING}


# --- Authentication, roles, unimplemented methods ------------------------------------------


async def test_missing_unknown_and_revoked_tokens_are_unauthenticated(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    req = pb.ListWarmPoolsRequest()
    assert (await failure(api.call("ListWarmPools", req, None))).code == "unauthenticated"
    assert (await failure(api.call("ListWarmPools", req, "wpt_unknown"))).code == "unauthenticated"
    token_id, secret = await tenancy_token(server, tenant)
    await api.call("ListWarmPools", req, secret)  # a new token works at once
    await tenancy.revoke_token(server.db, token_id)
    revoked_at = asyncio.get_running_loop().time()
    # A revoked token stops working within the auth cache's lifetime.
    bound = server.settings.auth_cache_seconds + 0.5
    code = "ok"
    while code == "ok":
        assert asyncio.get_running_loop().time() - revoked_at < bound, "revoked token still works"
        try:
            await api.call("ListWarmPools", req, secret)
        except RpcFailure as exc:
            code = exc.code
        await asyncio.sleep(0.1)
    assert code == "unauthenticated"


async def tenancy_token(server: InProcessServer, tenant: Tenant) -> tuple[str, str]:
    from server.service import admin

    return await admin.create_token(server.db, tenant.org_id, Role.VIEWER, "short-lived")


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RUNNER])
async def test_roles_without_write_may_not_create_update_or_delete(
    api: ApiClient, tenant: Tenant, role: Role
) -> None:
    pool = await create(api, tenant)
    token = tenant.tokens[role]
    calls = [
        (
            "CreateWarmPool",
            pb.CreateWarmPoolRequest(
                project_id=tenant.project_id, environment_class_id=tenant.class_id
            ),
        ),
        ("UpdateWarmPool", pb.UpdateWarmPoolRequest(warm_pool_id=pool.id, max_size=2)),
        ("DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=pool.id)),
    ]
    for method, req in calls:
        assert (await failure(api.call(method, req, token))).code == "permission_denied"


async def test_viewer_may_read_and_runner_may_not(api: ApiClient, tenant: Tenant) -> None:
    pool = await create(api, tenant)
    get = pb.GetWarmPoolRequest(warm_pool_id=pool.id)
    assert (await api.call("GetWarmPool", get, tenant.tokens[Role.VIEWER])).warm_pool.id == pool.id
    await api.call("ListWarmPools", pb.ListWarmPoolsRequest(), tenant.tokens[Role.VIEWER])
    err = await failure(api.call("GetWarmPool", get, tenant.tokens[Role.RUNNER]))
    assert err.code == "permission_denied"


async def test_warmpool_admin_may_manage_pools(api: ApiClient, tenant: Tenant) -> None:
    token = tenant.tokens[Role.WARMPOOL_ADMIN]
    pool = await create(api, tenant, token=token)
    await api.call(
        "UpdateWarmPool", pb.UpdateWarmPoolRequest(warm_pool_id=pool.id, max_size=3), token
    )
    await api.call("DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=pool.id), token)


async def test_deadline_passing_answers_deadline_exceeded(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    pool = await create(api, tenant)
    async with server.db.transaction() as conn:
        # Hold the row lock so the update has to wait past the caller's deadline.
        await conn.execute("SELECT 1 FROM warm_pools WHERE id = $1 FOR UPDATE", pool.id)
        err = await failure(
            api.call(
                "UpdateWarmPool",
                pb.UpdateWarmPoolRequest(warm_pool_id=pool.id, max_size=2),
                tenant.admin,
                timeout=0.3,
            )
        )
    assert err.code == "deadline_exceeded"
    got = (
        await api.call("GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=pool.id), tenant.admin)
    ).warm_pool
    assert got.spec.spec_version == 1  # nothing half-written


async def test_many_violations_are_reported_in_bounded_form(api: ApiClient, tenant: Tenant) -> None:
    req = pb.ListWarmPoolsRequest(
        filter=pb.ListWarmPoolsRequest.Filter(
            project_ids=[f"bad-{i}" for i in range(20)],
            environment_class_ids=["x"] * 50,
        )
    )
    err = await failure(api.call("ListWarmPools", req, tenant.admin))
    assert err.code == "invalid_argument"
    assert len(err.violations) == 11
    # 20 bad project ids + the oversized class list = 21: ten are listed, then a count.
    assert err.violations[:2] == [
        ("filter.project_ids[0]", "must be a valid UUID"),
        ("filter.project_ids[1]", "must be a valid UUID"),
    ]
    assert err.violations[-1] == ("request", "11 more violations not listed")
    assert len(err.message) < 1000
