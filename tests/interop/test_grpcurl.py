"""grpcurl with nothing but server reflection: list, describe, and its exit codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from tests.interop.outcomes import error
from tests.interop.plan import PREBUILD_METHODS, WARM_POOL_METHODS
from tests.interop.session import Interop
from tests.interop.toolchains import run, venv_tool

CLIENT = "grpcurl (reflection)"
SERVICE = "gitpod.v1.PrebuildService"
# Declaration order of the contract: prebuild methods first, then the warm-pool ones.
DECLARED = [*PREBUILD_METHODS, *WARM_POOL_METHODS]
EXIT_CODE_BASE = 64  # grpcurl exits with 64 + the gRPC status code


def grpcurl(interop: Interop, *verb: str, options: tuple[str, ...] = ()) -> str:
    """`grpcurl -plaintext [options] HOST:PORT verb…`; returns stdout, failing on an error."""
    args = [venv_tool("grpcurl"), "-plaintext", *options, interop.env.grpc_target, *verb]
    result = run(args)
    assert result.returncode == 0, f"{' '.join(args)}: {result.stderr}"
    return result.stdout


@pytest.mark.interop("schema", client=CLIENT)
def test_grpcurl_lists_the_api_health_and_reflection_services(interop: Interop) -> None:
    assert set(grpcurl(interop, "list").split()) >= {
        SERVICE,
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
    }
    methods = grpcurl(interop, "list", SERVICE).split()
    assert sorted(methods) == sorted(f"{SERVICE}.{m}" for m in DECLARED)


@pytest.mark.interop("schema", client=CLIENT)
def test_grpcurl_describes_every_listed_service(interop: Interop) -> None:
    # `describe` without a symbol resolves every service reflection lists.
    described = grpcurl(interop, "describe")
    assert f"{SERVICE} is a service:" in described
    assert "grpc.reflection.v1.ServerReflection is a service:" in described


@pytest.mark.interop("schema", client=CLIENT)
def test_grpcurl_describes_the_service_with_idempotency_levels(interop: Interop) -> None:
    text = " ".join(grpcurl(interop, "describe", SERVICE).split())
    for method in DECLARED:
        signature = (
            f"rpc {method} ( .gitpod.v1.{method}Request ) returns ( .gitpod.v1.{method}Response )"
        )
        assert signature in text, method
        no_side_effects = f"{signature} {{ option idempotency_level = NO_SIDE_EFFECTS; }}"
        assert (no_side_effects in text) == method.startswith(("Get", "List")), method


@pytest.mark.interop("schema", client=CLIENT)
def test_grpcurl_describes_the_warm_pool_messages_with_presence_and_deprecation(
    interop: Interop,
) -> None:
    def describe(symbol: str) -> list[str]:
        return [line.strip() for line in grpcurl(interop, "describe", symbol).splitlines()]

    assert describe("gitpod.v1.WarmPool")[2:6] == [
        "string id = 1;",
        ".gitpod.v1.WarmPoolMetadata metadata = 2;",
        ".gitpod.v1.WarmPoolSpec spec = 3;",
        ".gitpod.v1.WarmPoolStatus status = 4;",
    ]
    assert describe("gitpod.v1.CreateWarmPoolRequest")[2:7] == [
        "string project_id = 1;",
        "string environment_class_id = 2;",
        "int32 desired_size = 3 [deprecated = true];",
        "optional int32 min_size = 4;",
        "optional int32 max_size = 5;",
    ]
    assert "optional int32 desired_size = 2 [deprecated = true];" in describe(
        "gitpod.v1.UpdateWarmPoolRequest"
    )
    phases = describe("gitpod.v1.WarmPoolPhase")
    for value in ("WARM_POOL_PHASE_UNSPECIFIED = 0;", "WARM_POOL_PHASE_DELETED = 50;"):
        assert value in phases


@pytest.mark.interop("schema", client=CLIENT)
def test_grpcurl_describes_the_prebuild_messages_with_presence_and_types(
    interop: Interop,
) -> None:
    def describe(symbol: str) -> list[str]:
        return [line.strip() for line in grpcurl(interop, "describe", symbol).splitlines()]

    assert describe("gitpod.v1.CreatePrebuildRequest")[2:5] == [
        "string project_id = 1;",
        "optional string environment_class_id = 2;",
        ".gitpod.v1.PrebuildSpec spec = 3;",
    ]
    assert describe("gitpod.v1.PrebuildSpec")[2:5] == [
        "uint64 spec_version = 1;",
        ".gitpod.v1.PrebuildPhase desired_phase = 2;",
        ".google.protobuf.Duration timeout = 3;",
    ]
    status = describe("gitpod.v1.PrebuildStatus")
    for field in (
        ".google.protobuf.Timestamp completion_time = 2;",
        "int32 snapshot_completion_percentage = 8;",
        "int64 snapshot_size_bytes = 9;",
    ):
        assert field in status
    assert "PREBUILD_TRIGGER_SCHEDULED = 2;" in describe(
        "gitpod.v1.PrebuildMetadata.PrebuildTrigger"
    )
    phases = describe("gitpod.v1.PrebuildPhase")
    for value in ("PREBUILD_PHASE_CANCELLING = 75;", "PREBUILD_PHASE_DELETED = 90;"):
        assert value in phases


@pytest.mark.interop("schema", client=CLIENT)
def test_reflection_gives_the_methods_in_declaration_order(
    interop: Interop, tmp_path: Path
) -> None:
    # grpcurl prints methods sorted; the descriptors it fetched keep the declared order.
    protoset = tmp_path / "reflected.protoset"
    grpcurl(interop, "describe", SERVICE, options=("-protoset-out", str(protoset)))
    files = descriptor_pb2.FileDescriptorSet.FromString(protoset.read_bytes()).file
    [prebuild] = [f for f in files if f.name == "gitpod/v1/prebuild.proto"]
    assert [m.name for m in prebuild.service[0].method] == DECLARED


@pytest.mark.interop("errors", client=CLIENT)
def test_grpcurl_exits_with_64_plus_the_status_code(interop: Interop) -> None:
    outcomes = interop.outcomes(CLIENT)
    expected = {
        "error_not_found": ("not_found", 5),
        "error_already_exists": ("already_exists", 6),
        "error_invalid_argument": ("invalid_argument", 3),
        "error_unauthenticated": ("unauthenticated", 16),
        "error_permission_denied": ("permission_denied", 7),
    }
    for step, (code, number) in expected.items():
        assert error(outcomes, step, code)["exitCode"] == EXIT_CODE_BASE + number, step


@pytest.mark.interop("errors", client=CLIENT)
def test_grpcurl_exits_with_64_plus_the_status_code_of_prebuild_errors(
    interop: Interop,
) -> None:
    outcomes = interop.outcomes(CLIENT)
    expected = {
        "prebuild_error_invalid_argument": ("invalid_argument", 3),
        "prebuild_error_not_found": ("not_found", 5),
        "prebuild_error_viewer_create": ("permission_denied", 7),
        "prebuild_error_cancel_completed": ("failed_precondition", 9),
        "prebuild_error_unauthenticated": ("unauthenticated", 16),
    }
    for step, (code, number) in expected.items():
        assert error(outcomes, step, code)["exitCode"] == EXIT_CODE_BASE + number, step
