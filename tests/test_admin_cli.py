"""The admin CLI as an operator runs it: a real process on a real database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from server.store import tenancy
from server.store.database import Database
from tests.support.postgres import SessionPostgres
from tests.support.servers import REPO

Admin = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
async def admin_cli(pg: SessionPostgres) -> tuple[Admin, str]:
    url = await pg.new_database()

    def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "server", "admin", *args],
            cwd=REPO,
            env=dict(os.environ, DATABASE_URL=url),
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check:
            assert result.returncode == 0, result.stderr
        return result

    return run, url


async def test_admin_sets_up_a_tenant_end_to_end(admin_cli: tuple[Admin, str]) -> None:
    run, url = admin_cli
    org = run("create-org", "--name", "Acme").stdout.strip()
    runner = run("create-runner", "--org", org, "--name", "eu").stdout.strip()
    cls = run("create-class", "--org", org, "--runner", runner, "--name", "large").stdout.strip()
    project = run(
        "put-project", "--org", org, "--name", "web", "--prebuilds", "--class", cls
    ).stdout
    token = run("create-token", "--org", org, "--role", "viewer", "--name", "ci").stdout
    assert "token:    wpt_" in token
    db = await Database.connect(url, min_size=1, max_size=1)
    try:
        stored = await tenancy.get_project(db, org, project.strip())
    finally:
        await db.close()
    assert stored is not None
    assert stored.prebuilds_enabled
    assert stored.prebuild_environment_class_ids == (cls,)


async def test_put_project_keeps_options_that_are_left_out(admin_cli: tuple[Admin, str]) -> None:
    run, url = admin_cli
    org = run("create-org", "--name", "Acme").stdout.strip()
    runner = run("create-runner", "--org", org, "--name", "eu").stdout.strip()
    cls = run("create-class", "--org", org, "--runner", runner, "--name", "large").stdout.strip()
    project = run(
        "put-project", "--org", org, "--name", "web", "--prebuilds", "--class", cls,
        "--timeout-seconds", "900",
    ).stdout.strip()  # fmt: skip
    renamed = run("put-project", "--org", org, "--id", project, "--name", "renamed")
    assert "deleted" not in renamed.stdout
    db = await Database.connect(url, min_size=1, max_size=1)
    try:
        stored = await tenancy.get_project(db, org, project)
    finally:
        await db.close()
    assert stored is not None
    assert (stored.name, stored.prebuilds_enabled) == ("renamed", True)
    assert stored.prebuild_environment_class_ids == (cls,)
    assert stored.prebuild_timeout_seconds == 900


async def test_a_class_cannot_use_another_organizations_runner(
    admin_cli: tuple[Admin, str],
) -> None:
    run, _ = admin_cli
    a = run("create-org", "--name", "A").stdout.strip()
    b = run("create-org", "--name", "B").stdout.strip()
    b_runner = run("create-runner", "--org", b, "--name", "r").stdout.strip()
    result = run("create-class", "--org", a, "--runner", b_runner, "--name", "x", check=False)
    assert result.returncode == 1
    assert f"runner {b_runner} does not exist in organization {a}" in result.stderr


async def test_bootstrap_refuses_ids_of_another_organization(
    admin_cli: tuple[Admin, str], tmp_path: Path
) -> None:
    run, _ = admin_cli
    a = run("create-org", "--name", "A").stdout.strip()
    runner = run("create-runner", "--org", a, "--name", "r").stdout.strip()
    other = str(uuid.uuid4())
    file = tmp_path / "b.toml"
    file.write_text(
        f'[[organizations]]\nid = "{other}"\nname = "B"\n'
        f'[[organizations.runners]]\nid = "{runner}"\nname = "stolen"\n'
    )
    result = run("bootstrap", str(file), check=False)
    assert result.returncode == 1
    assert f"runner {runner} belongs to another organization" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["revoke-token", "--id", "nope"],
        ["create-token", "--org", "00000000-0000-4000-8000-000000000000", "--role", "admin"],
        ["put-project", "--org", "00000000-0000-4000-8000-000000000000", "--name", "p"],
        ["put-project", "--org", "00000000-0000-4000-8000-000000000000", "--class", "nope"],
        ["put-project", "--org", "00000000-0000-4000-8000-000000000000", "--timeout-seconds", "10"],
        ["bootstrap", "/nonexistent/file.toml"],
    ],
)
async def test_operator_mistakes_get_one_line_errors_not_tracebacks(
    admin_cli: tuple[Admin, str], args: list[str]
) -> None:
    run, _ = admin_cli
    result = run(*args, check=False)
    assert result.returncode in (1, 2), result.stderr
    assert "Traceback" not in result.stderr
    assert "error" in result.stderr


async def test_bootstrap_with_wrong_shapes_is_refused_clearly(
    admin_cli: tuple[Admin, str], tmp_path: Path
) -> None:
    run, _ = admin_cli
    for text in ("organizations = 5", "[[organizations]]\nname = 7", "not toml ["):
        file = tmp_path / "bad.toml"
        file.write_text(text)
        result = run("bootstrap", str(file), check=False)
        assert result.returncode == 1, (text, result.stderr)
        assert "Traceback" not in result.stderr
