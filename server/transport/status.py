"""The one place where errors become RPC statuses, for both gRPC and Connect.

Domain errors keep their message; field violations also travel as a `google.rpc.BadRequest`
detail. Anything unexpected is logged with a request id and answered `internal` with only
that id, so no traceback or internal detail ever reaches a client.
"""

from __future__ import annotations

import enum
import logging
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from google.rpc import error_details_pb2, status_pb2

from server import errors

if TYPE_CHECKING:
    from server.errors import FieldViolation

log = logging.getLogger(__name__)


class Code(enum.IntEnum):
    """gRPC status codes; `connect_name` gives the Connect spelling."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16

    @property
    def connect_name(self) -> str:
        return "canceled" if self is Code.CANCELLED else self.name.lower()


_CODES: dict[type[errors.DomainError], Code] = {
    errors.InvalidArgument: Code.INVALID_ARGUMENT,
    errors.Unauthenticated: Code.UNAUTHENTICATED,
    errors.PermissionDenied: Code.PERMISSION_DENIED,
    errors.NotFound: Code.NOT_FOUND,
    errors.AlreadyExists: Code.ALREADY_EXISTS,
    errors.FailedPrecondition: Code.FAILED_PRECONDITION,
    errors.ResourceExhausted: Code.RESOURCE_EXHAUSTED,
    errors.Unavailable: Code.UNAVAILABLE,
    errors.DeadlineExceeded: Code.DEADLINE_EXCEEDED,
    errors.Unimplemented: Code.UNIMPLEMENTED,
}

BAD_REQUEST_TYPE_URL = "type.googleapis.com/google.rpc.BadRequest"


@dataclass(frozen=True)
class RpcStatus:
    code: Code
    message: str
    violations: list[FieldViolation] = field(default_factory=list)

    def bad_request(self) -> bytes | None:
        """The serialized google.rpc.BadRequest detail, if there are field violations."""
        if not self.violations:
            return None
        detail = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field, description=v.description
                )
                for v in self.violations
            ]
        )
        return bytes(detail.SerializeToString())

    def grpc_status_details(self) -> bytes:
        """The `grpc-status-details-bin` trailer: a google.rpc.Status with the details."""
        status = status_pb2.Status(code=int(self.code), message=self.message)
        detail = self.bad_request()
        if detail is not None:
            status.details.add(type_url=BAD_REQUEST_TYPE_URL, value=detail)
        return bytes(status.SerializeToString())


def status_from_exception(exc: BaseException, method: str) -> RpcStatus:
    if isinstance(exc, errors.DomainError):
        code = _CODES.get(type(exc), Code.INTERNAL)
        violations = exc.violations if isinstance(exc, errors.InvalidArgument) else []
        return RpcStatus(code, exc.message, violations)
    if isinstance(exc, TimeoutError):
        return RpcStatus(Code.DEADLINE_EXCEEDED, "the call's deadline passed before it completed")
    request_id = uuid.uuid4().hex[:16]
    log.error("internal error in %s (request id %s)", method, request_id, exc_info=exc)
    return RpcStatus(Code.INTERNAL, f"internal error (request id {request_id})")
