"""Connect protocol details on the HTTP port, over raw HTTP (what curl and the JSON SDKs send)."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from gitpod.v1 import prebuild_pb2 as pb
from google.rpc import error_details_pb2

from tests.support.servers import InProcessServer
from tests.support.tenants import Tenant

SERVICE = "/gitpod.v1.PrebuildService"


@pytest.fixture
async def http(server: InProcessServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}") as client:
        yield client


def auth(t: Tenant, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {t.admin}", "Content-Type": "application/json", **extra}


# A well-formed id for requests that are refused before any lookup.
SOME_PROJECT_ID = "b0e12f6c-4c67-429d-a4a6-d9838b5da047"


def violations_of(resp: httpx.Response) -> list[tuple[str, str]]:
    """The field violations of a Connect error's google.rpc.BadRequest detail."""
    [detail] = resp.json()["details"]
    assert detail["type"] == "google.rpc.BadRequest"
    bad = error_details_pb2.BadRequest.FromString(base64.b64decode(detail["value"] + "=="))
    return [(v.field, v.description) for v in bad.field_violations]


def create_body(t: Tenant, **fields: Any) -> dict[str, Any]:
    return {"projectId": t.project_id, "environmentClassId": t.class_id, **fields}


async def test_docs_example_works_under_api_prefix_without_protocol_header(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    resp = await http.post(
        f"/api{SERVICE}/CreateWarmPool",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {tenant.admin}"},
        content=json.dumps(create_body(tenant)),
    )
    assert resp.status_code == 200, resp.text
    pool = resp.json()["warmPool"]
    assert pool["spec"]["specVersion"] == "1"  # uint64 as a JSON string
    assert pool["spec"]["minSize"] == 1 and pool["spec"]["maxSize"] == 1
    assert pool["status"]["phase"] == "WARM_POOL_PHASE_PENDING"
    assert pool["metadata"]["createdAt"].endswith("Z")


async def test_json_output_is_compact_and_camel_case(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    resp = await http.post(
        f"{SERVICE}/CreateWarmPool", headers=auth(tenant), json=create_body(tenant)
    )
    assert resp.status_code == 200
    assert b" " not in resp.content and b"\n" not in resp.content
    assert b"environmentClassId" in resp.content and b"environment_class_id" not in resp.content


async def test_set_optional_zero_is_written_in_json(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    resp = await http.post(
        f"{SERVICE}/CreateWarmPool", headers=auth(tenant), json=create_body(tenant, minSize=0)
    )
    assert resp.json()["warmPool"]["spec"]["minSize"] == 0


async def test_input_accepts_snake_case_names_numbers_for_enums_and_unknown_fields(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {
        "project_id": tenant.project_id,
        "environment_class_id": tenant.class_id,
        "max_size": 3,
        "someFutureField": {"nested": [1, 2, 3]},
    }
    resp = await http.post(f"{SERVICE}/CreateWarmPool", headers=auth(tenant), json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["warmPool"]["spec"]["maxSize"] == 3


async def test_charset_parameter_in_content_type_is_accepted(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = auth(tenant, **{"Content-Type": "application/json; charset=utf-8"})
    resp = await http.post(f"{SERVICE}/ListWarmPools", headers=headers, content=b"{}")
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize(
    "body",
    [
        b"{",
        b"[]",
        b'{"projectId": 5}',
        b'{"maxSize": "big"}',
        b"\xff\xfe",
        b'{"maxSize": 99999999999}',
    ],
)
async def test_malformed_json_is_invalid_argument(
    http: httpx.AsyncClient, tenant: Tenant, body: bytes
) -> None:
    resp = await http.post(f"{SERVICE}/CreateWarmPool", headers=auth(tenant), content=body)
    assert resp.status_code == 400
    assert resp.json()["code"] == "invalid_argument"


async def test_malformed_binary_is_invalid_argument(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = auth(tenant, **{"Content-Type": "application/proto"})
    resp = await http.post(
        f"{SERVICE}/CreateWarmPool", headers=headers, content=b"\x0a\xff\xff\xff"
    )
    assert resp.status_code == 400
    assert resp.json()["code"] == "invalid_argument"


async def test_binary_protobuf_round_trip(http: httpx.AsyncClient, tenant: Tenant) -> None:
    req = pb.CreateWarmPoolRequest(
        project_id=tenant.project_id, environment_class_id=tenant.class_id
    )
    headers = auth(tenant, **{"Content-Type": "application/proto"})
    resp = await http.post(
        f"{SERVICE}/CreateWarmPool", headers=headers, content=req.SerializeToString()
    )
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/proto"
    pool = pb.CreateWarmPoolResponse.FromString(resp.content).warm_pool
    assert pool.spec.min_size == 1


async def test_gzip_request_and_response(http: httpx.AsyncClient, tenant: Tenant) -> None:
    body = gzip.compress(json.dumps(create_body(tenant)).encode())
    headers = auth(tenant, **{"Content-Encoding": "gzip", "Accept-Encoding": "gzip"})
    resp = await http.post(f"{SERVICE}/CreateWarmPool", headers=headers, content=body)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-encoding"] == "gzip"
    assert resp.json()["warmPool"]["spec"]["minSize"] == 1  # httpx decompressed it


async def test_get_is_served_for_side_effect_free_methods(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    created = (
        await http.post(f"{SERVICE}/CreateWarmPool", headers=auth(tenant), json=create_body(tenant))
    ).json()
    pool_id = created["warmPool"]["id"]
    message = json.dumps({"warmPoolId": pool_id})
    resp = await http.get(
        f"/api{SERVICE}/GetWarmPool",
        params={"encoding": "json", "message": message},
        headers={"Authorization": f"Bearer {tenant.admin}"},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["warmPool"]["id"] == pool_id
    binary = pb.ListWarmPoolsRequest().SerializeToString()
    resp = await http.get(
        f"{SERVICE}/ListWarmPools",
        params={
            "encoding": "proto",
            "base64": "1",
            "message": base64.urlsafe_b64encode(binary).decode(),
        },
        headers={"Authorization": f"Bearer {tenant.admin}"},
    )
    assert resp.status_code == 200
    assert [p.id for p in pb.ListWarmPoolsResponse.FromString(resp.content).warm_pools] == [pool_id]


async def test_get_is_refused_for_methods_with_side_effects(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    resp = await http.get(
        f"{SERVICE}/CreateWarmPool",
        params={"encoding": "json", "message": json.dumps(create_body(tenant))},
        headers={"Authorization": f"Bearer {tenant.admin}"},
    )
    assert resp.status_code == 405


async def test_older_sdk_paging_by_query_string_overrides_the_body(
    http: httpx.AsyncClient, server: InProcessServer
) -> None:
    from tests.support.tenants import make_tenant

    t = await make_tenant(server.db, extra_classes=5)
    for class_id in t.extra_class_ids:
        r = await http.post(
            f"{SERVICE}/CreateWarmPool",
            headers=auth(t),
            json=create_body(t, environmentClassId=class_id),
        )
        assert r.status_code == 200
    body = {"pagination": {"pageSize": 50}}
    first = (
        await http.post(f"/api{SERVICE}/ListWarmPools?pageSize=2", headers=auth(t), json=body)
    ).json()
    assert len(first["warmPools"]) == 2
    token = first["pagination"]["nextToken"]
    seen = [p["id"] for p in first["warmPools"]]
    while token:
        page = await http.post(
            f"/api{SERVICE}/ListWarmPools",
            params={"token": token, "pageSize": "2"},
            headers=auth(t),
            json=body,
        )
        assert page.status_code == 200, page.text
        data = page.json()
        assert len(data["warmPools"]) <= 2
        seen += [p["id"] for p in data["warmPools"]]
        token = data["pagination"].get("nextToken", "")
    assert len(seen) == 5 and len(set(seen)) == 5


async def test_bad_page_size_query_is_invalid_argument(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    for value in ("ten", "1000", "-1", "99999999999999999999"):
        resp = await http.post(
            f"{SERVICE}/ListWarmPools?pageSize={value}", headers=auth(tenant), json={}
        )
        assert resp.status_code == 400, (value, resp.text)
        assert resp.json()["code"] == "invalid_argument"


async def test_body_over_the_limit_by_content_length_is_resource_exhausted(
    http: httpx.AsyncClient, tenant: Tenant, server: InProcessServer
) -> None:
    big = b'{"projectId": "' + b"x" * (server.settings.max_request_bytes + 10) + b'"}'
    resp = await http.post(f"{SERVICE}/CreateWarmPool", headers=auth(tenant), content=big)
    assert resp.status_code == 429
    assert resp.json()["code"] == "resource_exhausted"


async def test_chunked_body_over_the_limit_is_resource_exhausted(
    http: httpx.AsyncClient, tenant: Tenant, server: InProcessServer
) -> None:
    chunk = b" " * 65536

    async def stream() -> AsyncIterator[bytes]:
        for _ in range(server.settings.max_request_bytes // len(chunk) + 2):
            yield chunk

    resp = await http.post(f"{SERVICE}/CreateWarmPool", headers=auth(tenant), content=stream())
    assert resp.status_code == 429
    assert resp.json()["code"] == "resource_exhausted"


async def test_gzip_bomb_is_rejected_without_inflating_it(
    http: httpx.AsyncClient, tenant: Tenant, server: InProcessServer
) -> None:
    bomb = gzip.compress(b" " * (200 * 1024 * 1024), compresslevel=9)  # 200 MiB of spaces
    assert len(bomb) < server.settings.max_request_bytes
    headers = auth(tenant, **{"Content-Encoding": "gzip"})
    resp = await http.post(f"{SERVICE}/CreateWarmPool", headers=headers, content=bomb)
    assert resp.status_code == 429
    assert resp.json()["code"] == "resource_exhausted"


@pytest.mark.parametrize("encoding", ["br", "GZIP", "deflate, gzip"])
async def test_unsupported_content_encoding_is_a_client_error(
    http: httpx.AsyncClient, tenant: Tenant, encoding: str
) -> None:
    headers = auth(tenant, **{"Content-Encoding": encoding})
    resp = await http.post(f"{SERVICE}/ListWarmPools", headers=headers, content=b"{}")
    assert resp.status_code == 400
    assert resp.json()["code"] == "invalid_argument"


async def test_unknown_method_and_service_are_not_found(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    for path in (f"{SERVICE}/Nope", "/gitpod.v1.Nope/Get", "/api/x", "/"):
        resp = await http.post(path, headers=auth(tenant), content=b"{}")
        assert resp.status_code == 404, path


async def test_unsupported_media_type_is_415(http: httpx.AsyncClient, tenant: Tenant) -> None:
    headers = auth(tenant, **{"Content-Type": "text/xml"})
    resp = await http.post(f"{SERVICE}/ListWarmPools", headers=headers, content=b"<x/>")
    assert resp.status_code == 415


async def test_connect_timeout_header_is_honoured(
    http: httpx.AsyncClient, tenant: Tenant, server: InProcessServer
) -> None:
    created = (
        await http.post(f"{SERVICE}/CreateWarmPool", headers=auth(tenant), json=create_body(tenant))
    ).json()
    pool_id = created["warmPool"]["id"]
    async with server.db.transaction() as conn:
        await conn.execute("SELECT 1 FROM warm_pools WHERE id = $1 FOR UPDATE", pool_id)
        resp = await http.post(
            f"{SERVICE}/UpdateWarmPool",
            headers=auth(tenant, **{"Connect-Timeout-Ms": "200"}),
            json={"warmPoolId": pool_id, "maxSize": 2},
        )
    assert resp.status_code == 504
    assert resp.json()["code"] == "deadline_exceeded"


@pytest.mark.parametrize("value", ["soon", "-5", "12345678901"])
async def test_malformed_timeout_header_is_invalid_argument(
    http: httpx.AsyncClient, tenant: Tenant, value: str
) -> None:
    resp = await http.post(
        f"{SERVICE}/ListWarmPools", headers=auth(tenant, **{"Connect-Timeout-Ms": value}), json={}
    )
    assert resp.status_code == 400
    assert resp.json()["code"] == "invalid_argument"


async def test_error_carries_bad_request_detail(http: httpx.AsyncClient, tenant: Tenant) -> None:
    resp = await http.post(f"{SERVICE}/GetWarmPool", headers=auth(tenant), json={"warmPoolId": "x"})
    assert resp.status_code == 400
    assert resp.json()["message"] == "warm_pool_id: must be a valid UUID"
    assert violations_of(resp) == [("warm_pool_id", "must be a valid UUID")]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Basic abc"}, 401), ({"Authorization": "Bearer nope"}, 401)],
)
async def test_authentication_failures_are_401(
    http: httpx.AsyncClient, headers: dict[str, str], status: int
) -> None:
    resp = await http.post(
        f"{SERVICE}/ListWarmPools",
        headers={"Content-Type": "application/json", **headers},
        content=b"{}",
    )
    assert resp.status_code == status
    assert resp.json()["code"] == "unauthenticated"


async def test_health_readiness_and_metrics(http: httpx.AsyncClient, tenant: Tenant) -> None:
    assert (await http.get("/healthz")).status_code == 200
    ready = await http.get("/readyz")
    assert ready.status_code == 200 and ready.text.strip() == "ready"
    await http.post(f"{SERVICE}/ListWarmPools", headers=auth(tenant), json={})
    metrics = await http.get("/metrics")
    assert metrics.status_code == 200
    assert (
        'warmpool_rpc_requests_total{code="ok",method="ListWarmPools",transport="connect"}'
        in metrics.text
    )


async def test_h2c_prior_knowledge_is_served(server: InProcessServer, tenant: Tenant) -> None:
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{server.http_port}", http1=False, http2=True
    ) as h2:
        resp = await h2.post(f"{SERVICE}/ListWarmPools", headers=auth(tenant), json={})
    assert resp.status_code == 200
    assert resp.http_version == "HTTP/2"


async def test_uuid_with_trailing_newline_is_invalid_not_internal(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    resp = await http.post(
        f"{SERVICE}/GetWarmPool",
        headers=auth(tenant),
        json={"warmPoolId": "afbac663-a855-4c1d-9a3d-28e78fef52fb\n"},
    )
    assert resp.status_code == 400
    assert resp.json()["message"] == "warm_pool_id: must be a valid UUID"


@pytest.mark.parametrize("header", ["User-Agent", "X-Anything", "Authorization"])
async def test_non_utf8_header_bytes_never_fail_the_server(
    http: httpx.AsyncClient, tenant: Tenant, header: str
) -> None:
    headers: dict[str, Any] = auth(tenant)
    headers[header] = b"Bearer caf\xe9" if header == "Authorization" else b"caf\xe9\xff"
    resp = await http.post(f"{SERVICE}/ListWarmPools", headers=headers, content=b"{}")
    assert resp.status_code == (401 if header == "Authorization" else 200), resp.text


@pytest.mark.parametrize("body", [b'"abc"', b"[]", b"null", b"42", b"true"])
async def test_json_body_that_is_not_an_object_is_invalid_argument(
    http: httpx.AsyncClient, tenant: Tenant, body: bytes
) -> None:
    resp = await http.post(f"{SERVICE}/ListWarmPools", headers=auth(tenant), content=body)
    assert resp.status_code == 400
    error = resp.json()
    assert error["code"] == "invalid_argument"
    assert "must be a JSON object" in error["message"]


async def test_duplicate_json_keys_are_invalid_argument(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = b'{"warmPoolId": "a", "warmPoolId": "b"}'
    resp = await http.post(f"{SERVICE}/GetWarmPool", headers=auth(tenant), content=body)
    assert resp.status_code == 400
    assert "duplicate key" in resp.json()["message"]


@pytest.mark.parametrize("value", ["5_0", "٣", " 5", "1e1", ""])
async def test_page_size_query_must_be_plain_digits(
    http: httpx.AsyncClient, tenant: Tenant, value: str
) -> None:
    resp = await http.post(
        f"{SERVICE}/ListWarmPools", params={"pageSize": value}, headers=auth(tenant), json={}
    )
    assert resp.status_code == 400
    assert resp.json()["message"].startswith("pagination.page_size: must be between 0 and 100")


@pytest.mark.parametrize(
    "params",
    [
        {"encoding": "proto", "base64": "1", "message": "!!!!"},
        {"encoding": "json", "message": "{}", "connect": "v2"},
    ],
)
async def test_malformed_get_queries_are_invalid_argument(
    http: httpx.AsyncClient, tenant: Tenant, params: dict[str, str]
) -> None:
    resp = await http.get(
        f"{SERVICE}/ListWarmPools",
        params=params,
        headers={"Authorization": f"Bearer {tenant.admin}"},
    )
    assert resp.status_code == 400
    assert resp.json()["code"] == "invalid_argument"


async def test_content_encoding_is_case_insensitive(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = auth(tenant, **{"Content-Encoding": "GZIP"})
    resp = await http.post(
        f"{SERVICE}/ListWarmPools", headers=headers, content=gzip.compress(b"{}")
    )
    assert resp.status_code == 200, resp.text


async def test_grpc_sent_to_the_http_port_is_told_where_to_go(
    server: InProcessServer, tenant: Tenant
) -> None:
    import grpc
    from gitpod.v1 import prebuild_pb2_grpc

    async with grpc.aio.insecure_channel(f"127.0.0.1:{server.http_port}") as channel:
        stub = prebuild_pb2_grpc.PrebuildServiceStub(channel)  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await stub.ListWarmPools(
                pb.ListWarmPoolsRequest(), metadata=(("authorization", f"Bearer {tenant.admin}"),)
            )
    assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "gRPC port" in (err.value.details() or "")


async def test_protocol_rejections_are_counted_in_metrics(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = auth(tenant, **{"Content-Type": "text/xml"})
    await http.post(f"{SERVICE}/ListWarmPools", headers=headers, content=b"<x/>")
    metrics = (await http.get("/metrics")).text
    assert (
        'warmpool_http_responses_total{service="gitpod.v1.PrebuildService",status="415"}' in metrics
    )


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        # protobuf's lenient parser would read these as an empty message (no filter, no spec).
        ("ListWarmPools", {"filter": "x"}, "filter"),
        ("ListWarmPools", {"pagination": []}, "pagination"),
        ("ListPrebuilds", {"filter": {"projectIds": SOME_PROJECT_ID}}, "filter.project_ids"),
        ("CreatePrebuild", {"projectId": SOME_PROJECT_ID, "spec": "x"}, "spec"),
        ("CreatePrebuild", {"projectId": SOME_PROJECT_ID, "spec": []}, "spec"),
        ("CreateWarmPool", {"projectId": 123}, "project_id"),
        ("CreateWarmPool", {"minSize": True}, "min_size"),
        ("CreateWarmPool", {"maxSize": {"n": 1}}, "max_size"),
        ("CreatePrebuild", {"spec": {"timeout": 600}}, "spec.timeout"),
    ],
)
async def test_json_value_of_the_wrong_kind_names_the_field(
    http: httpx.AsyncClient, tenant: Tenant, method: str, body: dict[str, Any], field: str
) -> None:
    resp = await http.post(f"{SERVICE}/{method}", headers=auth(tenant), json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["code"] == "invalid_argument"
    assert field in [f for f, _ in violations_of(resp)]
    assert resp.json()["message"].startswith(f"{field}: must be")


@pytest.mark.parametrize(
    ("method", "body", "field"),
    [
        ("ListPrebuilds", {"filter": {"phases": ["PREBUILD_PHASE_NOPE"]}}, "filter.phases[0]"),
        ("ListPrebuilds", {"filter": {"triggeredBy": ["x"]}}, "filter.triggered_by[0]"),
        ("CreatePrebuild", {"spec": {"desiredPhase": "COMPLETED"}}, "spec.desired_phase"),
    ],
)
async def test_unknown_enum_name_is_invalid_argument_not_dropped(
    http: httpx.AsyncClient, tenant: Tenant, method: str, body: dict[str, Any], field: str
) -> None:
    resp = await http.post(f"{SERVICE}/{method}", headers=auth(tenant), json=body)
    assert resp.status_code == 400, resp.text
    [(got, rule)] = violations_of(resp)
    assert got == field and "names or numbers" in rule


async def test_null_and_unknown_fields_stay_accepted(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {"filter": None, "pagination": {"pageSize": None}, "someFutureField": {"a": [1]}}
    resp = await http.post(f"{SERVICE}/ListWarmPools", headers=auth(tenant), json=body)
    assert resp.status_code == 200, resp.text


async def test_deeply_nested_json_is_invalid_argument_naming_the_body(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = b'{"x":' * 100_000 + b"1" + b"}" * 100_000
    resp = await http.post(f"{SERVICE}/ListWarmPools", headers=auth(tenant), content=body)
    assert resp.status_code == 400
    assert violations_of(resp) == [("body", "is nested too deeply")]


def grpc_web(t: Tenant) -> dict[str, str]:
    return {"Content-Type": "application/grpc-web+proto", "Authorization": f"Bearer {t.admin}"}


@pytest.mark.parametrize("encoding", [None, "identity"])
async def test_grpc_web_message_flagged_compressed_without_encoding_is_invalid_argument(
    http: httpx.AsyncClient, tenant: Tenant, encoding: str | None
) -> None:
    headers = grpc_web(tenant)
    if encoding:
        headers["grpc-encoding"] = encoding
    resp = await http.post(f"{SERVICE}/ListWarmPools", headers=headers, content=b"\x01\0\0\0\0")
    assert resp.status_code == 200
    assert resp.headers["grpc-status"] == "3"
    assert "no grpc-encoding" in resp.headers["grpc-message"]


async def test_uncompressed_grpc_web_call_is_served(
    http: httpx.AsyncClient, tenant: Tenant
) -> None:
    headers = grpc_web(tenant)
    request = pb.GetWarmPoolRequest(warm_pool_id=str(uuid.uuid4())).SerializeToString()
    frame = b"\0" + len(request).to_bytes(4, "big") + request
    resp = await http.post(f"{SERVICE}/GetWarmPool", headers=headers, content=frame)
    assert resp.status_code == 200
    # An unknown id: the call reached the service through the replayed body.
    assert b"grpc-status:5" in resp.content.replace(b" ", b"")
