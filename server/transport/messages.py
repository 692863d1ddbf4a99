"""Domain objects to wire messages; shared by the gRPC and Connect transports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gitpod.v1 import prebuild_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp

if TYPE_CHECKING:
    from server.models import WarmPool

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime) -> Timestamp:
    delta = value - _EPOCH
    return Timestamp(seconds=delta.days * 86_400 + delta.seconds, nanos=delta.microseconds * 1000)


def warm_pool_message(pool: WarmPool) -> pb.WarmPool:
    spec = pb.WarmPoolSpec(
        spec_version=pool.spec_version,
        desired_size=pool.legacy_desired_size,
        desired_phase=int(pool.desired_phase),  # type: ignore[arg-type]
        min_size=pool.min_size,
        max_size=pool.max_size,
    )
    if pool.snapshot_id is not None:
        spec.snapshot_id = pool.snapshot_id
    return pb.WarmPool(
        id=pool.id,
        metadata=pb.WarmPoolMetadata(
            organization_id=pool.organization_id,
            project_id=pool.project_id,
            environment_class_id=pool.environment_class_id,
            runner_id=pool.runner_id,
            created_at=timestamp(pool.created_at),
            updated_at=timestamp(pool.updated_at),
        ),
        spec=spec,
        status=pb.WarmPoolStatus(
            phase=int(pool.phase),  # type: ignore[arg-type]
            failure_message=pool.failure_message,
            status_version=pool.status_version,
            running_instances=pool.running_instances,
            stopped_instances=pool.stopped_instances,
            desired_size=pool.target_size,
        ),
    )
