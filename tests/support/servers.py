"""Servers for tests: in-process (same event loop as the test) or a real child process."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from server.app import Endpoints, serve
from server.config import Settings
from server.store.database import Database

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class InProcessServer:
    settings: Settings
    db: Database  # the tests' own pool on the server's database
    grpc_port: int
    http_port: int
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None

    @classmethod
    async def start(cls, database_url: str, data_dir: Path, **overrides: object) -> InProcessServer:
        settings = Settings(
            database_url=database_url,
            data_dir=data_dir,
            dev_mode=False,
            http_port=free_port(),
            grpc_port=free_port(),
            **overrides,  # type: ignore[arg-type]
        )
        ready: asyncio.Future[Endpoints] = asyncio.get_running_loop().create_future()
        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, stop, ready.set_result))
        waiters: set[asyncio.Future[object]] = {task, ready}  # type: ignore[arg-type]
        done, _ = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()
            raise RuntimeError("server exited during start-up")
        endpoints = ready.result()
        db = await Database.connect(database_url, min_size=1, max_size=5)
        return cls(settings, db, endpoints.grpc_port, endpoints.http_port, stop, task)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self.db.close()


@dataclass
class ServerProcess:
    """`python -m server serve` as a child process, on free loopback ports."""

    http_port: int
    grpc_port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    launcher: list[str] = field(default_factory=list)  # e.g. ["taskset", "-c", "0"]

    @classmethod
    def create(cls, data_dir: Path, database_url: str = "", **env: str) -> ServerProcess:
        http_port, grpc_port = free_port(), free_port()
        full_env = dict(os.environ)
        full_env.update(
            {
                "WARMPOOL_DATA_DIR": str(data_dir),
                "WARMPOOL_HTTP_PORT": str(http_port),
                "WARMPOOL_GRPC_PORT": str(grpc_port),
                "DATABASE_URL": database_url,
                "PYTHONUNBUFFERED": "1",
            }
        )
        full_env.update(env)
        data_dir.mkdir(parents=True, exist_ok=True)
        return cls(http_port, grpc_port, full_env, data_dir / "server.log")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self, timeout: float = 60.0) -> None:
        self.start_async()
        self.wait_ready(timeout)

    def start_async(self) -> None:
        """Launch the process without waiting for it to serve."""
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [*self.launcher, sys.executable, "-m", "server", "serve"],
            cwd=REPO,
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base_url}/readyz", timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"server did not become ready in {timeout}s:\n{self.log()}")

    def signal(self, sig: int) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def stop(self, timeout: float = 30.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
        return self.process.returncode

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait()
        if self._log is not None:
            self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
