"""Database outage under load: calls fail fast with `unavailable`, /readyz says so, and the
server recovers by itself once Postgres is back (behaviour.md §3, issue: reliability)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from gitpod.v1 import prebuild_pb2 as pb

from server.store.database import Database
from server.store.migrate import migrate
from tests.support.clients import RpcFailure, make_client
from tests.support.postgres import SessionPostgres
from tests.support.servers import InProcessServer, ServerProcess
from tests.support.standalone_postgres import StandalonePostgres
from tests.support.tenants import Tenant, make_tenant, tenant_on_new_database

DEADLINE = 2.0


@dataclass
class Outcome:
    started: float
    seconds: float
    code: str


@dataclass
class Setup:
    postgres: StandalonePostgres
    server: ServerProcess
    tenant: Tenant
    pool_id: str


@pytest.fixture
async def setup(pg_dir: Path) -> AsyncIterator[Setup]:
    postgres = StandalonePostgres(pg_dir / "pg")
    postgres.start()
    tenant = await tenant_on_new_database(postgres.url)
    server = ServerProcess.create(
        pg_dir / "server", database_url=postgres.url, WARMPOOL_DB_TIMEOUT_SECONDS="1"
    )
    server.start()
    client = make_client("grpc", server.grpc_port, server.http_port)
    created = await client.call(
        "CreateWarmPool",
        pb.CreateWarmPoolRequest(
            project_id=tenant.project_id, environment_class_id=tenant.class_id
        ),
        tenant.admin,
    )
    await client.close()
    yield Setup(postgres, server, tenant, created.warm_pool.id)
    server.stop()
    if postgres.running():
        postgres.stop()


async def _load(setup: Setup, stop: asyncio.Event, outcomes: list[Outcome]) -> None:
    """Get the pool in a loop over gRPC, Connect binary and Connect JSON (4 callers each)."""
    clients = [
        make_client(t, setup.server.grpc_port, setup.server.http_port)
        for t in ("grpc", "connect-proto", "connect-json")
        for _ in range(4)
    ]
    request = pb.GetWarmPoolRequest(warm_pool_id=setup.pool_id)

    async def caller(index: int) -> None:
        client = clients[index]
        calls = 0
        while not stop.is_set() and calls < 5000:  # bounded either way
            calls += 1
            started = time.monotonic()
            try:
                await client.call("GetWarmPool", request, setup.tenant.admin, timeout=DEADLINE)
                code = "ok"
            except RpcFailure as exc:
                code = exc.code
            outcomes.append(Outcome(started, time.monotonic() - started, code))
            await asyncio.sleep(0.01)

    try:
        await asyncio.gather(*(caller(i) for i in range(len(clients))))
    finally:
        for client in clients:
            await client.close()


async def _readyz(server: ServerProcess) -> int:
    async with httpx.AsyncClient() as http:
        return (await http.get(f"{server.base_url}/readyz", timeout=5)).status_code


async def test_outage_fails_fast_with_unavailable_and_recovers_by_itself(setup: Setup) -> None:
    outcomes: list[Outcome] = []
    stop = asyncio.Event()
    load = asyncio.create_task(_load(setup, stop, outcomes))
    await asyncio.sleep(1.0)
    assert await _readyz(setup.server) == 200

    await asyncio.to_thread(setup.postgres.stop, "fast")
    down_at = time.monotonic()
    await asyncio.sleep(3.0)
    assert await _readyz(setup.server) == 503

    restart_at = time.monotonic()
    await asyncio.to_thread(setup.postgres.start)
    up_at = time.monotonic()
    recovered_at = None
    while time.monotonic() - up_at < 10:
        recent = [o for o in outcomes if o.started > time.monotonic() - 0.3]
        if recent and all(o.code == "ok" for o in recent):
            recovered_at = min(o.started for o in recent)
            break
        await asyncio.sleep(0.05)
    stop.set()
    await load

    during = [
        o for o in outcomes if down_at + 0.5 < o.started and o.started + o.seconds < restart_at
    ]
    codes = {o.code for o in outcomes}
    assert codes <= {"ok", "unavailable"}, codes
    assert during, "no calls were made during the outage"
    assert {o.code for o in during} == {"unavailable"}
    assert max(o.seconds for o in during) < DEADLINE, "a call hung during the outage"
    assert recovered_at is not None, "the server did not recover within 10 s"
    assert recovered_at - up_at <= 5.0
    assert await _readyz(setup.server) == 200
    assert "Traceback" not in setup.server.log()


async def test_server_starting_while_database_is_down_waits_then_serves(pg_dir: Path) -> None:
    postgres = StandalonePostgres(pg_dir / "pg")
    postgres.start()
    db = await Database.connect(postgres.url)
    await migrate(db)
    await db.close()
    postgres.stop()
    server = ServerProcess.create(pg_dir / "server", database_url=postgres.url)
    try:
        server.start_async()
        await asyncio.sleep(1.5)
        assert server.process is not None and server.process.poll() is None
        await asyncio.to_thread(postgres.start)
        await asyncio.to_thread(server.wait_ready, 30.0)
        assert await _readyz(server) == 200
    finally:
        server.stop()
        if postgres.running():
            postgres.stop()


async def test_exhausted_connection_pool_is_unavailable_and_says_why(
    pg: SessionPostgres, pg_dir: Path
) -> None:
    url = await pg.new_database()
    server = await InProcessServer.start(
        url, pg_dir, db_pool_min=1, db_pool_max=1, db_timeout_seconds=0.1
    )
    try:
        tenant = await make_tenant(server.db)
        client = make_client("grpc", server.grpc_port, server.http_port)
        # 1000 calls queue for one connection; the later ones wait longer than 0.1 s.
        results = await asyncio.gather(
            *(
                client.call("ListWarmPools", pb.ListWarmPoolsRequest(), tenant.admin)
                for _ in range(300)
            ),
            return_exceptions=True,
        )
        await client.close()
    finally:
        await server.stop()
    failures = [r for r in results if isinstance(r, RpcFailure)]
    assert failures, "no call waited long enough to fail"
    assert {f.code for f in failures} == {"unavailable"}
    assert all("no database connection became available" in f.message for f in failures)
    assert len(failures) < 1000
