"""Shared fixtures: one Postgres per session, one in-process server, a tenant per test."""

from __future__ import annotations

import os

# Before grpc is imported: see server/__main__.py.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.support.clients import TRANSPORTS, ApiClient, make_client
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
    running = await InProcessServer.start(
        await pg.new_database(), tmp_path_factory.mktemp("server")
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
