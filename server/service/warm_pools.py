"""Use cases of the warm-pool API: rules of behaviour.md §2 over the store.

Every method takes the caller's principal (already authenticated) and the decoded request
message, checks role, fields, sizing and preconditions in the documented order, and returns
domain objects. Nothing here knows about gRPC or Connect.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from server.errors import AlreadyExists, FailedPrecondition, NotFound
from server.models import Principal, Sizing, WarmPool, WarmPoolPhase
from server.service.auth import Action, authorize
from server.service.pagination import PageTokens, page_scope
from server.service.sizing import check_update_request, sizing_for_create, sizing_for_update
from server.service.validation import DEFAULT_PAGE_SIZE, Violations, normalize_uuid
from server.store import warm_pools as store
from server.store.warm_pools import PagePosition

if TYPE_CHECKING:
    from gitpod.v1 import prebuild_pb2 as pb

    from server.store.database import Database

_POOL_NOT_FOUND = "warm pool {} not found"


@dataclass(frozen=True)
class WarmPoolPage:
    pools: list[WarmPool]
    next_token: str


class WarmPoolService:
    def __init__(self, db: Database, page_tokens: PageTokens, deleted_retention_seconds: int):
        self._db = db
        self._tokens = page_tokens
        self._retention = deleted_retention_seconds

    async def create(self, principal: Principal, req: pb.CreateWarmPoolRequest) -> WarmPool:
        authorize(principal, Action.WRITE, "CreateWarmPool")
        project_id, class_id, sizing = check_create(req)
        outcome = await store.create_warm_pool(
            self._db, principal.organization_id, project_id, class_id, sizing
        )
        if not outcome.project_found:
            raise NotFound(f"project {project_id} not found")
        if not outcome.prebuilds_enabled:
            raise FailedPrecondition(f"project {project_id} does not have prebuilds enabled")
        if not outcome.class_configured or not outcome.class_exists:
            raise FailedPrecondition(
                f"environment class {class_id} is not in the prebuild configuration "
                f"(environment_class_ids) of project {project_id}"
            )
        if outcome.pool is None:
            raise AlreadyExists(
                f"a warm pool already exists for project {project_id} "
                f"and environment class {class_id}"
            )
        return outcome.pool

    async def get(self, principal: Principal, req: pb.GetWarmPoolRequest) -> WarmPool:
        authorize(principal, Action.READ, "GetWarmPool")
        pool_id = self._pool_id(req.warm_pool_id)
        pool = await store.get_warm_pool(
            self._db, principal.organization_id, pool_id, self._retention
        )
        if pool is None:
            raise NotFound(_POOL_NOT_FOUND.format(pool_id))
        return pool

    async def list(self, principal: Principal, req: pb.ListWarmPoolsRequest) -> WarmPoolPage:
        authorize(principal, Action.READ, "ListWarmPools")
        project_ids, class_ids = check_list(req)
        scope = page_scope("ListWarmPools", principal.organization_id, project_ids, class_ids)
        after = self._tokens.decode(scope, req.pagination.token) if req.pagination.token else None
        page_size = req.pagination.page_size or DEFAULT_PAGE_SIZE
        pools = await store.list_warm_pools(
            self._db,
            principal.organization_id,
            project_ids=project_ids,
            environment_class_ids=class_ids,
            after=after,
            limit=page_size + 1,
        )
        next_token = ""
        if len(pools) > page_size:
            pools = pools[:page_size]
            last = pools[-1]
            next_token = self._tokens.encode(scope, PagePosition(last.created_at, last.id))
        return WarmPoolPage(pools, next_token)

    async def update(self, principal: Principal, req: pb.UpdateWarmPoolRequest) -> WarmPool:
        authorize(principal, Action.WRITE, "UpdateWarmPool")
        pool_id, desired, min_size, max_size = check_update(req)

        def decide(pool: WarmPool) -> Sizing | None:
            if pool.desired_phase == WarmPoolPhase.DELETED:
                raise FailedPrecondition(f"warm pool {pool_id} is being deleted")
            current = Sizing(pool.legacy_desired_size, pool.min_size, pool.max_size)
            return sizing_for_update(current, desired, min_size, max_size)

        pool = await store.update_warm_pool_sizing(
            self._db, principal.organization_id, pool_id, self._retention, decide
        )
        if pool is None:
            raise NotFound(_POOL_NOT_FOUND.format(pool_id))
        return pool

    async def delete(self, principal: Principal, req: pb.DeleteWarmPoolRequest) -> None:
        authorize(principal, Action.WRITE, "DeleteWarmPool")
        pool_id = self._pool_id(req.warm_pool_id)
        found = await store.delete_warm_pool(
            self._db, principal.organization_id, pool_id, self._retention
        )
        if not found:
            raise NotFound(_POOL_NOT_FOUND.format(pool_id))

    @staticmethod
    def _pool_id(value: str) -> str:
        v = Violations()
        v.required_uuid("warm_pool_id", value)
        v.raise_if_any()
        return normalize_uuid(value)


def check_create(req: pb.CreateWarmPoolRequest) -> tuple[str, str, Sizing]:
    """Field rules, then sizing rules, of CreateWarmPool: (project id, class id, sizing)."""
    v = Violations()
    v.required_uuid("project_id", req.project_id)
    v.required_uuid("environment_class_id", req.environment_class_id)
    if req.desired_size != 0:
        v.in_range("desired_size", req.desired_size, 1, 20)
    min_size = req.min_size if req.HasField("min_size") else None
    max_size = req.max_size if req.HasField("max_size") else None
    v.in_range("min_size", min_size, 0, 20)
    v.in_range("max_size", max_size, 1, 20)
    v.raise_if_any()
    sizing = sizing_for_create(req.desired_size, min_size, max_size)
    return normalize_uuid(req.project_id), normalize_uuid(req.environment_class_id), sizing


def check_update(
    req: pb.UpdateWarmPoolRequest,
) -> tuple[str, int | None, int | None, int | None]:
    """Rules an UpdateWarmPool request breaks on its own: (pool id, desired, min, max)."""
    v = Violations()
    v.required_uuid("warm_pool_id", req.warm_pool_id)
    desired = req.desired_size if req.HasField("desired_size") else None
    min_size = req.min_size if req.HasField("min_size") else None
    max_size = req.max_size if req.HasField("max_size") else None
    v.in_range("desired_size", desired, 1, 20)
    v.in_range("min_size", min_size, 0, 20)
    v.in_range("max_size", max_size, 1, 20)
    v.raise_if_any()
    check_update_request(desired, min_size, max_size)
    return normalize_uuid(req.warm_pool_id), desired, min_size, max_size


def check_list(req: pb.ListWarmPoolsRequest) -> tuple[list[str], list[str]]:
    """Field rules of ListWarmPools: (project ids, class ids) of the filter."""
    v = Violations()
    v.page_size(req.pagination.page_size)
    v.uuid_list("filter.project_ids", req.filter.project_ids, 25)
    v.uuid_list("filter.environment_class_ids", req.filter.environment_class_ids, 25)
    v.raise_if_any()
    return (
        [normalize_uuid(x) for x in req.filter.project_ids],
        [normalize_uuid(x) for x in req.filter.environment_class_ids],
    )
