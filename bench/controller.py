"""`python -m bench.controller`: the controller's figures, measured against a real server
process, a real Postgres and the zero-latency simulated provider.

Scenarios (each prints one table row):
- converge NxM: N pools of M instances get a snapshot at once (as if N prebuilds completed
  together); time until every pool is READY with M running instances (the database's truth).
- claims: C concurrent runners claim over gRPC for a few seconds from ready pools (unique
  claim ids, random pools) while the controller replenishes; latency from the client.
- replenish: one claim at a time on idle pools; time from the claim to the first new
  instance row of that pool (both timestamps from the database clock).
- idle: CPU of the server process (and of Postgres) while N converged pools sit idle.

The server, Postgres and this load generator share the machine's cores (unpinned): what the
targets ask for is "on 2 cores", all included.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import grpc
import httpx
import psutil
from warmpool.v1 import runtime_pb2, runtime_pb2_grpc

from server.models import Role
from server.service import admin
from server.store.database import Database
from server.store.migrate import migrate
from tests.support.servers import ServerProcess
from tests.support.standalone_postgres import StandalonePostgres


def progress(message: str) -> None:
    print(f"[bench.controller {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass
class Tenancy:
    org_id: str
    runner_id: str
    runner_token: str


async def tenancy(db: Database) -> Tenancy:
    org_id = str(uuid.uuid4())
    runner_id = str(uuid.uuid4())
    await db.execute("INSERT INTO organizations (id, name) VALUES ($1, 'bench')", org_id)
    await db.execute(
        "INSERT INTO runners (id, organization_id, name) VALUES ($1, $2, 'bench')",
        runner_id,
        org_id,
    )
    _, token = await admin.create_token(db, org_id, Role.RUNNER, "bench-runner")
    return Tenancy(org_id, runner_id, token)


async def create_pools(db: Database, t: Tenancy, count: int, size: int) -> list[str]:
    """`count` pools of min = max = `size`, without a snapshot yet (10 classes per project)."""
    per_project = 10
    classes = [str(uuid.uuid4()) for _ in range(per_project)]
    projects = [str(uuid.uuid4()) for _ in range((count + per_project - 1) // per_project)]
    async with db.transaction() as conn:
        await conn.executemany(
            "INSERT INTO environment_classes (id, organization_id, runner_id, name) "
            "VALUES ($1, $2, $3, 'bench')",
            [(c, t.org_id, t.runner_id) for c in classes],
        )
        await conn.executemany(
            "INSERT INTO projects (id, organization_id, name, prebuilds_enabled, "
            "prebuild_environment_class_ids) VALUES ($1, $2, 'bench', true, $3::uuid[])",
            [(p, t.org_id, classes) for p in projects],
        )
        pairs = [(p, c) for p in projects for c in classes][:count]
        rows = await conn.fetch(
            "INSERT INTO warm_pools (id, organization_id, project_id, environment_class_id, "
            "runner_id, min_size, max_size, target_size) "
            "SELECT gen_random_uuid(), $1, p, c, $2, $3, $3, $3 "
            "FROM unnest($4::uuid[], $5::uuid[]) AS u(p, c) RETURNING id::text",
            t.org_id,
            t.runner_id,
            size,
            [p for p, _ in pairs],
            [c for _, c in pairs],
        )
    return [r["id"] for r in rows]


async def converge(db: Database, pool_ids: list[str], size: int, timeout: float) -> float:
    """Give every pool a snapshot at once; seconds until all are READY with `size` running."""
    await wait_until(
        db,
        "SELECT count(*) FROM warm_pools WHERE id = ANY ($1::uuid[]) AND lease_token > 0",
        pool_ids,
        len(pool_ids),
        timeout,
    )
    started = time.monotonic()
    await db.execute(  # in id order, as the controller locks pools
        "UPDATE warm_pools SET snapshot_id = gen_random_uuid(), spec_version = spec_version + 1 "
        "WHERE id IN (SELECT id FROM warm_pools WHERE id = ANY ($1::uuid[]) "
        "ORDER BY id FOR UPDATE)",
        pool_ids,
    )
    await wait_until(
        db,
        "SELECT count(*) FROM warm_pools WHERE id = ANY ($1::uuid[]) AND phase = 20 "
        f"AND running_instances = {size}",
        pool_ids,
        len(pool_ids),
        timeout,
    )
    elapsed = time.monotonic() - started
    ready = await db.fetchval(
        "SELECT count(*) FROM instances WHERE pool_id = ANY ($1::uuid[]) AND state = 'ready'",
        pool_ids,
    )
    assert ready == len(pool_ids) * size, f"status says READY but {ready} instances are ready"
    return elapsed


async def wait_until(db: Database, sql: str, ids: list[str], want: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        have = await db.fetchval(sql, ids)
        if have >= want:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {have} of {want} after {timeout}s: {sql}")
        await asyncio.sleep(0.02)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def claims(
    port: int,
    token: str,
    pool_ids: list[str],
    concurrency: int,
    seconds: float,
    rate: float | None,
    total: int | None = None,
) -> dict[str, float]:
    """`concurrency` runners claim from random pools with unique claim ids.

    Stops after `seconds`, or once `total` claims were answered. Every instance handed out is
    remembered: `duplicates` counts instances that two different claim ids received.

    With `rate`, the runners together send that many claims per second on a fixed schedule
    (open loop: a slow answer does not slow the senders, and latency counts from the
    scheduled send time); without it, each runner sends as soon as its last answer came.
    """
    channels = [grpc.aio.insecure_channel(f"127.0.0.1:{port}") for _ in range(4)]
    stubs = [runtime_pb2_grpc.WarmPoolRuntimeServiceStub(c) for c in channels]  # type: ignore[no-untyped-call]
    metadata = (("authorization", f"Bearer {token}"),)
    latencies: list[float] = []
    outcomes: dict[int, int] = {}
    handed_out: set[str] = set()
    duplicates = 0
    rng = random.Random(1)
    began = time.perf_counter()
    stop = began + seconds
    interval = concurrency / rate if rate else 0.0
    run = uuid.uuid4().hex[:8]

    async def runner(n: int) -> None:
        nonlocal duplicates
        stub = stubs[n % len(stubs)]
        due = began + interval * n / concurrency
        i = 0
        while due < stop and i < 1_000_000 and (total is None or len(latencies) < total):
            i += 1
            if rate:
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
            sent = due if rate else time.perf_counter()
            req = runtime_pb2.ClaimInstanceRequest(
                warm_pool_id=rng.choice(pool_ids), claim_id=f"bench-{run}-{n}-{i}"
            )
            resp = await stub.ClaimInstance(req, metadata=metadata, timeout=5)
            latencies.append(time.perf_counter() - sent)
            outcomes[resp.outcome] = outcomes.get(resp.outcome, 0) + 1
            if resp.HasField("instance"):
                if resp.instance.id in handed_out:
                    duplicates += 1
                handed_out.add(resp.instance.id)
            due = due + interval if rate else time.perf_counter()

    await asyncio.gather(*(runner(n) for n in range(concurrency)))
    elapsed = time.perf_counter() - began
    for c in channels:
        await c.close()
    total = len(latencies)
    return {
        "claims": total,
        "per_second": total / elapsed,
        "p50_ms": 1000 * percentile(latencies, 0.5),
        "p99_ms": 1000 * percentile(latencies, 0.99),
        "running": outcomes.get(runtime_pb2.CLAIM_OUTCOME_RUNNING, 0),
        "starting": outcomes.get(runtime_pb2.CLAIM_OUTCOME_STARTING, 0),
        "miss": outcomes.get(runtime_pb2.CLAIM_OUTCOME_MISS, 0),
        "duplicates": duplicates,
    }


async def replenish(
    db: Database, port: int, token: str, pool_ids: list[str], samples: int
) -> dict[str, float]:
    """Claim once from an idle pool, wait for its replacement; repeat over the pools."""
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    stub = runtime_pb2_grpc.WarmPoolRuntimeServiceStub(channel)  # type: ignore[no-untyped-call]
    metadata = (("authorization", f"Bearer {token}"),)
    delays: list[float] = []
    for i in range(samples):
        pool_id = pool_ids[i % len(pool_ids)]
        resp = await stub.ClaimInstance(
            runtime_pb2.ClaimInstanceRequest(warm_pool_id=pool_id, claim_id=f"replenish-{i}"),
            metadata=metadata,
            timeout=5,
        )
        assert resp.outcome == runtime_pb2.CLAIM_OUTCOME_RUNNING, resp
        deadline = time.monotonic() + 5
        while True:
            delay = await db.fetchval(
                "SELECT extract(epoch FROM min(n.created_at) - c.claimed_at)::float8 "
                "FROM instances c JOIN instances n ON n.pool_id = c.pool_id "
                "AND n.created_at >= c.claimed_at WHERE c.id = $1 GROUP BY c.claimed_at",
                resp.instance.id,
            )
            if delay is not None:
                delays.append(delay)
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"pool {pool_id} was not replenished within 5 s")
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.02)
    await channel.close()
    return {
        "samples": len(delays),
        "p50_ms": 1000 * statistics.median(delays),
        "p99_ms": 1000 * percentile(delays, 0.99),
        "max_ms": 1000 * max(delays),
    }


def server_side_claims(server: ServerProcess) -> str:
    """Mean time of the claim RPC and of its SQL statement, as the server measured them."""
    values: dict[str, float] = {}
    for line in httpx.get(f"{server.base_url}/metrics").text.splitlines():
        if line.startswith("warmpool_claim_duration_seconds_") and "bucket" not in line:
            values[line.split()[0]] = float(line.split()[1])
        if (
            line.startswith("warmpool_rpc_duration_seconds_")
            and "ClaimInstance" in line
            and "bucket" not in line
        ):
            values[line.split("{")[0]] = float(line.split()[-1])
    sql = (
        values["warmpool_claim_duration_seconds_sum"]
        / values["warmpool_claim_duration_seconds_count"]
    )
    rpc = (
        values["warmpool_rpc_duration_seconds_sum"] / values["warmpool_rpc_duration_seconds_count"]
    )
    return f"claim RPC mean {1000 * rpc:.1f} ms, of which the SQL statement {1000 * sql:.1f} ms"


def cpu_seconds(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        try:
            times = p.cpu_times()
            total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def postgres_processes(port: int) -> list[psutil.Process]:
    """The postmaster listening on `port` and all its children (the backends)."""
    for p in psutil.process_iter(["name", "cmdline"]):
        if (p.info["name"] or "").startswith("postgres") and f"-p {port}" in " ".join(
            p.info["cmdline"] or []
        ):
            return [p, *p.children(recursive=True)]
    return []


async def idle(server: ServerProcess, pg_port: int, seconds: float) -> dict[str, float]:
    assert server.process is not None
    proc = psutil.Process(server.process.pid)
    pg = postgres_processes(pg_port)  # the same processes before and after
    s0, p0 = cpu_seconds([proc]), cpu_seconds(pg)
    await asyncio.sleep(seconds)
    s1, p1 = cpu_seconds([proc]), cpu_seconds(pg)
    return {
        "server_core_pct": 100 * (s1 - s0) / seconds,
        "postgres_core_pct": 100 * (p1 - p0) / seconds,
    }


async def run(args: argparse.Namespace) -> None:
    base = Path(tempfile.mkdtemp(prefix="warmpool-bench-controller-"))
    postgres = StandalonePostgres(base / "pg")
    postgres.start()
    db = await Database.connect(postgres.url, min_size=1, max_size=4, timeout=30)
    rows: list[tuple[str, str]] = []
    server: ServerProcess | None = None
    try:
        await migrate(db)
        env = {
            "WARMPOOL_DEV": "0",
            "WARMPOOL_LOG_LEVEL": "WARNING",
            "WARMPOOL_DB_POOL_MAX": str(args.db_pool),
            "WARMPOOL_RESYNC_SECONDS": str(args.resync),
            "WARMPOOL_DB_TIMEOUT_SECONDS": "30",
        }
        env.update(dict(kv.split("=", 1) for kv in args.server_env))
        server = ServerProcess.create(base / "server", postgres.url, **env)
        server.start()
        progress(f"server up (pid {server.process.pid if server.process else '?'})")

        for count, size in args.converge:
            t = await tenancy(db)
            pools = await create_pools(db, t, count, size)
            progress(f"converge {count} pools x {size} instances ...")
            seconds = await converge(db, pools, size, timeout=args.timeout)
            rows.append((f"converge {count}x{size} ({count * size} instances)", f"{seconds:.2f} s"))
            progress(rows[-1][1])

        t = await tenancy(db)
        pools = await create_pools(db, t, args.claim_pools, 20)
        await converge(db, pools, 20, timeout=args.timeout)
        for rate in (args.claim_rate, None):
            what = f"{rate:g}/s offered" if rate else "as fast as answered"
            progress(f"claims: {args.concurrency} runners, {what}, {args.claim_seconds}s ...")
            assert server.process is not None
            watched = [psutil.Process(server.process.pid)], postgres_processes(postgres.port)
            me = psutil.Process()
            before = [cpu_seconds(w) for w in watched] + [cpu_seconds([me])]
            c = await claims(
                server.grpc_port, t.runner_token, pools, args.concurrency, args.claim_seconds, rate
            )
            after = [cpu_seconds(w) for w in watched] + [cpu_seconds([me])]
            shares = [
                100 * (b - a) / args.claim_seconds for a, b in zip(before, after, strict=True)
            ]
            progress(
                f"CPU during the run: server {shares[0]:.0f}%, Postgres {shares[1]:.0f}%, "
                f"load generator {shares[2]:.0f}% (of one core)"
            )
            progress("server side: " + server_side_claims(server))
            rows.append(
                (
                    f"claims over gRPC, {args.concurrency} runners, {what} "
                    f"({args.claim_pools} pools x 20)",
                    f"{c['per_second']:,.0f}/s, p50 {c['p50_ms']:.1f} ms, "
                    f"p99 {c['p99_ms']:.1f} ms ({c['running']:.0f} running, "
                    f"{c['starting']:.0f} starting, {c['miss']:.0f} miss)",
                )
            )
            progress(rows[-1][1])
            await asyncio.sleep(2)  # let the pools refill

        t = await tenancy(db)
        pools = await create_pools(db, t, 20, 2)
        await converge(db, pools, 2, timeout=args.timeout)
        await asyncio.sleep(1)
        r = await replenish(db, server.grpc_port, t.runner_token, pools, args.replenish_samples)
        rows.append(
            (
                "claim → replenish start (one claim at a time)",
                f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, max {r['max_ms']:.1f} ms "
                f"({r['samples']:.0f} samples)",
            )
        )
        progress(rows[-1][1])

        if args.idle_pools:
            t = await tenancy(db)
            pools = await create_pools(db, t, args.idle_pools, 1)
            seconds = await converge(db, pools, 1, timeout=args.timeout)
            rows.append((f"converge {args.idle_pools}x1", f"{seconds:.2f} s"))
            await asyncio.sleep(5)  # let the convergence's tail settle
            progress(f"idle: {args.idle_seconds}s with {args.idle_pools} more idle pools ...")
            i = await idle(server, postgres.port, args.idle_seconds)
            rows.append(
                (
                    f"idle CPU, all pools (resync every {args.resync:g}s)",
                    f"server {i['server_core_pct']:.1f}% of a core, "
                    f"Postgres {i['postgres_core_pct']:.1f}%",
                )
            )
            progress(rows[-1][1])
    finally:
        await db.close()
        if server is not None:
            server.stop()
        postgres.stop()
    print("\n| scenario | result |\n|---|---|")
    for scenario, result in rows:
        print(f"| {scenario} | {result} |")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.controller", description=__doc__)
    parser.add_argument(
        "--converge",
        type=lambda s: tuple(int(x) for x in s.split("x")),
        nargs="*",
        default=[(100, 20), (1000, 20)],
        help="poolsxinstances to converge, e.g. 100x20 1000x20",
    )
    parser.add_argument("--claim-pools", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--claim-seconds", type=float, default=5.0)
    parser.add_argument("--claim-rate", type=float, default=1000.0, help="claims/s offered")
    parser.add_argument("--replenish-samples", type=int, default=200)
    parser.add_argument("--idle-pools", type=int, default=10_000)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--resync", type=float, default=300.0)
    parser.add_argument("--db-pool", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--server-env", action="append", default=[], help="extra KEY=VALUE for the server"
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
