"""The interop session: the server process, a tenant per client, and each client's outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from server.models import Role
from tests.interop.plan import JSON, Outcome, Plan, PlanTenant, build_plan
from tests.interop.runners import CLIENTS

if TYPE_CHECKING:
    from tests.interop.runners import InteropEnv
    from tests.support.tenants import Tenant


@dataclass
class Interop:
    env: InteropEnv
    tenants: dict[str, Tenant]
    demo_token: str  # admin of the demo organization (the public docs' project and class)
    # Per client: a prebuild the controller ran to COMPLETED before the server started, as
    # canonical proto3 JSON from the server that ran it (its logUrl names that server).
    completed_prebuilds: dict[str, JSON]
    _outcomes: dict[str, dict[str, Outcome]] = field(default_factory=dict)
    _failures: dict[str, BaseException] = field(default_factory=dict)

    def plan(self, client: str) -> Plan:
        t = self.tenants[client]
        return build_plan(
            PlanTenant(
                project_id=t.project_id,
                class_ids=[t.class_id, *t.extra_class_ids],
                admin_token=t.admin,
                viewer_token=t.tokens[Role.VIEWER],
                disabled_project_id=t.disabled_project_id,
                unconfigured_class_id=t.other_class_id,
                completed_prebuild_id=self.completed_prebuilds[client]["id"],
            )
        )

    def outcomes(self, client: str) -> dict[str, Outcome]:
        """The client's outcomes of the plan; it runs once, on first use."""
        if client in self._failures:
            raise self._failures[client]
        if client not in self._outcomes:
            try:
                self._outcomes[client] = CLIENTS[client](self.env, self.plan(client))
            except BaseException as exc:
                self._failures[client] = exc
                raise
        return self._outcomes[client]
