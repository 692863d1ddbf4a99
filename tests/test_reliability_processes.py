"""Races, crashes and graceful shutdown, against real server processes and a real Postgres."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from gitpod.v1 import prebuild_pb2 as pb

from server.store.database import Database
from tests.support.clients import ApiClient, RpcFailure, make_client
from tests.support.postgres import SessionPostgres
from tests.support.servers import ServerProcess
from tests.support.tenants import Tenant, make_tenant


@dataclass
class Running:
    server: ServerProcess
    db: Database
    url: str


@pytest.fixture
async def running(pg: SessionPostgres, pg_dir: Path) -> AsyncIterator[Running]:
    url = await pg.new_database()
    server = ServerProcess.create(pg_dir / "server", database_url=url)
    server.start()
    db = await Database.connect(url, min_size=1, max_size=4)
    yield Running(server, db, url)
    await db.close()
    server.stop()


def create_request(t: Tenant, class_id: str | None = None) -> pb.CreateWarmPoolRequest:
    return pb.CreateWarmPoolRequest(
        project_id=t.project_id, environment_class_id=class_id or t.class_id
    )


async def test_100_concurrent_creates_give_one_pool_and_99_already_exists(running: Running) -> None:
    tenant = await make_tenant(running.db)
    clients = [
        make_client(transport, running.server.grpc_port, running.server.http_port)
        for transport in ("grpc", "connect-proto", "connect-json")
    ]
    try:
        results = await asyncio.gather(
            *(
                clients[i % 3].call("CreateWarmPool", create_request(tenant), tenant.admin)
                for i in range(100)
            ),
            return_exceptions=True,
        )
    finally:
        for client in clients:
            await client.close()
    ok = [r for r in results if isinstance(r, pb.CreateWarmPoolResponse)]
    codes = [r.code for r in results if isinstance(r, RpcFailure)]
    assert len(ok) == 1
    assert codes == ["already_exists"] * 99
    rows = await running.db.fetchval(
        "SELECT count(*) FROM warm_pools WHERE project_id = $1", tenant.project_id
    )
    assert rows == 1


async def test_concurrent_updates_and_deletes_never_lose_an_update(running: Running) -> None:
    tenant = await make_tenant(running.db)
    client = make_client("grpc", running.server.grpc_port, running.server.http_port)
    try:
        created = await client.call("CreateWarmPool", create_request(tenant), tenant.admin)
        pool_id = created.warm_pool.id

        async def update(max_size: int) -> tuple[str, int]:
            try:
                resp = await client.call(
                    "UpdateWarmPool",
                    pb.UpdateWarmPoolRequest(warm_pool_id=pool_id, max_size=max_size),
                    tenant.admin,
                )
            except RpcFailure as exc:
                return exc.code, 0
            return "ok", resp.warm_pool.spec.spec_version

        async def delete() -> tuple[str, int]:
            await client.call(
                "DeleteWarmPool", pb.DeleteWarmPoolRequest(warm_pool_id=pool_id), tenant.admin
            )
            return "deleted", 0

        calls = [update(2 + i % 18) for i in range(40)]
        calls.insert(25, delete())
        results = await asyncio.gather(*calls)
        final = await client.call(
            "GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=pool_id), tenant.admin
        )
    finally:
        await client.close()
    versions = [v for code, v in results if code == "ok"]
    refused = [code for code, _ in results if code not in ("ok", "deleted")]
    assert set(refused) <= {"failed_precondition"}
    # Every accepted update got its own version, and delete took exactly one more.
    assert len(versions) == len(set(versions))
    assert final.warm_pool.spec.spec_version == 1 + len(versions) + 1
    # DELETING, or already DELETED if the controller drained the (empty) pool meanwhile.
    assert final.warm_pool.status.phase in (
        pb.WARM_POOL_PHASE_DELETING,
        pb.WARM_POOL_PHASE_DELETED,
    )


async def test_kill_9_under_write_load_loses_no_acknowledged_create(running: Running) -> None:
    tenant = await make_tenant(running.db, extra_classes=120)
    acknowledged: list[str] = []
    enough = asyncio.Event()
    clients = [
        make_client(t, running.server.grpc_port, running.server.http_port)
        for t in ("grpc", "connect-json")
    ]

    async def writer(offset: int) -> None:
        for i, class_id in enumerate(tenant.extra_class_ids[offset::4]):
            try:
                resp = await clients[i % 2].call(
                    "CreateWarmPool", create_request(tenant, class_id), tenant.admin, timeout=5
                )
            except RpcFailure:
                return  # the server is gone: stop writing
            acknowledged.append(resp.warm_pool.id)
            if len(acknowledged) >= 30:
                enough.set()

    writers = asyncio.gather(*(writer(k) for k in range(4)))
    await asyncio.wait_for(enough.wait(), 60)
    running.server.kill()
    killed_at = time.monotonic()
    await writers
    for client in clients:
        await client.close()
    assert len(acknowledged) >= 30

    stored = {
        r["id"]
        for r in await running.db.fetch(
            "SELECT id::text FROM warm_pools WHERE organization_id = $1", tenant.org_id
        )
    }
    assert set(acknowledged) <= stored

    restarted = ServerProcess.create(
        Path(running.server.env["WARMPOOL_DATA_DIR"]).parent / "restarted", database_url=running.url
    )
    restarted.start()
    try:
        client = make_client("grpc", restarted.grpc_port, restarted.http_port)
        for pool_id in acknowledged:
            got = await client.call(
                "GetWarmPool", pb.GetWarmPoolRequest(warm_pool_id=pool_id), tenant.admin
            )
            assert got.warm_pool.id == pool_id
        await client.close()
    finally:
        restarted.stop()
    assert time.monotonic() - killed_at < 120


async def test_sigterm_finishes_in_flight_calls_refuses_new_ones_and_stops_postgres(
    pg_dir: Path,
) -> None:
    data_dir = pg_dir / "embedded"
    server = ServerProcess.create(data_dir, WARMPOOL_SHUTDOWN_GRACE_SECONDS="10")
    server.start()
    token = (data_dir / "demo-token").read_text().strip()
    http = httpx.AsyncClient(base_url=server.base_url, timeout=30)
    headers = {"Authorization": f"Bearer {token}"}
    created = await http.post(
        "/gitpod.v1.PrebuildService/CreateWarmPool",
        headers=headers,
        json={
            "projectId": "b0e12f6c-4c67-429d-a4a6-d9838b5da047",
            "environmentClassId": "d2c94c27-3b76-4a42-b88c-95a85e392c68",
        },
    )
    pool_id = created.json()["warmPool"]["id"]
    grpc_client: ApiClient = make_client("grpc", server.grpc_port, server.http_port)
    db = await Database.connect(_embedded_url(data_dir), min_size=1, max_size=1)
    try:
        async with db.transaction() as conn:
            # Hold the pool's row so these updates are in flight when SIGTERM arrives.
            await conn.execute("SELECT 1 FROM warm_pools WHERE id = $1 FOR UPDATE", pool_id)
            in_flight_http = asyncio.create_task(
                http.post(
                    "/gitpod.v1.PrebuildService/UpdateWarmPool",
                    headers=headers,
                    json={"warmPoolId": pool_id, "maxSize": 3},
                )
            )
            in_flight_grpc = asyncio.create_task(
                grpc_client.call(
                    "UpdateWarmPool",
                    pb.UpdateWarmPoolRequest(warm_pool_id=pool_id, max_size=4),
                    token,
                )
            )
            await asyncio.sleep(0.5)
            server.signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            refused = await _new_call_outcome(server, headers)
            assert refused in ("refused", "unavailable"), refused
        # Lock released: the in-flight calls complete.
        http_result = await in_flight_http
        grpc_result = await in_flight_grpc
    finally:
        await db.close()
        await grpc_client.close()
        await http.aclose()
    assert http_result.status_code == 200, http_result.text
    assert grpc_result.warm_pool.spec.max_size in (3, 4)
    assert server.process is not None
    assert server.process.wait(30) == 0
    assert server.stop() == 0
    log = server.log()
    assert "stopping embedded Postgres" in log
    # The controller ended its loops (between reconcile steps) before the pool closed.
    stopped = re.search(r"server\.controller\.loop: controller \S+ stopped", log)
    assert stopped is not None, log
    assert stopped.start() < log.index("stopping embedded Postgres")
    assert "Traceback" not in log
    from tests.test_e2e_embedded_server import postgres_processes

    assert postgres_processes(data_dir) == []


async def _new_call_outcome(server: ServerProcess, headers: dict[str, str]) -> str:
    try:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=5) as fresh:
            resp = await fresh.post(
                "/gitpod.v1.PrebuildService/ListWarmPools", headers=headers, json={}
            )
    except httpx.TransportError:
        return "refused"
    if resp.status_code == 503 and resp.json()["code"] == "unavailable":
        return "unavailable"
    return f"answered {resp.status_code}"


def _embedded_url(data_dir: Path) -> str:
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata((data_dir / "postgres").resolve())
    assert info is not None
    return str(info.get_uri(database="warmpool"))
