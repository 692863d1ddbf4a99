"""SQL of the warm-pool API: one statement (or one short transaction) per call.

Functions return facts (rows, flags); deciding which error a client sees is the service's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.models import Sizing, WarmPool, WarmPoolPhase

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    import asyncpg

    from server.store.database import Database

_COLUMNS = """
    id::text, organization_id::text, project_id::text, environment_class_id::text,
    runner_id::text, created_at, updated_at, spec_version, legacy_desired_size, min_size,
    max_size, snapshot_id::text, desired_phase, phase, failure_message, status_version,
    running_instances, stopped_instances, target_size
"""

# A pool is visible unless it has been DELETED for longer than the retention period ($n).
_VISIBLE = "(phase <> 50 OR deleted_at > now() - make_interval(secs => {}))"


def _pool(row: asyncpg.Record) -> WarmPool:
    return WarmPool(
        id=row["id"],
        organization_id=row["organization_id"],
        project_id=row["project_id"],
        environment_class_id=row["environment_class_id"],
        runner_id=row["runner_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        spec_version=row["spec_version"],
        legacy_desired_size=row["legacy_desired_size"],
        min_size=row["min_size"],
        max_size=row["max_size"],
        snapshot_id=row["snapshot_id"],
        desired_phase=WarmPoolPhase(row["desired_phase"]),
        phase=WarmPoolPhase(row["phase"]),
        failure_message=row["failure_message"],
        status_version=row["status_version"],
        running_instances=row["running_instances"],
        stopped_instances=row["stopped_instances"],
        target_size=row["target_size"],
    )


@dataclass(frozen=True)
class CreateOutcome:
    """What the database found while creating: enough for the service to pick the error."""

    project_found: bool
    prebuilds_enabled: bool = False
    class_configured: bool = False
    class_exists: bool = False
    pool: WarmPool | None = None  # None when the pair already has a live pool (or a rule failed)


_CREATE = f"""
WITH project AS (
    SELECT p.prebuilds_enabled,
           $3::uuid = ANY (p.prebuild_environment_class_ids) AS class_configured,
           c.runner_id
    FROM projects p
    LEFT JOIN environment_classes c ON c.id = $3 AND c.organization_id = p.organization_id
    WHERE p.id = $2 AND p.organization_id = $1
), inserted AS (
    INSERT INTO warm_pools (id, organization_id, project_id, environment_class_id, runner_id,
                            legacy_desired_size, min_size, max_size, target_size, snapshot_id)
    SELECT gen_random_uuid(), $1, $2, $3, project.runner_id, $4, $5, $6, $5,
           -- the pair's latest completed prebuild, if any, gives the pool its snapshot at once
           (SELECT b.snapshot_id FROM prebuilds b
            WHERE b.organization_id = $1 AND b.project_id = $2 AND b.environment_class_id = $3
              AND b.phase = 60
            ORDER BY b.completion_time DESC LIMIT 1)
    FROM project
    WHERE project.prebuilds_enabled AND project.class_configured
      AND project.runner_id IS NOT NULL
    ON CONFLICT (project_id, environment_class_id) WHERE desired_phase <> 50 DO NOTHING
    RETURNING {_COLUMNS}
)
SELECT project.prebuilds_enabled, project.class_configured,
       project.runner_id IS NOT NULL AS class_exists, inserted.*
FROM project LEFT JOIN inserted ON true
"""


async def create_warm_pool(
    db: Database, organization_id: str, project_id: str, environment_class_id: str, sizing: Sizing
) -> CreateOutcome:
    """Insert the pool if the project allows it and the pair is free, in one statement.

    The partial unique index decides races: of N concurrent creates exactly one inserts.
    """
    row = await db.fetchrow(
        _CREATE,
        organization_id,
        project_id,
        environment_class_id,
        sizing.legacy_desired_size,
        sizing.min_size,
        sizing.max_size,
    )
    if row is None:
        return CreateOutcome(project_found=False)
    return CreateOutcome(
        project_found=True,
        prebuilds_enabled=row["prebuilds_enabled"],
        class_configured=row["class_configured"],
        class_exists=row["class_exists"],
        pool=_pool(row) if row["id"] is not None else None,
    )


async def get_warm_pool(
    db: Database, organization_id: str, pool_id: str, retention_seconds: int
) -> WarmPool | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM warm_pools "
        f"WHERE id = $1 AND organization_id = $2 AND {_VISIBLE.format('$3')}",
        pool_id,
        organization_id,
        float(retention_seconds),
    )
    return None if row is None else _pool(row)


@dataclass(frozen=True)
class PagePosition:
    """Keyset position: the (created_at, id) of the last row of the previous page."""

    created_at: datetime
    id: str


async def list_warm_pools(
    db: Database,
    organization_id: str,
    *,
    project_ids: list[str],
    environment_class_ids: list[str],
    after: PagePosition | None,
    limit: int,
) -> list[WarmPool]:
    """Live (not DELETED) pools in (created_at, id) order; empty filter lists match all."""
    rows = await db.fetch(
        f"""
        SELECT {_COLUMNS} FROM warm_pools
        WHERE organization_id = $1 AND phase <> 50
          AND (cardinality($2::uuid[]) = 0 OR project_id = ANY ($2::uuid[]))
          AND (cardinality($3::uuid[]) = 0 OR environment_class_id = ANY ($3::uuid[]))
          AND ($4::timestamptz IS NULL OR (created_at, id) > ($4::timestamptz, $5::uuid))
        ORDER BY created_at, id
        LIMIT $6
        """,
        organization_id,
        project_ids,
        environment_class_ids,
        after.created_at if after else None,
        after.id if after else None,
        limit,
    )
    return [_pool(r) for r in rows]


async def update_warm_pool_sizing(
    db: Database,
    organization_id: str,
    pool_id: str,
    retention_seconds: int,
    decide: Callable[[WarmPool], Sizing | None],
) -> WarmPool | None:
    """Lock the pool, let `decide` compute its new sizing (None: no change), and store it.

    Returns None when the pool is not visible to the organization. `decide` may raise; the
    transaction then rolls back and nothing is written. The row lock serializes concurrent
    updates, so each accepted change gets its own spec_version.
    """
    async with db.transaction() as conn:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM warm_pools "
            f"WHERE id = $1 AND organization_id = $2 AND {_VISIBLE.format('$3')} FOR UPDATE",
            pool_id,
            organization_id,
            float(retention_seconds),
        )
        if row is None:
            return None
        current = _pool(row)
        sizing = decide(current)
        if sizing is None:
            return current
        updated = await conn.fetchrow(
            f"""
            UPDATE warm_pools
            SET legacy_desired_size = $2, min_size = $3, max_size = $4,
                spec_version = spec_version + 1, updated_at = now()
            WHERE id = $1
            RETURNING {_COLUMNS}
            """,
            pool_id,
            sizing.legacy_desired_size,
            sizing.min_size,
            sizing.max_size,
        )
        assert updated is not None  # the row is locked by this transaction
        return _pool(updated)


async def delete_warm_pool(
    db: Database, organization_id: str, pool_id: str, retention_seconds: int
) -> bool:
    """Mark the pool for deletion (desired DELETED, phase DELETING); False if not visible.

    Deleting an already deleted pool changes nothing and still counts as found.
    """
    row = await db.fetchrow(
        f"""
        WITH target AS (
            SELECT id, desired_phase FROM warm_pools
            WHERE id = $1 AND organization_id = $2 AND {_VISIBLE.format("$3")}
            FOR UPDATE
        ), changed AS (
            UPDATE warm_pools w
            SET desired_phase = 50, phase = 40, spec_version = w.spec_version + 1,
                status_version = w.status_version + 1, updated_at = now()
            FROM target
            WHERE w.id = target.id AND target.desired_phase <> 50
            RETURNING w.id
        )
        SELECT (SELECT count(*) FROM target) AS found
        """,
        pool_id,
        organization_id,
        float(retention_seconds),
    )
    return row is not None and row["found"] > 0
