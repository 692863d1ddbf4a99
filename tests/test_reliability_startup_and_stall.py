"""Start-up and stalls, against real server processes and a real Postgres.

- SIGTERM/SIGINT during start-up stop the server at once, without serving (docs/operations.md).
- A stalled database (Postgres SIGSTOPped) is answered `unavailable` within the bound
  docs/configuration.md states: twice WARMPOOL_DB_TIMEOUT_SECONDS, not once.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import psutil
import pytest
from gitpod.v1 import prebuild_pb2 as pb

from tests.support.clients import RpcFailure, make_client
from tests.support.servers import REPO, ServerProcess
from tests.support.standalone_postgres import StandalonePostgres
from tests.support.tenants import tenant_on_new_database
from tests.test_e2e_embedded_server import postgres_processes

UNREACHABLE_URL = "postgresql://u:p@127.0.0.1:1/db"  # nothing listens on port 1


def _wait_for_log(server: ServerProcess, text: str, timeout: float) -> None:
    assert server.process is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in server.log():
            return
        if server.process.poll() is not None:
            raise AssertionError(f"server exited with {server.process.returncode}:\n{server.log()}")
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not logged within {timeout}s:\n{server.log()}")


def _exit_code_within(server: ServerProcess, timeout: float) -> int:
    assert server.process is not None
    try:
        return server.process.wait(timeout)
    except subprocess.TimeoutExpired:
        log = server.log()
        raise AssertionError(f"server still running {timeout}s after the signal:\n{log}") from None


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_waiting_for_an_unreachable_database_stops_at_once(
    pg_dir: Path, sig: signal.Signals
) -> None:
    server = ServerProcess.create(pg_dir / "server", database_url=UNREACHABLE_URL)
    try:
        server.start_async()
        _wait_for_log(server, "database not reachable yet", 20)
        server.signal(sig)
        signalled = time.monotonic()
        code = _exit_code_within(server, 5)  # the wait for the database lasts 30 s
        assert time.monotonic() - signalled < 5
    finally:
        server.stop(timeout=5)
    assert code == 0, server.log()
    log = server.log()
    assert "stopped before serving" in log
    assert "serving gRPC" not in log
    assert "Traceback" not in log


def test_sigterm_while_the_embedded_postgres_starts_stops_it_without_serving(
    pg_dir: Path,
) -> None:
    data_dir = pg_dir / "embedded"
    server = ServerProcess.create(data_dir)
    try:
        server.start_async()
        _wait_for_log(server, "starting embedded Postgres", 30)
        server.signal(signal.SIGTERM)
        code = _exit_code_within(server, 60)  # the embedded start (initdb) finishes first
    finally:
        server.stop(timeout=30)
    log = server.log()
    assert code == 0, log
    assert "stopping embedded Postgres" in log
    assert "stopped before serving" in log
    assert "serving gRPC" not in log
    assert "Traceback" not in log
    assert postgres_processes(data_dir) == []


@contextmanager
def _stalled(postgres: StandalonePostgres) -> Iterator[None]:
    """SIGSTOP the postmaster and every backend of this test's own Postgres; SIGCONT after."""
    postmaster = psutil.Process(int((postgres.data / "postmaster.pid").read_text().split()[0]))
    processes = [postmaster, *postmaster.children(recursive=True)]
    for process in processes:
        process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        for process in processes:
            with suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)


async def test_stalled_database_answers_unavailable_within_twice_the_db_timeout(
    pg_dir: Path,
) -> None:
    timeout = 1.0
    postgres = StandalonePostgres(pg_dir / "pg")
    postgres.start()
    server: ServerProcess | None = None
    try:
        tenant = await tenant_on_new_database(postgres.url)
        server = ServerProcess.create(
            pg_dir / "server",
            database_url=postgres.url,
            WARMPOOL_DB_TIMEOUT_SECONDS=str(timeout),
            WARMPOOL_CONTROLLER="false",
        )
        server.start()
        clients = [
            make_client(t, server.grpc_port, server.http_port) for t in ("grpc", "connect-json")
        ]
        try:
            created = await clients[0].call(
                "CreateWarmPool",
                pb.CreateWarmPoolRequest(
                    project_id=tenant.project_id, environment_class_id=tenant.class_id
                ),
                tenant.admin,
            )
            request = pb.GetWarmPoolRequest(warm_pool_id=created.warm_pool.id)
            for client in clients:  # the token is cached, the pool has idle connections
                await client.call("GetWarmPool", request, tenant.admin)
            seconds: list[float] = []
            with _stalled(postgres):
                for i in range(4):  # no deadline: only the server's own bounds apply
                    started = time.monotonic()
                    with pytest.raises(RpcFailure) as failure:
                        await clients[i % 2].call("GetWarmPool", request, tenant.admin)
                    seconds.append(time.monotonic() - started)
                    assert failure.value.code == "unavailable", failure.value.message
        finally:
            for client in clients:
                await client.close()
    finally:
        if server is not None:
            server.stop()
        if postgres.running():
            await asyncio.to_thread(postgres.stop, "immediate")
    # A statement on an idle connection times out after one timeout, then releasing that
    # connection waits up to one more for the query's cancellation, which a stalled server
    # never confirms: more than one timeout, never more than two (plus scheduling slack).
    assert max(seconds) > 1.5 * timeout, seconds
    assert max(seconds) < 2 * timeout + 1.5, seconds
    documented = (REPO / "docs/configuration.md").read_text()
    assert "twice `WARMPOOL_DB_TIMEOUT_SECONDS`" in documented
