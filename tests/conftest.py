"""Shared fixtures: one Postgres per session, one in-process server, a tenant per test."""

from __future__ import annotations

import os

# Before grpc is imported: see server/__main__.py.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.support.clients import TRANSPORTS, ApiClient, make_client
from tests.support.controller import FAST
from tests.support.postgres import SessionPostgres
from tests.support.servers import InProcessServer
from tests.support.tenants import Tenant, make_tenant


def _postgres_dir() -> Path:
    # Not under pytest's tmp root: pytest resets that to mode 0700 whenever a session starts,
    # and Postgres (run as a separate user when tests run as root) must traverse the path.
    return Path(tempfile.mkdtemp(prefix="warmpool-test-"))


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    """A scratch directory a Postgres data directory can live in."""
    path = _postgres_dir()
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
async def pg() -> AsyncIterator[SessionPostgres]:
    base = _postgres_dir()
    postgres = SessionPostgres(base)
    await postgres.start()
    yield postgres
    postgres.stop()
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
async def server(
    pg: SessionPostgres, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[InProcessServer]:
    # The API rule tests watch the API's own writes (a deleted pool stays DELETING), so this
    # server runs without the controller; tests/test_controller_*.py start their own.
    running = await InProcessServer.start(
        await pg.new_database(), tmp_path_factory.mktemp("server"), controller_enabled=False
    )
    yield running
    await running.stop()


@pytest.fixture
async def tenant(server: InProcessServer) -> Tenant:
    return await make_tenant(server.db)


@pytest.fixture(params=TRANSPORTS)
async def api(request: pytest.FixtureRequest, server: InProcessServer) -> AsyncIterator[ApiClient]:
    client = make_client(request.param, server.grpc_port, server.http_port)
    yield client
    await client.close()


# --- The controller's tests: servers that run it -------------------------------------------------


@pytest.fixture
async def start_controlled(
    pg: SessionPostgres, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Callable[..., Awaitable[InProcessServer]]]:
    """Start servers with the controller on a fresh database: FAST settings plus overrides."""
    started: list[InProcessServer] = []

    async def start(**overrides: object) -> InProcessServer:
        settings = {**FAST, **overrides}
        running = await InProcessServer.start(
            await pg.new_database(), tmp_path_factory.mktemp("controlled"), **settings
        )
        started.append(running)
        return running

    yield start
    for running in started:
        await running.stop()


@pytest.fixture
async def controlled(
    start_controlled: Callable[..., Awaitable[InProcessServer]],
) -> InProcessServer:
    """A server with the controller and the zero-latency simulated provider."""
    return await start_controlled()


@pytest.fixture(scope="session")
async def shared_controlled(
    pg: SessionPostgres, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[InProcessServer]:
    """One controller server for tests that only need ready pools (each uses its own tenant)."""
    running = await InProcessServer.start(
        await pg.new_database(), tmp_path_factory.mktemp("shared-controlled"), **FAST
    )
    yield running
    await running.stop()
