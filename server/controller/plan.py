"""The planner: what one warm pool needs next, as a pure function of what was observed.

`plan_pool(pool, instances, now, policy)` reads the pool's row, its live instances (with
what the provider said about the in-flight ones), the demand, and the time — and returns
the transitions to write, the provider calls to make, the new status and when to look again.
No I/O and no clock: `now` is an input, so every rule is a table-driven unit test
(tests/test_planner.py). The rules are written out in docs/controller.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from server.models import InstanceState, WarmPoolPhase
from server.providers.base import InstanceStatus, ProviderState

S = InstanceState
P = ProviderState

# States in which the controller waits for the provider; each has a deadline.
IN_FLIGHT = frozenset({S.CREATING, S.WARMING, S.STARTING, S.STOPPING, S.DRAINING})
# States that count against max_size ("every live instance, stale or failed ones included").
LIVE = frozenset(
    {S.CREATING, S.WARMING, S.READY, S.STOPPING, S.STANDBY, S.STARTING, S.DRAINING, S.FAILED}
)


@dataclass(frozen=True, slots=True)
class Policy:
    """The planner's knobs (server/config.py documents each)."""

    demand_window: float = 60.0
    scale_in_stabilization: float = 300.0
    failure_limit: int = 3
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    probe_interval: float = 180.0
    instance_deadline: float = 600.0
    min_capacity_grace: float = 600.0
    resync_interval: float = 300.0
    poll_interval: float = 2.0


@dataclass(frozen=True, slots=True)
class ObservedPool:
    id: str
    environment_class_id: str
    spec_version: int
    min_size: int
    max_size: int
    snapshot_id: str | None
    desired_phase: WarmPoolPhase
    allowed: bool  # the project's prebuild configuration still allows this pool
    latest_snapshot_id: str | None  # of the pair's latest COMPLETED prebuild
    # status as stored
    phase: WarmPoolPhase
    failure_message: str
    running_instances: int
    stopped_instances: int
    target_size: int
    # bookkeeping carried between rounds
    running_target: int = 0
    running_target_low_since: datetime | None = None
    target_low_since: datetime | None = None
    create_failures: int = 0
    failures_spec_version: int = 0
    last_failure_at: datetime | None = None
    backoff_until: datetime | None = None
    last_failure_message: str = ""
    below_min_since: datetime | None = None
    converging_since: datetime | None = None
    # claim attempts within the demand window, and the oldest one's time
    demand: int = 0
    demand_oldest_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ObservedInstance:
    id: str
    snapshot_id: str
    state: InstanceState
    version: int
    state_since: datetime
    created_at: datetime
    start_pending: bool = False  # claimed while stopped; the controller starts it
    provider: InstanceStatus | None = None  # described this round (in-flight ones only)


@dataclass(frozen=True, slots=True)
class Transition:
    """A conditional UPDATE: from (state, version) to `to` (version + 1)."""

    instance_id: str
    from_state: InstanceState
    version: int
    to: InstanceState
    message: str = ""


@dataclass(frozen=True, slots=True)
class PoolStatus:
    phase: WarmPoolPhase
    failure_message: str
    running_instances: int
    stopped_instances: int
    target_size: int


@dataclass(frozen=True, slots=True)
class Bookkeeping:
    running_target: int
    running_target_low_since: datetime | None
    target_low_since: datetime | None
    create_failures: int
    failures_spec_version: int
    last_failure_at: datetime | None
    backoff_until: datetime | None
    last_failure_message: str
    below_min_since: datetime | None
    converging_since: datetime | None


@dataclass(slots=True)
class PoolPlan:
    pool_id: str
    next_wake: datetime
    # Stage 1: what the provider reported (and deadlines). Stage 2: decisions, written as
    # intents before the provider calls. A stage-2 transition may follow a stage-1 one of the
    # same instance (its version is then the stage-1 version + 1).
    observed: list[Transition] = field(default_factory=list)
    intents: list[Transition] = field(default_factory=list)
    create: int = 0  # new instances on `snapshot_id`
    snapshot_id: str | None = None
    # Requests to (re)send for instances already in an intent state: idempotent at the provider.
    reissue_create: list[str] = field(default_factory=list)
    reissue_start: list[str] = field(default_factory=list)
    reissue_stop: list[str] = field(default_factory=list)
    reissue_delete: list[str] = field(default_factory=list)
    # Claimed instances whose start the provider has taken (id, version): stop tracking them.
    start_accepted: list[tuple[str, int]] = field(default_factory=list)
    status: PoolStatus | None = None  # None: leave the stored status alone
    bookkeeping: Bookkeeping | None = None
    adopt_snapshot: str | None = None  # the pool has no snapshot but its pair has one
    delete_pool: bool = False  # the project's configuration no longer allows the pool
    deleted: bool = False  # drained: the phase becomes DELETED
    new_create_failures: int = 0
    converged_after: float | None = None  # seconds from leaving READY to READY again
    previous_status: PoolStatus | None = None
    previous_bookkeeping: Bookkeeping | None = None

    @property
    def status_changed(self) -> bool:
        """Only a change bumps status_version."""
        return self.status is not None and self.status != self.previous_status

    @property
    def writes_pool(self) -> bool:
        """Whether the pool row needs an update (an idle pool's resync writes nothing)."""
        return self.status_changed or (
            self.bookkeeping is not None and self.bookkeeping != self.previous_bookkeeping
        )

    @property
    def new_requests(self) -> bool:
        """New provider work this round (not reissues): worth looking again at once."""
        return bool(self.create or self.intents)


def stored_status(pool: ObservedPool) -> PoolStatus:
    return PoolStatus(
        pool.phase,
        pool.failure_message,
        pool.running_instances,
        pool.stopped_instances,
        pool.target_size,
    )


def unchanged_bookkeeping(pool: ObservedPool) -> Bookkeeping:
    return Bookkeeping(
        running_target=pool.running_target,
        running_target_low_since=pool.running_target_low_since,
        target_low_since=pool.target_low_since,
        create_failures=pool.create_failures,
        failures_spec_version=pool.failures_spec_version,
        last_failure_at=pool.last_failure_at,
        backoff_until=pool.backoff_until,
        last_failure_message=pool.last_failure_message,
        below_min_since=pool.below_min_since,
        converging_since=pool.converging_since,
    )


RESYNC_GRAIN = 5.0  # seconds: resyncs due within one grain are done in one batch


def resync_at(pool_id: str, now: datetime, interval: float) -> datetime:
    """When an idle pool is looked at again: after `interval` times a fixed factor in
    [0.75, 1.25) per pool (pools converged together — a restart, a mass update — do not all
    come due at once), rounded up to a multiple of RESYNC_GRAIN seconds (those due close
    together are taken in one batch instead of one small round each)."""
    spread = 0.75 + 0.5 * (int(pool_id.replace("-", "")[:8], 16) / 0x1_0000_0000)
    due = now.timestamp() + interval * spread
    grain = min(RESYNC_GRAIN, interval / 4)
    return datetime.fromtimestamp(math.ceil(due / grain) * grain, now.tzinfo)


def as_written(pool: ObservedPool, plan: PoolPlan) -> ObservedPool:
    """The pool as it is after `plan` was written: what a second pass in one round sees."""
    status, book = plan.status, plan.bookkeeping
    if status is None or book is None:
        return pool
    return replace(
        pool,
        phase=status.phase,
        failure_message=status.failure_message,
        running_instances=status.running_instances,
        stopped_instances=status.stopped_instances,
        target_size=status.target_size,
        running_target=book.running_target,
        running_target_low_since=book.running_target_low_since,
        target_low_since=book.target_low_since,
        create_failures=book.create_failures,
        failures_spec_version=book.failures_spec_version,
        last_failure_at=book.last_failure_at,
        backoff_until=book.backoff_until,
        last_failure_message=book.last_failure_message,
        below_min_since=book.below_min_since,
        converging_since=book.converging_since,
    )


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


# --- Stage 1: what the provider says ------------------------------------------------------------


@dataclass(slots=True)
class _Instance:
    """An instance's effective (state, version) while planning one round."""

    obs: ObservedInstance
    state: InstanceState
    version: int
    current: bool

    @property
    def id(self) -> str:
        return self.obs.id


@dataclass(slots=True)
class _Observation:
    instances: list[_Instance]
    new_failures: int = 0
    failure_message: str = ""
    created_ok: bool = False


def _observe(
    pool: ObservedPool,
    instances: list[ObservedInstance],
    now: datetime,
    policy: Policy,
    plan: PoolPlan,
) -> _Observation:
    """Stage 1: move each in-flight instance along what the provider reports."""
    result = _Observation([])
    deadline = _seconds(policy.instance_deadline)
    for obs in instances:
        inst = _Instance(obs, obs.state, obs.version, obs.snapshot_id == pool.snapshot_id)
        p = obs.provider
        late = obs.state in IN_FLIGHT and now >= obs.state_since + deadline
        to: InstanceState | None = None
        message = ""
        if obs.state == S.CLAIMED:
            if obs.start_pending and p is not None:
                if p.state == P.STOPPED:
                    plan.reissue_start.append(obs.id)
                else:  # starting, running — or gone/failed, which is now the runner's to see
                    plan.start_accepted.append((obs.id, obs.version))
            result.instances.append(inst)  # not live; listed for its wake-up time
            continue
        if p is not None and obs.state in (S.CREATING, S.WARMING):
            if p.state == P.RUNNING:
                to = S.READY
            elif p.state == P.PROVISIONING:
                if late:
                    to, message = S.FAILED, f"not ready within {policy.instance_deadline:g}s"
                elif obs.state == S.CREATING:
                    to = S.WARMING
            elif p.state == P.MISSING and obs.state == S.CREATING:
                if late:
                    to = S.FAILED
                    message = (
                        f"the provider did not take the create within {policy.instance_deadline:g}s"
                    )
                else:
                    plan.reissue_create.append(obs.id)
            elif p.state == P.FAILED:
                to, message = S.FAILED, p.message or "the provider reported a failure"
            else:
                to, message = S.FAILED, f"unexpected provider state {p.state.value} while creating"
            if to == S.READY and inst.current:
                result.created_ok = True
            if to == S.FAILED and inst.current:
                result.new_failures += 1
                result.failure_message = message
        elif p is not None and obs.state == S.STARTING:
            if p.state == P.RUNNING:
                to = S.READY
            elif late:
                to, message = S.FAILED, f"not started within {policy.instance_deadline:g}s"
            elif p.state == P.STOPPED:
                plan.reissue_start.append(obs.id)
            elif p.state not in (P.STARTING, P.STOPPING):
                to, message = (
                    S.FAILED,
                    p.message or f"provider state {p.state.value} while starting",
                )
        elif p is not None and obs.state == S.STOPPING:
            if p.state == P.STOPPED:
                to = S.STANDBY
            elif late:
                to, message = S.FAILED, f"not stopped within {policy.instance_deadline:g}s"
            elif p.state == P.RUNNING:
                plan.reissue_stop.append(obs.id)
            elif p.state not in (P.STOPPING, P.STARTING, P.PROVISIONING):
                to, message = (
                    S.FAILED,
                    p.message or f"provider state {p.state.value} while stopping",
                )
        elif p is not None and obs.state == S.DRAINING:
            if p.state == P.MISSING:
                to = S.DELETED
            elif late:
                # Ask again and restart the clock: an instance is never forgotten while it exists.
                to, message = (
                    S.DRAINING,
                    f"not deleted within {policy.instance_deadline:g}s; asked again",
                )
                plan.reissue_delete.append(obs.id)
            elif p.state != P.DELETING:
                plan.reissue_delete.append(obs.id)
        if to is not None:
            plan.observed.append(Transition(obs.id, obs.state, obs.version, to, message))
            inst.state, inst.version = to, obs.version + 1
        result.instances.append(inst)
    return result


# --- Targets ------------------------------------------------------------------------------------


def _hold(
    previous: int, low_since: datetime | None, raw: int, now: datetime, window: float
) -> tuple[int, datetime | None]:
    """Scale out at once; scale in only once `raw` has stayed below the target for `window`.

    Returns the target and since when `raw` has been below it (None: it is not), which is
    all the state stabilization needs — and it does not change while nothing changes.
    """
    if raw >= previous:
        return raw, None
    if low_since is None:
        return previous, now
    if now >= low_since + _seconds(window):
        return raw, None
    return previous, low_since


@dataclass(frozen=True, slots=True)
class Targets:
    running: int
    running_low_since: datetime | None
    total: int
    total_low_since: datetime | None


def targets(pool: ObservedPool, now: datetime, policy: Policy) -> Targets:
    """Running target from recent demand; total target = running + the stopped reserve.

    raw running = max(min_size, claim attempts in the demand window), at most max_size. Both
    targets rise at once and fall only after the stabilization window; the total falls one
    window after the running target, so instances are demoted to standby before they go.
    """
    raw_running = min(max(pool.min_size, pool.demand), pool.max_size)
    running, running_low_since = _hold(
        pool.running_target,
        pool.running_target_low_since,
        raw_running,
        now,
        policy.scale_in_stabilization,
    )
    running = min(running, pool.max_size)
    raw_total = min(max(pool.min_size, running), pool.max_size)
    total, total_low_since = _hold(
        pool.target_size, pool.target_low_since, raw_total, now, policy.scale_in_stabilization
    )
    total = min(max(total, running), pool.max_size)
    return Targets(running, running_low_since, total, total_low_since)


# --- The plan -----------------------------------------------------------------------------------


def plan_pool(
    pool: ObservedPool, instances: list[ObservedInstance], now: datetime, policy: Policy
) -> PoolPlan:
    plan = PoolPlan(
        pool.id,
        next_wake=resync_at(pool.id, now, policy.resync_interval),
        previous_status=stored_status(pool),
        previous_bookkeeping=unchanged_bookkeeping(pool),
    )
    deleting = pool.desired_phase == WarmPoolPhase.DELETED

    if not deleting and not pool.allowed:
        plan.delete_pool = True
        plan.next_wake = now
        return plan
    if not deleting and pool.snapshot_id is None and pool.latest_snapshot_id is not None:
        plan.adopt_snapshot = pool.latest_snapshot_id
        plan.next_wake = now
        return plan

    seen = _observe(pool, instances, now, policy, plan)
    live = [i for i in seen.instances if i.state in LIVE]

    if deleting:
        _plan_deletion(plan, pool, live, now, policy)
        return plan

    t = targets(pool, now, policy)
    failures = _failures(pool, seen, now, policy)

    if pool.snapshot_id is not None:
        _plan_sizing(plan, pool, live, t, failures)
    _drop_superseded_reissues(plan)

    leaving = {tr.instance_id for tr in plan.intents}
    ready = [i for i in live if i.state == S.READY and i.id not in leaving]
    ready_current = sum(1 for i in ready if i.current)
    standby = sum(1 for i in live if i.state == S.STANDBY and i.id not in leaving)
    below_min_since = (
        (now if pool.below_min_since is None else pool.below_min_since)
        if (len(ready) < pool.min_size and pool.snapshot_id is not None)
        else None
    )

    degraded = failures.create_failures >= policy.failure_limit
    if pool.snapshot_id is None:
        phase, message = WarmPoolPhase.PENDING, ""
    elif degraded:
        phase = WarmPoolPhase.DEGRADED
        message = (
            f"{failures.create_failures} consecutive instance creates failed on snapshot "
            f"{pool.snapshot_id}: {failures.last_failure_message}. Creation is paused; one probe "
            f"every {policy.probe_interval:g}s. A new snapshot or spec change resets this."
        )
    elif ready_current >= t.running:
        phase, message = WarmPoolPhase.READY, ""
    elif below_min_since is not None and now >= below_min_since + _seconds(
        policy.min_capacity_grace
    ):
        phase = WarmPoolPhase.DEGRADED
        message = (
            f"only {len(ready)} of min_size {pool.min_size} instances ready for more than "
            f"{policy.min_capacity_grace:g}s"
        )
    else:
        phase, message = WarmPoolPhase.PENDING, ""

    converging_since = pool.converging_since
    if phase == WarmPoolPhase.READY:
        if converging_since is not None:
            plan.converged_after = max(0.0, (now - converging_since).total_seconds())
        converging_since = None
    elif converging_since is None:
        converging_since = now

    plan.status = PoolStatus(phase, message, len(ready), standby, t.total)
    plan.bookkeeping = Bookkeeping(
        running_target=t.running,
        running_target_low_since=t.running_low_since,
        target_low_since=t.total_low_since,
        create_failures=failures.create_failures,
        failures_spec_version=pool.spec_version,
        last_failure_at=failures.last_failure_at,
        backoff_until=failures.backoff_until,
        last_failure_message=failures.last_failure_message,
        below_min_since=below_min_since,
        converging_since=converging_since,
    )
    plan.new_create_failures = seen.new_failures

    # When to look again: the earliest moment anything can change by itself.
    wakes = [plan.next_wake]
    if plan.new_requests:
        wakes.append(now)
    wakes += _in_flight_wakes(seen.instances, plan, now, policy)
    for low_since in (t.running_low_since, t.total_low_since):
        if low_since is not None:
            wakes.append(low_since + _seconds(policy.scale_in_stabilization))
    if pool.demand and pool.demand_oldest_at is not None:
        wakes.append(pool.demand_oldest_at + _seconds(policy.demand_window))
    if below_min_since is not None and phase != WarmPoolPhase.DEGRADED:
        wakes.append(below_min_since + _seconds(policy.min_capacity_grace))
    if failures.blocked_until is not None:
        wakes.append(failures.blocked_until)
    plan.next_wake = max(now, min(wakes))
    return plan


def _drop_superseded_reissues(plan: PoolPlan) -> None:
    """An instance with a new intent this round gets that intent's call, not an old one's."""
    leaving = {t.instance_id for t in plan.intents}
    if leaving:
        plan.reissue_create = [i for i in plan.reissue_create if i not in leaving]
        plan.reissue_start = [i for i in plan.reissue_start if i not in leaving]
        plan.reissue_stop = [i for i in plan.reissue_stop if i not in leaving]
        plan.reissue_delete = [i for i in plan.reissue_delete if i not in leaving]


@dataclass(frozen=True, slots=True)
class _Failures:
    create_failures: int
    last_failure_at: datetime | None
    backoff_until: datetime | None
    last_failure_message: str
    creates_allowed: int | None  # None: no limit from failures; else at most this many
    blocked_until: datetime | None  # when creation may resume, if blocked now


def _failures(pool: ObservedPool, seen: _Observation, now: datetime, policy: Policy) -> _Failures:
    """Exponential backoff per pool; DEGRADED after `failure_limit` consecutive failures.

    The count belongs to one spec version: a new snapshot or a spec change starts it afresh.
    """
    same_spec = pool.failures_spec_version == pool.spec_version
    count = pool.create_failures if same_spec else 0
    last_at = pool.last_failure_at if same_spec else None
    backoff = pool.backoff_until if same_spec else None
    message = pool.last_failure_message if same_spec else ""
    if seen.created_ok:
        count, last_at, backoff, message = 0, None, None, ""
    if seen.new_failures:
        count += seen.new_failures
        last_at = now
        message = seen.failure_message
        delay = min(policy.backoff_max, policy.backoff_base * math.pow(2, min(count - 1, 30)))
        backoff = now + _seconds(delay)
    allowed: int | None = None
    blocked: datetime | None = None
    if count >= policy.failure_limit:
        probe_at = (last_at or now) + _seconds(policy.probe_interval)
        if now >= probe_at:
            allowed = 1
        else:
            allowed, blocked = 0, probe_at
    elif backoff is not None and now < backoff:
        allowed, blocked = 0, backoff
    return _Failures(count, last_at, backoff, message, allowed, blocked)


def _oldest(items: list[_Instance]) -> list[_Instance]:
    return sorted(items, key=lambda i: (i.obs.created_at, i.id))


def _newest(items: list[_Instance]) -> list[_Instance]:
    return sorted(items, key=lambda i: (i.obs.created_at, i.id), reverse=True)


def _plan_sizing(
    plan: PoolPlan,
    pool: ObservedPool,
    live: list[_Instance],
    t: Targets,
    failures: _Failures,
) -> None:
    """Stage 2 for a pool with a snapshot: rotation, scaling and the max_size cap."""
    taken: dict[str, InstanceState] = {}  # instance id -> the state this round's intent gives it

    def intend(inst: _Instance, to: InstanceState) -> None:
        plan.intents.append(Transition(inst.id, inst.state, inst.version, to))
        taken[inst.id] = to

    def pick(state: InstanceState, current: bool) -> list[_Instance]:
        return [i for i in live if i.state == state and i.current == current and i.id not in taken]

    # Failed and stale not-ready instances go at once: they give no ready capacity.
    for inst in live:
        if inst.state == S.FAILED or (
            not inst.current
            and inst.state in (S.CREATING, S.WARMING, S.STANDBY, S.STOPPING, S.STARTING)
        ):
            intend(inst, S.DRAINING)

    # max_size is a hard cap on every live instance: above it (max_size was lowered), drain.
    draining = sum(1 for i in live if i.state == S.DRAINING or i.id in taken)
    excess = len(live) - draining - pool.max_size
    if excess > 0:
        order = (
            _oldest(pick(S.READY, False))
            + _newest(pick(S.STANDBY, True))
            + _newest(pick(S.CREATING, True) + pick(S.WARMING, True))
            + _newest(pick(S.STARTING, True) + pick(S.STOPPING, True))
            + _newest(pick(S.READY, True))
        )
        for inst in order[:excess]:
            intend(inst, S.DRAINING)

    # Rotation: stale ready ones go only while current ready ones keep capacity >= target.
    ready_cur, ready_stale = pick(S.READY, True), _oldest(pick(S.READY, False))
    for inst in ready_stale[: max(0, len(ready_cur) + len(ready_stale) - t.running)]:
        intend(inst, S.DRAINING)
    # Scale in, step 1: demote running instances above the running target to standby.
    for inst in _newest(ready_cur)[: max(0, len(ready_cur) - t.running)]:
        intend(inst, S.STOPPING)
    ready_kept = len(ready_cur) - max(0, len(ready_cur) - t.running)
    # Scale out: start standby instances first (quicker than creating).
    starting = len(pick(S.STARTING, True))
    for inst in _oldest(pick(S.STANDBY, True))[: max(0, t.running - ready_kept - starting)]:
        intend(inst, S.STARTING)

    total_current = sum(
        1
        for i in live
        if i.current and i.state not in (S.DRAINING, S.FAILED) and taken.get(i.id) != S.DRAINING
    )
    # Scale in, step 2: delete standby instances above the total target.
    if total_current > t.total:
        for inst in _newest(pick(S.STANDBY, True))[: total_current - t.total]:
            intend(inst, S.DRAINING)
            total_current -= 1

    wanted = t.total - total_current
    if wanted <= 0:
        return
    live_count = len(live)  # draining ones included: they exist until the provider says so
    room = pool.max_size - live_count
    creates = min(wanted, max(0, room))
    if failures.creates_allowed is not None:
        in_flight = any(i.current and i.state in (S.CREATING, S.WARMING) for i in live)
        creates = 0 if in_flight else min(creates, failures.creates_allowed)
    if creates > 0:
        plan.create = creates
        plan.snapshot_id = pool.snapshot_id
    elif room <= 0 and failures.creates_allowed != 0:
        # No room under max_size to add a new instance before removing an old one (the
        # running target leaves no headroom): replace one stale ready instance at a time.
        # Only when nothing is on its way: no slot being freed, no current instance coming up.
        waiting = S.DRAINING in taken.values() or any(
            i.state == S.DRAINING or (i.current and i.state in (S.CREATING, S.WARMING, S.STARTING))
            for i in live
        )
        stale_ready = _oldest(pick(S.READY, False))
        if stale_ready and not waiting:
            intend(stale_ready[0], S.DRAINING)


def _plan_deletion(
    plan: PoolPlan, pool: ObservedPool, live: list[_Instance], now: datetime, policy: Policy
) -> None:
    """Drain every live instance; once none is left, the pool is DELETED."""
    plan.bookkeeping = unchanged_bookkeeping(pool)
    for inst in live:
        if inst.state != S.DRAINING:
            plan.intents.append(Transition(inst.id, inst.state, inst.version, S.DRAINING))
    _drop_superseded_reissues(plan)
    if not live:
        plan.deleted = True
        plan.status = PoolStatus(WarmPoolPhase.DELETED, "", 0, 0, 0)
        return
    plan.status = PoolStatus(WarmPoolPhase.DELETING, "", 0, 0, 0)
    wakes = [plan.next_wake, *_in_flight_wakes(live, plan, now, policy)]
    if plan.new_requests:
        wakes.append(now)
    plan.next_wake = max(now, min(wakes))


def _in_flight_wakes(
    instances: list[_Instance], plan: PoolPlan, now: datetime, policy: Policy
) -> list[datetime]:
    """For each instance waiting on the provider: its expected time (or a poll) and deadline."""
    wakes: list[datetime] = []
    for inst in instances:
        waiting = inst.state in IN_FLIGHT or (
            inst.state == S.CLAIMED
            and inst.obs.start_pending
            and all(inst.id != accepted for accepted, _ in plan.start_accepted)
        )
        if not waiting or any(t.instance_id == inst.id for t in plan.intents):
            continue
        provider = inst.obs.provider
        if provider is not None and provider.expected_at is not None and provider.expected_at > now:
            wakes.append(provider.expected_at)
        else:
            wakes.append(now + _seconds(policy.poll_interval))
        since = now if inst.state != inst.obs.state else inst.obs.state_since
        wakes.append(since + _seconds(policy.instance_deadline))
    return wakes
