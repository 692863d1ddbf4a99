"""Domain objects to wire messages; shared by the gRPC and Connect transports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gitpod.v1 import identity_pb2
from gitpod.v1 import prebuild_pb2 as pb
from google.protobuf.timestamp_pb2 import Timestamp
from warmpool.v1 import runtime_pb2

if TYPE_CHECKING:
    from server.models import Claim, Prebuild, WarmPool

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


def prebuild_message(prebuild: Prebuild, log_url: str = "") -> pb.Prebuild:
    status = pb.PrebuildStatus(
        phase=int(prebuild.phase),  # type: ignore[arg-type]
        failure_message=prebuild.failure_message,
        log_url=log_url,
        environment_id=prebuild.environment_id or "",
        status_version=prebuild.status_version,
        warning_message=prebuild.warning_message,
        snapshot_completion_percentage=prebuild.snapshot_completion_percentage,
        snapshot_size_bytes=prebuild.snapshot_size_bytes,
    )
    if prebuild.completion_time is not None:
        status.completion_time.CopyFrom(timestamp(prebuild.completion_time))
    spec = pb.PrebuildSpec(
        spec_version=prebuild.spec_version,
        desired_phase=int(prebuild.desired_phase),  # type: ignore[arg-type]
    )
    spec.timeout.FromSeconds(prebuild.timeout_seconds)
    return pb.Prebuild(
        id=prebuild.id,
        metadata=pb.PrebuildMetadata(
            organization_id=prebuild.organization_id,
            project_id=prebuild.project_id,
            environment_class_id=prebuild.environment_class_id,
            creator=identity_pb2.Subject(
                id=prebuild.creator_id,
                principal=int(prebuild.creator_kind),  # type: ignore[arg-type]
            ),
            created_at=timestamp(prebuild.created_at),
            updated_at=timestamp(prebuild.updated_at),
            triggered_by=int(prebuild.triggered_by),  # type: ignore[arg-type]
            executor=identity_pb2.Subject(
                id=prebuild.runner_id,
                principal=identity_pb2.PRINCIPAL_RUNNER,
            ),
        ),
        spec=spec,
        status=status,
    )


def claim_message(claim: Claim) -> runtime_pb2.ClaimInstanceResponse:
    response = runtime_pb2.ClaimInstanceResponse(
        outcome=int(claim.outcome),  # type: ignore[arg-type]
        warm_pool_id=claim.pool_id,
    )
    instance = claim.instance
    if instance is not None:
        response.instance.CopyFrom(
            runtime_pb2.Instance(
                id=instance.id,
                warm_pool_id=instance.pool_id,
                snapshot_id=instance.snapshot_id,
                current_snapshot=instance.current_snapshot,
                claim_id=instance.claim_id,
                claimed_at=timestamp(instance.claimed_at),
                created_at=timestamp(instance.created_at),
            )
        )
    return response
