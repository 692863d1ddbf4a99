"""Test tenants: an organization with a runner, classes, projects and a token per role."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from server.models import Role
from server.service import admin
from server.store import tenancy
from server.store.database import Database
from server.store.migrate import migrate


@dataclass
class Tenant:
    org_id: str
    runner_id: str
    class_id: str  # in the prebuild configuration of `project_id`
    other_class_id: str  # exists, but not configured for prebuilds on `project_id`
    project_id: str  # prebuilds enabled for class_id
    disabled_project_id: str  # prebuilds disabled
    tokens: dict[Role, str] = field(default_factory=dict)
    extra_class_ids: list[str] = field(default_factory=list)  # configured on project_id too

    @property
    def admin(self) -> str:
        return self.tokens[Role.ADMIN]


async def make_tenant(db: Database, extra_classes: int = 0) -> Tenant:
    org_id = await tenancy.create_organization(db, f"org-{uuid.uuid4().hex[:6]}")
    runner_id = await tenancy.create_runner(db, org_id, "runner", None)
    class_id = await tenancy.create_environment_class(db, org_id, runner_id, "small", None)
    other = await tenancy.create_environment_class(db, org_id, runner_id, "large", None)
    extras = [
        await tenancy.create_environment_class(db, org_id, runner_id, f"extra-{i}", None)
        for i in range(extra_classes)
    ]
    project_id, _ = await tenancy.upsert_project(
        db,
        org_id,
        "project",
        project_id=None,
        prebuilds_enabled=True,
        prebuild_environment_class_ids=[class_id, *extras],
        prebuild_timeout_seconds=3600,
    )
    disabled_id, _ = await tenancy.upsert_project(
        db,
        org_id,
        "no-prebuilds",
        project_id=None,
        prebuilds_enabled=False,
        prebuild_environment_class_ids=[class_id],
        prebuild_timeout_seconds=3600,
    )
    tenant = Tenant(org_id, runner_id, class_id, other, project_id, disabled_id)
    tenant.extra_class_ids = extras
    for role in Role:
        _, secret = await admin.create_token(db, org_id, role, role.value)
        tenant.tokens[role] = secret
    return tenant


async def tenant_on_new_database(url: str) -> Tenant:
    """Migrate the (fresh) database at `url` and make one tenant in it, on a short-lived pool:
    for tests whose server is a separate process on a Postgres of their own."""
    db = await Database.connect(url)
    try:
        await migrate(db)
        return await make_tenant(db)
    finally:
        await db.close()
