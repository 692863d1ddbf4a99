"""A real Postgres for tests: embedded (pgserver) or the one in WARMPOOL_TEST_DATABASE_URL.

Each test database is a copy of a migrated template, so a fresh schema costs one
`CREATE DATABASE … TEMPLATE`, not a migration run.
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from server.store.database import Database
from server.store.migrate import migrate

if TYPE_CHECKING:
    from pathlib import Path

TEMPLATE = "warmpool_test_template"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class SessionPostgres:
    """One Postgres server for the whole test session."""

    def __init__(self, base_dir: Path) -> None:
        self._base_dir = base_dir
        self._server: Any = None
        self.admin_url = ""

    async def start(self) -> None:
        url = os.environ.get("WARMPOOL_TEST_DATABASE_URL", "")
        if not url:
            import pgserver

            self._server = pgserver.get_server(self._base_dir / "pg", cleanup_mode="delete")
            url = self._server.get_uri()
            conn = await asyncpg.connect(url)
            try:
                # Durability is not under test here; speed is welcome.
                await conn.execute("ALTER SYSTEM SET fsync = off")
                await conn.execute("ALTER SYSTEM SET synchronous_commit = off")
                await conn.execute("ALTER SYSTEM SET full_page_writes = off")
                await conn.execute("SELECT pg_reload_conf()")
            finally:
                await conn.close()
        self.admin_url = url
        await self._create_template()

    async def _create_template(self) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{TEMPLATE}"')
            await conn.execute(f'CREATE DATABASE "{TEMPLATE}"')
        finally:
            await conn.close()
        db = await Database.connect(with_database(self.admin_url, TEMPLATE), min_size=1, max_size=2)
        try:
            await migrate(db)
        finally:
            await db.close()

    async def new_database(self) -> str:
        """A fresh, migrated, empty database; returns its URL."""
        name = "t_" + uuid.uuid4().hex[:12]
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"')
        finally:
            await conn.close()
        return with_database(self.admin_url, name)

    async def new_empty_database(self) -> str:
        name = "e_" + uuid.uuid4().hex[:12]
        conn = await asyncpg.connect(self.admin_url)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        return with_database(self.admin_url, name)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
