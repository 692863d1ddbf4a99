"""SQL of the claim path: one statement per claim, never waiting on the controller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from server.models import ClaimedInstance, Principal, Role

if TYPE_CHECKING:
    from server.store.database import Database

# One atomic statement, authentication included (a claim is the hot path: one round trip):
# - `caller`: the principal of the bearer token's hash; nothing is claimed unless it is a
#   runner (the service turns a missing or wrong principal into the documented error);
# - `pool`: the pool named by id, or the live pool of the <project, class> pair;
# - `previous`: an instance this claim id already got (a retry returns it, changes nothing);
# - `picked`: otherwise the best claimable instance — running first, then current snapshot,
#   then oldest — locked with SKIP LOCKED so concurrent claims never wait for each other and
#   never get the same instance;
# - `claimed`: the conditional transition to 'claimed' (a stopped one is marked for start);
# - `attempt` and `wake`: every new attempt, hit or miss, is recorded as demand; with
#   `notify`, it also wakes every controller (pg_notify, delivered at commit). A server that
#   runs a controller wakes its own in-process instead: notifying commits serialize on a
#   global lock in Postgres, which the hot path is better without.
_CLAIM = """
WITH caller AS (
    SELECT id, organization_id, role FROM api_tokens
    WHERE token_hash = $1 AND revoked_at IS NULL
), pool AS (
    SELECT w.id, w.snapshot_id, w.desired_phase FROM warm_pools w, caller
    WHERE caller.role = 'runner' AND w.organization_id = caller.organization_id
      AND CASE WHEN $2::uuid IS NOT NULL THEN w.id = $2::uuid
               ELSE w.project_id = $3::uuid AND w.environment_class_id = $4::uuid
                    AND w.desired_phase <> 50 END
), previous AS (
    SELECT i.id, i.pool_id, i.snapshot_id, i.claimed_running, i.claimed_at, i.created_at
    FROM instances i, caller
    WHERE caller.role = 'runner' AND i.organization_id = caller.organization_id
      AND i.claim_id = $5
), picked AS (
    SELECT i.id, i.state FROM instances i, pool
    WHERE i.pool_id = pool.id AND i.state IN ('ready', 'standby')
      AND pool.desired_phase <> 50 AND NOT EXISTS (SELECT 1 FROM previous)
    ORDER BY i.state = 'ready' DESC, i.snapshot_id = pool.snapshot_id DESC, i.created_at, i.id
    LIMIT 1
    FOR UPDATE OF i SKIP LOCKED
), claimed AS (
    UPDATE instances i
    SET state = 'claimed', version = i.version + 1, state_since = now(), claim_id = $5,
        claimed_at = now(), claimed_running = picked.state = 'ready',
        start_pending = picked.state = 'standby'
    FROM picked
    WHERE i.id = picked.id AND i.state = picked.state
    RETURNING i.id, i.pool_id, i.snapshot_id, i.claimed_running, i.claimed_at, i.created_at
), attempt AS (
    INSERT INTO claim_attempts (pool_id, outcome)
    SELECT pool.id,
           CASE WHEN NOT EXISTS (SELECT 1 FROM claimed) THEN 3
                WHEN (SELECT claimed_running FROM claimed) THEN 1 ELSE 2 END
    FROM pool
    WHERE pool.desired_phase <> 50 AND NOT EXISTS (SELECT 1 FROM previous)
    RETURNING pool_id
), wake AS (
    SELECT {wake} FROM attempt
)
SELECT caller.id::text AS token_id, caller.organization_id::text AS organization_id,
       caller.role, pool.id::text AS pool_id, pool.desired_phase = 50 AS pool_deleted,
       p.id IS NOT NULL AS retried,
       coalesce(c.id, p.id)::text AS instance_id,
       coalesce(c.pool_id, p.pool_id)::text AS instance_pool_id,
       coalesce(c.snapshot_id, p.snapshot_id)::text AS snapshot_id,
       coalesce(c.snapshot_id, p.snapshot_id) = pool.snapshot_id AS current_snapshot,
       coalesce(c.claimed_running, p.claimed_running) AS claimed_running,
       coalesce(c.claimed_at, p.claimed_at) AS claimed_at,
       coalesce(c.created_at, p.created_at) AS created_at,
       (SELECT count(*) FROM wake) AS woken  -- referenced, so that the `wake` CTE runs
FROM caller LEFT JOIN pool ON true LEFT JOIN claimed c ON true LEFT JOIN previous p ON true
"""
_CLAIM_NOTIFY = _CLAIM.format(wake="pg_notify('warmpool_pool', attempt.pool_id::text)")
_CLAIM_QUIET = _CLAIM.format(wake="attempt.pool_id")


@dataclass(frozen=True)
class ClaimRow:
    caller: Principal
    pool_id: str | None  # None: no such pool visible to the caller (or not a runner)
    pool_deleted: bool
    retried: bool  # the claim id had already claimed `instance`
    instance: ClaimedInstance | None
    instance_pool_id: str | None
    claimed_running: bool


async def claim_instance(
    db: Database,
    token_hash: bytes,
    claim_id: str,
    *,
    pool_id: str | None,
    project_id: str | None,
    environment_class_id: str | None,
    notify: bool = True,
) -> ClaimRow | None:
    """Claim for `claim_id` in one statement; None when the token is unknown or revoked."""
    args = (token_hash, pool_id, project_id, environment_class_id, claim_id)
    sql = _CLAIM_NOTIFY if notify else _CLAIM_QUIET
    try:
        row = await db.fetchrow(sql, *args)
    except asyncpg.exceptions.UniqueViolationError:
        # A concurrent first attempt with the same claim id won; this retry finds its instance.
        row = await db.fetchrow(sql, *args)
    if row is None:
        return None
    instance = None
    if row["instance_id"] is not None:
        instance = ClaimedInstance(
            id=row["instance_id"],
            pool_id=row["instance_pool_id"],
            snapshot_id=row["snapshot_id"],
            current_snapshot=bool(row["current_snapshot"]),
            claim_id=claim_id,
            claimed_at=row["claimed_at"],
            created_at=row["created_at"],
        )
    return ClaimRow(
        caller=Principal(row["token_id"], row["organization_id"], Role(row["role"])),
        pool_id=row["pool_id"],
        pool_deleted=bool(row["pool_deleted"]),
        retried=row["retried"],
        instance=instance,
        instance_pool_id=row["instance_pool_id"],
        claimed_running=bool(row["claimed_running"]),
    )
