"""An embedded Postgres for running without DATABASE_URL: the `pgserver` wheel ships the binaries.

The data directory persists across restarts; the server stops Postgres when it shuts down. If
a previous server was killed and left Postgres running on the same directory, it is reused.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import asyncpg

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

DATABASE_NAME = "warmpool"


@dataclass
class EmbeddedPostgres:
    data_dir: Path
    _server: Any = None

    async def start(self) -> str:
        """Start (or adopt) Postgres and return the URL of the warmpool database."""
        import pgserver  # imported lazily: only the embedded mode needs it

        pgdata = self.data_dir.resolve() / "postgres"
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        log.info("starting embedded Postgres in %s", pgdata)
        await asyncio.to_thread(_forget_dead_handles, pgdata)
        self._server = await asyncio.to_thread(pgserver.get_server, pgdata, cleanup_mode="stop")
        admin_url: str = self._server.get_uri()
        conn = await asyncpg.connect(admin_url)
        try:
            exists = await conn.fetchval(
                "SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME
            )
            if not exists:
                await conn.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
        finally:
            await conn.close()
        url: str = self._server.get_uri(DATABASE_NAME)
        return url

    async def stop(self) -> None:
        """Stop Postgres unless another live process still uses the same data directory."""
        if self._server is None:
            return
        server, self._server = self._server, None
        log.info("stopping embedded Postgres (unless another process still uses it)")
        await asyncio.to_thread(server.cleanup)


def _forget_dead_handles(pgdata: Path) -> None:
    """Drop processes that died without cleaning up (kill -9) from pgserver's user list.

    pgserver stops Postgres when the last registered process exits; a killed server stays
    registered forever and would keep every later server from stopping Postgres.
    """
    import psutil
    from pgserver.utils import DiskList

    handles = DiskList(pgdata / ".handle_pids.json")
    for pid in handles.get():
        if not psutil.pid_exists(pid):
            handles.get_and_remove(pid)
