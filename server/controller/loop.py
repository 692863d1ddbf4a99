"""The controller's loops inside one server process: workers, wake-ups, housekeeping.

Workers take batches of due pools (leases, SKIP LOCKED) and run observe → plan → act on
them. They sleep until the earliest due time, a NOTIFY, or the poll interval — whichever
comes first — so an idle pool costs nothing until its resync. Wake-ups are coalesced: a burst
of notifications for one pool is one entry in a set; a notification wakes one idle worker
(not all of them), which waits a few milliseconds for more to arrive and then takes them
all in one round.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg

from server import metrics
from server.controller.act import act_on_pools, act_on_prebuild
from server.controller.observe import observe_pools, observe_prebuilds
from server.controller.plan import Policy, as_written, plan_pool
from server.controller.prebuild_plan import plan_prebuild
from server.errors import Unavailable
from server.models import InstanceState, WarmPoolPhase
from server.store import controller as store
from server.store import prebuilds as prebuild_store

if TYPE_CHECKING:
    from server.controller.plan import PoolPlan
    from server.providers.base import RuntimeProvider
    from server.store.controller import LeasedPool
    from server.store.database import Database

log = logging.getLogger(__name__)

POOL_CHANNEL = "warmpool_pool"
PREBUILD_CHANNEL = "warmpool_prebuild"
CONTROL_CHANNEL = "warmpool_control"


@dataclass(frozen=True)
class ControllerSettings:
    workers: int = 4
    batch_size: int = 100
    lease_seconds: float = 30.0
    poll_seconds: float = 1.0
    housekeeping_seconds: float = 10.0
    retention_seconds: float = 24 * 3600.0
    coalesce_seconds: float = 0.02  # after a wake-up, wait this long for more of them


def replica_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Controller:
    def __init__(
        self,
        db: Database,
        provider: RuntimeProvider,
        policy: Policy,
        settings: ControllerSettings,
        owner: str | None = None,
    ) -> None:
        self._db = db
        self._provider = provider
        self._policy = policy
        self._s = settings
        self.owner = owner or replica_name()
        self._stopping = False
        self._outage = False
        self._stop_event = asyncio.Event()
        self._paused = False
        self._woken_pools: set[str] = set()
        self._woken_prebuilds: set[str] = set()
        self._in_progress: set[str] = set()
        self._events = [asyncio.Event() for _ in range(max(1, settings.workers))]
        self._idle_workers: list[asyncio.Event] = []  # events of workers waiting for work
        self._tasks: list[asyncio.Task[None]] = []
        self._listener_ready = asyncio.Event()

    # --- life cycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        self._paused = await store.controller_paused(self._db)
        self._tasks.append(asyncio.create_task(self._listen(), name="controller-listen"))
        # Start working once wake-ups are heard, so that nothing falls between the two.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listener_ready.wait(), 10)
        for i in range(len(self._events)):
            self._tasks.append(asyncio.create_task(self._work(i), name=f"controller-worker-{i}"))
        self._tasks.append(asyncio.create_task(self._housekeep(), name="controller-housekeeping"))
        log.info(
            "controller %s started: %d workers, provider %s%s",
            self.owner,
            len(self._events),
            self._provider.name,
            " (paused)" if self._paused else "",
        )

    async def stop(self, timeout: float) -> None:
        """Finish the current step of every worker (bounded by `timeout`), then stop."""
        self._stopping = True
        self._stop_event.set()
        self._wake_workers()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        log.info("controller %s stopped", self.owner)

    def _wake_workers(self) -> None:
        for event in self._events:
            event.set()

    def wake_pool(self, pool_id: str) -> None:
        """Reconcile this pool soon (a claim in this process took from it)."""
        self._woken_pools.add(pool_id)
        self._wake_one()

    def _wake_one(self) -> None:
        """Hand new work to one idle worker; busy ones look for it after their round."""
        if self._idle_workers:
            self._idle_workers.pop().set()

    # --- wake-ups -------------------------------------------------------------------------------

    def _on_notify(self, _conn: Any, _pid: int, channel: str, payload: str) -> None:
        if channel == POOL_CHANNEL:
            self._woken_pools.add(payload)
            self._wake_one()
        elif channel == PREBUILD_CHANNEL:
            self._woken_prebuilds.add(payload)
            self._events[0].set()  # worker 0 runs prebuilds
        elif channel == CONTROL_CHANNEL:
            asyncio.get_running_loop().create_task(self._refresh_paused())

    async def _refresh_paused(self) -> None:
        with contextlib.suppress(Exception):
            paused = await store.controller_paused(self._db)
            if paused != self._paused:
                log.info("controller %s", "paused" if paused else "resumed")
                self._paused = paused
                self._wake_workers()

    async def _listen(self) -> None:
        """Hold a LISTEN connection; after every (re)connect, treat every pool as woken."""
        delay = self._s.poll_seconds
        while not self._stopping:
            conn: asyncpg.Connection | None = None
            try:
                conn = await self._db.pool.acquire()
                for channel in (POOL_CHANNEL, PREBUILD_CHANNEL, CONTROL_CHANNEL):
                    await conn.add_listener(channel, self._on_notify)
                # Notifications sent while no one listened are lost: make everything due.
                await store.wake_all_pools(self._db)
                self._listener_ready.set()
                self._wake_workers()
                delay = self._s.poll_seconds
                while not self._stopping and not conn.is_closed():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop_event.wait(), self._s.poll_seconds)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("controller wake-up listener lost (%s); reconnecting", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
            finally:
                if conn is not None:
                    with contextlib.suppress(Exception):
                        for channel in (POOL_CHANNEL, PREBUILD_CHANNEL, CONTROL_CHANNEL):
                            await conn.remove_listener(channel, self._on_notify)
                        await self._db.pool.release(conn, timeout=5)

    # --- workers --------------------------------------------------------------------------------

    async def _work(self, index: int) -> None:
        event = self._events[index]
        while not self._stopping:
            event.clear()
            busy = False
            if not self._paused:
                try:
                    if index == 0:
                        busy |= await self._prebuild_round()
                    busy |= await self._pool_round()
                    if self._outage:
                        self._outage = False
                        log.info("database reachable again: controller resumed")
                except asyncio.CancelledError:
                    raise
                except asyncpg.exceptions.TransactionRollbackError as exc:
                    # Deadlock or serialization failure with another writer: the transaction
                    # rolled back whole; the round is simply done again.
                    log.warning("reconcile round rolled back (%s); retrying", exc)
                    await asyncio.sleep(0.05)
                except Unavailable as exc:
                    # An outage is an expected condition: one line when it starts, not one
                    # traceback per worker and round.
                    if not self._outage:
                        self._outage = True
                        log.warning("controller waiting for the database: %s", exc.message)
                    await asyncio.sleep(self._s.poll_seconds)
                except Exception:
                    log.exception("reconcile round failed; retrying")
                    await asyncio.sleep(self._s.poll_seconds)
            if busy:
                await asyncio.sleep(0)  # let API calls in between rounds
                continue
            if await self._idle(event):
                await asyncio.sleep(self._s.coalesce_seconds)

    async def _idle(self, event: asyncio.Event) -> bool:
        """Wait for a wake-up (True) or for the next due time or poll (False)."""
        delay = self._s.poll_seconds
        if not self._paused:
            with contextlib.suppress(Exception):
                due = await store.seconds_until_due(self._db)
                if due is not None:
                    delay = min(delay, max(due, 0.005))
        takeable = not self._paused and any(i not in self._in_progress for i in self._woken_pools)
        if event.is_set() or takeable:  # work arrived while this worker looked
            return True
        self._idle_workers.append(event)
        try:
            await asyncio.wait_for(event.wait(), delay)
        except TimeoutError:
            return False
        finally:
            if event in self._idle_workers:
                self._idle_workers.remove(event)
        return True

    def _take_woken(self, woken: set[str], limit: int) -> list[str]:
        taken = [i for i in woken if i not in self._in_progress][:limit]
        woken.difference_update(taken)
        if len(woken) > len(self._in_progress):
            self._wake_one()  # more than this batch is waiting: share it
        return taken

    async def _pool_round(self) -> bool:
        woken = self._take_woken(self._woken_pools, self._s.batch_size)
        leases = await store.acquire_pools(
            self._db,
            self.owner,
            woken,
            self._s.batch_size,
            self._s.lease_seconds,
            self._policy.demand_window,
        )
        missed = set(woken) - {x.pool.id for x in leases}
        if missed:
            await self._retry_held(missed)
        if not leases:
            return False
        ids = {x.pool.id for x in leases}
        self._in_progress |= ids
        started = time.perf_counter()
        try:
            await self._reconcile_pools(leases)
        except BaseException:
            with contextlib.suppress(Exception):
                await store.release_pools(
                    self._db, self.owner, leases, {x.pool.id: leases[0].now for x in leases}
                )
            raise
        finally:
            self._in_progress -= ids
        metrics.RECONCILE_SECONDS.observe(time.perf_counter() - started)
        return True

    async def _retry_held(self, missed: set[str]) -> None:
        """Woken pools another replica holds right now: look again once its round is over.

        Wake-ups from this process's own claims are not broadcast (see service/claims.py),
        so the replica holding the lease may not know of the claim; this one retries.
        """
        held = await store.leased_elsewhere(self._db, list(missed), self.owner)
        if held:
            loop = asyncio.get_running_loop()
            loop.call_later(self._s.coalesce_seconds, self._requeue, held)

    def _requeue(self, pool_ids: list[str]) -> None:
        self._woken_pools.update(pool_ids)
        self._wake_one()

    async def _reconcile_pools(self, leases: list[LeasedPool]) -> None:
        """Observe, plan and act; then once more for the pools that sent new requests.

        A quick provider has often done them by then (the simulated one with no latency
        always has), and a slow one tells when it expects to: the second pass records that
        under the same lease, instead of a whole new round right after this one.
        """
        next_wake: dict[str, datetime] = {}
        current = leases
        started = time.monotonic()
        for second_pass in (False, True):
            instances = await observe_pools(self._db, self._provider, current)
            plans = []
            for i, x in enumerate(current):
                if i and i % 10 == 0:
                    await asyncio.sleep(0)  # planning is CPU: let claims in between
                plans.append(plan_pool(x.pool, instances[x.pool.id], x.now, self._policy))
            acted = await act_on_pools(
                self._db,
                self._provider,
                self.owner,
                current,
                plans,
                instances,
                provider_timeout=self._s.lease_seconds / 2,
                retry_after=self._policy.poll_interval,
            )
            next_wake.update(acted.next_wake)
            self._count(current, plans, acted.fenced, lag=not second_pass)
            if second_pass or not acted.provider_ok:
                break
            elapsed = timedelta(seconds=time.monotonic() - started)
            current = [
                dataclasses.replace(x, pool=as_written(x.pool, plan), now=x.now + elapsed)
                for x, plan in zip(current, plans, strict=True)
                if plan.pool_id in acted.fenced and plan.new_requests
            ]
            if not current:
                break
        await store.release_pools(self._db, self.owner, leases, next_wake)

    def _count(
        self, leases: list[LeasedPool], plans: list[PoolPlan], fenced: set[str], *, lag: bool
    ) -> None:
        metrics.RECONCILE_POOLS.inc(len(leases))
        if lag:
            for x in leases:
                metrics.RECONCILE_LAG_SECONDS.observe(max(0.0, x.lag))
        for plan, x in zip(plans, leases, strict=True):
            if plan.pool_id not in fenced:
                continue
            if plan.converged_after is not None:
                metrics.CONVERGENCE_SECONDS.observe(plan.converged_after)
            if plan.new_create_failures:
                metrics.CREATE_FAILURES.labels(x.pool.environment_class_id).inc(
                    plan.new_create_failures
                )

    async def _prebuild_round(self) -> bool:
        woken = self._take_woken(self._woken_prebuilds, self._s.batch_size)
        leases = await prebuild_store.acquire_prebuilds(
            self._db, self.owner, woken, self._s.batch_size, self._s.lease_seconds
        )
        if not leases:
            return False
        for observed, leased in zip(
            await observe_prebuilds(self._provider, leases), leases, strict=True
        ):
            plan = plan_prebuild(observed, leased.now, self._policy.poll_interval)
            pools = await act_on_prebuild(
                self._db,
                self._provider,
                self.owner,
                leased,
                plan,
                provider_timeout=self._s.lease_seconds / 2,
            )
            if pools:
                log.info(
                    "prebuild %s completed: %d warm pool(s) take its snapshot", leased.id, pools
                )
        return True

    # --- housekeeping ---------------------------------------------------------------------------

    async def _housekeep(self) -> None:
        while not self._stopping:
            try:
                await self._refresh_paused()
                await store.purge(self._db, self._policy.demand_window, self._s.retention_seconds)
                census = await store.census(self._db)
                for state in InstanceState:
                    if state in (InstanceState.CLAIMED, InstanceState.DELETED):
                        continue
                    for freshness in ("current", "stale"):
                        metrics.INSTANCES.labels(state.value, freshness).set(
                            census.instances.get((state.value, freshness), 0)
                        )
                for phase in WarmPoolPhase:
                    if phase not in (WarmPoolPhase.UNSPECIFIED, WarmPoolPhase.DELETED):
                        metrics.POOLS.labels(phase.name).set(census.pools.get(int(phase), 0))
                metrics.POOL_TARGETS.labels("running").set(census.running_target)
                metrics.POOL_TARGETS.labels("total").set(census.total_target)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("controller housekeeping failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop_event.wait(), self._s.housekeeping_seconds)
