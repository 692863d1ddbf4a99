"""Interop suite: one real server process on a fresh database, driven by every client.

`python -m server serve` runs as a child process on free loopback ports, on a new database of
the session's Postgres. Each client gets its own tenant (organization, project, six
configured environment classes, a token per role), runs the plan once (`plan.py`), and the
tests assert on its outcomes. Results are filed into the matrix printed after the run.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from server.models import Role
from server.service import admin
from server.store.database import Database
from tests.interop.matrix import Matrix
from tests.interop.runners import CLIENTS, InteropEnv
from tests.interop.session import Interop
from tests.support.servers import ServerProcess
from tests.support.tenants import make_tenant

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Generator

    from _pytest.terminal import TerminalReporter

    from tests.support.postgres import SessionPostgres

MATRIX = pytest.StashKey[Matrix]()
SERVER_LOG = pytest.StashKey[Path]()
LOG_TAIL_LINES = 60


@pytest.fixture(scope="session")
async def interop(
    pg: SessionPostgres, tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> AsyncIterator[Interop]:
    url = await pg.new_database()
    db = await Database.connect(url, min_size=1, max_size=2)
    try:
        tenants = {client: await make_tenant(db, extra_classes=5) for client in CLIENTS}
        await admin.apply_bootstrap(db, admin.demo_document())
        _, demo_token = await admin.create_token(
            db, admin.DEMO_ORGANIZATION_ID, Role.ADMIN, "interop"
        )
    finally:
        await db.close()
    work_dir = tmp_path_factory.mktemp("interop")
    # The plan compares answers across calls (an update that changes nothing answers the
    # same pool, a deleted pool is DELETING): without the controller, only the API writes.
    server = ServerProcess.create(
        work_dir / "server", database_url=url, WARMPOOL_CONTROLLER="false"
    )
    pytestconfig.stash[SERVER_LOG] = server.log_path
    await asyncio.to_thread(server.start)
    try:
        yield Interop(InteropEnv(server, work_dir), tenants, demo_token)
    finally:
        await asyncio.to_thread(server.stop)


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
