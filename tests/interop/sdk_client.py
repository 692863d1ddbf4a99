"""Runs the interop plan with the official gitpod-sdk; executed by the SDK's own venv.

    <sdk-venv>/bin/python -m tests.interop.sdk_client < job.json > outcomes.json

The job names a mode:
- "ona_sdk": the way the SDK's README tells users to call it: `ona_sdk.create_client(api_key,
  base_url, timeout).services.prebuild` (binary Connect, the SDK's own HTTP transport, no
  request compression, a deadline as Connect-Timeout-Ms); errors are also mapped through
  `ona_sdk.errors.map_error`, so the outcome names the SDK exception a user would catch.
- "raw": the generated `gitpod.v1.prebuild_connect.PrebuildServiceClientSync(base_url)` with
  its defaults (pyqwest HTTP client, gzip-compressed requests) and GET for the methods marked
  NO_SIDE_EFFECTS in the SDK's own descriptors (Get/List of warm pools and of prebuilds).
- "descriptors": no calls; prints the SDK's serialized file descriptors of gitpod.v1, so the
  suite can compare them with this repo's protos field by field.

Only the SDK's packages and the standard library may be imported here: the repo's own
`gen/` must not shadow the SDK's `gitpod` package.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from typing import Any

from connectrpc.errors import ConnectError
from gitpod.v1 import identity_pb2, pagination_pb2, prebuild_connect, prebuild_pb2
from google.protobuf import descriptor_pb2, json_format

from tests.interop.plan import JSON, Outcome, plan_from_json, run_plan

# The methods the SDK's own schema marks NO_SIDE_EFFECTS: the ones Connect may send as GET.
_GET_METHODS = {
    m.name
    for m in prebuild_pb2.DESCRIPTOR.services_by_name["PrebuildService"].methods
    if m.GetOptions().idempotency_level == descriptor_pb2.MethodOptions.NO_SIDE_EFFECTS
}


def _snake(method: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()


def _error(exc: BaseException, method: str) -> Outcome:
    from ona_sdk.errors import map_error

    error: dict[str, Any] = {"sdkError": type(map_error(method, exc)).__name__}
    if isinstance(exc, ConnectError):
        error.update(
            code=exc.code.value,
            message=exc.message,
            details=[
                {"type": d.type_name, "value": base64.b64encode(d.message_bytes).decode()}
                for d in exc.details
            ],
        )
    else:
        error.update(code="(not a ConnectError)", message=f"{type(exc).__name__}: {exc}")
    return {"error": error}


def _request(method: str, body: JSON) -> Any:
    message = getattr(prebuild_pb2, f"{method}Request")()
    json_format.ParseDict(body, message)
    return message


def _response(message: Any) -> JSON:
    return json_format.MessageToDict(message)


def run_ona_sdk(job: JSON) -> dict[str, Outcome]:
    from ona_sdk import create_client

    clients: dict[str | None, Any] = {}

    def call(method: str, body: JSON, token: str | None) -> Outcome:
        if token not in clients:
            clients[token] = create_client(
                api_key=token, base_url=job["baseUrl"], timeout=job["timeoutMs"] / 1000
            )
        rpc = getattr(clients[token].services.prebuild, _snake(method))
        try:
            return {"ok": _response(rpc(_request(method, body)))}
        except Exception as exc:
            return _error(exc, method)

    return run_plan(plan_from_json(job["plan"]), call)


def run_raw(job: JSON) -> dict[str, Outcome]:
    client = prebuild_connect.PrebuildServiceClientSync(job["baseUrl"])

    def call(method: str, body: JSON, token: str | None) -> Outcome:
        headers = {"authorization": f"Bearer {token}"} if token is not None else {}
        options: dict[str, Any] = {"headers": headers}
        if method in _GET_METHODS:
            options["use_get"] = True
        rpc = getattr(client, _snake(method))
        try:
            return {"ok": _response(rpc(_request(method, body), **options))}
        except Exception as exc:
            return _error(exc, method)

    return run_plan(plan_from_json(job["plan"]), call)


def descriptors() -> JSON:
    files = {}
    for module in (prebuild_pb2, pagination_pb2, identity_pb2):
        proto = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(proto)
        files[proto.name] = base64.b64encode(proto.SerializeToString()).decode()
    return {"files": files}


def main() -> None:
    job = json.load(sys.stdin)
    mode = job["mode"]
    if mode == "descriptors":
        result: JSON = descriptors()
    elif mode == "ona_sdk":
        result = {"outcomes": run_ona_sdk(job)}
    elif mode == "raw":
        result = {"outcomes": run_raw(job)}
    else:
        raise SystemExit(f"unknown mode {mode!r}")
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
