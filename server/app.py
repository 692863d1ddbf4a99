"""Wiring of one server process: database, services, both transports, signals, shutdown.

No business logic lives here. Start-up order: database (embedded or DATABASE_URL) →
migrations (dev mode) → demo data (dev mode) → services → gRPC and HTTP listeners. Shutdown
runs the other way, each step bounded by the grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import signal
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from granian.constants import HTTPModes, Interfaces
from granian.server.embed import Server as GranianServer
from grpc_health.v1 import health_pb2

from server.controller.loop import Controller, ControllerSettings
from server.controller.plan import Policy
from server.errors import Unavailable
from server.metrics import exposition
from server.models import Role
from server.providers.simulated import SimulatedProvider, SimulatedSettings
from server.service import admin
from server.service.auth import Authenticator
from server.service.claims import ClaimService
from server.service.pagination import PageTokens
from server.service.prebuilds import LogsTokens, PrebuildService
from server.service.warm_pools import WarmPoolService
from server.store import migrate as migrations
from server.store import tenancy
from server.store.database import Database
from server.store.embedded import EmbeddedPostgres
from server.transport.connect import build_connect_app, build_runtime_connect_app
from server.transport.grpc import (
    PREBUILD_SERVICE,
    RUNTIME_SERVICE,
    build_grpc_server,
    runtime_service,
)
from server.transport.handlers import PrebuildHandlers, RuntimeHandlers
from server.transport.http import HttpRouter
from server.transport.prebuild_logs import PATH_PREFIX as PREBUILD_LOGS_PATH
from server.transport.prebuild_logs import PrebuildLogsApp

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable
    from pathlib import Path

    from server.config import Settings
    from server.providers.base import RuntimeProvider

log = logging.getLogger(__name__)

DEMO_TOKEN_FILE = "demo-token"


class StartupError(Exception):
    """The server cannot start for a reason the operator can fix (e.g. a port in use)."""


@dataclass
class Endpoints:
    grpc_port: int
    http_port: int


class StoppedBeforeServing(Exception):
    """SIGTERM/SIGINT arrived during start-up: the server stops without serving."""


async def open_database(
    settings: Settings, stop: asyncio.Event | None = None
) -> tuple[Database, EmbeddedPostgres | None]:
    """Start the embedded Postgres (without DATABASE_URL) and open the pool.

    `Database.connect` waits for an unreachable database; once `stop` is set that wait ends
    with `StoppedBeforeServing`, after stopping the embedded Postgres. Starting the embedded
    Postgres itself is not interrupted (pgserver runs it in a thread and is bounded): a stop
    that arrives meanwhile takes effect once it is up, and it is stopped again.
    """
    embedded = None
    url = settings.database_url
    if not url:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = await embedded.start()
    try:
        connecting = Database.connect(
            url,
            min_size=settings.db_pool_min,
            max_size=settings.db_pool_max,
            timeout=settings.db_timeout_seconds,
        )
        db = await (connecting if stop is None else _unless_stopped(connecting, stop))
    except BaseException:
        if embedded is not None:
            await embedded.stop()
        raise
    return db, embedded


async def ensure_demo_data(db: Database, data_dir: Path) -> str | None:
    """Create the demo tenancy on first run; returns the demo token (kept in the data dir)."""
    token_file = data_dir / DEMO_TOKEN_FILE
    if await tenancy.organization_exists(db, admin.DEMO_ORGANIZATION_ID):
        return await asyncio.to_thread(_read_token_file, token_file)
    await admin.apply_bootstrap(db, admin.demo_document())
    _, secret = await admin.create_token(db, admin.DEMO_ORGANIZATION_ID, Role.ADMIN, "demo")
    await asyncio.to_thread(_write_token_file, token_file, secret)
    return secret


def _read_token_file(path: Path) -> str | None:
    return path.read_text().strip() if path.exists() else None


def _write_token_file(path: Path, secret: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(secret + "\n")
    path.chmod(0o600)


async def serve(
    settings: Settings,
    stop: asyncio.Event,
    on_ready: Callable[[Endpoints], Awaitable[None] | None] | None = None,
) -> None:
    """Run the server until `stop` is set, then shut down gracefully.

    If `stop` is set during start-up (while waiting for the database, or before the
    listeners open), return without serving; `on_ready` is then never called.
    """
    try:
        db, embedded = await open_database(settings, stop)
        try:
            await _serve_with_database(settings, db, stop, on_ready)
        finally:
            await db.close()
            if embedded is not None:
                await embedded.stop()
    except StoppedBeforeServing:
        log.info("stopped before serving: SIGTERM/SIGINT arrived during start-up")


async def _unless_stopped(connecting: Awaitable[Database], stop: asyncio.Event) -> Database:
    """The database `connecting` opens, unless `stop` is set first: then cancel the attempt
    (or close what it opened in the meantime) and raise `StoppedBeforeServing`."""
    attempt = asyncio.ensure_future(connecting)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait((attempt, stopped), return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopped.cancel()
        if not attempt.done():
            attempt.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await attempt
    if not stop.is_set():
        return attempt.result()
    if not attempt.cancelled() and attempt.exception() is None:
        await attempt.result().close()
    raise StoppedBeforeServing


async def _serve_with_database(
    settings: Settings,
    db: Database,
    stop: asyncio.Event,
    on_ready: Callable[[Endpoints], Awaitable[None] | None] | None,
) -> None:
    if settings.dev:
        await migrations.migrate(db)
        demo_token = await ensure_demo_data(db, settings.data_dir)
        if demo_token:
            print(
                f"demo token (also in {settings.data_dir / DEMO_TOKEN_FILE}):\n"
                f"  export GITPOD_API_KEY={demo_token}",
                flush=True,
            )
    else:
        have, want = await migrations.applied_version(db), migrations.latest_version()
        if have < want:
            raise SystemExit(
                f"database schema is at version {have}, this server needs {want}: "
                "run `python -m server migrate` first"
            )
    if stop.is_set():  # SIGTERM/SIGINT during the steps above: do not start serving
        raise StoppedBeforeServing

    page_tokens = PageTokens(await tenancy.server_key(db, "page_tokens", secrets.token_bytes(32)))
    logs_tokens = LogsTokens(await tenancy.server_key(db, "prebuild_logs", secrets.token_bytes(32)))
    auth = Authenticator(db, settings.auth_cache_seconds)
    public_url = settings.public_url or f"http://{settings.host}:{settings.http_port}"
    prebuilds = PrebuildService(db, page_tokens, logs_tokens, settings.deleted_retention_seconds)
    handlers = PrebuildHandlers(
        auth,
        WarmPoolService(db, page_tokens, settings.deleted_retention_seconds),
        prebuilds,
        logs_base_url=public_url.rstrip("/") + PREBUILD_LOGS_PATH.rstrip("/"),
    )
    controller = build_controller(settings, db) if settings.controller_enabled else None
    wake = None if controller is None else controller.wake_pool
    runtime_handlers = RuntimeHandlers(ClaimService(db, auth, wake))

    try:
        grpc_server, health, grpc_port = build_grpc_server(
            handlers,
            host=settings.host,
            port=settings.grpc_port,
            max_request_bytes=settings.max_request_bytes,
            extra_services=[runtime_service(runtime_handlers)],
        )
    except RuntimeError as exc:
        raise StartupError(
            f"cannot listen for gRPC on {settings.host}:{settings.grpc_port} "
            f"(in use? set WARMPOOL_GRPC_PORT): {exc}"
        ) from None

    async def readiness() -> tuple[bool, str]:
        try:
            have = await migrations.applied_version(db)
        except Unavailable as exc:
            return False, exc.message
        want = migrations.latest_version()
        if have < want:
            return False, f"migrations pending: schema version {have}, want {want}"
        return True, "ready"

    router = HttpRouter(
        [
            (f"/{PREBUILD_SERVICE}/", build_connect_app(handlers, settings.max_request_bytes)),
            (
                f"/{RUNTIME_SERVICE}/",
                build_runtime_connect_app(runtime_handlers, settings.max_request_bytes),
            ),
            (PREBUILD_LOGS_PATH, PrebuildLogsApp(prebuilds)),
        ],
        readiness=readiness,
        metrics=exposition,
        max_request_bytes=settings.max_request_bytes,
    )
    http_server = GranianServer(
        router,
        address=settings.host,
        port=settings.http_port,
        interface=Interfaces.ASGINL,
        http=HTTPModes.auto,
        log_enabled=False,
        websockets=False,
    )

    if controller is not None:
        await controller.start()
    try:
        await _serve_transports(
            settings, grpc_server, health, grpc_port, router, http_server, stop, on_ready
        )
    finally:
        if controller is not None:
            await controller.stop(settings.shutdown_grace_seconds)


async def _serve_transports(
    settings: Settings,
    grpc_server: Any,
    health: Any,
    grpc_port: int,
    router: HttpRouter,
    http_server: GranianServer,
    stop: asyncio.Event,
    on_ready: Callable[[Endpoints], Awaitable[None] | None] | None,
) -> None:
    _ensure_port_free(settings.host, settings.http_port, "HTTP", "WARMPOOL_HTTP_PORT")
    await grpc_server.start()
    http_task = asyncio.create_task(http_server.serve(), name="http-server")
    await asyncio.sleep(0)  # let the HTTP listener bind (or fail to) before declaring ready
    if http_task.done() and http_task.exception() is not None:
        await grpc_server.stop(None)
        raise StartupError(
            f"cannot listen for HTTP on {settings.host}:{settings.http_port} "
            f"(in use? set WARMPOOL_HTTP_PORT): {http_task.exception()}"
        )
    await health.set("", health_pb2.HealthCheckResponse.SERVING)
    await health.set(PREBUILD_SERVICE, health_pb2.HealthCheckResponse.SERVING)
    await health.set(RUNTIME_SERVICE, health_pb2.HealthCheckResponse.SERVING)
    log.info(
        "serving gRPC on %s:%d and Connect/HTTP on %s:%d",
        settings.host,
        grpc_port,
        settings.host,
        settings.http_port,
    )
    if on_ready is not None:
        result = on_ready(Endpoints(grpc_port=grpc_port, http_port=settings.http_port))
        if result is not None:
            await result

    stop_wait = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({stop_wait, http_task}, return_when=asyncio.FIRST_COMPLETED)
    if http_task in done:
        stop_wait.cancel()
        await grpc_server.stop(None)
        raise StartupError(
            f"the HTTP listener on {settings.host}:{settings.http_port} stopped: "
            f"{http_task.exception() or 'no error given'}"
        )

    log.info(
        "shutting down: draining in-flight calls (grace %.1fs)", settings.shutdown_grace_seconds
    )
    router.draining = True
    await health.enter_graceful_shutdown()
    grace = settings.shutdown_grace_seconds
    http_server.stop()  # type: ignore[no-untyped-call]
    await asyncio.gather(
        grpc_server.stop(grace),
        asyncio.wait_for(asyncio.shield(http_task), grace + 1),
        return_exceptions=True,
    )
    if not http_task.done():
        http_task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await http_task
    log.info("stopped")


def _ensure_port_free(host: str, port: int, what: str, setting: str) -> None:
    """Fail clearly if the port is taken. Granian binds with SO_REUSEPORT, which would let a
    second server silently share the port with the first instead of failing."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise StartupError(
                f"cannot listen for {what} on {host}:{port} (in use? set {setting}): {exc}"
            ) from None


def install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)


def build_provider(settings: Settings, db: Database) -> RuntimeProvider:
    if settings.provider != "simulated":
        raise SystemExit(f"unknown runtime provider {settings.provider!r}; built in: simulated")
    failing = tuple(
        s.strip().lower() for s in settings.sim_failing_snapshots.split(",") if s.strip()
    )
    return SimulatedProvider(
        db,
        SimulatedSettings(
            create_seconds=settings.sim_create_seconds,
            start_seconds=settings.sim_start_seconds,
            stop_seconds=settings.sim_stop_seconds,
            delete_seconds=settings.sim_delete_seconds,
            prebuild_seconds=settings.sim_prebuild_seconds,
            failure_rate=settings.sim_failure_rate,
            failing_snapshots=failing,
        ),
    )


def build_controller(settings: Settings, db: Database) -> Controller:
    policy = Policy(
        demand_window=settings.demand_window_seconds,
        scale_in_stabilization=settings.scale_in_stabilization_seconds,
        failure_limit=settings.create_failure_limit,
        backoff_base=settings.create_backoff_seconds,
        backoff_max=settings.create_backoff_max_seconds,
        probe_interval=settings.degraded_probe_seconds,
        instance_deadline=settings.instance_deadline_seconds,
        min_capacity_grace=settings.min_capacity_grace_seconds,
        resync_interval=settings.resync_seconds,
        poll_interval=settings.provider_poll_seconds,
    )
    return Controller(
        db,
        build_provider(settings, db),
        policy,
        ControllerSettings(
            workers=settings.controller_workers,
            batch_size=settings.controller_batch_size,
            lease_seconds=settings.lease_seconds,
            poll_seconds=settings.poll_seconds,
            retention_seconds=float(settings.deleted_retention_seconds),
        ),
    )
