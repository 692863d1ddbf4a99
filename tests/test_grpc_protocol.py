"""gRPC port details: health, server reflection (v1 and v1alpha), limits, rich error details."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from gitpod.v1 import prebuild_pb2 as pb
from gitpod.v1 import prebuild_pb2_grpc
from google.protobuf import descriptor_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2

from tests.support.servers import InProcessServer
from tests.support.tenants import Tenant

SERVICE = "gitpod.v1.PrebuildService"


async def test_health_reports_serving(server: InProcessServer) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        for service in ("", SERVICE):
            resp = await stub.Check(health_pb2.HealthCheckRequest(service=service))
            assert resp.status == health_pb2.HealthCheckResponse.SERVING


async def _reflect(
    port: int, service: str, request: reflection_pb2.ServerReflectionRequest
) -> reflection_pb2.ServerReflectionResponse:
    """One request on the reflection stream of `service` (v1 or v1alpha: same messages)."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.stream_stream(
            f"/{service}/ServerReflectionInfo",
            request_serializer=reflection_pb2.ServerReflectionRequest.SerializeToString,
            response_deserializer=reflection_pb2.ServerReflectionResponse.FromString,
        )
        responses = [r async for r in call(iter([request]))]
    [response] = responses
    return response


@pytest.mark.parametrize(
    "reflection_service",
    ["grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"],
)
async def test_reflection_lists_services_and_describes_the_api(
    server: InProcessServer, reflection_service: str
) -> None:
    listed = await _reflect(
        server.grpc_port,
        reflection_service,
        reflection_pb2.ServerReflectionRequest(list_services=""),
    )
    names = {s.name for s in listed.list_services_response.service}
    assert {SERVICE, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} <= names

    files = await _reflect(
        server.grpc_port,
        reflection_service,
        reflection_pb2.ServerReflectionRequest(file_containing_symbol="gitpod.v1.WarmPool"),
    )
    protos = [
        descriptor_pb2.FileDescriptorProto.FromString(raw)
        for raw in files.file_descriptor_response.file_descriptor_proto
    ]
    prebuild = next(p for p in protos if p.name == "gitpod/v1/prebuild.proto")
    methods = [m.name for m in prebuild.service[0].method]
    assert methods == [
        "CreatePrebuild",
        "ListPrebuilds",
        "GetPrebuild",
        "CancelPrebuild",
        "DeletePrebuild",
        "CreatePrebuildLogsToken",
        "CreateWarmPool",
        "GetWarmPool",
        "ListWarmPools",
        "UpdateWarmPool",
        "DeleteWarmPool",
    ]


async def test_oversized_message_is_resource_exhausted(
    server: InProcessServer, tenant: Tenant
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = prebuild_pb2_grpc.PrebuildServiceStub(channel)  # type: ignore[no-untyped-call]
        big = pb.CreateWarmPoolRequest(project_id="x" * (server.settings.max_request_bytes + 1))
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.CreateWarmPool(big, metadata=(("authorization", f"Bearer {tenant.admin}"),))
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


async def test_status_details_trailer_carries_bad_request(
    server: InProcessServer, tenant: Tenant
) -> None:
    from google.rpc import error_details_pb2, status_pb2

    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = prebuild_pb2_grpc.PrebuildServiceStub(channel)  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.GetWarmPool(
                pb.GetWarmPoolRequest(warm_pool_id="nope"),
                metadata=(("authorization", f"Bearer {tenant.admin}"),),
            )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    trailer = dict(err.value.trailing_metadata() or ())["grpc-status-details-bin"]
    status = status_pb2.Status.FromString(trailer)
    assert status.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert status.message == "warm_pool_id: must be a valid UUID"
    bad = error_details_pb2.BadRequest()
    assert status.details[0].Unpack(bad)
    assert bad.field_violations[0].field == "warm_pool_id"


async def test_many_concurrent_calls_share_one_server(
    server: InProcessServer, tenant: Tenant
) -> None:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
        stub = prebuild_pb2_grpc.PrebuildServiceStub(channel)  # type: ignore[no-untyped-call]
        metadata = (("authorization", f"Bearer {tenant.admin}"),)
        results = await asyncio.gather(
            *(stub.ListWarmPools(pb.ListWarmPoolsRequest(), metadata=metadata) for _ in range(100))
        )
    assert len(results) == 100


@pytest.mark.parametrize(
    "reflection_service",
    ["grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"],
)
async def test_every_service_reflection_lists_resolves_to_its_file(
    server: InProcessServer, reflection_service: str
) -> None:
    # `grpcurl describe` and `buf curl --list-methods` resolve every listed service; one
    # that is listed but has no descriptor makes them fail outright.
    listed = await _reflect(
        server.grpc_port,
        reflection_service,
        reflection_pb2.ServerReflectionRequest(list_services=""),
    )
    names = [s.name for s in listed.list_services_response.service]
    assert names
    for name in names:
        found = await _reflect(
            server.grpc_port,
            reflection_service,
            reflection_pb2.ServerReflectionRequest(file_containing_symbol=name),
        )
        assert found.WhichOneof("message_response") == "file_descriptor_response", (
            f"{name}: {found.error_response.error_message}"
        )
        protos = [
            descriptor_pb2.FileDescriptorProto.FromString(raw)
            for raw in found.file_descriptor_response.file_descriptor_proto
        ]
        services = {f"{p.package}.{s.name}" for p in protos for s in p.service}
        assert name in services
