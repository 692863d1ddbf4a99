"""buf curl: reflection on the gRPC port, and its exit codes over every protocol."""

from __future__ import annotations

import pytest

from tests.interop.outcomes import error
from tests.interop.plan import PREBUILD_METHODS, WARM_POOL_METHODS
from tests.interop.session import Interop
from tests.interop.toolchains import run, venv_tool

SERVICE = "gitpod.v1.PrebuildService"
EXIT_CODE_FACTOR = 8  # buf curl exits with 8 times the gRPC status code


@pytest.mark.interop("schema", client="buf curl grpc")
def test_buf_curl_lists_every_method_from_reflection(interop: Interop) -> None:
    result = run(
        [
            venv_tool("buf"),
            "curl",
            "--protocol",
            "grpc",
            "--http2-prior-knowledge",
            "--list-methods",
            f"http://{interop.env.grpc_target}",
        ]
    )
    assert result.returncode == 0, result.stderr
    listed = set(result.stdout.split())
    assert {f"{SERVICE}/{m}" for m in (*PREBUILD_METHODS, *WARM_POOL_METHODS)} <= listed
    assert "grpc.health.v1.Health/Check" in listed


@pytest.mark.parametrize("client", ["buf curl connect", "buf curl grpc", "buf curl grpcweb"])
@pytest.mark.interop("errors")
def test_buf_curl_exits_with_eight_times_the_status_code(interop: Interop, client: str) -> None:
    outcomes = interop.outcomes(client)
    expected = {
        "error_not_found": ("not_found", 5),
        "error_already_exists": ("already_exists", 6),
        "error_invalid_argument": ("invalid_argument", 3),
        "error_unauthenticated": ("unauthenticated", 16),
        "error_permission_denied": ("permission_denied", 7),
        "prebuild_error_not_found": ("not_found", 5),
        "prebuild_error_missing_spec": ("invalid_argument", 3),
        "prebuild_error_class_not_configured": ("failed_precondition", 9),
        "prebuild_error_unknown_token": ("unauthenticated", 16),
    }
    for step, (code, number) in expected.items():
        assert error(outcomes, step, code)["exitCode"] == EXIT_CODE_FACTOR * number, step
