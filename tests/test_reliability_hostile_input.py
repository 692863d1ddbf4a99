"""Hostile input through the real ports of a real server process: property-based fuzzing of
JSON and binary bodies, headers, query strings and gRPC payloads/metadata.

The property: a client's input never produces a 5xx, `unknown` or `internal`, and the server
log never shows a traceback. WARMPOOL_FUZZ_EXAMPLES raises the number of examples per
property (default 150; `make fuzz` uses 2000).
"""

from __future__ import annotations

import gzip
import json
import os
import string
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest
from gitpod.v1 import prebuild_pb2 as pb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.load import grpc_frame
from server.store.database import Database
from tests.support.postgres import SessionPostgres
from tests.support.servers import ServerProcess
from tests.support.tenants import Tenant, make_tenant

EXAMPLES = int(os.environ.get("WARMPOOL_FUZZ_EXAMPLES", "150"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
WARM_POOL_METHODS = [
    "CreateWarmPool",
    "GetWarmPool",
    "ListWarmPools",
    "UpdateWarmPool",
    "DeleteWarmPool",
]
REQUEST_TYPES: dict[str, Any] = {
    "CreateWarmPool": pb.CreateWarmPoolRequest,
    "GetWarmPool": pb.GetWarmPoolRequest,
    "ListWarmPools": pb.ListWarmPoolsRequest,
    "UpdateWarmPool": pb.UpdateWarmPoolRequest,
    "DeleteWarmPool": pb.DeleteWarmPoolRequest,
}
FORBIDDEN_GRPC = {
    grpc.StatusCode.UNKNOWN,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.DATA_LOSS,
    grpc.StatusCode.UNAVAILABLE,
}


class Target:
    def __init__(self, server: ServerProcess, tenant: Tenant, pool_id: str) -> None:
        self.server = server
        self.tenant = tenant
        self.pool_id = pool_id
        self.http = httpx.Client(base_url=server.base_url, timeout=30)
        self.channel = grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}")

    def close(self) -> None:
        self.http.close()
        self.channel.close()


@pytest.fixture(scope="module")
async def target(
    pg: SessionPostgres, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Target]:
    url = await pg.new_database()
    db = await Database.connect(url, min_size=1, max_size=2)
    tenant = await make_tenant(db)
    await db.close()
    server = ServerProcess.create(tmp_path_factory.mktemp("fuzz"), database_url=url)
    server.start()
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(
            "/gitpod.v1.PrebuildService/CreateWarmPool",
            headers={"Authorization": f"Bearer {tenant.admin}"},
            json={"projectId": tenant.project_id, "environmentClassId": tenant.class_id},
        )
    created = response.json()
    t = Target(server, tenant, created["warmPool"]["id"])
    yield t
    t.close()
    server.stop()
    log = server.log()
    assert "Traceback" not in log, log[-5000:]
    assert " ERROR " not in log, log[-5000:]


# --- strategies --------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
FIELD_NAMES = [
    "projectId", "project_id", "environmentClassId", "environment_class_id", "desiredSize",
    "minSize", "maxSize", "warmPoolId", "warm_pool_id", "pagination", "filter", "pageSize",
    "token", "projectIds", "environmentClassIds",
]  # fmt: skip
field_values = st.one_of(
    json_values,
    st.sampled_from(["b0e12f6c-4c67-429d-a4a6-d9838b5da047", "", "NaN", "1e400", "-0", "0x10"]),
    st.integers(min_value=-3, max_value=25),
)
request_objects = st.dictionaries(st.sampled_from(FIELD_NAMES), field_values, max_size=6)
raw_bytes = st.binary(max_size=300)
header_text = st.text(
    alphabet=string.printable.replace("\r", "")
    .replace("\n", "")
    .replace("\x0b", "")
    .replace("\x0c", "")
    .replace("\t", ""),
    max_size=40,
).map(str.strip)  # clients refuse to send values with surrounding whitespace


def _check_http(response: httpx.Response) -> None:
    if response.status_code == 504:  # the client's own deadline passed: 504 by design (§3)
        assert response.json()["code"] == "deadline_exceeded"
        return
    assert response.status_code < 500, (response.status_code, response.text[:500])
    is_json = response.headers.get("content-type", "").startswith("application/json")
    if is_json and response.content and response.status_code >= 400:
        body = response.json()
        assert body.get("code") not in ("unknown", "internal"), body


def _post(target: Target, method: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    headers = {"Authorization": f"Bearer {target.tenant.admin}", **headers}
    return target.http.post(f"/gitpod.v1.PrebuildService/{method}", content=body, headers=headers)


# --- properties --------------------------------------------------------------------------


@FUZZ
@given(method=st.sampled_from(WARM_POOL_METHODS), body=st.one_of(request_objects, json_values))
def test_fuzzed_json_bodies_never_fail_the_server(target: Target, method: str, body: Any) -> None:
    data = json.dumps(body).encode()
    _check_http(_post(target, method, data, {"Content-Type": "application/json"}))


@FUZZ
@given(method=st.sampled_from(WARM_POOL_METHODS), body=raw_bytes, json_type=st.booleans())
def test_random_bytes_never_fail_the_server(
    target: Target, method: str, body: bytes, json_type: bool
) -> None:
    content_type = "application/json" if json_type else "application/proto"
    _check_http(_post(target, method, body, {"Content-Type": content_type}))


@FUZZ
@given(method=st.sampled_from(WARM_POOL_METHODS), data=st.data())
def test_mutated_binary_messages_never_fail_the_server(
    target: Target, method: str, data: st.DataObject
) -> None:
    message = REQUEST_TYPES[method]()
    for field in message.DESCRIPTOR.fields:
        if field.type == field.TYPE_STRING and not field.is_repeated:
            setattr(message, field.name, target.pool_id)
    raw = bytearray(message.SerializeToString())
    for _ in range(data.draw(st.integers(0, 4))):
        if raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
    raw = raw[: data.draw(st.integers(0, len(raw)))] + data.draw(st.binary(max_size=16))
    _check_http(_post(target, method, bytes(raw), {"Content-Type": "application/proto"}))


@FUZZ
@given(
    method=st.sampled_from(WARM_POOL_METHODS),
    content_type=st.one_of(
        st.sampled_from(
            [
                "application/json",
                "application/proto",
                "application/json; charset=utf-8",
                "application/grpc-web+proto",
                "application/connect+json",
                "text/plain",
                "",
            ]
        ),
        header_text,
    ),
    encoding=st.one_of(st.sampled_from(["gzip", "identity", "br", ""]), header_text),
    timeout=st.one_of(
        st.none(), st.sampled_from(["0", "1", "-1", "99999999999", "abc"]), header_text
    ),
    version=st.one_of(st.none(), st.sampled_from(["1", "2", ""]), header_text),
    authorization=st.one_of(
        st.none(), st.sampled_from(["Bearer", "Bearer  x", "Basic x"]), header_text
    ),
    compress=st.booleans(),
)
def test_fuzzed_headers_never_fail_the_server(
    target: Target,
    method: str,
    content_type: str,
    encoding: str,
    timeout: str | None,
    version: str | None,
    authorization: str | None,
    compress: bool,
) -> None:
    body = json.dumps({"warmPoolId": target.pool_id}).encode()
    if compress:
        body = gzip.compress(body)
    headers = {"Content-Type": content_type, "Content-Encoding": encoding}
    if timeout is not None:
        headers["Connect-Timeout-Ms"] = timeout
    if version is not None:
        headers["Connect-Protocol-Version"] = version
    headers["Authorization"] = (
        authorization if authorization is not None else f"Bearer {target.tenant.admin}"
    )
    response = target.http.post(
        f"/api/gitpod.v1.PrebuildService/{method}", content=body, headers=headers
    )
    _check_http(response)


@FUZZ
@given(
    method=st.sampled_from(["GetWarmPool", "ListWarmPools", "CreateWarmPool"]),
    params=st.dictionaries(
        st.sampled_from(
            ["message", "encoding", "base64", "compression", "connect", "token", "pageSize"]
        ),
        st.one_of(header_text, st.sampled_from(["json", "proto", "1", "gzip", "v1", "{}"])),
        max_size=5,
    ),
)
def test_fuzzed_get_query_strings_never_fail_the_server(
    target: Target, method: str, params: dict[str, str]
) -> None:
    response = target.http.get(
        f"/gitpod.v1.PrebuildService/{method}",
        params=params,
        headers={"Authorization": f"Bearer {target.tenant.admin}"},
    )
    _check_http(response)


@FUZZ
@given(
    params=st.dictionaries(
        st.sampled_from(["token", "pageSize", "page_size"]), header_text, max_size=3
    ),
    body=request_objects,
)
def test_fuzzed_list_paging_query_never_fails_the_server(
    target: Target, params: dict[str, str], body: Any
) -> None:
    response = target.http.post(
        "/api/gitpod.v1.PrebuildService/ListWarmPools",
        params=params,
        content=json.dumps(body).encode(),  # Python's json writes inf/nan as bare words: fine
        headers={"Authorization": f"Bearer {target.tenant.admin}"},
    )
    _check_http(response)


def _grpc_call(
    target: Target, method: str, payload: bytes, metadata: list[tuple[str, str]]
) -> None:
    call = target.channel.unary_unary(f"/gitpod.v1.PrebuildService/{method}")
    code = grpc.StatusCode.OK
    try:
        call(payload, metadata=metadata, timeout=10)
    except grpc.RpcError as exc:
        code = exc.code()
    assert code not in FORBIDDEN_GRPC, code


metadata_keys = st.text(alphabet=string.ascii_lowercase + "-", min_size=1, max_size=15).filter(
    lambda k: not k.startswith("grpc-") and k not in ("te", "content-type", "user-agent")
)


@FUZZ
@given(
    method=st.sampled_from([*WARM_POOL_METHODS, "NoSuchMethod"]),
    payload=raw_bytes,
    authorization=st.one_of(st.none(), header_text),
    extra=st.lists(st.tuples(metadata_keys, header_text), max_size=3),
)
def test_fuzzed_grpc_payloads_and_metadata_never_fail_the_server(
    target: Target,
    method: str,
    payload: bytes,
    authorization: str | None,
    extra: list[tuple[str, str]],
) -> None:
    token = authorization if authorization is not None else f"Bearer {target.tenant.admin}"
    metadata = [("authorization", token.strip() or "x"), *extra]
    _grpc_call(target, method, payload, metadata)


def test_grpc_gzip_bomb_is_rejected(target: Target) -> None:
    call = target.channel.unary_unary(
        "/gitpod.v1.PrebuildService/CreateWarmPool",
        request_serializer=pb.CreateWarmPoolRequest.SerializeToString,
    )
    big = pb.CreateWarmPoolRequest(project_id=" " * (50 * 1024 * 1024))
    with pytest.raises(grpc.RpcError) as err:
        call(big, metadata=[("authorization", f"Bearer {target.tenant.admin}")],
             compression=grpc.Compression.Gzip, timeout=60)  # fmt: skip
    assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED


def test_non_utf8_grpc_metadata_is_answered_without_a_logged_traceback(target: Target) -> None:
    """Sent over raw HTTP/2, since grpcio clients refuse to send such values."""
    import socket

    import h2.config
    import h2.connection

    body = grpc_frame(pb.ListWarmPoolsRequest().SerializeToString())
    sock = socket.create_connection(("127.0.0.1", target.server.grpc_port), timeout=10)
    conn = h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )
    conn.initiate_connection()
    headers = [
        (b":method", b"POST"), (b":scheme", b"http"), (b":authority", b"localhost"),
        (b":path", b"/gitpod.v1.PrebuildService/ListWarmPools"),
        (b"content-type", b"application/grpc"), (b"te", b"trailers"),
        (b"authorization", b"Bearer \xff\xfe"), (b"x-odd", b"caf\xe9"),
    ]  # fmt: skip
    conn.send_headers(1, headers)
    conn.send_data(1, body, end_stream=True)
    sock.sendall(conn.data_to_send())
    status = None
    while status is None:
        data = sock.recv(65536)
        assert data, "connection closed without an answer"
        for event in conn.receive_data(data):
            if hasattr(event, "headers"):
                for key, value in event.headers:
                    if key == b"grpc-status":
                        status = int(value)
        sock.sendall(conn.data_to_send())
    sock.close()
    assert status == grpc.StatusCode.UNAUTHENTICATED.value[0]
