"""Prometheus metrics of the process, served at /metrics on the HTTP port."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

RPC_REQUESTS = Counter(
    "warmpool_rpc_requests",
    "RPCs answered, by transport, method and status code.",
    ["transport", "method", "code"],
    registry=REGISTRY,
)
RPC_SECONDS = Histogram(
    "warmpool_rpc_duration_seconds",
    "Time to answer an RPC, by transport and method.",
    ["transport", "method"],
    registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
HTTP_RESPONSES = Counter(
    "warmpool_http_responses",
    "Responses on the HTTP port by service and HTTP status, protocol-level rejections included.",
    ["service", "status"],
    registry=REGISTRY,
)

# --- Claims and the controller (docs/controller.md, "Metrics") --------------------------------

CLAIMS = Counter(
    "warmpool_claims",
    "Claim attempts answered by this process, by outcome (running, starting, miss).",
    ["outcome"],
    registry=REGISTRY,
)
CLAIM_SECONDS = Histogram(
    "warmpool_claim_duration_seconds",
    "Time of the claim statement, from the service's point of view.",
    registry=REGISTRY,
    buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
)
RECONCILE_SECONDS = Histogram(
    "warmpool_reconcile_duration_seconds",
    "Time of one reconcile round of a batch of pools (observe, plan, act).",
    registry=REGISTRY,
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
RECONCILE_POOLS = Counter(
    "warmpool_reconciled_pools",
    "Pool reconciles done by this process.",
    registry=REGISTRY,
)
RECONCILE_LAG_SECONDS = Histogram(
    "warmpool_reconcile_lag_seconds",
    "How late a pool's reconcile started after it became due.",
    registry=REGISTRY,
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
CONVERGENCE_SECONDS = Histogram(
    "warmpool_convergence_seconds",
    "Time from a pool leaving READY (or being created or changed) until it is READY again.",
    registry=REGISTRY,
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0),
)
CREATE_FAILURES = Counter(
    "warmpool_instance_create_failures",
    "Instance creates that failed (provider error or deadline), by environment class.",
    ["environment_class_id"],
    registry=REGISTRY,
)
# Cluster-wide values read from the database by the controller's housekeeping: every replica
# reports the same numbers, so aggregate them with max(), not sum().
INSTANCES = Gauge(
    "warmpool_instances",
    "Instances by state and snapshot freshness (current: on the pool's snapshot; stale).",
    ["state", "freshness"],
    registry=REGISTRY,
)
POOL_TARGETS = Gauge(
    "warmpool_pool_targets",
    "Sum over live pools of the controller's targets (running; total = status.desired_size).",
    ["target"],
    registry=REGISTRY,
)
POOLS = Gauge(
    "warmpool_pools",
    "Warm pools by phase (DELETED ones left out).",
    ["phase"],
    registry=REGISTRY,
)


def observe_claim(outcome: str, seconds: float) -> None:
    CLAIMS.labels(outcome).inc()
    CLAIM_SECONDS.observe(seconds)


def observe_rpc(transport: str, method: str, code: str, seconds: float) -> None:
    RPC_REQUESTS.labels(transport, method, code).inc()
    RPC_SECONDS.labels(transport, method).observe(seconds)


def exposition() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
