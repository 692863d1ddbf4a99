"""curl with JSON: the public docs' example verbatim, GET, the older SDKs' paging, gzip.

These run after the "curl json" client's plan (they ask for its outcomes first), on its
tenant, except the docs' example, which needs the docs' project and environment class ids:
those belong to the demo organization the suite bootstraps into its database.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
from typing import Any
from urllib.parse import quote

import pytest

from server.service import admin
from tests.interop.outcomes import error, ok, pool
from tests.interop.plan import JSON
from tests.interop.runners import CURL_HINT, SERVICE, CurlResponse, curl, curl_outcome
from tests.interop.session import Interop
from tests.interop.toolchains import system_tool

CLIENT = "curl json"

# The public API reference's CreateWarmPool example, character for character as published
# (shared/examples/api-docs-CreateWarmPool.txt); only the host is replaced.
PUBLIC_HOST = "https://app.gitpod.io"
DOCS_EXAMPLE = """curl https://app.gitpod.io/api/gitpod.v1.PrebuildService/CreateWarmPool \\
-H 'Content-Type: application/json' \\
-H "Authorization: Bearer $GITPOD_API_KEY" \\
-d '{
"environmentClassId": "d2c94c27-3b76-4a42-b88c-95a85e392c68",
"projectId": "b0e12f6c-4c67-429d-a4a6-d9838b5da047"
}'"""


def run_docs_command(interop: Interop, command: str) -> JSON:
    """Run a documented shell command as a user would, with GITPOD_API_KEY set."""
    system_tool("curl", CURL_HINT)
    result = subprocess.run(
        ["bash", "-c", command.replace(PUBLIC_HOST, interop.env.server.base_url)],
        env={**os.environ, "GITPOD_API_KEY": interop.demo_token},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def post(
    interop: Interop, method: str, body: JSON, *extra: str, token: str, query: str = ""
) -> CurlResponse:
    """POST a JSON body to /api/<service>/<method>[?query] with curl."""
    return curl(
        [
            f"{interop.env.api_url}/{SERVICE}/{method}" + (f"?{query}" if query else ""),
            "-H",
            "Content-Type: application/json",
            "-H",
            f"Authorization: Bearer {token}",
            "--data-binary",
            "@-",
            *extra,
        ],
        stdin=json.dumps(body).encode(),
    )


def ok_json(response: CurlResponse) -> Any:
    assert response.status == 200, (response.status, response.body[:500])
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


@pytest.fixture
def tenant_token(interop: Interop) -> str:
    interop.outcomes(CLIENT)  # the plan has run: its pools exist
    return interop.tenants[CLIENT].admin


@pytest.mark.interop("CreateWarmPool", client=CLIENT)
def test_docs_create_example_works_verbatim_with_the_host_changed(interop: Interop) -> None:
    created = run_docs_command(interop, DOCS_EXAMPLE)["warmPool"]
    assert created["metadata"]["projectId"] == admin.DEMO_PROJECT_ID
    assert created["metadata"]["environmentClassId"] == admin.DEMO_ENVIRONMENT_CLASS_ID
    assert created["spec"]["specVersion"] == "1"
    assert (created["spec"]["minSize"], created["spec"]["maxSize"]) == (1, 1)
    assert created["status"]["phase"] == "WARM_POOL_PHASE_PENDING"

    again = run_docs_command(interop, DOCS_EXAMPLE)
    assert again["code"] == "already_exists"

    # The page's prose example adds "desiredSize": 2. Delete first (on the bare path, as the
    # README does), which frees the pair at once.
    deleted = curl(
        [
            f"{interop.env.server.base_url}/{SERVICE}/DeleteWarmPool",
            "-H",
            "Content-Type: application/json",
            "-H",
            f"Authorization: Bearer {interop.demo_token}",
            "-d",
            json.dumps({"warmPoolId": created["id"]}),
        ]
    )
    assert ok_json(deleted) == {}
    prose = DOCS_EXAMPLE.replace('"projectId"', '"desiredSize": 2,\n"projectId"')
    sized = run_docs_command(interop, prose)["warmPool"]["spec"]
    assert (sized["desiredSize"], sized["minSize"], sized["maxSize"]) == (2, 2, 2)


@pytest.mark.interop("GetWarmPool", client=CLIENT)
def test_get_answers_http_get_like_post(interop: Interop, tenant_token: str) -> None:
    pool_id = pool(interop.outcomes(CLIENT), "create_min_max")["id"]
    body = {"warmPoolId": pool_id}
    posted = ok_json(post(interop, "GetWarmPool", body, token=tenant_token))
    got = curl(
        [
            "-G",
            f"{interop.env.api_url}/{SERVICE}/GetWarmPool",
            "--data-urlencode",
            "connect=v1",
            "--data-urlencode",
            "encoding=json",
            "--data-urlencode",
            f"message={json.dumps(body)}",
            "-H",
            f"Authorization: Bearer {tenant_token}",
        ]
    )
    assert ok_json(got) == posted


@pytest.mark.interop("ListWarmPools", client=CLIENT)
def test_list_answers_http_get_like_post(interop: Interop, tenant_token: str) -> None:
    body = {
        "pagination": {"pageSize": 3},
        "filter": {"projectIds": [interop.tenants[CLIENT].project_id]},
    }
    posted = ok_json(post(interop, "ListWarmPools", body, token=tenant_token))
    assert len(posted["warmPools"]) == 3
    message = quote(json.dumps(body, separators=(",", ":")))
    got = curl(
        [
            f"{interop.env.api_url}/{SERVICE}/ListWarmPools?encoding=json&message={message}",
            "-H",
            f"Authorization: Bearer {tenant_token}",
        ]
    )
    assert ok_json(got) == posted


@pytest.mark.interop("ListWarmPools", client=CLIENT)
def test_older_sdks_page_with_query_parameters_on_a_post(
    interop: Interop, tenant_token: str
) -> None:
    # The older JSON SDKs send the first page's body again with ?token=…&pageSize=….
    first_body = {"filter": {"projectIds": [interop.tenants[CLIENT].project_id]}}
    by_query: list[JSON] = []
    query = "pageSize=2"
    for _ in range(10):
        page = ok_json(post(interop, "ListWarmPools", first_body, token=tenant_token, query=query))
        by_query.append(page)
        next_token = page.get("pagination", {}).get("nextToken", "")
        if not next_token:
            break
        query = f"token={quote(next_token)}&pageSize=2"
    by_body: list[JSON] = []
    body: dict[str, Any] = {**first_body, "pagination": {"pageSize": 2}}
    for _ in range(10):
        page = ok_json(post(interop, "ListWarmPools", body, token=tenant_token))
        by_body.append(page)
        next_token = page.get("pagination", {}).get("nextToken", "")
        if not next_token:
            break
        body = {**first_body, "pagination": {"pageSize": 2, "token": next_token}}
    assert len(by_query) >= 3
    assert [len(p["warmPools"]) for p in by_query[:-1]] == [2] * (len(by_query) - 1)
    ids = [wp["id"] for p in by_query for wp in p["warmPools"]]
    assert len(ids) == len(set(ids))
    assert ids == [wp["id"] for p in by_body for wp in p["warmPools"]]


@pytest.mark.interop("ListWarmPools", client=CLIENT)
def test_gzip_request_and_response_bodies_on_a_read(interop: Interop, tenant_token: str) -> None:
    body = {"filter": {"projectIds": [interop.tenants[CLIENT].project_id]}}
    plain = ok_json(post(interop, "ListWarmPools", body, token=tenant_token))
    compressed = curl(
        [
            f"{interop.env.api_url}/{SERVICE}/ListWarmPools",
            "-H",
            "Content-Type: application/json",
            "-H",
            "Content-Encoding: gzip",
            "-H",
            "Accept-Encoding: gzip",
            "-H",
            f"Authorization: Bearer {tenant_token}",
            "--data-binary",
            "@-",
        ],
        stdin=gzip.compress(json.dumps(body).encode()),
    )
    assert compressed.status == 200, compressed.body[:300]
    assert compressed.headers.get("content-encoding") == "gzip"
    assert json.loads(gzip.decompress(compressed.body)) == plain


def http_get(interop: Interop, method: str, body: JSON, token: str) -> CurlResponse:
    """A Connect GET: the JSON message in the query string."""
    message = quote(json.dumps(body, separators=(",", ":")))
    return curl(
        [
            f"{interop.env.api_url}/{SERVICE}/{method}?connect=v1&encoding=json&message={message}",
            "-H",
            f"Authorization: Bearer {token}",
        ]
    )


@pytest.mark.interop("GetPrebuild", client=CLIENT)
def test_get_prebuild_answers_http_get_like_post(interop: Interop, tenant_token: str) -> None:
    prebuild = ok(interop.outcomes(CLIENT), "prebuild_create")["prebuild"]
    body = {"prebuildId": prebuild["id"]}
    posted = ok_json(post(interop, "GetPrebuild", body, token=tenant_token))
    assert posted == {"prebuild": prebuild}
    assert ok_json(http_get(interop, "GetPrebuild", body, tenant_token)) == posted


@pytest.mark.interop("ListPrebuilds", client=CLIENT)
def test_list_prebuilds_answers_http_get_like_post_and_pages_by_query(
    interop: Interop, tenant_token: str
) -> None:
    body = {
        "pagination": {"pageSize": 2},
        "filter": {"phases": ["PREBUILD_PHASE_PENDING"], "triggeredBy": [1]},  # name or number
    }
    posted = ok_json(post(interop, "ListPrebuilds", body, token=tenant_token))
    assert len(posted["prebuilds"]) == 2
    assert ok_json(http_get(interop, "ListPrebuilds", body, tenant_token)) == posted
    # The older JSON SDKs' second page: the first body again, the token in the query.
    token = quote(posted["pagination"]["nextToken"])
    second = ok_json(
        post(interop, "ListPrebuilds", body, token=tenant_token, query=f"token={token}")
    )
    assert second.get("pagination", {}).get("nextToken", "") == ""
    # Three are still PENDING (one was cancelled and one deleted), in creation order.
    outcomes = interop.outcomes(CLIENT)
    steps = ["prebuild_create", "prebuild_create_default_class", "prebuild_create_fifth"]
    assert posted["prebuilds"] + second["prebuilds"] == [
        ok(outcomes, step)["prebuild"] for step in steps
    ]


@pytest.mark.interop("UpdateWarmPool", client=CLIENT)
def test_gzip_request_body_on_a_write(interop: Interop, tenant_token: str) -> None:
    created = pool(interop.outcomes(CLIENT), "create_desired")
    updated = curl(
        [
            f"{interop.env.api_url}/{SERVICE}/UpdateWarmPool",
            "-H",
            "Content-Type: application/json",
            "-H",
            "Content-Encoding: gzip",
            "-H",
            f"Authorization: Bearer {tenant_token}",
            "--data-binary",
            "@-",
        ],
        stdin=gzip.compress(json.dumps({"warmPoolId": created["id"], "maxSize": 5}).encode()),
    )
    spec = ok_json(updated)["warmPool"]["spec"]
    assert (spec["minSize"], spec["maxSize"], spec["specVersion"]) == (2, 5, "2")


@pytest.mark.interop("errors", client=CLIENT)
def test_errors_are_connect_json_with_their_http_status(interop: Interop) -> None:
    outcomes = interop.outcomes(CLIENT)
    expected = {
        "error_invalid_argument": ("invalid_argument", 400),
        "error_unauthenticated": ("unauthenticated", 401),
        "error_permission_denied": ("permission_denied", 403),
        "error_not_found": ("not_found", 404),
        "error_already_exists": ("already_exists", 409),
    }
    for step, (code, status) in expected.items():
        assert error(outcomes, step, code)["httpStatus"] == status, step
    prebuild_errors = {
        "prebuild_error_invalid_list": ("invalid_argument", 400),
        "prebuild_error_prebuilds_disabled": ("failed_precondition", 400),
        "prebuild_error_unknown_token": ("unauthenticated", 401),
        "prebuild_error_viewer_create": ("permission_denied", 403),
        "prebuild_error_logs_token_not_found": ("not_found", 404),
    }
    for step, (code, status) in prebuild_errors.items():
        assert error(outcomes, step, code)["httpStatus"] == status, step
    assert (
        curl_outcome(post(interop, "GetWarmPool", {"warmPoolId": "nope"}, token="wpt_x"))["error"][
            "httpStatus"
        ]
        == 401
    )
