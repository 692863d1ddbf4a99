"""Tenancy administration: what the admin CLI and bootstrap files do.

A bootstrap document (TOML) describes organizations with their runners, environment classes,
projects and tokens; applying it is idempotent (everything is keyed by id, tokens by name), so
the same file can be applied on every deploy.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from server.models import Role
from server.service.auth import hash_token, new_token
from server.service.validation import is_uuid, normalize_uuid
from server.store import tenancy

if TYPE_CHECKING:
    from server.store.database import Database

DEMO_ORGANIZATION_ID = "5b9c2a63-1a1e-4d51-9a37-7e0f6a1c0d01"
DEMO_RUNNER_ID = "9f7d4c1e-2b8a-4e6f-8c3d-1a2b3c4d5e6f"
# The ids of the public API documentation's CreateWarmPool example.
DEMO_PROJECT_ID = "b0e12f6c-4c67-429d-a4a6-d9838b5da047"
DEMO_ENVIRONMENT_CLASS_ID = "d2c94c27-3b76-4a42-b88c-95a85e392c68"


class BootstrapError(ValueError):
    pass


@dataclass
class BootstrapReport:
    organizations: int = 0
    runners: int = 0
    environment_classes: int = 0
    projects: int = 0
    pools_deleted: int = 0
    # (organization id, token name, role, secret) of tokens created with a generated secret
    new_tokens: list[tuple[str, str, str, str]] = field(default_factory=list)


async def create_token(
    db: Database, organization_id: str, role: Role, name: str
) -> tuple[str, str]:
    """Create a token; returns (token id, secret). The secret is not stored and not shown again."""
    secret = new_token()
    token_id = await tenancy.create_token(db, organization_id, role, name, hash_token(secret))
    return token_id, secret


def _id(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not is_uuid(value):
        raise BootstrapError(f"{where}: id must be a UUID, got {value!r}")
    return normalize_uuid(value)


def _tables(parent: dict[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = parent.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise BootstrapError(f"{where}{key}: must be a list of tables ([[{key}]])")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise BootstrapError(f"{where}: must be a non-empty string")
    return value


async def apply_bootstrap(db: Database, document: dict[str, Any]) -> BootstrapReport:
    report = BootstrapReport()
    for i, org in enumerate(_tables(document, "organizations", "")):
        where = f"organizations[{i}]"
        org_id = await tenancy.create_organization(
            db, _str(org.get("name"), f"{where}.name"), _id(org.get("id"), where)
        )
        report.organizations += 1
        for j, runner in enumerate(_tables(org, "runners", f"{where}.")):
            rwhere = f"{where}.runners[{j}]"
            runner_id = await tenancy.create_runner(
                db,
                org_id,
                _str(runner.get("name"), f"{rwhere}.name"),
                _id(runner.get("id"), rwhere),
            )
            report.runners += 1
            for k, cls in enumerate(_tables(runner, "environment_classes", f"{rwhere}.")):
                cwhere = f"{rwhere}.environment_classes[{k}]"
                await tenancy.create_environment_class(
                    db,
                    org_id,
                    runner_id,
                    _str(cls.get("name"), f"{cwhere}.name"),
                    _id(cls.get("id"), cwhere),
                )
                report.environment_classes += 1
        for j, project in enumerate(_tables(org, "projects", f"{where}.")):
            pwhere = f"{where}.projects[{j}]"
            raw_ids = project.get("prebuild_environment_class_ids", [])
            if not isinstance(raw_ids, list):
                raise BootstrapError(f"{pwhere}.prebuild_environment_class_ids: must be a list")
            class_ids = [_id(c, f"{pwhere}.prebuild_environment_class_ids") or "" for c in raw_ids]
            timeout = project.get("prebuild_timeout_seconds", 3600)
            if not isinstance(timeout, int) or not 300 <= timeout <= 7200:
                raise BootstrapError(f"{pwhere}.prebuild_timeout_seconds: must be 300..7200")
            _, deleted = await tenancy.upsert_project(
                db,
                org_id,
                _str(project.get("name"), f"{pwhere}.name"),
                project_id=_id(project.get("id"), pwhere),
                prebuilds_enabled=bool(project.get("prebuilds_enabled", False)),
                prebuild_environment_class_ids=class_ids,
                prebuild_timeout_seconds=timeout,
            )
            report.projects += 1
            report.pools_deleted += deleted
        for j, token in enumerate(_tables(org, "tokens", f"{where}.")):
            twhere = f"{where}.tokens[{j}]"
            name = _str(token.get("name"), f"{twhere}.name")
            try:
                role = Role(str(token.get("role")))
            except ValueError:
                roles = ", ".join(r.value for r in Role)
                raise BootstrapError(f"{twhere}.role: must be one of {roles}") from None
            secret = _token_secret(token, twhere)
            if await tenancy.token_exists(db, org_id, name):
                if secret is not None:
                    await tenancy.replace_token_hash(db, org_id, name, role, hash_token(secret))
                continue
            if secret is None:
                _, generated = await create_token(db, org_id, role, name)
                report.new_tokens.append((org_id, name, role.value, generated))
            else:
                await tenancy.create_token(db, org_id, role, name, hash_token(secret))
    return report


def _token_secret(token: dict[str, Any], where: str) -> str | None:
    if "secret_env" in token:
        env = _str(token["secret_env"], f"{where}.secret_env")
        value = os.environ.get(env)
        if not value:
            raise BootstrapError(f"{where}.secret_env: environment variable {env} is not set")
        return value
    if "secret" in token:
        return _str(token["secret"], f"{where}.secret")
    return None


def demo_document() -> dict[str, Any]:
    """The demo tenancy a first embedded run creates: the public docs' ids, prebuilds on."""
    return {
        "organizations": [
            {
                "id": DEMO_ORGANIZATION_ID,
                "name": "Demo",
                "runners": [
                    {
                        "id": DEMO_RUNNER_ID,
                        "name": "demo-runner",
                        "environment_classes": [
                            {"id": DEMO_ENVIRONMENT_CLASS_ID, "name": "demo-class"}
                        ],
                    }
                ],
                "projects": [
                    {
                        "id": DEMO_PROJECT_ID,
                        "name": "demo-project",
                        "prebuilds_enabled": True,
                        "prebuild_environment_class_ids": [DEMO_ENVIRONMENT_CLASS_ID],
                    }
                ],
            }
        ]
    }
