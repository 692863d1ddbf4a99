"""Every setting of the server in one typed place.

Each field reads an environment variable (named in its metadata) and can be overridden by a
command-line flag of the same name in kebab case; `docs/configuration.md` is generated from
nothing else, so keep the help texts accurate.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping


def _setting(env: str, default: Any, help: str) -> Any:
    return field(default=default, metadata={"env": env, "help": help})


@dataclass(frozen=True)
class Settings:
    database_url: str = _setting(
        "DATABASE_URL",
        "",
        "Postgres URL (postgresql://user:pass@host:5432/db). Empty: start an embedded Postgres "
        "in the data directory.",
    )
    data_dir: Path = _setting(
        "WARMPOOL_DATA_DIR",
        Path(".warmpool"),
        "Directory of the embedded Postgres and of local state; survives restarts.",
    )
    dev_mode: bool | None = _setting(
        "WARMPOOL_DEV",
        None,
        "Apply migrations on start and create the demo data on first run. Default: on with the "
        "embedded database, off with DATABASE_URL.",
    )
    host: str = _setting(
        "WARMPOOL_HOST",
        "127.0.0.1",
        "Address both ports listen on. Use 0.0.0.0 to serve other machines.",
    )
    http_port: int = _setting(
        "WARMPOOL_HTTP_PORT", 8080, "Connect, gRPC-Web, /healthz, /readyz and /metrics."
    )
    grpc_port: int = _setting(
        "WARMPOOL_GRPC_PORT", 9090, "gRPC with server reflection and grpc.health.v1."
    )
    max_request_bytes: int = _setting(
        "WARMPOOL_MAX_REQUEST_BYTES",
        1024 * 1024,
        "Largest request body accepted, compressed or not; larger ones get resource_exhausted.",
    )
    db_pool_min: int = _setting("WARMPOOL_DB_POOL_MIN", 2, "Fewest open database connections.")
    db_pool_max: int = _setting("WARMPOOL_DB_POOL_MAX", 10, "Most open database connections.")
    db_timeout_seconds: float = _setting(
        "WARMPOOL_DB_TIMEOUT_SECONDS",
        5.0,
        "Longest wait for a database connection or statement when the caller set no deadline.",
    )
    auth_cache_seconds: float = _setting(
        "WARMPOOL_AUTH_CACHE_SECONDS",
        2.0,
        "How long a known token is remembered; a revoked token stops working within this "
        "time. 0 looks every token up on every call.",
    )
    shutdown_grace_seconds: float = _setting(
        "WARMPOOL_SHUTDOWN_GRACE_SECONDS",
        10.0,
        "On SIGTERM/SIGINT: how long in-flight calls may take to finish.",
    )
    deleted_retention_seconds: int = _setting(
        "WARMPOOL_DELETED_RETENTION_SECONDS",
        24 * 3600,
        "How long a DELETED warm pool stays readable by GetWarmPool.",
    )
    log_level: str = _setting("WARMPOOL_LOG_LEVEL", "INFO", "DEBUG, INFO, WARNING or ERROR.")
    event_loop: str = _setting(
        "WARMPOOL_EVENT_LOOP",
        "uvloop",
        "uvloop (faster) or asyncio: the event loop every transport and the controller share.",
    )
    public_url: str = _setting(
        "WARMPOOL_PUBLIC_URL",
        "",
        "Base URL clients reach the HTTP port at, for links the server hands out (a "
        "prebuild's log_url). Empty: http://HOST:HTTP_PORT.",
    )
    # --- controller (docs/controller.md) ---
    controller_enabled: bool = _setting(
        "WARMPOOL_CONTROLLER",
        True,
        "Run the controller in this process (any number of replicas may). Off: the API only.",
    )
    controller_workers: int = _setting(
        "WARMPOOL_CONTROLLER_WORKERS",
        4,
        "Reconcile loops per process; each works on its own batch of pools.",
    )
    controller_batch_size: int = _setting(
        "WARMPOOL_CONTROLLER_BATCH_SIZE", 100, "Most pools one reconcile round takes at once."
    )
    lease_seconds: float = _setting(
        "WARMPOOL_LEASE_SECONDS",
        30.0,
        "How long a replica holds a pool while reconciling it; a dead replica's pools are "
        "taken over after this.",
    )
    poll_seconds: float = _setting(
        "WARMPOOL_POLL_SECONDS",
        1.0,
        "Safety net for lost wake-ups: look for due pools at least this often (one index probe).",
    )
    resync_seconds: float = _setting(
        "WARMPOOL_RESYNC_SECONDS",
        300.0,
        "Reconcile every pool at least this often, even if nothing woke it.",
    )
    provider_poll_seconds: float = _setting(
        "WARMPOOL_PROVIDER_POLL_SECONDS",
        2.0,
        "Look again at an instance in flight this often when the provider gives no finish time.",
    )
    demand_window_seconds: float = _setting(
        "WARMPOOL_DEMAND_WINDOW_SECONDS",
        60.0,
        "Claim attempts within this window set a pool's running target (about the time to "
        "replenish an instance).",
    )
    scale_in_stabilization_seconds: float = _setting(
        "WARMPOOL_SCALE_IN_STABILIZATION_SECONDS",
        300.0,
        "A target falls only after demand stayed below it this long; stopped instances are "
        "deleted one window after they were demoted.",
    )
    create_failure_limit: int = _setting(
        "WARMPOOL_CREATE_FAILURE_LIMIT",
        3,
        "Consecutive failed creates on one spec version that make a pool DEGRADED.",
    )
    create_backoff_seconds: float = _setting(
        "WARMPOOL_CREATE_BACKOFF_SECONDS",
        1.0,
        "First wait after a failed create; doubles with each further failure.",
    )
    create_backoff_max_seconds: float = _setting(
        "WARMPOOL_CREATE_BACKOFF_MAX_SECONDS", 60.0, "Longest wait between failed creates."
    )
    degraded_probe_seconds: float = _setting(
        "WARMPOOL_DEGRADED_PROBE_SECONDS",
        180.0,
        "A DEGRADED pool tries one create this often until one succeeds.",
    )
    instance_deadline_seconds: float = _setting(
        "WARMPOOL_INSTANCE_DEADLINE_SECONDS",
        600.0,
        "Deadline of every in-flight instance state (creating, warming, starting, stopping, "
        "draining).",
    )
    min_capacity_grace_seconds: float = _setting(
        "WARMPOOL_MIN_CAPACITY_GRACE_SECONDS",
        600.0,
        "A pool whose ready instances stay below min_size this long is DEGRADED.",
    )
    provider: str = _setting(
        "WARMPOOL_PROVIDER", "simulated", "Runtime provider; built in: simulated."
    )
    sim_create_seconds: float = _setting(
        "WARMPOOL_SIM_CREATE_SECONDS",
        0.0,
        "Simulated provider: time to create and boot an instance.",
    )
    sim_start_seconds: float = _setting(
        "WARMPOOL_SIM_START_SECONDS", 0.0, "Simulated provider: time to start a stopped instance."
    )
    sim_stop_seconds: float = _setting(
        "WARMPOOL_SIM_STOP_SECONDS", 0.0, "Simulated provider: time to stop an instance."
    )
    sim_delete_seconds: float = _setting(
        "WARMPOOL_SIM_DELETE_SECONDS", 0.0, "Simulated provider: time to delete an instance."
    )
    sim_prebuild_seconds: float = _setting(
        "WARMPOOL_SIM_PREBUILD_SECONDS", 0.0, "Simulated provider: time a prebuild runs."
    )
    sim_failure_rate: float = _setting(
        "WARMPOOL_SIM_FAILURE_RATE",
        0.0,
        "Simulated provider: probability (0..1) that one instance create fails.",
    )
    sim_failing_snapshots: str = _setting(
        "WARMPOOL_SIM_FAILING_SNAPSHOTS",
        "",
        "Simulated provider: comma-separated snapshot ids whose instances always fail to "
        "create (see also `admin sim-fault`).",
    )

    def __post_init__(self) -> None:
        problems = []
        for name in ("http_port", "grpc_port"):
            if not 1 <= getattr(self, name) <= 65535:
                problems.append(f"{_env(name)}: must be a port between 1 and 65535")
        if self.event_loop not in ("uvloop", "asyncio"):
            problems.append(f"{_env('event_loop')}: must be uvloop or asyncio")
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            problems.append(f"{_env('log_level')}: must be DEBUG, INFO, WARNING or ERROR")
        for name in ("max_request_bytes", "db_pool_max"):
            if getattr(self, name) < 1:
                problems.append(f"{_env(name)}: must be at least 1")
        if not 0 <= self.db_pool_min <= self.db_pool_max:
            problems.append(f"{_env('db_pool_min')}: must be between 0 and the pool maximum")
        for name in ("db_timeout_seconds", "shutdown_grace_seconds"):
            if getattr(self, name) <= 0:
                problems.append(f"{_env(name)}: must be greater than 0")
        if self.auth_cache_seconds < 0:
            problems.append(f"{_env('auth_cache_seconds')}: must not be negative")
        if self.deleted_retention_seconds < 0:
            problems.append(f"{_env('deleted_retention_seconds')}: must not be negative")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def dev(self) -> bool:
        return self.embedded_database if self.dev_mode is None else self.dev_mode


def _env(field_name: str) -> str:
    return str(Settings.__dataclass_fields__[field_name].metadata["env"])


def _parse(kind: Any, raw: str, env: str) -> Any:
    text = raw.strip()
    if kind in (bool, "bool", "bool | None"):
        lowered = text.lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{env}: expected true or false, got {raw!r}")
    if kind in (int, "int"):
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{env}: expected an integer, got {raw!r}") from None
    if kind in (float, "float"):
        try:
            return float(text)
        except ValueError:
            raise ValueError(f"{env}: expected a number, got {raw!r}") from None
    if kind in (Path, "Path"):
        return Path(text)
    return text


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Settings from the environment, then from explicit overrides (command-line flags)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        name = f.metadata["env"]
        if name in env and env[name] != "":
            values[f.name] = _parse(f.type, env[name], name)
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = value
    return Settings(**values)


def describe_settings() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) of every setting, for the docs table."""
    rows = []
    for f in dataclasses.fields(Settings):
        default = "(empty)" if f.default in ("", None) else str(f.default)
        rows.append((f.metadata["env"], default, f.metadata["help"]))
    return rows
