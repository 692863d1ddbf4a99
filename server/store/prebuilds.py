"""SQL of prebuilds: the API's statements and the controller's.

Functions return facts (rows, flags); the service decides which error a client sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.models import Prebuild, PrebuildPhase, PrebuildTrigger, SubjectKind

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

    import asyncpg

    from server.store.database import Database
    from server.store.warm_pools import PagePosition

_COLUMNS = """
    id::text, organization_id::text, project_id::text, environment_class_id::text,
    runner_id::text, creator_id::text, creator_principal, triggered_by, created_at, updated_at,
    spec_version, desired_phase, timeout_seconds, phase, status_version, completion_time,
    failure_message, warning_message, environment_id::text, snapshot_completion_percentage,
    snapshot_size_bytes
"""

# A prebuild is visible unless it has been DELETED for longer than the retention period.
_VISIBLE = "(phase <> 90 OR deleted_at > now() - make_interval(secs => {}))"


def _prebuild(row: asyncpg.Record) -> Prebuild:
    return Prebuild(
        id=row["id"],
        organization_id=row["organization_id"],
        project_id=row["project_id"],
        environment_class_id=row["environment_class_id"],
        runner_id=row["runner_id"],
        creator_id=row["creator_id"],
        creator_kind=SubjectKind(row["creator_principal"]),
        triggered_by=PrebuildTrigger(row["triggered_by"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        spec_version=row["spec_version"],
        desired_phase=PrebuildPhase(row["desired_phase"]),
        timeout_seconds=row["timeout_seconds"],
        phase=PrebuildPhase(row["phase"]),
        status_version=row["status_version"],
        completion_time=row["completion_time"],
        failure_message=row["failure_message"],
        warning_message=row["warning_message"],
        environment_id=row["environment_id"],
        snapshot_completion_percentage=row["snapshot_completion_percentage"],
        snapshot_size_bytes=row["snapshot_size_bytes"],
    )


@dataclass(frozen=True)
class CreateOutcome:
    """What the database found while creating: enough for the service to pick the error."""

    project_found: bool
    prebuilds_enabled: bool = False
    class_id: str | None = None  # the requested class, or the project's default one
    class_configured: bool = False
    class_exists: bool = False
    prebuild: Prebuild | None = None


_CREATE = f"""
WITH project AS (
    SELECT p.prebuilds_enabled, p.prebuild_timeout_seconds, p.prebuild_environment_class_ids,
           coalesce($3::uuid, p.prebuild_environment_class_ids[1]) AS chosen_class_id
    FROM projects p
    WHERE p.id = $2 AND p.organization_id = $1
), chosen AS (
    SELECT project.*, c.runner_id AS class_runner_id,
           coalesce(project.chosen_class_id = ANY (project.prebuild_environment_class_ids), false)
               AS class_configured
    FROM project
    LEFT JOIN environment_classes c ON c.id = project.chosen_class_id AND c.organization_id = $1
), inserted AS (
    INSERT INTO prebuilds (id, organization_id, project_id, environment_class_id, runner_id,
                           creator_id, creator_principal, triggered_by, timeout_seconds)
    SELECT gen_random_uuid(), $1, $2, chosen.chosen_class_id, chosen.class_runner_id, $4, $5, $6,
           coalesce($7, chosen.prebuild_timeout_seconds)
    FROM chosen
    WHERE chosen.prebuilds_enabled AND chosen.class_configured
      AND chosen.class_runner_id IS NOT NULL
    RETURNING {_COLUMNS}
)
SELECT chosen.prebuilds_enabled, chosen.class_configured, chosen.chosen_class_id::text,
       chosen.class_runner_id IS NOT NULL AS class_exists, inserted.*
FROM chosen LEFT JOIN inserted ON true
"""


async def create_prebuild(
    db: Database,
    organization_id: str,
    project_id: str,
    environment_class_id: str | None,
    creator_id: str,
    creator_kind: SubjectKind,
    trigger: PrebuildTrigger,
    timeout_seconds: int | None,
) -> CreateOutcome:
    """Insert the prebuild if the project allows it, in one statement."""
    row = await db.fetchrow(
        _CREATE,
        organization_id,
        project_id,
        environment_class_id,
        creator_id,
        int(creator_kind),
        int(trigger),
        timeout_seconds,
    )
    if row is None:
        return CreateOutcome(project_found=False)
    return CreateOutcome(
        project_found=True,
        prebuilds_enabled=row["prebuilds_enabled"],
        class_id=row["chosen_class_id"],
        class_configured=row["class_configured"],
        class_exists=row["class_exists"],
        prebuild=_prebuild(row) if row["id"] is not None else None,
    )


async def get_prebuild(
    db: Database, organization_id: str, prebuild_id: str, retention_seconds: int
) -> Prebuild | None:
    row = await db.fetchrow(
        f"SELECT {_COLUMNS} FROM prebuilds "
        f"WHERE id = $1 AND organization_id = $2 AND {_VISIBLE.format('$3')}",
        prebuild_id,
        organization_id,
        float(retention_seconds),
    )
    return None if row is None else _prebuild(row)


@dataclass(frozen=True)
class PrebuildFilter:
    """Empty lists match everything; values within a list are alternatives."""

    project_ids: list[str]
    phases: list[int]
    triggers: list[int]
    creator_ids: list[str]
    executor_ids: list[str]


async def list_prebuilds(
    db: Database,
    organization_id: str,
    where: PrebuildFilter,
    *,
    after: PagePosition | None,
    limit: int,
) -> list[Prebuild]:
    """Visible, not DELETED prebuilds in (created_at, id) order."""
    rows = await db.fetch(
        f"""
        SELECT {_COLUMNS} FROM prebuilds
        WHERE organization_id = $1 AND phase <> 90
          AND (cardinality($2::uuid[]) = 0 OR project_id = ANY ($2::uuid[]))
          AND (cardinality($3::smallint[]) = 0 OR phase = ANY ($3::smallint[]))
          AND (cardinality($4::smallint[]) = 0 OR triggered_by = ANY ($4::smallint[]))
          AND (cardinality($5::uuid[]) = 0 OR creator_id = ANY ($5::uuid[]))
          AND (cardinality($6::uuid[]) = 0 OR runner_id = ANY ($6::uuid[]))
          AND ($7::timestamptz IS NULL OR (created_at, id) > ($7::timestamptz, $8::uuid))
        ORDER BY created_at, id
        LIMIT $9
        """,
        organization_id,
        where.project_ids,
        where.phases,
        where.triggers,
        where.creator_ids,
        where.executor_ids,
        after.created_at if after else None,
        after.id if after else None,
        limit,
    )
    return [_prebuild(r) for r in rows]


async def change_prebuild(
    db: Database,
    organization_id: str,
    prebuild_id: str,
    retention_seconds: int,
    decide: Callable[[Prebuild], tuple[PrebuildPhase, PrebuildPhase] | None],
) -> Prebuild | None:
    """Lock the prebuild, let `decide` pick its new (desired phase, phase), and store it.

    `decide` returns None for "no change" and may raise; the transaction then rolls back.
    A change bumps both versions. Returns None when the prebuild is not visible.
    """
    async with db.transaction() as conn:
        row = await conn.fetchrow(
            f"SELECT {_COLUMNS} FROM prebuilds "
            f"WHERE id = $1 AND organization_id = $2 AND {_VISIBLE.format('$3')} FOR UPDATE",
            prebuild_id,
            organization_id,
            float(retention_seconds),
        )
        if row is None:
            return None
        current = _prebuild(row)
        change = decide(current)
        if change is None:
            return current
        desired, phase = change
        updated = await conn.fetchrow(
            f"""
            UPDATE prebuilds
            SET desired_phase = $2, phase = $3, spec_version = spec_version + 1,
                status_version = status_version + 1, updated_at = now()
            WHERE id = $1
            RETURNING {_COLUMNS}
            """,
            prebuild_id,
            int(desired),
            int(phase),
        )
        assert updated is not None  # locked by this transaction
        return _prebuild(updated)


# --- The controller's statements ----------------------------------------------------------------

_ACQUIRE = """
WITH due AS (
    SELECT id FROM prebuilds
    WHERE phase NOT IN (60, 70, 80, 90) AND next_reconcile_at <= now()
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
    ORDER BY next_reconcile_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), woken AS (
    SELECT id FROM prebuilds
    WHERE id = ANY ($3::uuid[]) AND phase NOT IN (60, 70, 80, 90)
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
    FOR UPDATE SKIP LOCKED
), chosen AS (
    SELECT id FROM due UNION SELECT id FROM woken
)
UPDATE prebuilds b
SET lease_owner = $1, lease_token = b.lease_token + 1,
    lease_expires_at = now() + make_interval(secs => $4),
    next_reconcile_at = now() + make_interval(secs => $4)
FROM chosen WHERE b.id = chosen.id
RETURNING b.id::text, b.project_id::text, b.environment_class_id::text, b.spec_version,
          b.desired_phase, b.phase, b.created_at, b.timeout_seconds, b.environment_id::text,
          b.snapshot_completion_percentage, b.snapshot_size_bytes, b.failure_message,
          b.lease_token, now() AS now
"""


@dataclass(frozen=True, slots=True)
class LeasedPrebuild:
    id: str
    project_id: str
    environment_class_id: str
    spec_version: int
    desired_phase: PrebuildPhase
    phase: PrebuildPhase
    created_at: datetime
    timeout_seconds: int
    environment_id: str | None
    snapshot_completion_percentage: int
    snapshot_size_bytes: int
    failure_message: str
    token: int
    now: datetime


async def acquire_prebuilds(
    db: Database, owner: str, woken: list[str], limit: int, lease_seconds: float
) -> list[LeasedPrebuild]:
    """Lease prebuilds that are still moving and due (or woken), skipping those held elsewhere.

    Due ones come from the partial index of moving prebuilds, woken ones by id: finished
    prebuilds, however many, are never scanned.
    """
    rows = await db.fetch(_ACQUIRE, owner, limit, woken, lease_seconds)
    return [
        LeasedPrebuild(
            id=r["id"],
            project_id=r["project_id"],
            environment_class_id=r["environment_class_id"],
            spec_version=r["spec_version"],
            desired_phase=PrebuildPhase(r["desired_phase"]),
            phase=PrebuildPhase(r["phase"]),
            created_at=r["created_at"],
            timeout_seconds=r["timeout_seconds"],
            environment_id=r["environment_id"],
            snapshot_completion_percentage=r["snapshot_completion_percentage"],
            snapshot_size_bytes=r["snapshot_size_bytes"],
            failure_message=r["failure_message"],
            token=r["lease_token"],
            now=r["now"],
        )
        for r in rows
    ]


@dataclass(frozen=True, slots=True)
class PrebuildProgress:
    """New values of a prebuild's status (None: unchanged)."""

    phase: PrebuildPhase | None
    failure_message: str | None
    environment_id: str | None
    snapshot_completion_percentage: int | None
    snapshot_size_bytes: int | None
    snapshot_id: str | None
    log: str
    next_wake: datetime


async def record_prebuild(
    db: Database, owner: str, leased: LeasedPrebuild, progress: PrebuildProgress
) -> int:
    """Write the progress if the lease and spec still hold, then release the lease.

    On COMPLETED, every live pool of the pair takes the snapshot (spec_version + 1) in the
    same transaction. Returns the number of pools that took it. status_version grows only
    when a status field changes.
    """
    terminal = progress.phase is not None and progress.phase.terminal
    async with db.transaction() as conn:
        row = await conn.fetchrow(
            """
            UPDATE prebuilds b
            SET phase = coalesce($4, b.phase),
                failure_message = coalesce($5, b.failure_message),
                environment_id = coalesce($6::uuid, b.environment_id),
                snapshot_completion_percentage = coalesce($7, b.snapshot_completion_percentage),
                snapshot_size_bytes = coalesce($8, b.snapshot_size_bytes),
                snapshot_id = coalesce($9::uuid, b.snapshot_id),
                completion_time = CASE WHEN $10 THEN coalesce(b.completion_time, now())
                                       ELSE b.completion_time END,
                deleted_at = CASE WHEN $4 = 90 THEN now() ELSE b.deleted_at END,
                log = b.log || $11,
                status_version = b.status_version + CASE WHEN
                    (coalesce($4, b.phase), coalesce($5, b.failure_message),
                     coalesce($6::uuid, b.environment_id),
                     coalesce($7, b.snapshot_completion_percentage),
                     coalesce($8, b.snapshot_size_bytes))
                    IS DISTINCT FROM
                    (b.phase, b.failure_message, b.environment_id,
                     b.snapshot_completion_percentage, b.snapshot_size_bytes)
                    THEN 1 ELSE 0 END,
                lease_owner = NULL, lease_expires_at = NULL,
                next_reconcile_at = $12
            WHERE b.id = $1 AND b.lease_owner = $2 AND b.lease_token = $3
              AND b.spec_version = $13
            RETURNING b.project_id, b.environment_class_id
            """,
            leased.id,
            owner,
            leased.token,
            None if progress.phase is None else int(progress.phase),
            progress.failure_message,
            progress.environment_id,
            progress.snapshot_completion_percentage,
            progress.snapshot_size_bytes,
            progress.snapshot_id,
            terminal,
            progress.log,
            progress.next_wake,
            leased.spec_version,
        )
        if row is None:
            # The lease was lost or the spec changed (cancel, delete): release only if still
            # ours, due at once, and let the next round decide afresh.
            await conn.execute(
                "UPDATE prebuilds SET lease_owner = NULL, lease_expires_at = NULL, "
                "next_reconcile_at = now() WHERE id = $1 AND lease_owner = $2 "
                "AND lease_token = $3",
                leased.id,
                owner,
                leased.token,
            )
            return 0
        if progress.phase != PrebuildPhase.COMPLETED or progress.snapshot_id is None:
            return 0
        status = await conn.execute(
            """
            UPDATE warm_pools
            SET snapshot_id = $3, spec_version = spec_version + 1, updated_at = now()
            WHERE project_id = $1 AND environment_class_id = $2 AND desired_phase <> 50
              AND snapshot_id IS DISTINCT FROM $3
            """,
            row["project_id"],
            row["environment_class_id"],
            progress.snapshot_id,
        )
        return int(status.split()[-1])


async def read_log(db: Database, organization_id: str, prebuild_id: str) -> str | None:
    return await db.fetchval(  # type: ignore[no-any-return]
        "SELECT log FROM prebuilds WHERE id = $1 AND organization_id = $2",
        prebuild_id,
        organization_id,
    )
