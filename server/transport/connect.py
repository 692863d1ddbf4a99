"""Connect transport: the PrebuildService on connectrpc's ASGI application.

connectrpc handles the protocol (JSON and binary, GET for side-effect-free methods, gzip,
Connect-Timeout-Ms, size limits, gRPC-Web). This module adds what a public-API server needs
around it: compact JSON, `application/json; charset=utf-8`, paging by query string for the
older JSON SDKs, and the mapping of our errors to Connect errors.
"""

from __future__ import annotations

import contextvars
import json
import re
import time
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs

from connectrpc.code import Code as ConnectCode
from connectrpc.codec import Codec
from connectrpc.compat import google_protobuf_binary_codec
from connectrpc.compression.gzip import GzipCompression
from connectrpc.errors import ConnectError, ErrorDetail
from gitpod.v1 import pagination_pb2, prebuild_connect
from gitpod.v1 import prebuild_pb2 as pb
from google.protobuf import json_format
from google.protobuf.message import Message
from protobuf.wkt import Any as AnyDetail
from warmpool.v1 import runtime_connect, runtime_pb2

from server.errors import FieldViolation, InvalidArgument
from server.metrics import observe_rpc
from server.transport.json_input import json_shape_violations
from server.transport.status import BAD_REQUEST_TYPE_URL, status_from_exception

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from connectrpc.request import RequestContext

    from server.transport.handlers import PrebuildHandlers, RuntimeHandlers

T = TypeVar("T")
M = TypeVar("M", bound=Message)

# Query parameters of the current HTTP request, set by the HTTP router for list calls.
request_query: contextvars.ContextVar[dict[str, list[str]] | None] = contextvars.ContextVar(
    "request_query", default=None
)


class CompactJSONCodec(Codec[Message, Any]):
    """Canonical proto3 JSON without whitespace; unknown input fields are ignored."""

    def __init__(self, name: str) -> None:
        self._name = name

    def name(self) -> str:
        return self._name

    def encode(self, message: Message) -> bytes:
        return json.dumps(
            json_format.MessageToDict(message), separators=(",", ":"), ensure_ascii=False
        ).encode()

    def decode(self, data: bytes | bytearray, message_class: type[M]) -> M:
        name = message_class.DESCRIPTOR.full_name
        try:
            document = json.loads(data, object_pairs_hook=_no_duplicate_keys)
        except RecursionError:
            raise _invalid(FieldViolation("body", "is nested too deeply")) from None
        except ValueError as exc:  # includes JSON and UTF-8 decode errors
            raise _invalid(FieldViolation("body", f"is not valid JSON: {exc}")) from None
        if not isinstance(document, dict):
            raise _invalid(FieldViolation("body", f"must be a JSON object ({name})"))
        violations = json_shape_violations(document, message_class.DESCRIPTOR)
        if violations:
            raise _invalid(*violations)
        message = message_class()
        try:
            json_format.ParseDict(document, message, ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            raise _invalid(FieldViolation("body", f"does not match {name}: {exc}")) from None
        except (TypeError, ValueError, AttributeError, RecursionError):
            raise _invalid(FieldViolation("body", f"does not match {name}")) from None
        return message


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("duplicate key in a JSON object")
    return document


def _invalid(*violations: FieldViolation) -> ConnectError:
    """invalid_argument naming each field, with the google.rpc.BadRequest detail."""
    return _connect_error(InvalidArgument(list(violations)), "decode")


CODECS: list[Codec] = [
    google_protobuf_binary_codec(),
    CompactJSONCodec("json"),
    CompactJSONCodec("json; charset=utf-8"),
]


def _connect_error(exc: BaseException, method: str) -> ConnectError:
    status = status_from_exception(exc, method)
    details = []
    bad_request = status.bad_request()
    if bad_request is not None:
        details.append(ErrorDetail(AnyDetail(type_url=BAD_REQUEST_TYPE_URL, value=bad_request)))
    return ConnectError(ConnectCode(status.code.connect_name), status.message, details)


async def _respond(
    ctx: RequestContext[Any, Any], method: str, call: Callable[[str | None], Awaitable[T]]
) -> T:
    started = time.perf_counter()
    try:
        result = await call(ctx.request_headers.get("authorization"))
    except Exception as exc:
        error = _connect_error(exc, method)
        observe_rpc("connect", method, error.code.value, time.perf_counter() - started)
        raise error from None
    observe_rpc("connect", method, "ok", time.perf_counter() - started)
    return result


_PAGE_SIZE_QUERY = re.compile(r"-?[0-9]{1,9}")


def apply_query_paging(pagination: pagination_pb2.PaginationRequest) -> None:
    """Older JSON SDKs page with `?token=…&pageSize=…`; those values override the body's."""
    query = request_query.get()
    if not query:
        return
    if "token" in query:
        pagination.token = query["token"][-1]
    for key in ("pageSize", "page_size"):
        if key in query:
            raw = query[key][-1]
            if _PAGE_SIZE_QUERY.fullmatch(raw) is None:
                raise InvalidArgument(
                    FieldViolation(
                        "pagination.page_size", f"must be between 0 and 100, got {raw!r}"
                    )
                )
            pagination.page_size = int(raw)  # the range is checked with the body's fields


def parse_query(query_string: bytes) -> dict[str, list[str]]:
    return parse_qs(query_string.decode("latin-1"), keep_blank_values=True)


class ConnectPrebuildService(prebuild_connect.PrebuildService):
    """The generated Connect service interface, implemented by the shared handlers."""

    def __init__(self, handlers: PrebuildHandlers) -> None:
        self._h = handlers

    async def create_warm_pool(
        self, request: pb.CreateWarmPoolRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.CreateWarmPoolResponse:
        return await _respond(ctx, "CreateWarmPool", lambda a: self._h.create_warm_pool(request, a))

    async def get_warm_pool(
        self, request: pb.GetWarmPoolRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.GetWarmPoolResponse:
        return await _respond(ctx, "GetWarmPool", lambda a: self._h.get_warm_pool(request, a))

    async def list_warm_pools(
        self, request: pb.ListWarmPoolsRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.ListWarmPoolsResponse:
        async def call(authorization: str | None) -> pb.ListWarmPoolsResponse:
            apply_query_paging(request.pagination)
            return await self._h.list_warm_pools(request, authorization)

        return await _respond(ctx, "ListWarmPools", call)

    async def update_warm_pool(
        self, request: pb.UpdateWarmPoolRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.UpdateWarmPoolResponse:
        return await _respond(ctx, "UpdateWarmPool", lambda a: self._h.update_warm_pool(request, a))

    async def delete_warm_pool(
        self, request: pb.DeleteWarmPoolRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.DeleteWarmPoolResponse:
        return await _respond(ctx, "DeleteWarmPool", lambda a: self._h.delete_warm_pool(request, a))

    async def create_prebuild(
        self, request: pb.CreatePrebuildRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.CreatePrebuildResponse:
        return await _respond(ctx, "CreatePrebuild", lambda a: self._h.create_prebuild(request, a))

    async def list_prebuilds(
        self, request: pb.ListPrebuildsRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.ListPrebuildsResponse:
        async def call(authorization: str | None) -> pb.ListPrebuildsResponse:
            apply_query_paging(request.pagination)
            return await self._h.list_prebuilds(request, authorization)

        return await _respond(ctx, "ListPrebuilds", call)

    async def get_prebuild(
        self, request: pb.GetPrebuildRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.GetPrebuildResponse:
        return await _respond(ctx, "GetPrebuild", lambda a: self._h.get_prebuild(request, a))

    async def cancel_prebuild(
        self, request: pb.CancelPrebuildRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.CancelPrebuildResponse:
        return await _respond(ctx, "CancelPrebuild", lambda a: self._h.cancel_prebuild(request, a))

    async def delete_prebuild(
        self, request: pb.DeletePrebuildRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.DeletePrebuildResponse:
        return await _respond(ctx, "DeletePrebuild", lambda a: self._h.delete_prebuild(request, a))

    async def create_prebuild_logs_token(
        self, request: pb.CreatePrebuildLogsTokenRequest, ctx: RequestContext[Any, Any], /
    ) -> pb.CreatePrebuildLogsTokenResponse:
        return await _respond(
            ctx,
            "CreatePrebuildLogsToken",
            lambda a: self._h.create_prebuild_logs_token(request, a),
        )


class ConnectRuntimeService(runtime_connect.WarmPoolRuntimeService):
    """warmpool.v1.WarmPoolRuntimeService over Connect."""

    def __init__(self, handlers: RuntimeHandlers) -> None:
        self._h = handlers

    async def claim_instance(
        self, request: runtime_pb2.ClaimInstanceRequest, ctx: RequestContext[Any, Any], /
    ) -> runtime_pb2.ClaimInstanceResponse:
        return await _respond(ctx, "ClaimInstance", lambda a: self._h.claim_instance(request, a))


def build_runtime_connect_app(handlers: RuntimeHandlers, max_request_bytes: int) -> Any:
    return runtime_connect.WarmPoolRuntimeServiceASGIApplication(
        ConnectRuntimeService(handlers),
        read_max_bytes=max_request_bytes,
        compressions=[GzipCompression()],
        codecs=CODECS,
    )


def build_connect_app(handlers: PrebuildHandlers, max_request_bytes: int) -> Any:
    return prebuild_connect.PrebuildServiceASGIApplication(
        ConnectPrebuildService(handlers),
        read_max_bytes=max_request_bytes,
        compressions=[GzipCompression()],
        codecs=CODECS,
    )
