"""The TypeScript client generated from this repo's protos: its own view of the contract.

The client is generated with protoc-gen-es and type-checked (`tsc --strict`) together with
the scenario program on every run; `describe` then prints the schema as the generated code
sees it at run time, compared here with this repo's descriptors.
"""

from __future__ import annotations

from typing import Any

import pytest
from gitpod.v1 import prebuild_pb2
from google.protobuf import descriptor_pb2

from tests.interop.runners import CLIENTS, run_ts_program

TS_CLIENTS = [name for name in CLIENTS if name.startswith("ts ")]


def expected_methods() -> list[dict[str, Any]]:
    service = prebuild_pb2.DESCRIPTOR.services_by_name["PrebuildService"]
    return [
        {
            "name": m.name,
            "kind": "unary",
            "idempotency": m.GetOptions().idempotency_level,
        }
        for m in service.methods
    ]


def expected_messages() -> dict[str, list[dict[str, Any]]]:
    proto = descriptor_pb2.FileDescriptorProto()
    prebuild_pb2.DESCRIPTOR.CopyToProto(proto)
    return {
        m.name: [
            {
                "name": f.name,
                "number": f.number,
                "jsonName": f.json_name,
                "optional": f.proto3_optional,
                "deprecated": f.options.deprecated,
            }
            for f in m.field
        ]
        for m in proto.message_type
    }


@pytest.mark.parametrize("client", TS_CLIENTS)
@pytest.mark.interop("schema")
def test_generated_typescript_client_sees_the_contract(client: str) -> None:
    described = run_ts_program({"mode": "describe"})
    assert described["methods"] == expected_methods()
    assert described["messages"] == expected_messages()
    warm_pool_spec = {f["name"]: f for f in described["messages"]["WarmPoolSpec"]}
    assert warm_pool_spec["min_size"]["optional"] is True  # not vacuous: presence is compared
    assert warm_pool_spec["desired_size"]["deprecated"] is True
