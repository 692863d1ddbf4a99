"""The claim use case (warmpool.v1.WarmPoolRuntimeService.ClaimInstance), runner role only.

A claim is one SQL statement (store/claims.py): it never waits on the controller, and the
controller learns of it by NOTIFY and by the demand it records.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from server import metrics
from server.errors import AlreadyExists, FailedPrecondition, NotFound
from server.models import Claim, ClaimOutcome, Principal
from server.service.auth import Action, authorize
from server.service.validation import REQUIRED, Violations, normalize_uuid
from server.store import claims as store

if TYPE_CHECKING:
    from warmpool.v1 import runtime_pb2

    from server.store.database import Database

MAX_CLAIM_ID_LENGTH = 128


class ClaimService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def claim(self, principal: Principal, req: runtime_pb2.ClaimInstanceRequest) -> Claim:
        authorize(principal, Action.CLAIM, "ClaimInstance")
        pool_id, project_id, class_id, claim_id = check_claim(req)
        started = time.perf_counter()
        row = await store.claim_instance(
            self._db,
            principal.organization_id,
            claim_id,
            pool_id=pool_id,
            project_id=project_id,
            environment_class_id=class_id,
        )
        if row is None:
            if pool_id is not None:
                raise NotFound(f"warm pool {pool_id} not found")
            raise NotFound(
                f"no warm pool for project {project_id} and environment class {class_id}"
            )
        if row.instance is not None and row.instance_pool_id != row.pool_id:
            raise AlreadyExists(
                f"claim_id {claim_id!r} already claimed an instance of another warm pool"
            )
        if row.instance is None and row.pool_deleted:
            raise FailedPrecondition(f"warm pool {row.pool_id} is being deleted")
        if row.instance is None:
            outcome = ClaimOutcome.MISS
        elif row.claimed_running:
            outcome = ClaimOutcome.RUNNING
        else:
            outcome = ClaimOutcome.STARTING
        if not row.retried:
            metrics.observe_claim(outcome.name.lower(), time.perf_counter() - started)
        return Claim(outcome, row.pool_id, row.instance)


def check_claim(
    req: runtime_pb2.ClaimInstanceRequest,
) -> tuple[str | None, str | None, str | None, str]:
    """Field rules: (pool id | None, project id | None, class id | None, claim id)."""
    v = Violations()
    by_pair = bool(req.project_id or req.environment_class_id)
    if req.warm_pool_id:
        v.required_uuid("warm_pool_id", req.warm_pool_id)
        if by_pair:
            v.add(
                "warm_pool_id",
                "cannot be combined with project_id and environment_class_id: name the pool "
                "one way",
            )
    elif by_pair:
        v.required_uuid("project_id", req.project_id)
        v.required_uuid("environment_class_id", req.environment_class_id)
    else:
        v.add("warm_pool_id", f"{REQUIRED} (or project_id with environment_class_id)")
    if not req.claim_id:
        v.add("claim_id", REQUIRED)
    elif len(req.claim_id) > MAX_CLAIM_ID_LENGTH:
        v.add("claim_id", f"must be at most {MAX_CLAIM_ID_LENGTH} characters")
    v.raise_if_any()
    if req.warm_pool_id:
        return normalize_uuid(req.warm_pool_id), None, None, req.claim_id
    return (
        None,
        normalize_uuid(req.project_id),
        normalize_uuid(req.environment_class_id),
        req.claim_id,
    )
