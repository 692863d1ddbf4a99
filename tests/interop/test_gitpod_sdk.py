"""The official gitpod-sdk: its own exceptions for our errors, and its descriptors vs ours.

The SDK ships the descriptors it was generated from; comparing them with this repo's protos
field by field (numbers, types, labels, JSON names, `optional` presence, deprecation, enum
values, method order and idempotency) catches a wire mismatch before any call does. The older
JSON SDK (0.11) maps HTTP statuses to exception classes of its own; those are checked too.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest
from gitpod.v1 import identity_pb2, pagination_pb2, prebuild_pb2
from google.protobuf import descriptor_pb2

from tests.interop.outcomes import error
from tests.interop.plan import Outcome
from tests.interop.runners import run_sdk_program
from tests.interop.session import Interop

SDK_CLIENTS = ["gitpod-sdk", "gitpod-sdk raw+gzip+GET"]  # the Connect-based 1.x

# The SDK's identity.proto and pagination.proto define more than PrebuildService uses; only
# what the contract lists is compared there. prebuild.proto is compared whole.
IDENTITY_SUBSET = {"Subject", "Principal"}
PAGINATION_SUBSET = {"PaginationRequest", "PaginationResponse"}
# Options the SDK's files carry that this repo enforces in its own validation layer instead.
VALIDATE_IMPORT = "buf/validate/validate.proto"


@pytest.fixture(params=SDK_CLIENTS)
def client(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.mark.interop("errors")
def test_sdk_raises_its_own_exception_for_each_error(outcomes: dict[str, Outcome]) -> None:
    # `ona_sdk.errors.map_error` is what the SDK's own workflows raise; already_exists has
    # no class of its own there and stays the base SDKError.
    expected = {
        "error_not_found": ("not_found", "NotFoundError"),
        "error_invalid_argument": ("invalid_argument", "ValidationError"),
        "error_unauthenticated": ("unauthenticated", "AuthenticationRequiredError"),
        "error_unknown_token": ("unauthenticated", "AuthenticationRequiredError"),
        "error_permission_denied": ("permission_denied", "PermissionDeniedError"),
        "error_already_exists": ("already_exists", "SDKError"),
    }
    for step, (code, sdk_error) in expected.items():
        assert error(outcomes, step, code)["sdkError"] == sdk_error, step


@pytest.mark.interop("errors")
def test_sdk_raises_its_own_exception_for_each_prebuild_error(
    outcomes: dict[str, Outcome],
) -> None:
    # failed_precondition has no SCM or capability wording here: the SDK's policy error.
    expected = {
        "prebuild_error_not_found": ("not_found", "NotFoundError"),
        "prebuild_error_cancel_not_found": ("not_found", "NotFoundError"),
        "prebuild_error_invalid_argument": ("invalid_argument", "ValidationError"),
        "prebuild_error_missing_spec": ("invalid_argument", "ValidationError"),
        "prebuild_error_prebuilds_disabled": ("failed_precondition", "EnvironmentPolicyError"),
        "prebuild_error_cancel_completed": ("failed_precondition", "EnvironmentPolicyError"),
        "prebuild_error_viewer_create": ("permission_denied", "PermissionDeniedError"),
        "prebuild_error_unauthenticated": ("unauthenticated", "AuthenticationRequiredError"),
    }
    for step, (code, sdk_error) in expected.items():
        assert error(outcomes, step, code)["sdkError"] == sdk_error, step


def _field(f: descriptor_pb2.FieldDescriptorProto) -> tuple[Any, ...]:
    return (
        f.name,
        f.number,
        descriptor_pb2.FieldDescriptorProto.Label.Name(f.label),
        descriptor_pb2.FieldDescriptorProto.Type.Name(f.type),
        f.type_name,
        f.json_name,
        f.proto3_optional,
        f.HasField("oneof_index"),
        f.options.deprecated,
    )


def _enum(e: descriptor_pb2.EnumDescriptorProto) -> list[tuple[str, int]]:
    return [(v.name, v.number) for v in e.value]


def _message(m: descriptor_pb2.DescriptorProto) -> dict[str, Any]:
    return {
        "fields": [_field(f) for f in m.field],
        "oneofs": [o.name for o in m.oneof_decl],
        "nested": {n.name: _message(n) for n in m.nested_type},
        "enums": {e.name: _enum(e) for e in m.enum_type},
    }


def shape(proto: descriptor_pb2.FileDescriptorProto, only: set[str] | None = None) -> Any:
    """What of a file descriptor is wire contract, in a form that compares with ==."""

    def keep(name: str) -> bool:
        return only is None or name in only

    return {
        "name": proto.name,
        "package": proto.package,
        "go_package": proto.options.go_package,
        "syntax": proto.syntax,
        "dependencies": [] if only else [d for d in proto.dependency if d != VALIDATE_IMPORT],
        "messages": {m.name: _message(m) for m in proto.message_type if keep(m.name)},
        "enums": {e.name: _enum(e) for e in proto.enum_type if keep(e.name)},
        "services": {
            s.name: [
                (
                    m.name,
                    m.input_type,
                    m.output_type,
                    m.client_streaming,
                    m.server_streaming,
                    descriptor_pb2.MethodOptions.IdempotencyLevel.Name(m.options.idempotency_level),
                )
                for m in s.method
            ]
            for s in proto.service
            if only is None
        },
    }


def ours(module: Any) -> descriptor_pb2.FileDescriptorProto:
    proto = descriptor_pb2.FileDescriptorProto()
    module.DESCRIPTOR.CopyToProto(proto)
    return proto


@pytest.mark.interop("schema", client="gitpod-sdk")
def test_sdk_descriptors_match_this_repos_protos() -> None:
    files = run_sdk_program({"mode": "descriptors"})["files"]
    sdk = {
        name: descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(raw))
        for name, raw in files.items()
    }
    prebuild = ours(prebuild_pb2)
    assert shape(sdk[prebuild.name]) == shape(prebuild)
    for module, subset in ((pagination_pb2, PAGINATION_SUBSET), (identity_pb2, IDENTITY_SUBSET)):
        mine = ours(module)
        assert shape(sdk[mine.name], subset) == shape(mine, subset), mine.name
        compared = shape(mine, subset)
        assert set(compared["messages"]) | set(compared["enums"]) == subset  # not vacuous
    assert len(shape(prebuild)["services"]["PrebuildService"]) == 11


@pytest.mark.interop("errors", client="gitpod-sdk 0.11 (JSON)")
def test_older_json_sdk_raises_its_exception_for_each_http_status(interop: Interop) -> None:
    outcomes = interop.outcomes("gitpod-sdk 0.11 (JSON)")
    expected = {
        "error_invalid_argument": ("invalid_argument", 400, "BadRequestError"),
        "error_unauthenticated": ("unauthenticated", 401, "AuthenticationError"),
        "error_permission_denied": ("permission_denied", 403, "PermissionDeniedError"),
        "error_not_found": ("not_found", 404, "NotFoundError"),
        "error_already_exists": ("already_exists", 409, "ConflictError"),
    }
    for step, (code, status, sdk_error) in expected.items():
        err = error(outcomes, step, code)
        assert (err["httpStatus"], err["sdkError"]) == (status, sdk_error), step


@pytest.mark.interop("errors", client="gitpod-sdk 0.11 (JSON)")
def test_older_json_sdk_raises_its_exception_for_each_prebuild_error(interop: Interop) -> None:
    outcomes = interop.outcomes("gitpod-sdk 0.11 (JSON)")
    expected = {
        "prebuild_error_invalid_argument": ("invalid_argument", 400, "BadRequestError"),
        "prebuild_error_prebuilds_disabled": ("failed_precondition", 400, "BadRequestError"),
        "prebuild_error_cancel_deleting": ("failed_precondition", 400, "BadRequestError"),
        "prebuild_error_unauthenticated": ("unauthenticated", 401, "AuthenticationError"),
        "prebuild_error_viewer_create": ("permission_denied", 403, "PermissionDeniedError"),
        "prebuild_error_delete_not_found": ("not_found", 404, "NotFoundError"),
    }
    for step, (code, status, sdk_error) in expected.items():
        err = error(outcomes, step, code)
        assert (err["httpStatus"], err["sdkError"]) == (status, sdk_error), step
