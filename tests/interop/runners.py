"""Every interop client, as a function that runs the plan against the real server process.

Each runner turns the client's own output into the plan's outcome shape (`plan.py`): the
response as canonical proto3 JSON, or the error with its Connect code name plus what the
client itself reported (exit code, HTTP status, SDK exception class). The rows of the printed
matrix are the keys of `CLIENTS`, in this order.
"""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from gitpod.v1 import prebuild_pb2, prebuild_pb2_grpc
from google.protobuf import json_format
from google.rpc import status_pb2

from tests.interop import toolchains
from tests.interop.plan import JSON, Call, Outcome, Plan, run_plan
from tests.interop.toolchains import run

if TYPE_CHECKING:
    from tests.support.servers import ServerProcess

SERVICE = "gitpod.v1.PrebuildService"
# A deadline some clients set on every call, as users do: it travels as Connect-Timeout-Ms
# or grpc-timeout, which the server must accept (and honour).
DEADLINE = 30_000
CURL_HINT = "install curl (apt-get install curl)"

# gRPC status numbers → Connect code names.
CODE_NAMES = {
    1: "canceled",
    2: "unknown",
    3: "invalid_argument",
    4: "deadline_exceeded",
    5: "not_found",
    6: "already_exists",
    7: "permission_denied",
    8: "resource_exhausted",
    9: "failed_precondition",
    10: "aborted",
    11: "out_of_range",
    12: "unimplemented",
    13: "internal",
    14: "unavailable",
    15: "data_loss",
    16: "unauthenticated",
}


@dataclass
class InteropEnv:
    server: ServerProcess
    work_dir: Path

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.server.grpc_port}"

    @property
    def api_url(self) -> str:
        """The public deployment's base URL shape: Connect under the `/api` prefix."""
        return f"{self.server.base_url}/api"


Runner = Callable[[InteropEnv, Plan], dict[str, Outcome]]


def _json_output(text: str, what: str) -> JSON:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise AssertionError(f"{what} printed no JSON: {text[-2000:]!r}") from None


def _auth_args(flag: str, token: str | None) -> list[str]:
    return [flag, f"authorization: Bearer {token}"] if token is not None else []


# --- gitpod-sdk (its own venv) -----------------------------------------------------------


def run_sdk_program(job: JSON, *, legacy: bool = False) -> JSON:
    """Run sdk_client.py (or legacy_sdk_client.py) with `job` in its own venv."""
    if legacy:
        python = toolchains.sdk_python(toolchains.LEGACY_SDK_REQUIREMENTS)
        module = "tests.interop.legacy_sdk_client"
    else:
        python = toolchains.sdk_python()
        module = "tests.interop.sdk_client"
    result = run(
        [str(python), "-m", module],
        input=json.dumps(job),
        env=toolchains.clean_env(),
        timeout=120,
    )
    if result.returncode != 0:
        raise AssertionError(f"{module} failed:\n{result.stderr[-4000:]}")
    return _json_output(result.stdout, module)


def _sdk(mode: str) -> Runner:
    def runner(env: InteropEnv, plan: Plan) -> dict[str, Outcome]:
        job = {
            "mode": mode,
            "baseUrl": env.api_url,
            "timeoutMs": DEADLINE,
            "plan": plan.as_json(),
        }
        outcomes: dict[str, Outcome] = run_sdk_program(job)["outcomes"]
        return outcomes

    return runner


def _legacy_sdk(env: InteropEnv, plan: Plan) -> dict[str, Outcome]:
    job = {"baseUrl": env.api_url, "plan": plan.as_json()}
    outcomes: dict[str, Outcome] = run_sdk_program(job, legacy=True)["outcomes"]
    return outcomes


# --- grpcurl (reflection only) -----------------------------------------------------------


def grpcurl_call(env: InteropEnv) -> Call:
    grpcurl = toolchains.venv_tool("grpcurl")

    def call(method: str, body: JSON, token: str | None) -> Outcome:
        args = [grpcurl, "-plaintext", "-format-error", "-max-time", str(DEADLINE // 1000)]
        args += _auth_args("-H", token)
        args += ["-d", "@", env.grpc_target, f"{SERVICE}/{method}"]
        result = run(args, input=json.dumps(body), timeout=30)
        if result.returncode == 0:
            return {"ok": _json_output(result.stdout, "grpcurl")}
        status = _json_output(result.stdout or result.stderr, "grpcurl -format-error")
        violations = [
            [v["field"], v["description"]]
            for detail in status.get("details", [])
            for v in detail.get("field_violations", detail.get("fieldViolations", []))
        ]
        return {
            "error": {
                "code": CODE_NAMES.get(status.get("code", 2), "unknown"),
                "message": status.get("message", ""),
                "violations": violations,
                "exitCode": result.returncode,
            }
        }

    return call


# --- buf curl ----------------------------------------------------------------------------


def buf_curl_call(env: InteropEnv, protocol: str) -> Call:
    """`buf curl` over one protocol: gRPC on the gRPC port with its schema from server
    reflection; Connect and gRPC-Web on the HTTP port with `--schema` (this repo's protos)."""
    buf = toolchains.venv_tool("buf")
    if protocol == "grpc":
        base = [buf, "curl", "--protocol", "grpc", "--http2-prior-knowledge"]
        url = f"http://{env.grpc_target}"
    else:
        image = toolchains.buf_image(env.work_dir)
        base = [buf, "curl", "--protocol", protocol, "--schema", str(image)]
        url = env.api_url

    def call(method: str, body: JSON, token: str | None) -> Outcome:
        args = [*base, *_auth_args("-H", token), "-d", "@-", f"{url}/{SERVICE}/{method}"]
        result = run(args, input=json.dumps(body), timeout=30)
        if result.returncode == 0:
            return {"ok": _json_output(result.stdout, "buf curl")}
        error = _json_output(result.stderr, "buf curl (error)")
        return {
            "error": {
                "code": error.get("code", "unknown"),
                "message": error.get("message", ""),
                "details": error.get("details", []),
                "exitCode": result.returncode,
            }
        }

    return call


# --- curl with JSON ----------------------------------------------------------------------


@dataclass(frozen=True)
class CurlResponse:
    status: int
    headers: dict[str, str]  # lower-cased names; the last value of a repeated header
    body: bytes

    def json(self) -> JSON:
        return _json_output(self.body.decode(), "the server (via curl)")


def curl(args: list[str], *, stdin: bytes | None = None) -> CurlResponse:
    """Run curl with `args` (URL and options); returns status, headers and the raw body."""
    curl_bin = toolchains.system_tool("curl", CURL_HINT)
    with tempfile.TemporaryDirectory() as tmp:
        headers_file, body_file = Path(tmp) / "headers", Path(tmp) / "body"
        result = subprocess.run(
            [curl_bin, "-sS", "-D", str(headers_file), "-o", str(body_file), *args],
            input=stdin,
            capture_output=True,
            timeout=30,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"curl failed ({result.returncode}): {result.stderr.decode()}")
        lines = headers_file.read_text(errors="replace").splitlines()
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        return CurlResponse(status, headers, body_file.read_bytes())


def curl_outcome(response: CurlResponse) -> Outcome:
    if response.status == 200:
        return {"ok": response.json()}
    error = response.json()
    return {
        "error": {
            "code": error.get("code", "unknown"),
            "message": error.get("message", ""),
            "details": error.get("details", []),
            "httpStatus": response.status,
        }
    }


def curl_json_call(env: InteropEnv) -> Call:
    toolchains.system_tool("curl", CURL_HINT)  # fail the client as a whole, not step by step

    def call(method: str, body: JSON, token: str | None) -> Outcome:
        args = [f"{env.api_url}/{SERVICE}/{method}", "-H", "Content-Type: application/json"]
        args += [*_auth_args("-H", token), "--data-binary", "@-"]
        return curl_outcome(curl(args, stdin=json.dumps(body).encode()))

    return call


# --- TypeScript (generated with protoc-gen-es, @connectrpc/connect-node) ------------------


def run_ts_program(job: JSON) -> JSON:
    program = toolchains.build_typescript_client()
    result = run([toolchains.node(), str(program)], input=json.dumps(job), timeout=120)
    if result.returncode != 0:
        raise AssertionError(f"the TypeScript client failed:\n{result.stderr[-4000:]}")
    return _json_output(result.stdout, "the TypeScript client")


def _typescript(
    transport: str, *, http2: bool = False, gzip: bool = False, timeout_ms: int = 0
) -> Runner:
    def runner(env: InteropEnv, plan: Plan) -> dict[str, Outcome]:
        base = f"http://{env.grpc_target}" if transport == "grpc" else env.api_url
        job = {
            "transport": transport,
            "baseUrl": base,
            "http2": http2,
            "gzip": gzip,
            "timeoutMs": timeout_ms,
            "plan": plan.as_json(),
        }
        outcomes: dict[str, Outcome] = run_ts_program(job)["outcomes"]
        return outcomes

    return runner


# --- grpcio stubs from gen/ --------------------------------------------------------------


def grpcio_call(channel: grpc.Channel) -> Call:
    stub = prebuild_pb2_grpc.PrebuildServiceStub(channel)  # type: ignore[no-untyped-call]

    def call(method: str, body: JSON, token: str | None) -> Outcome:
        request = getattr(prebuild_pb2, f"{method}Request")()
        json_format.ParseDict(body, request)
        metadata = (("authorization", f"Bearer {token}"),) if token is not None else ()
        try:
            response = getattr(stub, method)(request, metadata=metadata, timeout=DEADLINE / 1000)
        except grpc.RpcError as exc:
            details: list[JSON] = []
            for key, value in exc.trailing_metadata() or ():
                if key == "grpc-status-details-bin":
                    for d in status_pb2.Status.FromString(value).details:
                        details.append(
                            {
                                "type": d.type_url.rsplit("/", 1)[-1],
                                "value": base64.b64encode(d.value).decode(),
                            }
                        )
            code: Any = exc.code()
            return {
                "error": {
                    "code": CODE_NAMES.get(code.value[0], "unknown"),
                    "message": exc.details() or "",
                    "details": details,
                }
            }
        return {"ok": json_format.MessageToDict(response)}

    return call


def _grpcio(env: InteropEnv, plan: Plan) -> dict[str, Outcome]:
    with grpc.insecure_channel(env.grpc_target) as channel:
        return run_plan(plan, grpcio_call(channel))


def _in_process(make_call: Callable[[InteropEnv], Call]) -> Runner:
    def runner(env: InteropEnv, plan: Plan) -> dict[str, Outcome]:
        return run_plan(plan, make_call(env))

    return runner


CLIENTS: dict[str, Runner] = {
    "gitpod-sdk": _sdk("ona_sdk"),
    "gitpod-sdk raw+gzip+GET": _sdk("raw"),
    "gitpod-sdk 0.11 (JSON)": _legacy_sdk,
    "grpcurl (reflection)": _in_process(grpcurl_call),
    "buf curl connect": _in_process(lambda env: buf_curl_call(env, "connect")),
    "buf curl grpc": _in_process(lambda env: buf_curl_call(env, "grpc")),
    "buf curl grpcweb": _in_process(lambda env: buf_curl_call(env, "grpcweb")),
    "curl json": _in_process(curl_json_call),
    "ts connect binary": _typescript("connect-binary"),
    "ts connect json+GET": _typescript("connect-json"),
    "ts connect h2c+gzip": _typescript(
        "connect-binary", http2=True, gzip=True, timeout_ms=DEADLINE
    ),
    "ts grpc+gzip": _typescript("grpc", gzip=True, timeout_ms=DEADLINE),
    "ts grpc-web+gzip": _typescript("grpc-web", gzip=True, timeout_ms=DEADLINE),
    "grpcio (gen/)": _grpcio,
}
