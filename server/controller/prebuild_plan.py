"""The prebuild planner: what one prebuild needs next, as a pure function of what was observed.

A prebuild's own row is its intent: PENDING means "start me", CANCELLING and DELETING mean
"stop me". The provider's description of the run decides the phase shown to clients. On
COMPLETED the run's snapshot goes to every live pool of the pair (done by the caller in the
same transaction that records the phase).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from server.models import PrebuildPhase

if TYPE_CHECKING:
    from server.providers.base import PrebuildStatus

Ph = PrebuildPhase


@dataclass(frozen=True, slots=True)
class ObservedPrebuild:
    id: str
    project_id: str
    environment_class_id: str
    spec_version: int
    desired_phase: PrebuildPhase
    phase: PrebuildPhase
    created_at: datetime
    timeout_seconds: int
    environment_id: str | None
    snapshot_completion_percentage: int
    snapshot_size_bytes: int
    failure_message: str
    provider: PrebuildStatus


@dataclass(frozen=True, slots=True)
class PrebuildPlan:
    next_wake: datetime
    start: bool = False  # ask the provider to run it (idempotent)
    cancel: bool = False  # ask the provider to stop it (idempotent)
    phase: PrebuildPhase | None = None  # new phase; None: unchanged
    failure_message: str | None = None
    environment_id: str | None = None
    snapshot_completion_percentage: int | None = None
    snapshot_size_bytes: int | None = None
    snapshot_id: str | None = None  # set with phase COMPLETED: hand it to the pools
    log: str = ""  # lines to append to the prebuild's log


def _line(now: datetime, text: str) -> str:
    return f"{now.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z {text}\n"


def plan_prebuild(pb: ObservedPrebuild, now: datetime, poll_interval: float) -> PrebuildPlan:
    run = pb.provider
    poll = now + timedelta(seconds=poll_interval)
    later = run.expected_at if run.expected_at is not None and run.expected_at > now else poll
    # After a request, look again almost at once (a quick provider has acted already), but
    # never spin on a provider that is slow to show it.
    soon = now + timedelta(seconds=min(poll_interval, 0.05))
    running = run.phase is not None and not run.phase.terminal

    if pb.desired_phase == Ph.DELETED:
        if running:
            return PrebuildPlan(next_wake=soon, cancel=True)
        return PrebuildPlan(next_wake=now, phase=Ph.DELETED, log=_line(now, "deleted"))

    if pb.desired_phase == Ph.CANCELLED:
        if running:
            return PrebuildPlan(next_wake=soon, cancel=True)
        return PrebuildPlan(
            next_wake=now,
            phase=Ph.CANCELLED,
            failure_message="",
            log=_line(now, "cancelled on request"),
        )

    deadline = pb.created_at + timedelta(seconds=pb.timeout_seconds)
    if now >= deadline and run.phase != Ph.COMPLETED:
        message = f"prebuild did not complete within its timeout of {pb.timeout_seconds}s"
        return PrebuildPlan(
            next_wake=now,
            cancel=running,
            phase=Ph.FAILED,
            failure_message=message,
            log=_line(now, f"failed: {message}"),
        )
    if run.phase is None:
        return PrebuildPlan(next_wake=soon, start=True)
    if run.phase == Ph.COMPLETED:
        return PrebuildPlan(
            next_wake=now,
            phase=Ph.COMPLETED,
            environment_id=run.environment_id,
            snapshot_completion_percentage=100,
            snapshot_size_bytes=run.snapshot_size_bytes,
            snapshot_id=run.snapshot_id,
            log=_line(now, f"completed: snapshot {run.snapshot_id}"),
        )
    if run.phase in (Ph.FAILED, Ph.CANCELLED):
        message = run.message or f"the runtime provider ended the run ({run.phase.name})"
        return PrebuildPlan(
            next_wake=now,
            phase=Ph.FAILED,
            failure_message=message,
            environment_id=run.environment_id,
            log=_line(now, f"failed: {message}"),
        )
    changed = run.phase != pb.phase
    return PrebuildPlan(
        next_wake=min(later, deadline),
        phase=run.phase if changed else None,
        environment_id=run.environment_id,
        snapshot_completion_percentage=run.snapshot_completion_percentage,
        log=_line(now, run.phase.name.lower()) if changed else "",
    )
