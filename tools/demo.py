"""`make demo`: a warm pool's life, watched through curl and grpcurl.

Starts a server (embedded Postgres in .warmpool-demo/) whose simulated provider takes
seconds, like real infrastructure, then: creates a pool (PENDING: no snapshot), runs a
prebuild (PENDING → … → COMPLETED) and watches the pool become READY, claims instances as a
runner and watches them being replaced, runs a second prebuild and watches the rotation
(ready capacity never below the target), and deletes the pool (DELETING → DELETED).
Every call is a real curl or grpcurl command, printed with its answer.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / ".warmpool-demo"


def _port(variable: str, default: int) -> int:
    """The port asked for, else the usual one if free, else any free one."""
    if variable in os.environ:
        return int(os.environ[variable])
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", default))
        except OSError:
            probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


HTTP = _port("DEMO_HTTP_PORT", 8080)
GRPC = _port("DEMO_GRPC_PORT", 9090)
BASE = f"http://127.0.0.1:{HTTP}"
GRPCURL = str(REPO / ".venv" / "bin" / "grpcurl")
PROJECT = "b0e12f6c-4c67-429d-a4a6-d9838b5da047"
CLASS = "d2c94c27-3b76-4a42-b88c-95a85e392c68"
ORG = "5b9c2a63-1a1e-4d51-9a37-7e0f6a1c0d01"
SETTINGS = {
    "WARMPOOL_SIM_CREATE_SECONDS": "4",
    "WARMPOOL_SIM_START_SECONDS": "2",
    "WARMPOOL_SIM_STOP_SECONDS": "1",
    "WARMPOOL_SIM_DELETE_SECONDS": "2",
    "WARMPOOL_SIM_PREBUILD_SECONDS": "6",
    "WARMPOOL_DEMAND_WINDOW_SECONDS": "20",
    "WARMPOOL_SCALE_IN_STABILIZATION_SECONDS": "20",
}
STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"\n\033[1m== {text}\033[0m", flush=True)


def stamp() -> str:
    return f"[t+{time.monotonic() - STARTED:5.1f}s]"


def run(command: list[str], show: bool = True) -> Any:
    """Run a curl/grpcurl command, print it (token elided) and its JSON answer."""
    shown = " ".join(shlex.quote(c) for c in command).replace(TOKENS.get("admin", "-"), "$TOKEN")
    shown = shown.replace(TOKENS.get("runner", "-"), "$RUNNER_TOKEN")
    out = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    text = out.stdout.strip() or out.stderr.strip()
    if show:
        print(f"$ {shown}\n{text}", flush=True)
    try:
        return json.loads(text) if text else {}
    except json.JSONDecodeError:
        return {"raw": text}


def curl(path: str, body: dict[str, Any], token: str, show: bool = True) -> Any:
    return run(
        [
            "curl", "-sS", f"{BASE}{path}",
            "-H", "Content-Type: application/json",
            "-H", f"Authorization: Bearer {token}",
            "-d", json.dumps(body),
        ],
        show,
    )  # fmt: skip


def grpcurl(method: str, body: dict[str, Any], token: str, show: bool = True) -> Any:
    return run(
        [
            GRPCURL, "-plaintext", "-H", f"authorization: Bearer {token}",
            "-d", json.dumps(body), f"127.0.0.1:{GRPC}", method,
        ],
        show,
    )  # fmt: skip


def pool_line(pool: dict[str, Any]) -> str:
    spec, status = pool.get("spec", {}), pool.get("status", {})
    snapshot = spec.get("snapshotId", "-")[:8]
    return (
        f"{stamp()} phase {status.get('phase', '?').removeprefix('WARM_POOL_PHASE_'):9} "
        f"running {status.get('runningInstances', 0)}  stopped {status.get('stoppedInstances', 0)}"
        f"  desired {status.get('desiredSize', 0)}  snapshot {snapshot}  "
        f"statusVersion {status.get('statusVersion')}"
    )


def get_pool(pool_id: str) -> dict[str, Any]:
    answer = curl(
        "/gitpod.v1.PrebuildService/GetWarmPool", {"warmPoolId": pool_id}, TOKENS["admin"], False
    )
    pool: dict[str, Any] = answer["warmPool"]
    return pool


def watch_pool(pool_id: str, done: Any, seconds: float, every: float = 1.0) -> dict[str, Any]:
    """Print the pool each time it changes, until `done(pool)` (at most `seconds`)."""
    print(f"(watching GetWarmPool every {every:g}s)", flush=True)
    deadline = time.monotonic() + seconds
    last = ""
    while True:
        pool = get_pool(pool_id)
        line = pool_line(pool)
        if line.split("] ", 1)[1] != last:
            print(line, flush=True)
            last = line.split("] ", 1)[1]
        if done(pool) or time.monotonic() > deadline:
            return pool
        time.sleep(every)


def phase(pool: dict[str, Any]) -> str:
    return str(pool.get("status", {}).get("phase", ""))


TOKENS: dict[str, str] = {}
METRICS_SHOWN = (
    "warmpool_claims_total",
    "warmpool_pool_targets",
    "warmpool_convergence_seconds_count",
    "warmpool_reconciled_pools_total",
    'warmpool_instances{freshness="current",state="ready"}',
)


def main() -> int:
    if "--fresh" in sys.argv and DATA.exists():
        shutil.rmtree(DATA)
    env = dict(os.environ, WARMPOOL_DATA_DIR=str(DATA), WARMPOOL_HTTP_PORT=str(HTTP),
               WARMPOOL_GRPC_PORT=str(GRPC), WARMPOOL_LOG_LEVEL="WARNING", **SETTINGS)  # fmt: skip
    say("Start the server: embedded Postgres, simulated provider with latencies in seconds")
    print(" ".join(f"{k}={v}" for k, v in SETTINGS.items()) + " python -m server serve")
    log = (DATA.parent / ".warmpool-demo.log").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "server", "serve"], cwd=REPO, env=env, stdout=log, stderr=log
    )
    try:
        for _ in range(600):
            try:
                with urllib.request.urlopen(f"{BASE}/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.1)
        else:
            print("server did not start; see .warmpool-demo.log")
            return 1
        TOKENS["admin"] = (DATA / "demo-token").read_text().strip()
        created = subprocess.run(
            [sys.executable, "-m", "server", "admin", "create-token", "--org", ORG,
             "--role", "runner", "--name", f"demo-runner-{int(time.time())}"],
            cwd=REPO, env=env, capture_output=True, text=True, check=True,
        )  # fmt: skip
        TOKENS["runner"] = created.stdout.split("token:")[1].split()[0]
        print("admin token from .warmpool-demo/demo-token; a runner token from")
        print(f"$ python -m server admin create-token --org {ORG} --role runner")
        return demo()
    finally:
        say("Stop the server (SIGTERM: drains calls, stops the controller, stops Postgres)")
        server.send_signal(signal.SIGTERM)
        server.wait(60)
        print(f"exit code {server.returncode}")


def demo() -> int:
    admin, runner = TOKENS["admin"], TOKENS["runner"]
    for pool in curl("/gitpod.v1.PrebuildService/ListWarmPools", {}, admin, False).get(
        "warmPools", []
    ):
        curl("/gitpod.v1.PrebuildService/DeleteWarmPool", {"warmPoolId": pool["id"]}, admin, False)

    say("1. Create a warm pool (min 2, max 4): PENDING, no snapshot, no instances")
    pool = curl(
        "/api/gitpod.v1.PrebuildService/CreateWarmPool",
        {"environmentClassId": CLASS, "projectId": PROJECT, "minSize": 2, "maxSize": 4},
        admin,
    )["warmPool"]
    pool_id = pool["id"]

    say("2. Run a prebuild; when it completes, the pool takes its snapshot and warms up")
    prebuild = grpcurl(
        "gitpod.v1.PrebuildService/CreatePrebuild", {"projectId": PROJECT, "spec": {}}, admin
    )["prebuild"]
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = curl(
            "/gitpod.v1.PrebuildService/GetPrebuild", {"prebuildId": prebuild["id"]}, admin, False
        )["prebuild"]["status"]
        if not seen or seen[-1] != got["phase"]:
            seen.append(got["phase"])
            extra = (
                f" {got.get('snapshotCompletionPercentage', 0)}%" if "SNAP" in got["phase"] else ""
            )
            print(f"{stamp()} prebuild {got['phase'].removeprefix('PREBUILD_PHASE_')}{extra}")
        if got["phase"] == "PREBUILD_PHASE_COMPLETED":
            break
        time.sleep(0.5)
    watch_pool(pool_id, lambda p: phase(p) == "WARM_POOL_PHASE_READY", 60)

    say("3. A runner claims two instances (warmpool.v1 claim API): each is replaced")
    stamp_id = int(time.time())
    claims = [
        curl(
            "/warmpool.v1.WarmPoolRuntimeService/ClaimInstance",
            {"warmPoolId": pool_id, "claimId": f"demo-claim-{n}-{stamp_id}"},
            runner,
        )
        for n in (1, 2)
    ]
    dipped = False

    def replenished(p: dict[str, Any]) -> bool:
        nonlocal dipped
        running = p["status"].get("runningInstances", 0)
        dipped = dipped or running < 2
        return dipped and running == 2 and phase(p) == "WARM_POOL_PHASE_READY"

    watch_pool(pool_id, replenished, 60, every=0.5)
    say("   Retrying a claim id returns the same instance (idempotent; not new demand)")
    again = grpcurl(
        "warmpool.v1.WarmPoolRuntimeService/ClaimInstance",
        {"warmPoolId": pool_id, "claimId": f"demo-claim-1-{stamp_id}"},
        runner,
    )
    same = again.get("instance", {}).get("id") == claims[0]["instance"]["id"]
    print(f"same instance as the first claim: {same}")

    say("4. A new prebuild: the pool rotates to the new snapshot, never below 2 running")
    before = get_pool(pool_id)["spec"]["snapshotId"]
    grpcurl("gitpod.v1.PrebuildService/CreatePrebuild", {"projectId": PROJECT, "spec": {}}, admin)
    low = 99

    def rotated(p: dict[str, Any]) -> bool:
        nonlocal low
        low = min(low, p["status"].get("runningInstances", 0))
        return p["spec"].get("snapshotId") != before and phase(p) == "WARM_POOL_PHASE_READY"

    watch_pool(pool_id, rotated, 90, every=0.5)
    print(f"lowest running count seen during the rotation: {low}")

    say("5. Delete the pool: its instances drain, then it is DELETED")
    curl("/gitpod.v1.PrebuildService/DeleteWarmPool", {"warmPoolId": pool_id}, admin)
    watch_pool(pool_id, lambda p: phase(p) == "WARM_POOL_PHASE_DELETED", 60)

    say("6. What the controller reported meanwhile (/metrics, excerpt)")
    with urllib.request.urlopen(f"{BASE}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(METRICS_SHOWN):
                print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
