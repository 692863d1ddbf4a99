"""SQL of the warm-pool controller: leases, observation, fenced writes, housekeeping.

Lock order: a statement that locks several pool rows either skips locked ones (SKIP LOCKED)
or locks them in id order, so controllers never deadlock with each other.

Every statement works on a batch of pools (arrays bound with unnest), so one reconcile round
of a hundred pools costs a handful of round trips, not one per pool or per instance.

Leases: `acquire_pools` takes due (or woken) pools with FOR UPDATE SKIP LOCKED — replicas
never wait for each other — and stamps each with this replica's name, a new fencing token
and an expiry. `apply_plans` writes, in one statement, only for pools whose token (and spec
version) are still the ones observed, locking their rows meanwhile; `release_pools` hands them
back with their next due time. A replica that dies mid-round loses nothing: its pools are
due again when the lease expires, and the next owner reissues the intents it finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.controller.plan import ObservedInstance, ObservedPool, Transition
from server.models import InstanceState, WarmPoolPhase

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    import asyncpg

    from server.controller.plan import PoolPlan
    from server.store.database import Database

_ACQUIRE = """
WITH due AS (
    SELECT id, next_reconcile_at FROM warm_pools
    WHERE phase <> 50 AND NOT paused AND next_reconcile_at <= now()
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
    ORDER BY next_reconcile_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
), woken AS (
    SELECT id, now() AS next_reconcile_at FROM warm_pools
    WHERE id = ANY ($3::uuid[]) AND phase <> 50 AND NOT paused
      AND (lease_expires_at IS NULL OR lease_expires_at < now())
    FOR UPDATE SKIP LOCKED
), chosen AS (
    SELECT id, min(next_reconcile_at) AS was_due FROM (
        SELECT * FROM due UNION ALL SELECT * FROM woken
    ) c GROUP BY id
), leased AS (
    UPDATE warm_pools w
    SET lease_owner = $1, lease_token = w.lease_token + 1,
        lease_expires_at = now() + make_interval(secs => $4),
        -- If this replica dies, the pool is due again when the lease runs out.
        next_reconcile_at = now() + make_interval(secs => $4)
    FROM chosen
    WHERE w.id = chosen.id
    RETURNING w.*, chosen.was_due
)
SELECT l.id::text, l.environment_class_id::text, l.lease_token,
       extract(epoch FROM now() - l.was_due)::float8 AS lag, now() AS now,
       l.spec_version, l.min_size, l.max_size, l.snapshot_id::text, l.desired_phase,
       coalesce(p.prebuilds_enabled
                AND l.environment_class_id = ANY (p.prebuild_environment_class_ids),
                false) AS allowed,
       s.snapshot_id::text AS latest_snapshot_id,
       l.phase, l.failure_message, l.running_instances, l.stopped_instances, l.target_size,
       l.running_target, l.running_target_low_since, l.target_low_since, l.create_failures,
       l.failures_spec_version, l.last_failure_at, l.backoff_until, l.last_failure_message,
       l.below_min_since, l.converging_since,
       d.demand, d.oldest AS demand_oldest_at
FROM leased l
LEFT JOIN projects p ON p.id = l.project_id
LEFT JOIN LATERAL (
    SELECT b.snapshot_id FROM prebuilds b
    WHERE l.snapshot_id IS NULL AND b.project_id = l.project_id
      AND b.environment_class_id = l.environment_class_id AND b.phase = 60
    ORDER BY b.completion_time DESC LIMIT 1
) s ON true
LEFT JOIN LATERAL (
    -- Demand above max_size changes nothing, so read at most max_size of the latest
    -- attempts: a short index scan, however busy the pool. `oldest` is when this capped
    -- count next falls (plus the window).
    SELECT count(*)::int AS demand, min(recent.at) AS oldest FROM (
        SELECT a.at FROM claim_attempts a
        WHERE a.pool_id = l.id AND a.at > now() - make_interval(secs => $5)
        ORDER BY a.at DESC LIMIT l.max_size
    ) recent
) d ON true
"""


@dataclass(frozen=True, slots=True)
class LeasedPool:
    pool: ObservedPool
    token: int
    lag: float  # seconds between becoming due and being taken
    now: datetime  # the database's clock when the lease was taken


def _observed_pool(r: asyncpg.Record) -> ObservedPool:
    return ObservedPool(
        id=r["id"],
        environment_class_id=r["environment_class_id"],
        spec_version=r["spec_version"],
        min_size=r["min_size"],
        max_size=r["max_size"],
        snapshot_id=r["snapshot_id"],
        desired_phase=WarmPoolPhase(r["desired_phase"]),
        allowed=r["allowed"],
        latest_snapshot_id=r["latest_snapshot_id"],
        phase=WarmPoolPhase(r["phase"]),
        failure_message=r["failure_message"],
        running_instances=r["running_instances"],
        stopped_instances=r["stopped_instances"],
        target_size=r["target_size"],
        running_target=r["running_target"],
        running_target_low_since=r["running_target_low_since"],
        target_low_since=r["target_low_since"],
        create_failures=r["create_failures"],
        failures_spec_version=r["failures_spec_version"],
        last_failure_at=r["last_failure_at"],
        backoff_until=r["backoff_until"],
        last_failure_message=r["last_failure_message"],
        below_min_since=r["below_min_since"],
        converging_since=r["converging_since"],
        demand=r["demand"],
        demand_oldest_at=r["demand_oldest_at"],
    )


async def acquire_pools(
    db: Database,
    owner: str,
    woken: Sequence[str],
    limit: int,
    lease_seconds: float,
    demand_window: float,
) -> list[LeasedPool]:
    """Lease up to `limit` due pools plus the woken ones that no one else holds."""
    rows = await db.fetch(_ACQUIRE, owner, limit, list(woken), lease_seconds, demand_window)
    return [LeasedPool(_observed_pool(r), r["lease_token"], r["lag"], r["now"]) for r in rows]


async def leased_elsewhere(db: Database, pool_ids: list[str], owner: str) -> list[str]:
    """Of these pools, the live ones another replica holds a lease on now."""
    rows = await db.fetch(
        "SELECT id::text FROM warm_pools WHERE id = ANY ($1::uuid[]) AND phase <> 50 "
        "AND NOT paused AND lease_expires_at > now() AND lease_owner <> $2",
        pool_ids,
        owner,
    )
    return [r["id"] for r in rows]


async def observe_instances(
    db: Database, pool_ids: Sequence[str]
) -> dict[str, list[ObservedInstance]]:
    """Live instances of the pools, and claimed ones still waiting for their start."""
    rows = await db.fetch(
        """
        SELECT id::text, pool_id::text, snapshot_id::text, state, version, state_since,
               created_at, start_pending
        FROM instances
        WHERE pool_id = ANY ($1::uuid[])
          AND state <> 'deleted' AND (state <> 'claimed' OR start_pending)
        """,
        list(pool_ids),
    )
    found: dict[str, list[ObservedInstance]] = {p: [] for p in pool_ids}
    for r in rows:
        found[r["pool_id"]].append(
            ObservedInstance(
                id=r["id"],
                snapshot_id=r["snapshot_id"],
                state=InstanceState(r["state"]),
                version=r["version"],
                state_since=r["state_since"],
                created_at=r["created_at"],
                start_pending=r["start_pending"],
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class NewInstance:
    id: str
    pool_id: str
    snapshot_id: str


@dataclass(slots=True)
class Applied:
    """What the fenced write actually wrote (conditional updates may match nothing)."""

    fenced: set[str]  # pools still leased by us with the observed spec
    intents: dict[str, InstanceState]  # instance id -> intent state it was moved to
    created: list[NewInstance]


# One statement writes a whole round: the fence locks the pools still leased to us with the
# observed spec (in id order), and every other part writes only for those. Instance moves are
# conditional on the observed (state, version), so a claim that took an instance meanwhile
# makes its move a no-op. (Parts of one statement never touch the same row: a pool gets a
# status write or a spec write — adopting a snapshot, being deleted — never both.)
_APPLY = """
WITH fenced AS (
    SELECT w.id FROM warm_pools w
    JOIN unnest($1::uuid[], $2::bigint[], $3::bigint[]) AS l(id, token, spec_version)
      ON w.id = l.id
    WHERE w.lease_owner = $4 AND w.lease_token = l.token AND w.spec_version = l.spec_version
    ORDER BY w.id
    FOR UPDATE OF w
), moved AS (
    UPDATE instances i
    SET state = u.to_state, version = i.version + 1, state_since = now(),
        failure_message = CASE WHEN u.message <> '' THEN u.message ELSE i.failure_message END
    FROM unnest($5::uuid[], $6::uuid[], $7::text[], $8::bigint[], $9::text[], $10::text[])
         AS u(id, pool_id, from_state, version, to_state, message)
    WHERE i.id = u.id AND i.state = u.from_state AND i.version = u.version
      AND u.pool_id IN (SELECT id FROM fenced)
    RETURNING i.id, i.state
), accepted AS (
    UPDATE instances i SET start_pending = false
    FROM unnest($11::uuid[], $12::uuid[], $13::bigint[]) AS u(id, pool_id, version)
    WHERE i.id = u.id AND i.version = u.version AND u.pool_id IN (SELECT id FROM fenced)
), created AS (
    INSERT INTO instances (id, pool_id, organization_id, snapshot_id, state)
    SELECT u.id, u.pool_id, w.organization_id, u.snapshot_id, 'creating'
    FROM unnest($14::uuid[], $15::uuid[], $16::uuid[]) AS u(id, pool_id, snapshot_id)
    JOIN warm_pools w ON w.id = u.pool_id
    WHERE u.pool_id IN (SELECT id FROM fenced)
    RETURNING id
), status AS (
    UPDATE warm_pools w
    SET phase = u.phase, failure_message = u.failure_message,
        running_instances = u.running, stopped_instances = u.stopped, target_size = u.target,
        status_version = w.status_version + CASE WHEN u.changed THEN 1 ELSE 0 END,
        deleted_at = CASE WHEN u.phase = 50 THEN coalesce(w.deleted_at, now())
                          ELSE w.deleted_at END,
        running_target = u.running_target,
        running_target_low_since = u.running_target_low_since,
        target_low_since = u.target_low_since, create_failures = u.create_failures,
        failures_spec_version = u.failures_spec_version, last_failure_at = u.last_failure_at,
        backoff_until = u.backoff_until, last_failure_message = u.last_failure_message,
        below_min_since = u.below_min_since, converging_since = u.converging_since
    FROM unnest($17::uuid[], $18::smallint[], $19::text[], $20::int[], $21::int[], $22::int[],
                $23::bool[], $24::int[], $25::timestamptz[], $26::timestamptz[], $27::int[],
                $28::bigint[], $29::timestamptz[], $30::timestamptz[], $31::text[],
                $32::timestamptz[], $33::timestamptz[])
         AS u(id, phase, failure_message, running, stopped, target, changed,
              running_target, running_target_low_since, target_low_since, create_failures,
              failures_spec_version, last_failure_at, backoff_until, last_failure_message,
              below_min_since, converging_since)
    WHERE w.id = u.id AND w.id IN (SELECT id FROM fenced)
), spec AS (
    -- Adopt the pair's snapshot, or delete as DeleteWarmPool does (the project's
    -- configuration no longer allows the pool). The trigger makes the pool due again.
    UPDATE warm_pools w
    SET snapshot_id = coalesce(w.snapshot_id, u.snapshot_id),
        desired_phase = CASE WHEN u.remove THEN 50 ELSE w.desired_phase END,
        phase = CASE WHEN u.remove THEN 40 ELSE w.phase END,
        status_version = w.status_version + CASE WHEN u.remove THEN 1 ELSE 0 END,
        spec_version = w.spec_version + 1, updated_at = now()
    FROM unnest($34::uuid[], $35::uuid[], $36::bool[]) AS u(id, snapshot_id, remove)
    WHERE w.id = u.id AND w.id IN (SELECT id FROM fenced)
      AND ((NOT u.remove AND w.snapshot_id IS NULL) OR (u.remove AND w.desired_phase <> 50))
)
SELECT 'fenced' AS kind, id::text, NULL::text AS state FROM fenced
UNION ALL SELECT 'moved', id::text, state FROM moved
UNION ALL SELECT 'created', id::text, NULL FROM created
"""


def _moves(plans: Sequence[PoolPlan]) -> list[tuple[str, Transition]]:
    """(pool id, move) per instance: a stage-2 intent that follows a stage-1 move of the same
    instance in this round becomes one move from the observed (state, version)."""
    moves: dict[str, tuple[str, Transition]] = {}
    for p in plans:
        for t in [*p.observed, *p.intents]:
            earlier = moves.get(t.instance_id)
            if earlier is not None:
                first = earlier[1]
                t = Transition(
                    first.instance_id, first.from_state, first.version, t.to,
                    t.message or first.message,
                )  # fmt: skip
            moves[t.instance_id] = (p.pool_id, t)
    return list(moves.values())


async def apply_plans(
    db: Database,
    owner: str,
    leases: Sequence[LeasedPool],
    plans: Sequence[PoolPlan],
    new_ids: dict[str, list[str]],
) -> Applied:
    """Write the plans of the pools still leased to us, in one statement.

    What the provider reported (stage 1), the intents (stage 2, written before any provider
    call), new instances in state 'creating', status and bookkeeping, snapshot adoption and
    configuration deletes.
    """
    moves = _moves(plans)
    accepted = [(a, p.pool_id) for p in plans for a in p.start_accepted]
    created = [
        NewInstance(new_id, p.pool_id, p.snapshot_id)
        for p in plans
        if p.snapshot_id is not None
        for new_id in new_ids.get(p.pool_id, [])
    ]
    status = [
        (p.pool_id, p.status, p.bookkeeping, p.status_changed)
        for p in plans
        if p.status is not None and p.bookkeeping is not None and p.writes_pool
    ]
    spec = [
        (p.pool_id, p.adopt_snapshot, p.delete_pool)
        for p in plans
        if p.adopt_snapshot is not None or p.delete_pool
    ]
    rows = await db.fetch(
        _APPLY,
        [x.pool.id for x in leases],
        [x.token for x in leases],
        [x.pool.spec_version for x in leases],
        owner,
        [t.instance_id for _, t in moves],
        [pool_id for pool_id, _ in moves],
        [t.from_state.value for _, t in moves],
        [t.version for _, t in moves],
        [t.to.value for _, t in moves],
        [t.message for _, t in moves],
        [a[0] for a, _ in accepted],
        [pool_id for _, pool_id in accepted],
        [a[1] for a, _ in accepted],
        [c.id for c in created],
        [c.pool_id for c in created],
        [c.snapshot_id for c in created],
        [pool_id for pool_id, _, _, _ in status],
        [int(st.phase) for _, st, _, _ in status],
        [st.failure_message for _, st, _, _ in status],
        [st.running_instances for _, st, _, _ in status],
        [st.stopped_instances for _, st, _, _ in status],
        [st.target_size for _, st, _, _ in status],
        [changed for _, _, _, changed in status],
        [b.running_target for _, _, b, _ in status],
        [b.running_target_low_since for _, _, b, _ in status],
        [b.target_low_since for _, _, b, _ in status],
        [b.create_failures for _, _, b, _ in status],
        [b.failures_spec_version for _, _, b, _ in status],
        [b.last_failure_at for _, _, b, _ in status],
        [b.backoff_until for _, _, b, _ in status],
        [b.last_failure_message for _, _, b, _ in status],
        [b.below_min_since for _, _, b, _ in status],
        [b.converging_since for _, _, b, _ in status],
        [pool_id for pool_id, _, _ in spec],
        [snapshot for _, snapshot, _ in spec],
        [remove for _, _, remove in spec],
    )
    fenced = {r["id"] for r in rows if r["kind"] == "fenced"}
    moved = {r["id"]: InstanceState(r["state"]) for r in rows if r["kind"] == "moved"}
    intended = {t.instance_id for p in plans if p.pool_id in fenced for t in p.intents}
    made = {r["id"] for r in rows if r["kind"] == "created"}
    return Applied(
        fenced,
        {i: state for i, state in moved.items() if i in intended},
        [c for c in created if c.id in made],
    )


async def release_pools(
    db: Database,
    owner: str,
    leases: Sequence[LeasedPool],
    next_wake: dict[str, datetime],
) -> None:
    """Hand the pools back with their next due time; a spec change meanwhile makes it now."""
    await db.execute(
        """
        WITH locked AS (
            SELECT id FROM warm_pools WHERE id = ANY ($1::uuid[]) ORDER BY id FOR UPDATE
        )
        UPDATE warm_pools w
        SET lease_owner = NULL, lease_expires_at = NULL,
            next_reconcile_at = CASE WHEN w.spec_version <> l.spec_version THEN now()
                                     ELSE l.next_wake END
        FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::timestamptz[])
             AS l(id, token, spec_version, next_wake), locked
        WHERE w.id = l.id AND locked.id = l.id AND w.lease_owner = $5
          AND w.lease_token = l.token
        """,
        [x.pool.id for x in leases],
        [x.token for x in leases],
        [x.pool.spec_version for x in leases],
        [next_wake[x.pool.id] for x in leases],
        owner,
    )


async def seconds_until_due(db: Database) -> float | None:
    """Until the earliest scheduled pool or prebuild reconcile (negative: overdue)."""
    value = await db.fetchval(
        """
        SELECT extract(epoch FROM least(
            (SELECT min(next_reconcile_at) FROM warm_pools WHERE phase <> 50 AND NOT paused),
            (SELECT min(next_reconcile_at) FROM prebuilds WHERE phase NOT IN (60, 70, 80, 90))
        ) - now())::float8
        """
    )
    return None if value is None else float(value)


async def wake_all_pools(db: Database) -> None:
    """Make every pool due now: after a (re)connect of the wake-up listener."""
    await db.execute(
        """
        UPDATE warm_pools SET next_reconcile_at = now()
        WHERE id IN (
            SELECT id FROM warm_pools
            WHERE phase <> 50 AND NOT paused AND next_reconcile_at > now()
            FOR UPDATE SKIP LOCKED  -- a locked pool is being reconciled right now anyway
        )
        """
    )


# --- Pause and resume ---------------------------------------------------------------------------


async def controller_paused(db: Database) -> bool:
    value = await db.fetchval("SELECT enabled FROM controller_flags WHERE name = 'paused'")
    return bool(value)


async def set_controller_paused(db: Database, paused: bool) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO controller_flags (name, enabled) VALUES ('paused', $1) "
            "ON CONFLICT (name) DO UPDATE SET enabled = EXCLUDED.enabled, updated_at = now()",
            paused,
        )
        await conn.execute("SELECT pg_notify('warmpool_control', 'paused')")


async def set_pool_paused(db: Database, pool_id: str, paused: bool) -> bool:
    """Pause or resume one pool; False if there is no such pool."""
    row = await db.fetchrow(
        """
        WITH changed AS (
            UPDATE warm_pools SET paused = $2, next_reconcile_at = now() WHERE id = $1
            RETURNING id
        )
        SELECT pg_notify('warmpool_pool', id::text) FROM changed
        """,
        pool_id,
        paused,
    )
    return row is not None


# --- Housekeeping -------------------------------------------------------------------------------


async def purge(db: Database, demand_window: float, retention_seconds: float) -> None:
    """Drop demand older than the window and finished instance rows older than retention."""
    await db.execute(
        "DELETE FROM claim_attempts WHERE at < now() - make_interval(secs => $1)", demand_window
    )
    await db.execute(
        """
        DELETE FROM instances WHERE id IN (
            SELECT id FROM instances
            WHERE state IN ('claimed', 'deleted')
              AND state_since < now() - make_interval(secs => $1)
            LIMIT 10000
        )
        """,
        retention_seconds,
    )


@dataclass(frozen=True, slots=True)
class Census:
    instances: dict[tuple[str, str], int]  # (state, "current" | "stale") -> count
    pools: dict[int, int]  # phase -> count (DELETED left out)
    running_target: int
    total_target: int


async def census(db: Database) -> Census:
    """Cluster-wide counts for the gauges."""
    instance_rows = await db.fetch(
        """
        SELECT i.state,
               CASE WHEN i.snapshot_id = w.snapshot_id THEN 'current' ELSE 'stale' END AS freshness,
               count(*)::int AS n
        FROM instances i JOIN warm_pools w ON w.id = i.pool_id
        WHERE i.state NOT IN ('claimed', 'deleted')
        GROUP BY 1, 2
        """
    )
    pool_rows = await db.fetch(
        """
        SELECT phase, count(*)::int AS n,
               coalesce(sum(running_target) FILTER (WHERE desired_phase <> 50), 0)::int AS running,
               coalesce(sum(target_size) FILTER (WHERE desired_phase <> 50), 0)::int AS total
        FROM warm_pools WHERE phase <> 50 GROUP BY phase
        """
    )
    return Census(
        instances={(r["state"], r["freshness"]): r["n"] for r in instance_rows},
        pools={r["phase"]: r["n"] for r in pool_rows},
        running_target=sum(r["running"] for r in pool_rows),
        total_target=sum(r["total"] for r in pool_rows),
    )
