"""End to end, as a new user runs it: `python -m server serve` with the embedded Postgres, the
docs' curl example with the printed token, grpcurl by reflection, then a restart."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.support.servers import ServerProcess

GRPCURL = str(Path(sys.executable).parent / "grpcurl")
PROJECT = "b0e12f6c-4c67-429d-a4a6-d9838b5da047"
CLASS = "d2c94c27-3b76-4a42-b88c-95a85e392c68"


def curl(*args: str) -> tuple[int, dict[str, Any]]:
    """Run the real curl; returns (HTTP status, JSON body)."""
    curl_bin = shutil.which("curl")
    assert curl_bin, "curl is required for the end-to-end tests"
    out = subprocess.run(
        [curl_bin, "-sS", "-w", "\n%{http_code}", *args], capture_output=True, text=True, check=True
    ).stdout
    body, _, status = out.rpartition("\n")
    return int(status), json.loads(body) if body else {}


def grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [GRPCURL, "-plaintext", *args], capture_output=True, text=True, timeout=60
    )


def postgres_processes(data_dir: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = proc.info["cmdline"] or []
        if proc.info["name"] == "postgres" and any(str(data_dir) in part for part in cmdline):
            found.append(proc)
    return found


@pytest.fixture
def embedded(pg_dir: Path) -> Iterator[ServerProcess]:
    server = ServerProcess.create(pg_dir / "data")
    server.start()
    yield server
    server.stop()


def docs_example(server: ServerProcess, token: str, body: str) -> tuple[int, dict[str, Any]]:
    # The public API docs' example, verbatim but for the host.
    return curl(
        f"{server.base_url}/api/gitpod.v1.PrebuildService/CreateWarmPool",
        "-H",
        "Content-Type: application/json",
        "-H",
        f"Authorization: Bearer {token}",
        "-d",
        body,
    )


DOCS_BODY = f"""{{"environmentClassId": "{CLASS}",
       "projectId": "{PROJECT}"}}"""


def test_first_run_serves_the_docs_example_with_the_printed_token(embedded: ServerProcess) -> None:
    token_file = Path(embedded.env["WARMPOOL_DATA_DIR"]) / "demo-token"
    token = token_file.read_text().strip()
    assert f"export GITPOD_API_KEY={token}" in embedded.log()

    status, body = docs_example(embedded, token, DOCS_BODY)
    assert status == 200, body
    pool = body["warmPool"]
    assert pool["spec"]["specVersion"] == "1"
    assert (pool["spec"]["minSize"], pool["spec"]["maxSize"]) == (1, 1)
    assert pool["status"]["phase"] == "WARM_POOL_PHASE_PENDING"
    assert pool["metadata"]["projectId"] == PROJECT

    status, body = docs_example(embedded, token, DOCS_BODY)
    assert status == 409 and body["code"] == "already_exists"

    status, _ = curl(
        f"{embedded.base_url}/gitpod.v1.PrebuildService/DeleteWarmPool",
        "-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {token}",
        "-d", json.dumps({"warmPoolId": pool["id"]}),
    )  # fmt: skip
    assert status == 200
    sized = DOCS_BODY.replace("{", '{"desiredSize": 2, ', 1)
    status, body = docs_example(embedded, token, sized)
    assert status == 200, body
    spec = body["warmPool"]["spec"]
    assert (spec["desiredSize"], spec["minSize"], spec["maxSize"]) == (2, 2, 2)


def test_grpcurl_works_by_reflection_alone(embedded: ServerProcess) -> None:
    target = f"127.0.0.1:{embedded.grpc_port}"
    token = (Path(embedded.env["WARMPOOL_DATA_DIR"]) / "demo-token").read_text().strip()
    listed = grpcurl(target, "list")
    assert listed.returncode == 0, listed.stderr
    assert "gitpod.v1.PrebuildService" in listed.stdout.split()
    described = grpcurl(target, "describe", "gitpod.v1.PrebuildService")
    assert "rpc CreateWarmPool ( .gitpod.v1.CreateWarmPoolRequest )" in described.stdout
    message = grpcurl(target, "describe", "gitpod.v1.WarmPool")
    assert ".gitpod.v1.WarmPoolStatus status = 4;" in message.stdout

    auth = ["-H", f"authorization: Bearer {token}"]
    method = "gitpod.v1.PrebuildService/"
    created = grpcurl(
        *auth, "-d", json.dumps({"projectId": PROJECT, "environmentClassId": CLASS, "maxSize": 3}),
        target, method + "CreateWarmPool",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    pool_id = json.loads(created.stdout)["warmPool"]["id"]
    got = grpcurl(*auth, "-d", json.dumps({"warmPoolId": pool_id}), target, method + "GetWarmPool")
    assert json.loads(got.stdout)["warmPool"]["spec"]["maxSize"] == 3
    listed_pools = grpcurl(*auth, "-d", "{}", target, method + "ListWarmPools")
    assert [p["id"] for p in json.loads(listed_pools.stdout)["warmPools"]] == [pool_id]
    updated = grpcurl(
        *auth,
        "-d",
        json.dumps({"warmPoolId": pool_id, "maxSize": 5}),
        target,
        method + "UpdateWarmPool",
    )
    assert json.loads(updated.stdout)["warmPool"]["spec"]["specVersion"] == "2"
    deleted = grpcurl(
        *auth, "-d", json.dumps({"warmPoolId": pool_id}), target, method + "DeleteWarmPool"
    )
    assert deleted.returncode == 0, deleted.stderr
    again = grpcurl(
        *auth,
        "-d",
        json.dumps({"warmPoolId": pool_id, "maxSize": 2}),
        target,
        method + "UpdateWarmPool",
    )
    assert again.returncode != 0 and "FailedPrecondition" in again.stderr
    unauthenticated = grpcurl("-d", "{}", target, method + "ListWarmPools")
    assert "Unauthenticated" in unauthenticated.stderr


def test_restart_keeps_pools_and_sigterm_stops_postgres(pg_dir: Path) -> None:
    data_dir = pg_dir / "data"
    server = ServerProcess.create(data_dir)
    server.start()
    token = (data_dir / "demo-token").read_text().strip()
    status, body = docs_example(server, token, DOCS_BODY)
    assert status == 200
    pool_id = body["warmPool"]["id"]
    assert server.stop() == 0, server.log()
    assert postgres_processes(data_dir) == [], "embedded Postgres still running after SIGTERM"
    assert "stopped" in server.log()

    again = ServerProcess.create(data_dir)
    again.start()
    try:
        assert (data_dir / "demo-token").read_text().strip() == token  # same demo data
        status, body = curl(
            f"{again.base_url}/gitpod.v1.PrebuildService/GetWarmPool",
            "-H", "Content-Type: application/json", "-H", f"Authorization: Bearer {token}",
            "-d", json.dumps({"warmPoolId": pool_id}),
        )  # fmt: skip
        assert status == 200 and body["warmPool"]["id"] == pool_id
    finally:
        again.stop()


def test_server_killed_hard_restarts_on_the_same_embedded_database(pg_dir: Path) -> None:
    data_dir = pg_dir / "data"
    server = ServerProcess.create(data_dir)
    server.start()
    token = (data_dir / "demo-token").read_text().strip()
    status, body = docs_example(server, token, DOCS_BODY)
    assert status == 200
    server.kill()
    again = ServerProcess.create(data_dir)
    again.start()
    try:
        status, body = docs_example(again, token, DOCS_BODY)
        assert status == 409 and body["code"] == "already_exists"
    finally:
        assert again.stop() == 0
    # The Postgres the killed server left running was adopted, and is stopped with its adopter.
    assert postgres_processes(data_dir) == []


@pytest.mark.parametrize("taken", ["http", "grpc"])
def test_second_server_on_taken_ports_exits_with_a_clear_error(
    embedded: ServerProcess, pg_dir: Path, taken: str
) -> None:
    second = ServerProcess.create(pg_dir / "second")
    if taken == "http":
        second.env["WARMPOOL_HTTP_PORT"] = str(embedded.http_port)
    else:
        second.env["WARMPOOL_GRPC_PORT"] = str(embedded.grpc_port)
    second.start_async()
    assert second.process is not None
    assert second.process.wait(60) == 1
    second.stop()
    log = second.log()
    assert "cannot start: cannot listen for" in log
    assert "Traceback" not in log
