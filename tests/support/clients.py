"""One calling convention over real clients: grpcio, and connectrpc (binary and JSON).

Tests written against `ApiClient` run unchanged over every transport; failures surface as
`RpcFailure` with the Connect code name and the BadRequest field violations, whichever
protocol carried them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import grpc
from connectrpc.compat import google_protobuf_binary_codec, google_protobuf_json_codec
from connectrpc.errors import ConnectError
from gitpod.v1 import prebuild_connect, prebuild_pb2_grpc
from google.rpc import error_details_pb2, status_pb2
from warmpool.v1 import runtime_connect, runtime_pb2_grpc

if TYPE_CHECKING:
    from google.protobuf.message import Message

TRANSPORTS = ["grpc", "connect-proto", "connect-json"]


@dataclass
class RpcFailure(Exception):
    code: str  # Connect spelling: "invalid_argument", "not_found", ...
    message: str
    violations: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"


class ApiClient(Protocol):
    transport: str

    async def call(
        self, method: str, request: Message, token: str | None, timeout: float | None = None
    ) -> Any: ...

    async def close(self) -> None: ...


def _snake(method: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()


def _violations(detail: bytes) -> list[tuple[str, str]]:
    bad = error_details_pb2.BadRequest.FromString(detail)
    return [(v.field, v.description) for v in bad.field_violations]


# The services a client can talk to: gitpod.v1.PrebuildService and warmpool.v1's runtime API.
_GRPC_STUBS: dict[str, Any] = {
    "prebuild": prebuild_pb2_grpc.PrebuildServiceStub,
    "runtime": runtime_pb2_grpc.WarmPoolRuntimeServiceStub,
}
_CONNECT_CLIENTS: dict[str, Any] = {
    "prebuild": prebuild_connect.PrebuildServiceClient,
    "runtime": runtime_connect.WarmPoolRuntimeServiceClient,
}


class GrpcApiClient:
    transport = "grpc"

    def __init__(self, port: int, service: str = "prebuild") -> None:
        self._channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
        self._stub = _GRPC_STUBS[service](self._channel)

    async def call(
        self, method: str, request: Message, token: str | None, timeout: float | None = None
    ) -> Any:
        metadata = (("authorization", f"Bearer {token}"),) if token is not None else ()
        try:
            return await getattr(self._stub, method)(request, metadata=metadata, timeout=timeout)
        except grpc.aio.AioRpcError as exc:
            violations: list[tuple[str, str]] = []
            for key, value in exc.trailing_metadata() or ():
                if key == "grpc-status-details-bin":
                    status = status_pb2.Status.FromString(value)
                    for detail in status.details:
                        if detail.type_url.endswith("google.rpc.BadRequest"):
                            violations = _violations(detail.value)
            raise RpcFailure(exc.code().name.lower(), exc.details() or "", violations) from None

    async def close(self) -> None:
        await self._channel.close()


class ConnectApiClient:
    def __init__(self, port: int, *, json: bool, service: str = "prebuild") -> None:
        self.transport = "connect-json" if json else "connect-proto"
        codec = google_protobuf_json_codec() if json else google_protobuf_binary_codec()
        self._client = _CONNECT_CLIENTS[service](f"http://127.0.0.1:{port}", codec=codec)

    async def call(
        self, method: str, request: Message, token: str | None, timeout: float | None = None
    ) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token is not None else {}
        timeout_ms = None if timeout is None else int(timeout * 1000)
        try:
            return await getattr(self._client, _snake(method))(
                request, headers=headers, timeout_ms=timeout_ms
            )
        except ConnectError as exc:
            violations: list[tuple[str, str]] = []
            for detail in exc.details:
                if detail.type_name == "google.rpc.BadRequest":
                    violations = _violations(detail.message_bytes)
            code = "cancelled" if exc.code.value == "canceled" else exc.code.value
            raise RpcFailure(code, exc.message, violations) from None

    async def close(self) -> None:
        await self._client.close()


def make_client(
    transport: str, grpc_port: int, http_port: int, service: str = "prebuild"
) -> ApiClient:
    if transport == "grpc":
        return GrpcApiClient(grpc_port, service)
    return ConnectApiClient(http_port, json=transport == "connect-json", service=service)
