"""Two real server processes on one database (behaviour.md §5, §6 "Multi-replica").

While both reconcile the same pools and runners claim through both, a sampler reads the
database throughout: no pool ever has more live instances than max_size, and no instance is
ever handed out twice. Then one replica is killed (SIGKILL) and the other takes its leases
over once they expire.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
import signal
import time
from typing import TYPE_CHECKING

import httpx
from gitpod.v1 import prebuild_pb2 as pb
from warmpool.v1 import runtime_pb2 as rpb

from server.config import Settings
from server.store.database import Database
from tests.support.clients import make_client
from tests.support.controller import (
    FAST,
    LIVE_STATES,
    claim,
    create_pool,
    is_ready,
    wait_for,
    wait_for_pool,
)
from tests.support.servers import ServerProcess
from tests.support.tenants import make_tenant

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.clients import ApiClient
    from tests.support.postgres import SessionPostgres

MAX_SIZE = 4


def environment(**overrides: object) -> dict[str, str]:
    """Settings field values as the environment variables a server process reads."""
    values = {**FAST, **overrides}
    env = {"WARMPOOL_DEV": "0"}
    for f in dataclasses.fields(Settings):
        if f.name in values:
            env[f.metadata["env"]] = str(values[f.name])
    return env


async def reconciled(port: int) -> float:
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics")).text
    for line in text.splitlines():
        if line.startswith("warmpool_reconciled_pools_total "):
            return float(line.split()[1])
    return 0.0


async def test_two_servers_never_exceed_max_size_and_never_claim_an_instance_twice(
    pg: SessionPostgres, tmp_path: Path
) -> None:
    url = await pg.new_database()
    env = environment(
        sim_create_seconds=0.05,
        sim_start_seconds=0.02,
        sim_stop_seconds=0.02,
        sim_delete_seconds=0.02,
        lease_seconds=2.0,
        controller_workers=2,
    )
    a = ServerProcess.create(tmp_path / "a", url, **env)
    b = ServerProcess.create(tmp_path / "b", url, **env)
    await asyncio.gather(asyncio.to_thread(a.start), asyncio.to_thread(b.start))
    db = await Database.connect(url, min_size=1, max_size=4)
    clients: list[ApiClient] = []
    try:
        t = await make_tenant(db, extra_classes=3)
        api_a = make_client("grpc", a.grpc_port, a.http_port)
        api_b = make_client("connect-json", b.grpc_port, b.http_port)
        runtimes = [
            make_client("connect-proto", a.grpc_port, a.http_port, "runtime"),
            make_client("grpc", b.grpc_port, b.http_port, "runtime"),
        ]
        clients += [api_a, api_b, *runtimes]
        pools = [
            await create_pool(api_a, t, environment_class_id=c, min_size=2, max_size=MAX_SIZE)
            for c in [t.class_id, *t.extra_class_ids]
        ]
        for c in [t.class_id, *t.extra_class_ids]:
            req = pb.CreatePrebuildRequest(
                project_id=t.project_id, environment_class_id=c, spec=pb.PrebuildSpec()
            )
            await api_b.call("CreatePrebuild", req, t.admin)
        for p in pools:
            await wait_for_pool(api_a, t, p.id, is_ready(2), timeout=20)

        claims: dict[str, str] = {}  # claim id -> instance id
        samples = 0
        stop = asyncio.Event()
        rng = random.Random(7)

        async def sampler() -> None:
            nonlocal samples
            while not stop.is_set() and samples < 20_000:
                rows = await db.fetch(
                    "SELECT w.id::text, w.max_size, count(i.id)::int AS live "
                    "FROM warm_pools w LEFT JOIN instances i "
                    "  ON i.pool_id = w.id AND i.state = ANY ($2::text[]) "
                    "WHERE w.organization_id = $1 GROUP BY w.id",
                    t.org_id,
                    list(LIVE_STATES),
                )
                for r in rows:
                    assert r["live"] <= r["max_size"], f"pool {r['id']}: {r['live']} live"
                samples += 1
                await asyncio.sleep(0.005)

        async def claimer(n: int, runtime: ApiClient) -> None:
            i = 0
            while not stop.is_set() and i < 2_000:
                i += 1
                if claims and rng.random() < 0.2:  # a retry must give the same instance
                    claim_id, instance_id = rng.choice(list(claims.items()))
                    again = await claim(runtime, t, claim_id, warm_pool_id=instance_pool[claim_id])
                    assert again.instance.id == instance_id
                else:
                    claim_id = f"r{n}-{i}"
                    pool = rng.choice(pools)
                    got = await claim(runtime, t, claim_id, warm_pool_id=pool.id)
                    if got.outcome != rpb.CLAIM_OUTCOME_MISS:
                        assert got.instance.id not in claims.values(), "claimed twice"
                        claims[claim_id] = got.instance.id
                        instance_pool[claim_id] = pool.id
                await asyncio.sleep(0.03)

        instance_pool: dict[str, str] = {}
        tasks = [asyncio.create_task(sampler())] + [
            asyncio.create_task(claimer(n, runtimes[n % 2])) for n in range(4)
        ]
        await asyncio.sleep(1.5)
        for c in [t.class_id, *t.extra_class_ids]:  # new snapshots: rotation under claims
            req = pb.CreatePrebuildRequest(
                project_id=t.project_id, environment_class_id=c, spec=pb.PrebuildSpec()
            )
            await api_b.call("CreatePrebuild", req, t.admin)
        await asyncio.sleep(2.5)
        stop.set()
        await asyncio.gather(*tasks)

        assert samples > 100
        assert len(claims) > 20
        assert len(set(claims.values())) == len(claims)
        db_claimed = await db.fetchval(
            "SELECT count(*) FROM instances WHERE organization_id = $1 AND state = 'claimed'",
            t.org_id,
        )
        assert db_claimed == len(claims)
        assert await reconciled(a.http_port) > 0
        assert await reconciled(b.http_port) > 0

        # Kill one replica: the other finishes the work once the dead one's leases expire.
        a.signal(signal.SIGKILL)
        await asyncio.to_thread(a.kill)
        started = time.monotonic()
        for p in pools:
            await wait_for_pool(api_b, t, p.id, is_ready(2), timeout=30)
        assert time.monotonic() - started < 20
        current = await wait_for(
            lambda: db.fetchval(
                "SELECT count(*) FROM instances i JOIN warm_pools w ON w.id = i.pool_id "
                "WHERE w.organization_id = $1 AND i.state = ANY ($2::text[]) "
                "AND i.snapshot_id IS DISTINCT FROM w.snapshot_id",
                t.org_id,
                list(LIVE_STATES),
            ),
            lambda n: n == 0,
            timeout=20,
            what="every live instance on its pool's current snapshot",
        )
        assert current == 0
    finally:
        for client in clients:
            await client.close()
        await db.close()
        if a.process is not None and a.process.poll() is None:
            a.stop()
        assert b.stop() == 0, b.log()
