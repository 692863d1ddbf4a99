"""gRPC transport (grpc.aio): the PrebuildService servicer, health and server reflection.

The servicer only moves metadata, deadlines and statuses; the handlers do the work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, TypeVar

import grpc
from gitpod.v1 import prebuild_pb2 as pb
from gitpod.v1 import prebuild_pb2_grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection, reflection_pb2
from warmpool.v1 import runtime_pb2, runtime_pb2_grpc

from server.errors import FieldViolation, InvalidArgument
from server.metrics import observe_rpc
from server.transport.status import status_from_exception

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

    from google.protobuf.descriptor import ServiceDescriptor

    from server.transport.handlers import PrebuildHandlers, RuntimeHandlers

T = TypeVar("T")


class _ClientEncodingNoise(logging.Filter):
    """grpcio logs a traceback at ERROR for every metadata value that is not UTF-8, then
    carries on. A client's odd bytes are not a server error: keep one line at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.getMessage().startswith("Invalid encoding on "):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            record.exc_info = record.exc_text = None
            return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
        return True


logging.getLogger("grpc._cython.cygrpc").addFilter(_ClientEncodingNoise())

PREBUILD_SERVICE = pb.DESCRIPTOR.services_by_name["PrebuildService"].full_name
RUNTIME_SERVICE = runtime_pb2.DESCRIPTOR.services_by_name["WarmPoolRuntimeService"].full_name
_REFLECTION_V1 = "grpc.reflection.v1.ServerReflection"


def _authorization(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return str(value)
    return None


async def _abort(
    context: grpc.aio.ServicerContext, exc: Exception, method: str, started: float
) -> None:
    status = status_from_exception(exc, method)
    observe_rpc("grpc", method, status.code.connect_name, time.perf_counter() - started)
    await context.abort(
        grpc.StatusCode[status.code.name],
        status.message,
        trailing_metadata=(("grpc-status-details-bin", status.grpc_status_details()),),
    )


# A call without a deadline needs no timer (the common case, and a measurable share of it).
_NO_DEADLINE = contextlib.nullcontext()


async def _respond(
    context: grpc.aio.ServicerContext, method: str, call: Callable[[str | None], Awaitable[T]]
) -> T:
    started = time.perf_counter()
    try:
        remaining = context.time_remaining()
        async with _NO_DEADLINE if remaining is None else asyncio.timeout(remaining):
            result = await call(_authorization(context))
        observe_rpc("grpc", method, "ok", time.perf_counter() - started)
        return result
    except Exception as exc:
        await _abort(context, exc, method, started)
        raise  # unreachable: abort raises


class PrebuildServicer(prebuild_pb2_grpc.PrebuildServiceServicer):
    def __init__(self, handlers: PrebuildHandlers) -> None:
        self._h = handlers

    async def CreateWarmPool(
        self, request: pb.CreateWarmPoolRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateWarmPoolResponse:
        return await _respond(
            context, "CreateWarmPool", lambda a: self._h.create_warm_pool(request, a)
        )

    async def GetWarmPool(
        self, request: pb.GetWarmPoolRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetWarmPoolResponse:
        return await _respond(context, "GetWarmPool", lambda a: self._h.get_warm_pool(request, a))

    async def ListWarmPools(
        self, request: pb.ListWarmPoolsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListWarmPoolsResponse:
        return await _respond(
            context, "ListWarmPools", lambda a: self._h.list_warm_pools(request, a)
        )

    async def UpdateWarmPool(
        self, request: pb.UpdateWarmPoolRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpdateWarmPoolResponse:
        return await _respond(
            context, "UpdateWarmPool", lambda a: self._h.update_warm_pool(request, a)
        )

    async def DeleteWarmPool(
        self, request: pb.DeleteWarmPoolRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteWarmPoolResponse:
        return await _respond(
            context, "DeleteWarmPool", lambda a: self._h.delete_warm_pool(request, a)
        )

    async def CreatePrebuild(
        self, request: pb.CreatePrebuildRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreatePrebuildResponse:
        return await _respond(
            context, "CreatePrebuild", lambda a: self._h.create_prebuild(request, a)
        )

    async def ListPrebuilds(
        self, request: pb.ListPrebuildsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListPrebuildsResponse:
        return await _respond(
            context, "ListPrebuilds", lambda a: self._h.list_prebuilds(request, a)
        )

    async def GetPrebuild(
        self, request: pb.GetPrebuildRequest, context: grpc.aio.ServicerContext
    ) -> pb.GetPrebuildResponse:
        return await _respond(context, "GetPrebuild", lambda a: self._h.get_prebuild(request, a))

    async def CancelPrebuild(
        self, request: pb.CancelPrebuildRequest, context: grpc.aio.ServicerContext
    ) -> pb.CancelPrebuildResponse:
        return await _respond(
            context, "CancelPrebuild", lambda a: self._h.cancel_prebuild(request, a)
        )

    async def DeletePrebuild(
        self, request: pb.DeletePrebuildRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeletePrebuildResponse:
        return await _respond(
            context, "DeletePrebuild", lambda a: self._h.delete_prebuild(request, a)
        )

    async def CreatePrebuildLogsToken(
        self, request: pb.CreatePrebuildLogsTokenRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreatePrebuildLogsTokenResponse:
        return await _respond(
            context,
            "CreatePrebuildLogsToken",
            lambda a: self._h.create_prebuild_logs_token(request, a),
        )


class RuntimeServicer(runtime_pb2_grpc.WarmPoolRuntimeServiceServicer):
    """warmpool.v1.WarmPoolRuntimeService over gRPC."""

    def __init__(self, handlers: RuntimeHandlers) -> None:
        self._h = handlers

    async def ClaimInstance(
        self, request: runtime_pb2.ClaimInstanceRequest, context: grpc.aio.ServicerContext
    ) -> runtime_pb2.ClaimInstanceResponse:
        return await _respond(
            context, "ClaimInstance", lambda a: self._h.claim_instance(request, a)
        )


def runtime_service(handlers: RuntimeHandlers) -> tuple[str, Callable[[grpc.aio.Server], None]]:
    """The runtime service as an `extra_services` entry of `build_grpc_server`."""

    def add(server: grpc.aio.Server) -> None:
        descriptor = runtime_pb2.DESCRIPTOR.services_by_name["WarmPoolRuntimeService"]
        add_servicer(server, descriptor, RuntimeServicer(handlers))

    return RUNTIME_SERVICE, add


def add_servicer(server: grpc.aio.Server, service: ServiceDescriptor, servicer: object) -> None:
    """Register `servicer`'s methods (named as in the proto) for `service`.

    Unlike the generated `add_*Servicer_to_server`, requests arrive as bytes and are parsed
    here, so a corrupt payload is answered INVALID_ARGUMENT instead of grpc's own UNKNOWN
    with a traceback in the log.
    """
    handlers = {}
    for method in service.methods:
        request_type = GetMessageClass(method.input_type)
        response_type = GetMessageClass(method.output_type)
        handlers[method.name] = grpc.unary_unary_rpc_method_handler(
            _parsing(getattr(servicer, method.name), request_type, method.name),
            request_deserializer=None,
            response_serializer=response_type.SerializeToString,
        )
    server.add_generic_rpc_handlers(
        (grpc.method_handlers_generic_handler(service.full_name, handlers),)
    )
    server.add_registered_method_handlers(service.full_name, handlers)


def _parsing(
    implementation: Callable[[Message, grpc.aio.ServicerContext], Awaitable[Message]],
    request_type: type[Message],
    method: str,
) -> Callable[[bytes, grpc.aio.ServicerContext], Awaitable[Message]]:
    async def handle(raw: bytes, context: grpc.aio.ServicerContext) -> Message:
        try:
            request = request_type.FromString(raw)
        except DecodeError as exc:
            error = InvalidArgument(
                FieldViolation("body", f"is not a valid {request_type.DESCRIPTOR.full_name}: {exc}")
            )
            await _abort(context, error, method, time.perf_counter())
            raise  # unreachable: abort raises
        return await implementation(request, context)

    return handle


def _register_reflection_v1_descriptor() -> None:
    """Put grpc/reflection/v1/reflection.proto in the descriptor pool reflection answers from.

    grpcio-reflection ships only v1alpha. Without this, v1 is served and listed but its own
    symbol does not resolve, and clients that describe every listed service (`grpcurl
    describe`, `buf curl --list-methods`) fail. v1 is v1alpha under another package.
    """
    pool = descriptor_pool.Default()
    try:
        pool.FindServiceByName(_REFLECTION_V1)
        return
    except KeyError:
        pass
    old, new = reflection_pb2.DESCRIPTOR.package, _REFLECTION_V1.rsplit(".", 1)[0]
    proto = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(proto)
    proto.name = "grpc/reflection/v1/reflection.proto"
    proto.package = new
    proto.ClearField("options")
    for message in proto.message_type:
        for f in message.field:
            if f.HasField("type_name"):
                f.type_name = f.type_name.replace(f".{old}.", f".{new}.")
    for method in proto.service[0].method:
        method.input_type = method.input_type.replace(f".{old}.", f".{new}.")
        method.output_type = method.output_type.replace(f".{old}.", f".{new}.")
    pool.Add(proto)


def build_grpc_server(
    handlers: PrebuildHandlers,
    *,
    host: str,
    port: int,
    max_request_bytes: int,
    extra_services: Sequence[tuple[str, Callable[[grpc.aio.Server], None]]] = (),
) -> tuple[grpc.aio.Server, health.aio.HealthServicer, int]:
    """A grpc.aio server with the API, grpc.health.v1 and reflection (v1 and v1alpha).

    Returns the server, its health servicer (to flip to NOT_SERVING on shutdown) and the
    bound port (useful when `port` is 0).
    """
    server = grpc.aio.server(
        options=[
            ("grpc.max_receive_message_length", max_request_bytes),
            ("grpc.so_reuseport", 0),
        ]
    )
    add_servicer(
        server, pb.DESCRIPTOR.services_by_name["PrebuildService"], PrebuildServicer(handlers)
    )
    services = [PREBUILD_SERVICE]
    for name, add in extra_services:
        add(server)
        services.append(name)

    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    services.append(health_pb2.DESCRIPTOR.services_by_name["Health"].full_name)

    services += [reflection.SERVICE_NAME, _REFLECTION_V1]
    _register_reflection_v1_descriptor()
    reflection_servicer = reflection.aio.ReflectionServicer(services)
    reflection.enable_server_reflection(services, server)
    # grpc.reflection.v1 has the same messages, byte for byte, as v1alpha: serve it with the
    # same servicer so clients that ask for v1 first (buf curl, newer grpcurl) get an answer.
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                _REFLECTION_V1,
                {
                    "ServerReflectionInfo": grpc.stream_stream_rpc_method_handler(
                        reflection_servicer.ServerReflectionInfo,
                        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
                        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
                    )
                },
            ),
        )
    )
    bound = server.add_insecure_port(f"{host}:{port}")
    return server, health_servicer, bound
