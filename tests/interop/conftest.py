"""Interop suite: one real server process on a fresh database, driven by every client.

`python -m server serve` runs as a child process on free loopback ports, on a new database of
the session's Postgres, without the controller. Each client gets its own tenant (organization,
projects, seven configured environment classes, a token per role) with one prebuild that the
controller has already run to COMPLETED, runs the plan once (`plan.py`), and the tests assert
on its outcomes. Results are filed into the matrix printed after the run.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from gitpod.v1 import prebuild_pb2 as pb
from google.protobuf import json_format

from server.models import Role
from server.service import admin
from server.store.database import Database
from tests.interop.matrix import Matrix
from tests.interop.plan import JSON, Outcome
from tests.interop.runners import CLIENTS, InteropEnv
from tests.interop.session import Interop
from tests.support.clients import GrpcApiClient
from tests.support.controller import FAST
from tests.support.servers import InProcessServer, ServerProcess
from tests.support.tenants import Tenant, make_tenant

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Generator

    from _pytest.terminal import TerminalReporter

    from tests.support.postgres import SessionPostgres

MATRIX = pytest.StashKey[Matrix]()
SERVER_LOG = pytest.StashKey[Path]()
LOG_TAIL_LINES = 60
# The simulated provider runs a prebuild in no time; the controller's rounds take the rest.
PREBUILD_WAIT_SECONDS = 30.0
CALL_TIMEOUT = 10.0  # each call of the warm-up, so that a hung server cannot stall it
_NOT_COMPLETING = {
    pb.PREBUILD_PHASE_FAILED,
    pb.PREBUILD_PHASE_CANCELLED,
    pb.PREBUILD_PHASE_DELETING,
    pb.PREBUILD_PHASE_DELETED,
}


@pytest.fixture(params=list(CLIENTS))
def client(request: pytest.FixtureRequest) -> str:
    """Each client row of the matrix (a module may narrow it by defining its own)."""
    name: str = request.param
    return name


@pytest.fixture
def outcomes(interop: Interop, client: str) -> dict[str, Outcome]:
    """What `client` answered at each step of the shared plan."""
    return interop.outcomes(client)


@pytest.fixture(scope="session")
async def interop(
    pg: SessionPostgres, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> AsyncIterator[Interop]:
    url = await pg.new_database()
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        # Seven configured classes: warm pools on the first six, the completed prebuild on the
        # seventh (a COMPLETED prebuild would hand its snapshot to a new pool of its pair).
        tenants = {client: await make_tenant(db, extra_classes=6) for client in CLIENTS}
        await admin.apply_bootstrap(db, admin.demo_document())
        _, demo_token = await admin.create_token(
            db, admin.DEMO_ORGANIZATION_ID, Role.ADMIN, "interop"
        )
    finally:
        await db.close()
    work_dir = tmp_path_factory.mktemp("interop")
    # The plan compares answers across calls (an update that changes nothing answers the
    # same pool, a deleted pool is DELETING, a cancelled prebuild is CANCELLING): without the
    # controller, only the API writes.
    server = ServerProcess.create(
        work_dir / "server", database_url=url, WARMPOOL_CONTROLLER="false"
    )
    pytestconfig.stash[SERVER_LOG] = server.log_path
    server.start_async()
    try:
        completed = await _completed_prebuilds(url, work_dir / "controller", tenants)
        await asyncio.to_thread(server.wait_ready)
        yield Interop(InteropEnv(server, work_dir), tenants, demo_token, completed)
    finally:
        await asyncio.to_thread(server.stop)


async def _completed_prebuilds(
    url: str, data_dir: Path, tenants: dict[str, Tenant]
) -> dict[str, JSON]:
    """Run one prebuild per tenant to COMPLETED with the real controller and the zero-latency
    simulated provider, in a server of its own that stops before any client calls: what
    the clients then read of it (completion time, snapshot size, environment id) is the
    controller's, and nothing moves under the plan. Bounded by PREBUILD_WAIT_SECONDS."""
    controlled = await InProcessServer.start(url, data_dir, **FAST)
    api = GrpcApiClient(controlled.grpc_port)
    try:
        started: dict[str, str] = {}
        for client, t in tenants.items():
            req = pb.CreatePrebuildRequest(
                project_id=t.project_id,
                environment_class_id=t.extra_class_ids[5],
                spec=pb.PrebuildSpec(),
            )
            created = await api.call("CreatePrebuild", req, t.admin, timeout=CALL_TIMEOUT)
            started[client] = created.prebuild.id
        done: dict[str, pb.Prebuild] = {}
        deadline = time.monotonic() + PREBUILD_WAIT_SECONDS
        while True:
            for client, prebuild_id in started.items():
                if client in done:
                    continue
                get = pb.GetPrebuildRequest(prebuild_id=prebuild_id)
                answer = await api.call("GetPrebuild", get, tenants[client].admin, CALL_TIMEOUT)
                found = answer.prebuild
                phase = found.status.phase
                if phase == pb.PREBUILD_PHASE_COMPLETED:
                    done[client] = found
                elif phase in _NOT_COMPLETING or time.monotonic() > deadline:
                    raise AssertionError(
                        f"the controller did not complete the prebuild of {client!r} "
                        f"(waited at most {PREBUILD_WAIT_SECONDS}s): "
                        f"{json_format.MessageToDict(found)}"
                    )
            if len(done) == len(started):
                break
            await asyncio.sleep(0.05)
    finally:
        await api.close()
        await controlled.stop()
    return {client: json_format.MessageToDict(p) for client, p in done.items()}


# --- the matrix --------------------------------------------------------------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "interop(column, client=None): file the result in the interop matrix under "
        "(client, column); the client defaults to the test's `client` parameter",
    )
    config.stash[MATRIX] = Matrix(list(CLIENTS))


def _why(report: pytest.TestReport) -> str:
    if report.skipped:
        return "skipped (a skipped interop check is not a pass)"
    crash = getattr(report.longrepr, "reprcrash", None)
    text = crash.message if crash is not None else str(report.longrepr)
    return text.strip().splitlines()[0] if text.strip() else "failed"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    marker = item.get_closest_marker("interop")
    record = report.when == "call" or (report.when == "setup" and not report.passed)
    if marker is not None and record:
        client = marker.kwargs.get("client")
        if client is None:
            client = item.callspec.params["client"]  # type: ignore[attr-defined]
        name = getattr(item, "originalname", item.name)
        why = None if report.passed else _why(report)
        item.config.stash[MATRIX].record(client, marker.args[0], name, why)
    return report


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    matrix = terminalreporter.config.stash.get(MATRIX, None)
    if matrix is None or not matrix.cells:
        return
    terminalreporter.section("interop matrix")
    for line in matrix.render():
        terminalreporter.write_line(line)
    log = terminalreporter.config.stash.get(SERVER_LOG, None)
    if not matrix.all_ok and log is not None and log.exists():
        terminalreporter.section(f"interop server log (last {LOG_TAIL_LINES} lines of {log})")
        for line in log.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]:
            terminalreporter.write_line(line)
