"""Shared fixtures: one Postgres per session, one in-process server, a tenant per test."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.support.clients import TRANSPORTS, ApiClient, make_client
from tests.support.postgres import TestPostgres
from tests.support.servers import InProcessServer
from tests.support.tenants import Tenant, make_tenant

if TYPE_CHECKING:
    from collections.abc import AsyncIterator


@pytest.fixture(scope="session")
async def pg(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TestPostgres]:
    postgres = TestPostgres(tmp_path_factory.mktemp("postgres"))
    await postgres.start()
    yield postgres
    postgres.stop()


@pytest.fixture(scope="session")
async def server(
    pg: TestPostgres, tmp_path_factory: pytest.TempPathFactory
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
