"""Prebuild API rules over gRPC, Connect binary and Connect JSON: the same validation,
tenancy and error model as the warm-pool methods. The shared server runs no controller, so
prebuilds stay where the API put them (tests/test_controller.py runs them)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import pytest
from gitpod.v1 import identity_pb2
from gitpod.v1 import prebuild_pb2 as pb
from google.protobuf.duration_pb2 import Duration

from server.models import Role
from server.service.prebuilds import InvalidLogsToken, LogsTokens
from server.store import tenancy
from tests.support.clients import ApiClient, RpcFailure, make_client
from tests.support.tenants import Tenant, make_tenant

if TYPE_CHECKING:
    from tests.support.servers import InProcessServer

PENDING = pb.PREBUILD_PHASE_PENDING


async def create(api: ApiClient, t: Tenant, token: str | None = None, **fields: Any) -> pb.Prebuild:
    fields.setdefault("project_id", t.project_id)
    fields.setdefault("spec", pb.PrebuildSpec())
    resp = await api.call("CreatePrebuild", pb.CreatePrebuildRequest(**fields), token or t.admin)
    prebuild: pb.Prebuild = resp.prebuild
    return prebuild


async def get(api: ApiClient, t: Tenant, prebuild_id: str, token: str | None = None) -> pb.Prebuild:
    resp = await api.call(
        "GetPrebuild", pb.GetPrebuildRequest(prebuild_id=prebuild_id), token or t.admin
    )
    prebuild: pb.Prebuild = resp.prebuild
    return prebuild


async def failure(coro: Any) -> RpcFailure:
    with pytest.raises(RpcFailure) as err:
        await coro
    return err.value


# --- CreatePrebuild --------------------------------------------------------------------------


async def test_create_returns_a_pending_prebuild_with_its_metadata(
    api: ApiClient, tenant: Tenant
) -> None:
    p = await create(api, tenant, environment_class_id=tenant.class_id)
    uuid.UUID(p.id)
    assert p.metadata.organization_id == tenant.org_id
    assert p.metadata.project_id == tenant.project_id
    assert p.metadata.environment_class_id == tenant.class_id
    assert p.metadata.triggered_by == pb.PrebuildMetadata.PREBUILD_TRIGGER_MANUAL
    assert p.metadata.executor.id == tenant.runner_id
    assert p.metadata.executor.principal == identity_pb2.PRINCIPAL_RUNNER
    assert p.metadata.creator.principal == identity_pb2.PRINCIPAL_SERVICE_ACCOUNT
    uuid.UUID(p.metadata.creator.id)
    assert p.metadata.created_at == p.metadata.updated_at
    assert p.spec.spec_version == 1
    assert p.spec.desired_phase == pb.PREBUILD_PHASE_COMPLETED
    assert p.spec.timeout.seconds == 3600  # the project's prebuild timeout
    assert p.status.phase == PENDING
    assert p.status.status_version == 1
    assert not p.status.HasField("completion_time")
    assert p.status.log_url.endswith(f"/prebuild-logs/{p.id}")
    assert await get(api, tenant, p.id) == p


async def test_create_without_class_uses_the_projects_first_prebuild_class(
    api: ApiClient, tenant: Tenant
) -> None:
    p = await create(api, tenant)
    assert p.metadata.environment_class_id == tenant.class_id


async def test_create_takes_the_requested_timeout(api: ApiClient, tenant: Tenant) -> None:
    p = await create(api, tenant, spec=pb.PrebuildSpec(timeout=Duration(seconds=900)))
    assert p.spec.timeout.seconds == 900


async def test_create_reports_all_field_violations(api: ApiClient, tenant: Tenant) -> None:
    req = pb.CreatePrebuildRequest(
        project_id="nope",
        environment_class_id="also-nope",
        spec=pb.PrebuildSpec(timeout=Duration(seconds=10)),
    )
    err = await failure(api.call("CreatePrebuild", req, tenant.admin))
    assert err.code == "invalid_argument"
    assert err.violations == [
        ("project_id", "must be a valid UUID"),
        ("environment_class_id", "must be a valid UUID"),
        ("spec.timeout", "must be between 300s and 7200s"),
    ]
    no_spec = pb.CreatePrebuildRequest(project_id=tenant.project_id)
    err = await failure(api.call("CreatePrebuild", no_spec, tenant.admin))
    assert err.violations == [("spec", "value is required")]


@pytest.mark.parametrize(
    "timeout",
    [
        Duration(seconds=600, nanos=-5),  # signs differ
        Duration(seconds=-600, nanos=5),
        Duration(seconds=600, nanos=2_000_000_000),  # nanos beyond a second
    ],
)
async def test_create_rejects_a_malformed_duration(
    server: InProcessServer, tenant: Tenant, timeout: Duration
) -> None:
    req = pb.CreatePrebuildRequest(project_id=tenant.project_id, spec=pb.PrebuildSpec())
    req.spec.timeout.CopyFrom(timeout)
    # Only binary protobuf can carry such a Duration; JSON's "600.5s" form cannot.
    for transport in ("grpc", "connect-proto"):
        client = make_client(transport, server.grpc_port, server.http_port)
        try:
            err = await failure(client.call("CreatePrebuild", req, tenant.admin))
        finally:
            await client.close()
        assert err.code == "invalid_argument", transport
        [(field, rule)] = err.violations
        assert field == "spec.timeout" and rule.startswith("must be a valid Duration")


async def test_create_rejects_an_undefined_desired_phase(api: ApiClient, tenant: Tenant) -> None:
    req = pb.CreatePrebuildRequest(project_id=tenant.project_id, spec=pb.PrebuildSpec())
    req.spec.desired_phase = 999  # type: ignore[assignment]  # open enum: the wire allows it
    err = await failure(api.call("CreatePrebuild", req, tenant.admin))
    assert err.code == "invalid_argument"
    assert err.violations == [("spec.desired_phase", "must be a defined enum value")]


async def test_create_of_unknown_or_foreign_project_is_not_found(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    other = await make_tenant(server.db)
    for project_id in (str(uuid.uuid4()), other.project_id):
        err = await failure(create(api, tenant, project_id=project_id))
        assert err.code == "not_found"
        assert other.org_id not in err.message


async def test_create_fails_precondition_when_prebuilds_are_off_or_class_not_configured(
    api: ApiClient, tenant: Tenant
) -> None:
    err = await failure(create(api, tenant, project_id=tenant.disabled_project_id))
    assert err.code == "failed_precondition"
    assert "prebuilds" in err.message
    err = await failure(create(api, tenant, environment_class_id=tenant.other_class_id))
    assert err.code == "failed_precondition"
    assert tenant.other_class_id in err.message


async def test_create_without_class_on_a_project_without_classes_fails_precondition(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    project_id, _ = await tenancy.upsert_project(
        server.db,
        tenant.org_id,
        "empty",
        project_id=None,
        prebuilds_enabled=True,
        prebuild_environment_class_ids=[],
        prebuild_timeout_seconds=3600,
    )
    err = await failure(create(api, tenant, project_id=project_id))
    assert err.code == "failed_precondition"
    assert "environment_class_id" in err.message


# --- Roles and tenancy -----------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.RUNNER])
async def test_only_admins_may_create_cancel_or_delete(
    api: ApiClient, tenant: Tenant, role: Role
) -> None:
    p = await create(api, tenant)
    token = tenant.tokens[role]
    calls = [
        ("CreatePrebuild", pb.CreatePrebuildRequest(project_id=tenant.project_id, spec={})),
        ("CancelPrebuild", pb.CancelPrebuildRequest(prebuild_id=p.id)),
        ("DeletePrebuild", pb.DeletePrebuildRequest(prebuild_id=p.id)),
    ]
    for method, req in calls:
        assert (await failure(api.call(method, req, token))).code == "permission_denied"


async def test_viewer_may_read_and_runner_may_not(api: ApiClient, tenant: Tenant) -> None:
    p = await create(api, tenant, token=tenant.tokens[Role.WARMPOOL_ADMIN])
    viewer, runner = tenant.tokens[Role.VIEWER], tenant.tokens[Role.RUNNER]
    assert (await get(api, tenant, p.id, viewer)).id == p.id
    await api.call("ListPrebuilds", pb.ListPrebuildsRequest(), viewer)
    logs = pb.CreatePrebuildLogsTokenRequest(prebuild_id=p.id)
    assert (await api.call("CreatePrebuildLogsToken", logs, viewer)).access_token
    for method, req in [
        ("GetPrebuild", pb.GetPrebuildRequest(prebuild_id=p.id)),
        ("ListPrebuilds", pb.ListPrebuildsRequest()),
        ("CreatePrebuildLogsToken", logs),
    ]:
        assert (await failure(api.call(method, req, runner))).code == "permission_denied"


async def test_foreign_and_unknown_prebuilds_are_not_found_alike(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    other = await make_tenant(server.db)
    foreign = await create(api, other)
    unknown = str(uuid.uuid4())
    for method, cls in [
        ("GetPrebuild", pb.GetPrebuildRequest),
        ("CancelPrebuild", pb.CancelPrebuildRequest),
        ("DeletePrebuild", pb.DeletePrebuildRequest),
        ("CreatePrebuildLogsToken", pb.CreatePrebuildLogsTokenRequest),
    ]:
        e1 = await failure(api.call(method, cls(prebuild_id=unknown), tenant.admin))
        e2 = await failure(api.call(method, cls(prebuild_id=foreign.id), tenant.admin))
        assert e1.code == e2.code == "not_found"
        assert e2.message == e1.message.replace(unknown, foreign.id)
    assert (await get(api, other, foreign.id)).status.phase == PENDING  # untouched


async def test_malformed_prebuild_id_is_invalid_argument(api: ApiClient, tenant: Tenant) -> None:
    err = await failure(
        api.call("GetPrebuild", pb.GetPrebuildRequest(prebuild_id="7"), tenant.admin)
    )
    assert err.violations == [("prebuild_id", "must be a valid UUID")]


# --- ListPrebuilds ---------------------------------------------------------------------------


async def list_ids(api: ApiClient, t: Tenant, page_size: int = 100, **filters: Any) -> list[str]:
    ids: list[str] = []
    token = ""
    for _ in range(50):  # bounded
        req = pb.ListPrebuildsRequest(filter=pb.ListPrebuildsRequest.Filter(**filters))
        req.pagination.page_size = page_size
        req.pagination.token = token
        resp = await api.call("ListPrebuilds", req, t.admin)
        ids += [p.id for p in resp.prebuilds]
        token = resp.pagination.next_token
        if not token:
            return ids
    raise AssertionError("too many pages")


async def test_list_pages_through_every_prebuild_once_in_creation_order(
    api: ApiClient, server: InProcessServer
) -> None:
    t = await make_tenant(server.db)
    created = [(await create(api, t)).id for _ in range(5)]
    assert await list_ids(api, t, page_size=2) == created


async def test_list_filters_are_or_within_and_across(
    api: ApiClient, server: InProcessServer
) -> None:
    t = await make_tenant(server.db, extra_classes=1)
    a = await create(api, t)
    b = await create(api, t, environment_class_id=t.extra_class_ids[0])
    c = await create(api, t, token=await _token(server, t, Role.WARMPOOL_ADMIN))
    await server.db.execute("UPDATE prebuilds SET phase = 60 WHERE id = $1", b.id)
    assert await list_ids(api, t, project_ids=[t.project_id]) == [a.id, b.id, c.id]
    assert await list_ids(api, t, project_ids=[t.disabled_project_id]) == []
    assert await list_ids(api, t, phases=[pb.PREBUILD_PHASE_COMPLETED]) == [b.id]
    both = [pb.PREBUILD_PHASE_COMPLETED, pb.PREBUILD_PHASE_PENDING]
    assert await list_ids(api, t, phases=both) == [a.id, b.id, c.id]
    manual = [pb.PrebuildMetadata.PREBUILD_TRIGGER_MANUAL]
    scheduled = [pb.PrebuildMetadata.PREBUILD_TRIGGER_SCHEDULED]
    assert await list_ids(api, t, triggered_by=manual) == [a.id, b.id, c.id]
    assert await list_ids(api, t, triggered_by=scheduled) == []
    assert await list_ids(api, t, creator_ids=[c.metadata.creator.id]) == [c.id]
    assert await list_ids(api, t, executor_ids=[t.runner_id], phases=[PENDING]) == [a.id, c.id]
    assert await list_ids(api, t, executor_ids=[str(uuid.uuid4())]) == []


async def _token(server: InProcessServer, t: Tenant, role: Role) -> str:
    from server.service import admin

    _, secret = await admin.create_token(server.db, t.org_id, role, "second")
    return secret


async def test_list_shows_only_the_callers_organization(
    api: ApiClient, server: InProcessServer
) -> None:
    a, b = await make_tenant(server.db), await make_tenant(server.db)
    mine = (await create(api, a)).id
    await create(api, b)
    assert await list_ids(api, a) == [mine]


async def test_list_validates_filters_and_page_size(api: ApiClient, tenant: Tenant) -> None:
    req = pb.ListPrebuildsRequest(
        filter=pb.ListPrebuildsRequest.Filter(
            project_ids=["x"], creator_ids=["y"], executor_ids=["z"]
        )
    )
    req.filter.phases.append(33)  # type: ignore[arg-type]  # undefined on purpose
    req.filter.triggered_by.append(9)  # type: ignore[arg-type]
    req.pagination.page_size = 101
    err = await failure(api.call("ListPrebuilds", req, tenant.admin))
    assert err.code == "invalid_argument"
    assert err.violations == [
        ("pagination.page_size", "must be between 0 and 100"),
        ("filter.project_ids[0]", "must be a valid UUID"),
        ("filter.phases[0]", "must be a defined enum value"),
        ("filter.triggered_by[0]", "must be a defined enum value"),
        ("filter.creator_ids[0]", "must be a valid UUID"),
        ("filter.executor_ids[0]", "must be a valid UUID"),
    ]
    too_many = pb.ListPrebuildsRequest(
        filter=pb.ListPrebuildsRequest.Filter(phases=[pb.PREBUILD_PHASE_PENDING] * 11)
    )
    err = await failure(api.call("ListPrebuilds", too_many, tenant.admin))
    assert err.violations == [("filter.phases", "must contain at most 10 items")]


async def test_list_rejects_foreign_and_refiltered_page_tokens(
    api: ApiClient, server: InProcessServer
) -> None:
    a, b = await make_tenant(server.db), await make_tenant(server.db)
    for _ in range(2):
        await create(api, a)
    req = pb.ListPrebuildsRequest()
    req.pagination.page_size = 1
    token = (await api.call("ListPrebuilds", req, a.admin)).pagination.next_token
    assert token
    foreign = pb.ListPrebuildsRequest()
    foreign.pagination.token = token
    assert (await failure(api.call("ListPrebuilds", foreign, b.admin))).code == "invalid_argument"
    refiltered = pb.ListPrebuildsRequest(
        filter=pb.ListPrebuildsRequest.Filter(phases=[pb.PREBUILD_PHASE_PENDING])
    )
    refiltered.pagination.token = token
    err = await failure(api.call("ListPrebuilds", refiltered, a.admin))
    assert err.violations == [("pagination.token", "is not a valid page token for this request")]


# --- CancelPrebuild, DeletePrebuild ----------------------------------------------------------


async def test_cancel_moves_to_cancelling_and_a_second_cancel_changes_nothing(
    api: ApiClient, tenant: Tenant
) -> None:
    p = await create(api, tenant)
    req = pb.CancelPrebuildRequest(prebuild_id=p.id)
    first = (await api.call("CancelPrebuild", req, tenant.admin)).prebuild
    assert first.status.phase == pb.PREBUILD_PHASE_CANCELLING
    assert first.spec.desired_phase == pb.PREBUILD_PHASE_CANCELLED
    assert (first.spec.spec_version, first.status.status_version) == (2, 2)
    assert (await api.call("CancelPrebuild", req, tenant.admin)).prebuild == first


@pytest.mark.parametrize(
    ("phase", "word"), [(60, "completed"), (70, "failed")], ids=["completed", "failed"]
)
async def test_cancel_of_a_finished_prebuild_fails_precondition(
    api: ApiClient, tenant: Tenant, server: InProcessServer, phase: int, word: str
) -> None:
    p = await create(api, tenant)
    await server.db.execute("UPDATE prebuilds SET phase = $2 WHERE id = $1", p.id, phase)
    err = await failure(
        api.call("CancelPrebuild", pb.CancelPrebuildRequest(prebuild_id=p.id), tenant.admin)
    )
    assert err.code == "failed_precondition"
    assert word in err.message


async def test_delete_is_async_idempotent_and_blocks_cancel(api: ApiClient, tenant: Tenant) -> None:
    p = await create(api, tenant)
    req = pb.DeletePrebuildRequest(prebuild_id=p.id)
    assert await api.call("DeletePrebuild", req, tenant.admin) == pb.DeletePrebuildResponse()
    await api.call("DeletePrebuild", req, tenant.admin)
    got = await get(api, tenant, p.id)
    assert got.status.phase == pb.PREBUILD_PHASE_DELETING
    assert got.spec.desired_phase == pb.PREBUILD_PHASE_DELETED
    assert got.spec.spec_version == 2
    err = await failure(
        api.call("CancelPrebuild", pb.CancelPrebuildRequest(prebuild_id=p.id), tenant.admin)
    )
    assert err.code == "failed_precondition"


async def test_deleted_prebuild_leaves_the_list_and_is_readable_for_the_retention(
    api: ApiClient, server: InProcessServer
) -> None:
    t = await make_tenant(server.db)
    p = await create(api, t)
    await api.call("DeletePrebuild", pb.DeletePrebuildRequest(prebuild_id=p.id), t.admin)
    await server.db.execute(  # what the controller does once the run is gone
        "UPDATE prebuilds SET phase = 90, deleted_at = now() WHERE id = $1", p.id
    )
    assert await list_ids(api, t) == []
    assert (await get(api, t, p.id)).status.phase == pb.PREBUILD_PHASE_DELETED
    await server.db.execute(
        "UPDATE prebuilds SET deleted_at = now() - make_interval(secs => $2) WHERE id = $1",
        p.id,
        float(server.settings.deleted_retention_seconds + 1),
    )
    assert (await failure(get(api, t, p.id))).code == "not_found"


# --- Logs tokens -----------------------------------------------------------------------------


async def test_logs_token_names_the_prebuild_and_is_valid_for_one_hour(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    p = await create(api, tenant)
    before = datetime.now(UTC)
    resp = await api.call(
        "CreatePrebuildLogsToken", pb.CreatePrebuildLogsTokenRequest(prebuild_id=p.id), tenant.admin
    )
    key = await tenancy.server_key(server.db, "prebuild_logs", b"unused")
    tokens = LogsTokens(key)
    assert tokens.verify(resp.access_token, before) == (tenant.org_id, p.id)
    assert tokens.verify(resp.access_token, before + timedelta(minutes=59))
    with pytest.raises(InvalidLogsToken, match="expired"):
        tokens.verify(resp.access_token, before + timedelta(hours=1, seconds=2))
    with pytest.raises(InvalidLogsToken):
        tokens.verify(resp.access_token[:-3] + "AAA", before)
    with pytest.raises(InvalidLogsToken):
        LogsTokens(b"another key").verify(resp.access_token, before)


# --- Warm pools take completed snapshots -----------------------------------------------------


async def test_create_warm_pool_takes_the_latest_completed_snapshot_at_once(
    api: ApiClient, tenant: Tenant, server: InProcessServer
) -> None:
    older, newer = await create(api, tenant), await create(api, tenant)
    snapshots = {older.id: str(uuid.uuid4()), newer.id: str(uuid.uuid4())}
    for prebuild_id, seconds_ago in ((newer.id, 10), (older.id, 20)):
        await server.db.execute(
            "UPDATE prebuilds SET phase = 60, snapshot_id = $2, "
            "completion_time = now() - make_interval(secs => $3) WHERE id = $1",
            prebuild_id,
            snapshots[prebuild_id],
            float(seconds_ago),
        )
    resp = await api.call(
        "CreateWarmPool",
        pb.CreateWarmPoolRequest(
            project_id=tenant.project_id, environment_class_id=tenant.class_id
        ),
        tenant.admin,
    )
    assert resp.warm_pool.spec.snapshot_id == snapshots[newer.id]
    assert resp.warm_pool.spec.spec_version == 1
