"""A Postgres the tests can stop and start at will (database outages), on a loopback TCP port.

Uses the binaries of the `pgserver` wheel, like the embedded mode, but drives `pg_ctl`
directly so a test controls exactly when the database goes away and comes back.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from tests.support.servers import free_port


class StandalonePostgres:
    def __init__(self, base_dir: Path) -> None:
        from pgserver._commands import POSTGRES_BIN_PATH

        self._bin = Path(POSTGRES_BIN_PATH)
        self.data = base_dir / "pgdata"
        self.log = base_dir / "postgres.log"
        self.port = free_port()
        self._user: str | None = None
        if os.geteuid() == 0:  # Postgres refuses to run as root
            from pgserver.utils import ensure_prefix_permissions, ensure_user_exists

            ensure_user_exists("pgserver")
            self._user = "pgserver"
            base_dir.mkdir(parents=True, exist_ok=True)
            ensure_prefix_permissions(base_dir)
            shutil.chown(base_dir, "pgserver")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "utf8")
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.write("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _command(self, tool: str, *args: str) -> list[str]:
        command = [str(self._bin / tool), *args]
        # runuser rather than subprocess's user=: that forces a plain fork(), and forking a
        # process that runs gRPC threads can crash the child before it execs.
        return ["runuser", "-u", self._user, "--", *command] if self._user else command

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(self._command(tool, *args), check=True, capture_output=True)

    def start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "30",
            "-o", f"-h 127.0.0.1 -p {self.port} -k ''", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "30", "stop")

    def running(self) -> bool:
        result = subprocess.run(
            self._command("pg_ctl", "-D", str(self.data), "status"), capture_output=True
        )
        return result.returncode == 0
