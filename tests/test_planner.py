"""The planner's rules (behaviour.md §6, docs/controller.md), table-driven: no I/O, no clock."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from server.controller.plan import (
    RESYNC_GRAIN,
    ObservedInstance,
    ObservedPool,
    Policy,
    PoolPlan,
    plan_pool,
    targets,
)
from server.models import InstanceState, WarmPoolPhase
from server.providers.base import InstanceStatus, ProviderState

S = InstanceState
P = ProviderState
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
POLICY = Policy(
    demand_window=60,
    scale_in_stabilization=300,
    failure_limit=3,
    backoff_base=1,
    backoff_max=60,
    probe_interval=180,
    instance_deadline=600,
    min_capacity_grace=600,
    resync_interval=300,
    poll_interval=2,
)
NEW, OLD = "snap-new", "snap-old"


def ago(seconds: float) -> datetime:
    return NOW - timedelta(seconds=seconds)


def pool(**overrides: Any) -> ObservedPool:
    base = ObservedPool(
        id="5b9c2a63-1a1e-4d51-9a37-7e0f6a1c0d01",
        environment_class_id="class",
        spec_version=2,
        min_size=2,
        max_size=5,
        snapshot_id=NEW,
        desired_phase=WarmPoolPhase.READY,
        allowed=True,
        latest_snapshot_id=None,
        phase=WarmPoolPhase.READY,
        failure_message="",
        running_instances=2,
        stopped_instances=0,
        target_size=2,
        running_target=2,
        failures_spec_version=2,
    )
    return replace(base, **overrides)


_counter = iter(range(1_000_000))


def inst(
    state: InstanceState,
    snapshot: str = NEW,
    provider: ProviderState | None = None,
    *,
    age: float = 100,
    since: float = 10,
    message: str = "",
    start_pending: bool = False,
    expected_in: float | None = None,
) -> ObservedInstance:
    n = next(_counter)
    described = None
    if provider is not None:
        expected = None if expected_in is None else NOW + timedelta(seconds=expected_in)
        described = InstanceStatus(provider, message, expected)
    return ObservedInstance(
        id=f"i{n:04d}",
        snapshot_id=snapshot,
        state=state,
        version=3,
        state_since=ago(since),
        created_at=ago(age),
        start_pending=start_pending,
        provider=described,
    )


def ready(n: int, snapshot: str = NEW, age: float = 100) -> list[ObservedInstance]:
    return [inst(S.READY, snapshot, age=age + i) for i in range(n)]


def standby(n: int, snapshot: str = NEW) -> list[ObservedInstance]:
    return [inst(S.STANDBY, snapshot, age=200 + i) for i in range(n)]


@dataclass
class Expect:
    create: int = 0
    observed: list[tuple[S, S]] = field(default_factory=list)
    intents: list[tuple[S, S]] = field(default_factory=list)
    phase: WarmPoolPhase | None = None
    running: int | None = None
    stopped: int | None = None
    target: int | None = None


def check(plan: PoolPlan, expect: Expect) -> None:
    assert plan.create == expect.create
    assert sorted((t.from_state, t.to) for t in plan.observed) == sorted(expect.observed)
    assert sorted((t.from_state, t.to) for t in plan.intents) == sorted(expect.intents)
    if expect.phase is not None:
        assert plan.status is not None
        assert plan.status.phase == expect.phase
    if expect.running is not None:
        assert plan.status is not None
        assert plan.status.running_instances == expect.running
    if expect.stopped is not None:
        assert plan.status is not None
        assert plan.status.stopped_instances == expect.stopped
    if expect.target is not None:
        assert plan.status is not None
        assert plan.status.target_size == expect.target


CASES: list[tuple[str, ObservedPool, list[ObservedInstance], Expect]] = [
    (
        "a pool without a snapshot stays pending with no instances",
        pool(snapshot_id=None, phase=WarmPoolPhase.PENDING),
        [],
        Expect(phase=WarmPoolPhase.PENDING, running=0, target=2),
    ),
    (
        "a new pool creates min_size instances at once",
        pool(phase=WarmPoolPhase.PENDING, running_target=0, running_target_low_since=None),
        [],
        Expect(create=2, phase=WarmPoolPhase.PENDING, running=0, target=2),
    ),
    (
        "a created instance the provider runs becomes ready and the pool READY",
        pool(phase=WarmPoolPhase.PENDING),
        [inst(S.CREATING, provider=P.RUNNING), inst(S.WARMING, provider=P.RUNNING)],
        Expect(
            observed=[(S.CREATING, S.READY), (S.WARMING, S.READY)],
            phase=WarmPoolPhase.READY,
            running=2,
        ),
    ),
    (
        "a create the provider is booting moves to warming",
        pool(),
        [*ready(1), inst(S.CREATING, provider=P.PROVISIONING)],
        Expect(observed=[(S.CREATING, S.WARMING)], phase=WarmPoolPhase.PENDING, running=1),
    ),
    (
        "a failed create is counted and drained in the same round",
        pool(),
        [*ready(1), inst(S.WARMING, provider=P.FAILED, message="boom")],
        Expect(
            observed=[(S.WARMING, S.FAILED)],
            intents=[(S.FAILED, S.DRAINING)],
            phase=WarmPoolPhase.PENDING,
        ),
    ),
    (
        "a warming instance past its deadline fails",
        pool(),
        [*ready(1), inst(S.WARMING, provider=P.PROVISIONING, since=601)],
        Expect(observed=[(S.WARMING, S.FAILED)], intents=[(S.FAILED, S.DRAINING)]),
    ),
    (
        "ready capacity at the target needs nothing",
        pool(),
        ready(2),
        Expect(phase=WarmPoolPhase.READY, running=2, stopped=0, target=2),
    ),
    (
        "demand scales out at once, within max_size",
        pool(demand=4, demand_oldest_at=ago(5)),
        ready(2),
        Expect(create=2, phase=WarmPoolPhase.PENDING, running=2, target=4),
    ),
    (
        "demand above max_size is capped",
        pool(demand=50, demand_oldest_at=ago(5)),
        ready(2),
        Expect(create=3, target=5),
    ),
    (
        "the running target holds during the stabilization window",
        pool(
            running_target=4,
            running_target_low_since=ago(100),
            target_size=4,
            target_low_since=ago(100),
        ),
        ready(4),
        Expect(phase=WarmPoolPhase.READY, running=4, target=4),
    ),
    (
        "after the window, excess running instances are demoted, not deleted",
        pool(
            running_target=4,
            running_target_low_since=ago(301),
            target_size=4,
            target_low_since=ago(100),
        ),
        ready(4),
        Expect(intents=[(S.READY, S.STOPPING)] * 2, phase=WarmPoolPhase.READY, running=2, target=4),
    ),
    (
        "stopped instances above the total target are deleted one window later",
        pool(
            running_target=2,
            running_target_low_since=ago(301),
            target_size=4,
            target_low_since=ago(301),
        ),
        [*ready(2), *standby(2)],
        Expect(intents=[(S.STANDBY, S.DRAINING)] * 2, running=2, stopped=0, target=2),
    ),
    (
        "a running deficit starts standby instances before creating",
        pool(running_target=3, target_size=3),
        [*ready(1), *standby(2)],
        Expect(intents=[(S.STANDBY, S.STARTING)] * 2, running=1, stopped=0, target=3),
    ),
    (
        "rotation creates current instances in the headroom and keeps stale ready ones",
        pool(running_target=3, target_size=3),
        ready(3, OLD),
        Expect(create=2, phase=WarmPoolPhase.PENDING, running=3),
    ),
    (
        "rotation drains stale ready instances only above the running target",
        pool(running_target=3, target_size=3),
        [*ready(2), *ready(3, OLD)],
        Expect(intents=[(S.READY, S.DRAINING)] * 2, create=0, running=3),
    ),
    (
        "without headroom, rotation replaces one stale ready instance at a time",
        pool(min_size=3, max_size=3, running_target=3, target_size=3),
        ready(3, OLD),
        Expect(intents=[(S.READY, S.DRAINING)], create=0, running=2),
    ),
    (
        "stale standby and in-flight instances are drained at once",
        pool(),
        [*ready(2), *standby(1, OLD), inst(S.WARMING, OLD, P.PROVISIONING)],
        Expect(intents=[(S.STANDBY, S.DRAINING), (S.WARMING, S.DRAINING)], running=2),
    ),
    (
        "max_size is a hard cap: failed and draining instances count",
        pool(min_size=5, max_size=5, running_target=5, target_size=5),
        [*ready(3), inst(S.FAILED), inst(S.DRAINING, provider=P.DELETING)],
        Expect(intents=[(S.FAILED, S.DRAINING)], create=0, running=3),
    ),
    (
        "lowering max_size drains the newest instances above it",
        pool(min_size=1, max_size=3, running_target=5, target_size=5),
        ready(5),
        Expect(intents=[(S.READY, S.DRAINING)] * 2, running=3, target=3),
    ),
    (
        "a drained instance the provider no longer has is deleted",
        pool(),
        [*ready(2), inst(S.DRAINING, provider=P.MISSING)],
        Expect(observed=[(S.DRAINING, S.DELETED)], running=2),
    ),
    (
        "a stopped instance becomes standby",
        pool(running_target=2, target_size=3),
        [*ready(2), inst(S.STOPPING, provider=P.STOPPED)],
        Expect(observed=[(S.STOPPING, S.STANDBY)], running=2, stopped=1),
    ),
    (
        "min_size 0 and no demand is READY with no instances",
        pool(min_size=0, max_size=2, running_target=0, target_size=0, phase=WarmPoolPhase.PENDING),
        [],
        Expect(phase=WarmPoolPhase.READY, running=0, target=0),
    ),
    (
        "ready capacity below min_size past the grace period is DEGRADED",
        pool(below_min_since=ago(601)),
        [*ready(1), inst(S.WARMING, provider=P.PROVISIONING)],
        Expect(phase=WarmPoolPhase.DEGRADED, running=1),
    ),
    (
        "a deleted pool drains every live instance and is DELETING",
        pool(desired_phase=WarmPoolPhase.DELETED, phase=WarmPoolPhase.DELETING),
        [*ready(1), *standby(1), inst(S.CREATING, provider=P.MISSING)],
        Expect(
            intents=[(S.READY, S.DRAINING), (S.STANDBY, S.DRAINING), (S.CREATING, S.DRAINING)],
            phase=WarmPoolPhase.DELETING,
            running=0,
        ),
    ),
    (
        "a deleted pool with nothing left is DELETED",
        pool(desired_phase=WarmPoolPhase.DELETED, phase=WarmPoolPhase.DELETING),
        [inst(S.DRAINING, provider=P.MISSING)],
        Expect(observed=[(S.DRAINING, S.DELETED)], phase=WarmPoolPhase.DELETED),
    ),
]


@pytest.mark.parametrize(
    ("observed", "instances", "expect"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_plan_rules(
    observed: ObservedPool, instances: list[ObservedInstance], expect: Expect
) -> None:
    check(plan_pool(observed, instances, NOW, POLICY), expect)


# --- Individual rules that need more than a row ------------------------------------------------


def test_pool_without_snapshot_adopts_the_pairs_latest_snapshot() -> None:
    plan = plan_pool(pool(snapshot_id=None, latest_snapshot_id="snap-x"), [], NOW, POLICY)
    assert plan.adopt_snapshot == "snap-x"
    assert plan.status is None


def test_pool_no_longer_allowed_by_the_project_is_deleted() -> None:
    plan = plan_pool(pool(allowed=False), ready(2), NOW, POLICY)
    assert plan.delete_pool
    assert not plan.intents


def test_creating_instance_unknown_to_the_provider_is_reissued() -> None:
    creating = inst(S.CREATING, provider=P.MISSING)
    plan = plan_pool(pool(), [*ready(1), creating], NOW, POLICY)
    assert plan.reissue_create == [creating.id]
    assert plan.create == 0  # the reissued one fills the gap


def test_intents_are_reissued_when_the_provider_did_not_act() -> None:
    starting = inst(S.STARTING, provider=P.STOPPED)
    stopping = inst(S.STOPPING, provider=P.RUNNING)
    draining = inst(S.DRAINING, provider=P.RUNNING)
    plan = plan_pool(
        pool(running_target=2, target_size=4),
        [starting, stopping, draining, *ready(1)],
        NOW,
        POLICY,
    )
    assert plan.reissue_start == [starting.id]
    assert plan.reissue_stop == [stopping.id]
    assert plan.reissue_delete == [draining.id]


def test_failures_back_off_exponentially_then_degrade() -> None:
    fresh = pool(phase=WarmPoolPhase.PENDING)
    plan = plan_pool(
        fresh, [*ready(1), inst(S.WARMING, provider=P.FAILED, message="bad image")], NOW, POLICY
    )
    assert plan.bookkeeping is not None
    assert plan.bookkeeping.create_failures == 1
    assert plan.bookkeeping.backoff_until == NOW + timedelta(seconds=1)
    assert plan.create == 0  # backing off
    assert plan.next_wake <= NOW + timedelta(seconds=1)

    second = pool(create_failures=1, last_failure_at=ago(5), backoff_until=ago(4))
    plan = plan_pool(second, [*ready(1), inst(S.CREATING, provider=P.FAILED)], NOW, POLICY)
    assert plan.bookkeeping is not None
    assert plan.bookkeeping.backoff_until == NOW + timedelta(seconds=2)

    third = pool(create_failures=2, last_failure_at=ago(5), backoff_until=ago(1))
    plan = plan_pool(
        third, [*ready(1), inst(S.WARMING, provider=P.FAILED, message="bad image")], NOW, POLICY
    )
    assert plan.status is not None
    assert plan.status.phase == WarmPoolPhase.DEGRADED
    assert "3 consecutive instance creates failed" in plan.status.failure_message
    assert "bad image" in plan.status.failure_message


def test_degraded_pool_probes_once_per_interval() -> None:
    degraded = pool(create_failures=3, last_failure_at=ago(10), last_failure_message="x")
    plan = plan_pool(degraded, [], NOW, POLICY)
    assert plan.create == 0
    assert plan.next_wake == ago(10) + timedelta(seconds=POLICY.probe_interval)
    later = replace(degraded, last_failure_at=ago(181))
    assert plan_pool(later, [], NOW, POLICY).create == 1
    probing = plan_pool(later, [inst(S.CREATING, provider=P.PROVISIONING)], NOW, POLICY)
    assert probing.create == 0  # one probe at a time


def test_a_successful_create_clears_failures() -> None:
    degraded = pool(create_failures=3, last_failure_at=ago(200), phase=WarmPoolPhase.DEGRADED)
    plan = plan_pool(degraded, [*ready(1), inst(S.WARMING, provider=P.RUNNING)], NOW, POLICY)
    assert plan.bookkeeping is not None
    assert plan.bookkeeping.create_failures == 0
    assert plan.status is not None
    assert plan.status.phase == WarmPoolPhase.READY
    assert plan.status.failure_message == ""


def test_a_new_spec_version_resets_failures() -> None:
    degraded = pool(create_failures=3, failures_spec_version=1, last_failure_at=ago(1))
    plan = plan_pool(degraded, [], NOW, POLICY)
    assert plan.bookkeeping is not None
    assert plan.bookkeeping.create_failures == 0
    assert plan.create == 2


def test_stale_failures_do_not_count() -> None:
    plan = plan_pool(pool(), [*ready(2), inst(S.WARMING, OLD, P.FAILED)], NOW, POLICY)
    assert plan.bookkeeping is not None
    assert plan.bookkeeping.create_failures == 0


def test_claimed_instance_is_started_until_the_provider_takes_it() -> None:
    waiting = inst(S.CLAIMED, provider=P.STOPPED, start_pending=True)
    taken = inst(S.CLAIMED, provider=P.STARTING, start_pending=True)
    plan = plan_pool(pool(), [*ready(2), waiting, taken], NOW, POLICY)
    assert plan.reissue_start == [waiting.id]
    assert plan.start_accepted == [(taken.id, taken.version)]
    assert plan.next_wake == NOW + timedelta(seconds=POLICY.poll_interval)  # to check on it


def test_stage_two_follows_stage_one_with_the_next_version() -> None:
    # An instance that became ready this round can be demoted in the same round.
    p = pool(
        min_size=1,
        running_target=2,
        running_target_low_since=ago(400),
        target_size=2,
        target_low_since=ago(100),
    )
    fresh = inst(S.WARMING, provider=P.RUNNING, age=1)
    plan = plan_pool(p, [*ready(1), fresh], NOW, POLICY)
    (observed,) = plan.observed
    (intent,) = plan.intents
    assert (intent.instance_id, intent.from_state, intent.version) == (
        fresh.id,
        S.READY,
        observed.version + 1,
    )


def test_status_is_unchanged_when_nothing_changed() -> None:
    steady = pool()
    plan = plan_pool(steady, ready(2), NOW, POLICY)
    assert not plan.status_changed
    plan = plan_pool(replace(steady, running_instances=1), ready(2), NOW, POLICY)
    assert plan.status_changed


def test_idle_pool_sleeps_until_its_resync_spread_by_pool_and_batched() -> None:
    ids = ["00000000-0000-0000-0000-000000000000", "ffffffff-0000-0000-0000-000000000000"]
    wakes = [plan_pool(pool(id=i), ready(2), NOW, POLICY).next_wake for i in ids]
    assert wakes[0] == NOW + timedelta(seconds=0.75 * POLICY.resync_interval)
    assert wakes[1] == NOW + timedelta(seconds=1.25 * POLICY.resync_interval)  # rounded up
    assert all(w.timestamp() % RESYNC_GRAIN == 0 for w in wakes)


def test_an_idle_resync_writes_nothing_but_the_next_due_time() -> None:
    steady = plan_pool(pool(), ready(2), NOW, POLICY)
    assert not steady.writes_pool
    assert not steady.intents
    assert not steady.create


def test_new_requests_wake_the_pool_at_once_and_in_flight_ones_at_their_expected_time() -> None:
    assert (
        plan_pool(pool(running_target=0, running_target_low_since=None), [], NOW, POLICY).next_wake
        == NOW
    )
    booting = inst(S.WARMING, provider=P.PROVISIONING, expected_in=3)
    plan = plan_pool(pool(), [*ready(1), booting], NOW, POLICY)
    assert plan.next_wake == NOW + timedelta(seconds=3)


def test_demand_expiry_wakes_the_pool() -> None:
    p = pool(demand=1, demand_oldest_at=ago(50))
    plan = plan_pool(p, ready(2), NOW, POLICY)
    assert plan.next_wake == ago(50) + timedelta(seconds=POLICY.demand_window)


def test_convergence_is_measured_from_leaving_ready() -> None:
    plan = plan_pool(
        pool(phase=WarmPoolPhase.PENDING, converging_since=ago(7)), ready(2), NOW, POLICY
    )
    assert plan.converged_after == 7.0
    assert plan.bookkeeping is not None
    assert plan.bookkeeping.converging_since is None


@pytest.mark.parametrize(
    ("previous", "since", "demand", "expected"),
    [
        (2, ago(10), 5, 5),  # up at once
        (5, ago(10), 1, 5),  # held within the window
        (5, ago(301), 1, 2),  # down to max(min_size, demand) after it
        (5, None, 0, 5),  # demand just fell: the window starts now
        (9, ago(10), 0, 5),  # never above max_size
    ],
)
def test_running_target_rises_at_once_and_falls_after_stabilization(
    previous: int, since: datetime | None, demand: int, expected: int
) -> None:
    t = targets(
        pool(running_target=previous, running_target_low_since=since, demand=demand), NOW, POLICY
    )
    assert t.running == expected
    assert t.total >= t.running
