"""The claim use case (warmpool.v1.WarmPoolRuntimeService.ClaimInstance), runner role only.

A claim is one SQL statement (store/claims.py) that also resolves the bearer token, so the
hot path is one round trip; errors still come in the documented order (authentication,
role, fields, existence). It never waits on the controller, which learns of the claim by
NOTIFY and by the demand it records.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from server import metrics
from server.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from server.models import Claim, ClaimOutcome
from server.service.auth import UNKNOWN_TOKEN, Action, authorize, bearer_token, hash_token
from server.service.validation import NO_NUL, REQUIRED, Violations, normalize_uuid
from server.store import claims as store

if TYPE_CHECKING:
    from collections.abc import Callable

    from warmpool.v1 import runtime_pb2

    from server.service.auth import Authenticator
    from server.store.database import Database

MAX_CLAIM_ID_LENGTH = 128


class ClaimService:
    def __init__(
        self, db: Database, auth: Authenticator, wake: Callable[[str], None] | None = None
    ) -> None:
        """`wake(pool_id)`: this process's controller, told of every new attempt; without
        one, the claim statement wakes the controllers of all replicas by NOTIFY."""
        self._db = db
        self._auth = auth
        self._wake = wake

    async def claim(
        self, authorization: str | None, req: runtime_pb2.ClaimInstanceRequest
    ) -> Claim:
        token = bearer_token(authorization)
        try:
            pool_id, project_id, class_id, claim_id = check_claim(req)
        except InvalidArgument:
            # Who is asking comes first in the documented order: answer that, then this.
            authorize(await self._auth.authenticate(authorization), Action.CLAIM, "ClaimInstance")
            raise
        started = time.perf_counter()
        row = await store.claim_instance(
            self._db,
            hash_token(token),
            claim_id,
            pool_id=pool_id,
            project_id=project_id,
            environment_class_id=class_id,
            notify=self._wake is None,
        )
        if row is None:
            raise Unauthenticated(UNKNOWN_TOKEN)
        authorize(row.caller, Action.CLAIM, "ClaimInstance")
        if row.pool_id is None:
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
            if self._wake is not None:
                self._wake(row.pool_id)
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
    elif "\x00" in req.claim_id:
        v.add("claim_id", NO_NUL)
    v.raise_if_any()
    if req.warm_pool_id:
        return normalize_uuid(req.warm_pool_id), None, None, req.claim_id
    return (
        None,
        normalize_uuid(req.project_id),
        normalize_uuid(req.environment_class_id),
        req.claim_id,
    )
