"""SQL of tenancy: organizations, tokens, runners, environment classes and projects."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from server.models import Principal, Project, Role

if TYPE_CHECKING:
    import asyncpg

    from server.store.database import Database


async def principal_for_token_hash(db: Database, token_hash: bytes) -> Principal | None:
    row = await db.fetchrow(
        "SELECT id::text, organization_id::text, role FROM api_tokens "
        "WHERE token_hash = $1 AND revoked_at IS NULL",
        token_hash,
    )
    if row is None:
        return None
    return Principal(
        token_id=row["id"], organization_id=row["organization_id"], role=Role(row["role"])
    )


async def create_organization(db: Database, name: str, org_id: str | None = None) -> str:
    """Create an organization (or keep the existing one with that id) and return its id."""
    new_id = org_id or str(uuid.uuid4())
    await db.execute(
        "INSERT INTO organizations (id, name) VALUES ($1, $2) "
        "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
        new_id,
        name,
    )
    return new_id


async def create_token(
    db: Database, organization_id: str, role: Role, name: str, token_hash: bytes
) -> str:
    token_id = str(uuid.uuid4())
    if not await organization_exists(db, organization_id):
        raise ValueError(f"organization {organization_id} does not exist")
    await db.execute(
        "INSERT INTO api_tokens (id, organization_id, role, name, token_hash) "
        "VALUES ($1, $2, $3, $4, $5)",
        token_id,
        organization_id,
        role.value,
        name,
        token_hash,
    )
    return token_id


async def revoke_token(db: Database, token_id: str) -> bool:
    status = await db.execute(
        "UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL", token_id
    )
    return status != "UPDATE 0"


async def create_runner(
    db: Database, organization_id: str, name: str, runner_id: str | None
) -> str:
    new_id = runner_id or str(uuid.uuid4())
    if not await organization_exists(db, organization_id):
        raise ValueError(f"organization {organization_id} does not exist")
    stored = await db.fetchval(
        "INSERT INTO runners (id, organization_id, name) VALUES ($1, $2, $3) "
        "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name "
        "WHERE runners.organization_id = EXCLUDED.organization_id RETURNING id",
        new_id,
        organization_id,
        name,
    )
    if stored is None:
        raise ValueError(f"runner {new_id} belongs to another organization")
    return new_id


async def create_environment_class(
    db: Database, organization_id: str, runner_id: str, name: str, class_id: str | None
) -> str:
    new_id = class_id or str(uuid.uuid4())
    owner = await db.fetchval("SELECT organization_id::text FROM runners WHERE id = $1", runner_id)
    if owner != organization_id:
        raise ValueError(f"runner {runner_id} does not exist in organization {organization_id}")
    stored = await db.fetchval(
        "INSERT INTO environment_classes (id, organization_id, runner_id, name) "
        "VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, runner_id = EXCLUDED.runner_id "
        "WHERE environment_classes.organization_id = EXCLUDED.organization_id RETURNING id",
        new_id,
        organization_id,
        runner_id,
        name,
    )
    if stored is None:
        raise ValueError(f"environment class {new_id} belongs to another organization")
    return new_id


async def _check_classes(
    conn: asyncpg.Connection, organization_id: str, class_ids: list[str]
) -> None:
    found = await conn.fetch(
        "SELECT id::text FROM environment_classes "
        "WHERE organization_id = $1 AND id = ANY ($2::uuid[])",
        organization_id,
        class_ids,
    )
    missing = sorted(set(class_ids) - {r["id"] for r in found})
    if missing:
        raise ValueError(f"environment classes not in the organization: {', '.join(missing)}")


async def upsert_project(
    db: Database,
    organization_id: str,
    name: str,
    *,
    project_id: str | None,
    prebuilds_enabled: bool,
    prebuild_environment_class_ids: list[str],
    prebuild_timeout_seconds: int,
) -> tuple[str, int]:
    """Create or update a project; returns (id, number of warm pools it deleted).

    A pool whose class leaves the prebuild configuration, or whose project disables prebuilds,
    is deleted in the same transaction (desired DELETED, phase DELETING).
    """
    new_id = project_id or str(uuid.uuid4())
    if not await organization_exists(db, organization_id):
        raise ValueError(f"organization {organization_id} does not exist")
    async with db.transaction() as conn:
        await _check_classes(conn, organization_id, prebuild_environment_class_ids)
        owner = await conn.fetchval(
            "SELECT organization_id::text FROM projects WHERE id = $1", new_id
        )
        if owner is not None and owner != organization_id:
            raise ValueError(f"project {new_id} belongs to another organization")
        await conn.execute(
            """
            INSERT INTO projects (id, organization_id, name, prebuilds_enabled,
                                  prebuild_environment_class_ids, prebuild_timeout_seconds)
            VALUES ($1, $2, $3, $4, $5::uuid[], $6)
            ON CONFLICT (id) DO UPDATE
            SET name = EXCLUDED.name, prebuilds_enabled = EXCLUDED.prebuilds_enabled,
                prebuild_environment_class_ids = EXCLUDED.prebuild_environment_class_ids,
                prebuild_timeout_seconds = EXCLUDED.prebuild_timeout_seconds, updated_at = now()
            """,
            new_id,
            organization_id,
            name,
            prebuilds_enabled,
            prebuild_environment_class_ids,
            prebuild_timeout_seconds,
        )
        status = await conn.execute(
            """
            UPDATE warm_pools
            SET desired_phase = 50, phase = 40, spec_version = spec_version + 1,
                status_version = status_version + 1, updated_at = now()
            WHERE project_id = $1 AND desired_phase <> 50
              AND (NOT $2 OR NOT (environment_class_id = ANY ($3::uuid[])))
            """,
            new_id,
            prebuilds_enabled,
            prebuild_environment_class_ids,
        )
    return new_id, int(status.split()[-1])


async def get_project(db: Database, organization_id: str, project_id: str) -> Project | None:
    row = await db.fetchrow(
        "SELECT id::text, organization_id::text, name, prebuilds_enabled, "
        "prebuild_environment_class_ids::text[] AS class_ids, prebuild_timeout_seconds "
        "FROM projects WHERE id = $1 AND organization_id = $2",
        project_id,
        organization_id,
    )
    if row is None:
        return None
    return Project(
        id=row["id"],
        organization_id=row["organization_id"],
        name=row["name"],
        prebuilds_enabled=row["prebuilds_enabled"],
        prebuild_environment_class_ids=tuple(row["class_ids"]),
        prebuild_timeout_seconds=row["prebuild_timeout_seconds"],
    )


async def server_key(db: Database, name: str, candidate: bytes) -> bytes:
    """The shared secret called `name`, created from `candidate` by the first caller."""
    secret: bytes = await db.fetchval(
        """
        WITH inserted AS (
            INSERT INTO server_keys (name, secret) VALUES ($1, $2)
            ON CONFLICT (name) DO NOTHING RETURNING secret
        )
        SELECT secret FROM inserted UNION ALL SELECT secret FROM server_keys WHERE name = $1
        LIMIT 1
        """,
        name,
        candidate,
    )
    return secret


async def token_exists(db: Database, organization_id: str, name: str) -> bool:
    found = await db.fetchval(
        "SELECT 1 FROM api_tokens WHERE organization_id = $1 AND name = $2 AND revoked_at IS NULL",
        organization_id,
        name,
    )
    return found is not None


async def replace_token_hash(
    db: Database, organization_id: str, name: str, role: Role, token_hash: bytes
) -> None:
    await db.execute(
        "UPDATE api_tokens SET token_hash = $4, role = $3 "
        "WHERE organization_id = $1 AND name = $2 AND revoked_at IS NULL",
        organization_id,
        name,
        role.value,
        token_hash,
    )


async def organization_exists(db: Database, organization_id: str) -> bool:
    return (
        await db.fetchval("SELECT 1 FROM organizations WHERE id = $1", organization_id) is not None
    )
