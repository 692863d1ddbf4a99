"""SQL of the simulated runtime provider: its instances and prebuild runs live in Postgres.

A simulated instance stores its current transition and the time it completes, so its state
is a pure function of the clock: nothing runs in the background, and the simulation survives
restarts and is shared by every replica.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime

    from server.store.database import Database


@dataclass(frozen=True, slots=True)
class SimInstanceRow:
    id: str
    transition: str  # provision | start | stop | delete
    done: bool
    done_at: datetime
    fails: bool
    message: str


@dataclass(frozen=True, slots=True)
class SimPrebuildRow:
    id: str
    snapshot_id: str
    environment_id: str
    started_at: datetime
    seconds: float
    size_bytes: int
    cancelled_at: datetime | None
    now: datetime


async def create_instances(
    db: Database,
    ids: Sequence[str],
    snapshot_ids: Sequence[str],
    class_ids: Sequence[str],
    unlucky: Sequence[bool],
    seconds: float,
    failing_snapshots: Sequence[str],
) -> None:
    """Start provisioning each id not already known; `unlucky` ones (and snapshots with an
    injected fault) fail when provisioning completes."""
    await db.execute(
        """
        INSERT INTO sim_instances (id, snapshot_id, environment_class_id, transition, done_at,
                                   fails, message)
        SELECT s.id, s.snapshot_id, s.class_id, 'provision', now() + make_interval(secs => $5),
               f.snapshot_id IS NOT NULL OR s.snapshot_id = ANY ($6::uuid[]) OR s.unlucky,
               CASE
                   WHEN f.snapshot_id IS NOT NULL THEN f.message
                   WHEN s.snapshot_id = ANY ($6::uuid[])
                       THEN 'snapshot ' || s.snapshot_id || ' cannot be booted (injected failure)'
                   WHEN s.unlucky THEN 'instance failed to boot (injected failure rate)'
                   ELSE ''
               END
        FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::bool[])
             AS s(id, snapshot_id, class_id, unlucky)
        LEFT JOIN sim_faults f ON f.snapshot_id = s.snapshot_id
        ON CONFLICT (id) DO NOTHING
        """,
        list(ids),
        list(snapshot_ids),
        list(class_ids),
        list(unlucky),
        seconds,
        list(failing_snapshots),
    )


# "Running": provisioned without failure, or started; both finished.
_RUNNING = "((transition = 'provision' AND NOT fails) OR transition = 'start') AND done_at <= now()"
_STOPPED = "transition = 'stop' AND done_at <= now()"


async def start_instances(db: Database, ids: Sequence[str], seconds: float) -> None:
    await db.execute(
        f"UPDATE sim_instances SET transition = 'start', "
        f"done_at = now() + make_interval(secs => $2) "
        f"WHERE id = ANY ($1::uuid[]) AND {_STOPPED}",
        list(ids),
        seconds,
    )


async def stop_instances(db: Database, ids: Sequence[str], seconds: float) -> None:
    await db.execute(
        f"UPDATE sim_instances SET transition = 'stop', "
        f"done_at = now() + make_interval(secs => $2) "
        f"WHERE id = ANY ($1::uuid[]) AND {_RUNNING}",
        list(ids),
        seconds,
    )


async def delete_instances(db: Database, ids: Sequence[str], seconds: float) -> None:
    async with db.transaction() as conn:
        # Rows deleted a while ago only ever answer MISSING: drop them as we go.
        await conn.execute(
            "DELETE FROM sim_instances WHERE transition = 'delete' "
            "AND done_at < now() - interval '1 minute'"
        )
        await conn.execute(
            "UPDATE sim_instances SET transition = 'delete', "
            "done_at = now() + make_interval(secs => $2) "
            "WHERE id = ANY ($1::uuid[]) AND transition <> 'delete'",
            list(ids),
            seconds,
        )


async def describe_instances(db: Database, ids: Sequence[str]) -> list[SimInstanceRow]:
    rows = await db.fetch(
        "SELECT id::text, transition, done_at <= now() AS done, done_at, fails, message "
        "FROM sim_instances WHERE id = ANY ($1::uuid[])",
        list(ids),
    )
    return [
        SimInstanceRow(r["id"], r["transition"], r["done"], r["done_at"], r["fails"], r["message"])
        for r in rows
    ]


async def start_prebuild(db: Database, prebuild_id: str, seconds: float, size_bytes: int) -> None:
    await db.execute(
        "INSERT INTO sim_prebuilds (id, snapshot_id, environment_id, seconds, size_bytes) "
        "VALUES ($1, gen_random_uuid(), gen_random_uuid(), $2, $3) ON CONFLICT (id) DO NOTHING",
        prebuild_id,
        seconds,
        size_bytes,
    )


async def cancel_prebuild(db: Database, prebuild_id: str) -> None:
    await db.execute(
        "UPDATE sim_prebuilds SET cancelled_at = now() WHERE id = $1 AND cancelled_at IS NULL "
        "AND started_at + make_interval(secs => seconds) > now()",
        prebuild_id,
    )


async def describe_prebuilds(db: Database, ids: Sequence[str]) -> list[SimPrebuildRow]:
    rows = await db.fetch(
        "SELECT id::text, snapshot_id::text, environment_id::text, started_at, seconds, "
        "size_bytes, cancelled_at, now() AS now FROM sim_prebuilds WHERE id = ANY ($1::uuid[])",
        list(ids),
    )
    return [
        SimPrebuildRow(
            r["id"],
            r["snapshot_id"],
            r["environment_id"],
            r["started_at"],
            r["seconds"],
            r["size_bytes"],
            r["cancelled_at"],
            r["now"],
        )
        for r in rows
    ]


async def inject_snapshot_fault(db: Database, snapshot_id: str, message: str) -> None:
    await db.execute(
        "INSERT INTO sim_faults (snapshot_id, message) VALUES ($1, $2) "
        "ON CONFLICT (snapshot_id) DO UPDATE SET message = EXCLUDED.message",
        snapshot_id,
        message,
    )


async def clear_snapshot_fault(db: Database, snapshot_id: str) -> bool:
    status = await db.execute("DELETE FROM sim_faults WHERE snapshot_id = $1", snapshot_id)
    return status != "DELETE 0"
