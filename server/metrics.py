"""Prometheus metrics of the process, served at /metrics on the HTTP port."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
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


def observe_rpc(transport: str, method: str, code: str, seconds: float) -> None:
    RPC_REQUESTS.labels(transport, method, code).inc()
    RPC_SECONDS.labels(transport, method).observe(seconds)


def exposition() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
