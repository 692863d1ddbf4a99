"""Use cases of the prebuild API: the same validation, tenancy and error model as warm pools.

A prebuild is created PENDING; the controller runs it through the runtime provider
(PENDING → STARTING → RUNNING → STOPPING → SNAPSHOTTING → COMPLETED) and hands its snapshot
to every live warm pool of its <project, environment class> pair.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from server.errors import FailedPrecondition, NotFound, PermissionDenied, Unauthenticated
from server.models import Prebuild, PrebuildPhase, PrebuildTrigger, Principal, SubjectKind
from server.service.auth import Action, authorize, bearer_token
from server.service.pagination import PageTokens, page_scope
from server.service.validation import (
    DEFAULT_PAGE_SIZE,
    REQUIRED,
    Violations,
    is_uuid,
    normalize_uuid,
)
from server.store import prebuilds as store
from server.store.prebuilds import PrebuildFilter
from server.store.warm_pools import PagePosition

if TYPE_CHECKING:
    from gitpod.v1 import prebuild_pb2 as pb
    from google.protobuf import duration_pb2

    from server.store.database import Database

MIN_TIMEOUT_SECONDS = 300
MAX_TIMEOUT_SECONDS = 7200
LOGS_TOKEN_TTL = timedelta(hours=1)
_NOT_FOUND = "prebuild {} not found"
_DEFINED_PHASES = {int(p) for p in PrebuildPhase}
_DEFINED_TRIGGERS = {int(t) for t in PrebuildTrigger}


@dataclass(frozen=True)
class PrebuildPage:
    prebuilds: list[Prebuild]
    next_token: str


class PrebuildService:
    def __init__(
        self,
        db: Database,
        page_tokens: PageTokens,
        logs_tokens: LogsTokens,
        deleted_retention_seconds: int,
    ) -> None:
        self._db = db
        self._tokens = page_tokens
        self._logs_tokens = logs_tokens
        self._retention = deleted_retention_seconds

    async def create(self, principal: Principal, req: pb.CreatePrebuildRequest) -> Prebuild:
        authorize(principal, Action.WRITE, "CreatePrebuild")
        project_id, class_id, timeout = check_create(req)
        outcome = await store.create_prebuild(
            self._db,
            principal.organization_id,
            project_id,
            class_id,
            creator_id=principal.token_id,
            creator_kind=SubjectKind.SERVICE_ACCOUNT,
            trigger=PrebuildTrigger.MANUAL,
            timeout_seconds=timeout,
        )
        if not outcome.project_found:
            raise NotFound(f"project {project_id} not found")
        if not outcome.prebuilds_enabled:
            raise FailedPrecondition(f"project {project_id} does not have prebuilds enabled")
        if outcome.class_id is None:
            raise FailedPrecondition(
                f"project {project_id} has no environment class in its prebuild configuration: "
                "set environment_class_id"
            )
        if not outcome.class_configured or not outcome.class_exists:
            raise FailedPrecondition(
                f"environment class {outcome.class_id} is not in the prebuild configuration "
                f"(environment_class_ids) of project {project_id}"
            )
        assert outcome.prebuild is not None  # every rule passed, so the row was inserted
        return outcome.prebuild

    async def get(self, principal: Principal, req: pb.GetPrebuildRequest) -> Prebuild:
        authorize(principal, Action.READ, "GetPrebuild")
        return await self._visible(principal, self._prebuild_id(req.prebuild_id))

    async def list(self, principal: Principal, req: pb.ListPrebuildsRequest) -> PrebuildPage:
        authorize(principal, Action.READ, "ListPrebuilds")
        where = check_list(req)
        scope = page_scope(
            "ListPrebuilds",
            principal.organization_id,
            where.project_ids,
            [str(p) for p in where.phases],
            [str(t) for t in where.triggers],
            where.creator_ids,
            where.executor_ids,
        )
        after = self._tokens.decode(scope, req.pagination.token) if req.pagination.token else None
        page_size = req.pagination.page_size or DEFAULT_PAGE_SIZE
        found = await store.list_prebuilds(
            self._db, principal.organization_id, where, after=after, limit=page_size + 1
        )
        next_token = ""
        if len(found) > page_size:
            found = found[:page_size]
            last = found[-1]
            next_token = self._tokens.encode(scope, PagePosition(last.created_at, last.id))
        return PrebuildPage(found, next_token)

    async def cancel(self, principal: Principal, req: pb.CancelPrebuildRequest) -> Prebuild:
        """CANCELLING (then CANCELLED by the controller); cancelling again changes nothing."""
        authorize(principal, Action.WRITE, "CancelPrebuild")
        prebuild_id = self._prebuild_id(req.prebuild_id)

        def decide(p: Prebuild) -> tuple[PrebuildPhase, PrebuildPhase] | None:
            if p.desired_phase == PrebuildPhase.DELETED:
                raise FailedPrecondition(f"prebuild {prebuild_id} is being deleted")
            if p.phase in (PrebuildPhase.CANCELLING, PrebuildPhase.CANCELLED):
                return None
            if p.phase == PrebuildPhase.COMPLETED:
                raise FailedPrecondition(f"prebuild {prebuild_id} has already completed")
            if p.phase == PrebuildPhase.FAILED:
                raise FailedPrecondition(f"prebuild {prebuild_id} has already failed")
            return PrebuildPhase.CANCELLED, PrebuildPhase.CANCELLING

        changed = await store.change_prebuild(
            self._db, principal.organization_id, prebuild_id, self._retention, decide
        )
        if changed is None:
            raise NotFound(_NOT_FOUND.format(prebuild_id))
        return changed

    async def delete(self, principal: Principal, req: pb.DeletePrebuildRequest) -> None:
        """DELETING (then DELETED by the controller); deleting again changes nothing."""
        authorize(principal, Action.WRITE, "DeletePrebuild")
        prebuild_id = self._prebuild_id(req.prebuild_id)

        def decide(p: Prebuild) -> tuple[PrebuildPhase, PrebuildPhase] | None:
            if p.desired_phase == PrebuildPhase.DELETED:
                return None
            return PrebuildPhase.DELETED, PrebuildPhase.DELETING

        changed = await store.change_prebuild(
            self._db, principal.organization_id, prebuild_id, self._retention, decide
        )
        if changed is None:
            raise NotFound(_NOT_FOUND.format(prebuild_id))

    async def create_logs_token(
        self, principal: Principal, req: pb.CreatePrebuildLogsTokenRequest
    ) -> str:
        """A token that reads this prebuild's logs for one hour."""
        authorize(principal, Action.READ, "CreatePrebuildLogsToken")
        prebuild = await self._visible(principal, self._prebuild_id(req.prebuild_id))
        expires_at = datetime.now(UTC) + LOGS_TOKEN_TTL
        return self._logs_tokens.issue(prebuild.organization_id, prebuild.id, expires_at)

    async def read_log(self, authorization: str | None, prebuild_id: str) -> str:
        """The log of one prebuild, for the bearer of its logs token (not an API token)."""
        if not is_uuid(prebuild_id):
            raise NotFound("no such prebuild")
        try:
            org_id, token_prebuild = self._logs_tokens.verify(
                bearer_token(authorization), datetime.now(UTC)
            )
        except InvalidLogsToken as exc:
            raise Unauthenticated(f"a valid prebuild logs token is required ({exc})") from None
        if token_prebuild != normalize_uuid(prebuild_id):
            raise PermissionDenied("the token is for another prebuild")
        text = await store.read_log(self._db, org_id, token_prebuild)
        if text is None:
            raise NotFound("no such prebuild")
        return text

    async def _visible(self, principal: Principal, prebuild_id: str) -> Prebuild:
        found = await store.get_prebuild(
            self._db, principal.organization_id, prebuild_id, self._retention
        )
        if found is None:
            raise NotFound(_NOT_FOUND.format(prebuild_id))
        return found

    @staticmethod
    def _prebuild_id(value: str) -> str:
        v = Violations()
        v.required_uuid("prebuild_id", value)
        v.raise_if_any()
        return normalize_uuid(value)


def check_create(req: pb.CreatePrebuildRequest) -> tuple[str, str | None, int | None]:
    """Field rules of CreatePrebuild: (project id, class id or None, timeout seconds or None)."""
    v = Violations()
    v.required_uuid("project_id", req.project_id)
    class_id = req.environment_class_id if req.HasField("environment_class_id") else None
    v.optional_uuid("environment_class_id", class_id)
    timeout: int | None = None
    if not req.HasField("spec"):
        v.add("spec", REQUIRED)
    else:
        v.defined_enum("spec.desired_phase", req.spec.desired_phase, _DEFINED_PHASES)
    if req.spec.HasField("timeout"):
        timeout = _timeout_seconds(req.spec.timeout, v)
    v.raise_if_any()
    return (
        normalize_uuid(req.project_id),
        None if class_id is None else normalize_uuid(class_id),
        timeout,
    )


def _timeout_seconds(d: duration_pb2.Duration, v: Violations) -> int | None:
    """spec.timeout in whole seconds, or None after recording why it is refused.

    Binary protobuf can carry a Duration that google.protobuf.Duration forbids (nanos beyond
    a second, or of the other sign than seconds); JSON cannot.
    """
    if not -999_999_999 <= d.nanos <= 999_999_999 or d.seconds * d.nanos < 0:
        v.add(
            "spec.timeout",
            "must be a valid Duration (nanos within ±999999999, with the sign of seconds)",
        )
        return None
    seconds = d.seconds + d.nanos / 1e9
    if not MIN_TIMEOUT_SECONDS <= seconds <= MAX_TIMEOUT_SECONDS:
        v.add("spec.timeout", f"must be between {MIN_TIMEOUT_SECONDS}s and {MAX_TIMEOUT_SECONDS}s")
        return None
    return int(seconds)


def check_list(req: pb.ListPrebuildsRequest) -> PrebuildFilter:
    v = Violations()
    v.page_size(req.pagination.page_size)
    f = req.filter
    v.uuid_list("filter.project_ids", f.project_ids, 25)
    v.defined_enums("filter.phases", list(f.phases), _DEFINED_PHASES, 10)
    v.defined_enums("filter.triggered_by", list(f.triggered_by), _DEFINED_TRIGGERS, 5)
    v.uuid_list("filter.creator_ids", f.creator_ids, 25)
    v.uuid_list("filter.executor_ids", f.executor_ids, 25)
    v.raise_if_any()
    return PrebuildFilter(
        project_ids=[normalize_uuid(x) for x in f.project_ids],
        phases=sorted(set(f.phases)),
        triggers=sorted(set(f.triggered_by)),
        creator_ids=[normalize_uuid(x) for x in f.creator_ids],
        executor_ids=[normalize_uuid(x) for x in f.executor_ids],
    )


# --- Logs tokens ------------------------------------------------------------------------------

_LOGS_VERSION = 1
_LOGS_LAYOUT = struct.Struct(">Bq16s16s")  # version, expiry (unix seconds), org id, prebuild id
_LOGS_MAC_BYTES = 16
_LOGS_PREFIX = "wpl_"


class InvalidLogsToken(Exception):
    pass


class LogsTokens:
    """Short-lived bearer tokens for one prebuild's logs: signed, not stored.

    A token names its organization, its prebuild and its expiry, bound by an HMAC with a
    key shared by every replica through the database.
    """

    def __init__(self, key: bytes) -> None:
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, b"prebuild-logs\x00" + payload, hashlib.sha256).digest()[
            :_LOGS_MAC_BYTES
        ]

    def issue(self, organization_id: str, prebuild_id: str, expires_at: datetime) -> str:
        payload = _LOGS_LAYOUT.pack(
            _LOGS_VERSION,
            int(expires_at.timestamp()),
            uuid.UUID(organization_id).bytes,
            uuid.UUID(prebuild_id).bytes,
        )
        raw = payload + self._mac(payload)
        return _LOGS_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    def verify(self, token: str, now: datetime) -> tuple[str, str]:
        """(organization id, prebuild id) of a valid, unexpired token; else InvalidLogsToken."""
        if not token.startswith(_LOGS_PREFIX):
            raise InvalidLogsToken("not a prebuild logs token")
        body = token[len(_LOGS_PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (ValueError, TypeError):
            raise InvalidLogsToken("malformed token") from None
        if len(raw) != _LOGS_LAYOUT.size + _LOGS_MAC_BYTES:
            raise InvalidLogsToken("malformed token")
        payload, mac = raw[: _LOGS_LAYOUT.size], raw[_LOGS_LAYOUT.size :]
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidLogsToken("bad signature")
        version, expires, org, prebuild = _LOGS_LAYOUT.unpack(payload)
        if version != _LOGS_VERSION:
            raise InvalidLogsToken("unknown token version")
        if now >= datetime.fromtimestamp(expires, UTC):
            raise InvalidLogsToken("token expired")
        return str(uuid.UUID(bytes=org)), str(uuid.UUID(bytes=prebuild))
