"""The one entry point: `python -m server serve | migrate | admin …`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from server.config import Settings, load_settings
from server.models import Role

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Sequence

log = logging.getLogger("server")


def _configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("pgserver", "_granian", "granian"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _add_server_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database-url", help="Postgres URL; overrides DATABASE_URL")
    parser.add_argument("--data-dir", type=Path, help="overrides WARMPOOL_DATA_DIR")
    parser.add_argument("--host", help="overrides WARMPOOL_HOST")
    parser.add_argument("--http-port", type=int, help="overrides WARMPOOL_HTTP_PORT")
    parser.add_argument("--grpc-port", type=int, help="overrides WARMPOOL_GRPC_PORT")
    dev = parser.add_mutually_exclusive_group()
    dev.add_argument("--dev", dest="dev_mode", action="store_const", const=True, default=None)
    dev.add_argument("--no-dev", dest="dev_mode", action="store_const", const=False)


def _uuid(value: str) -> str:
    from server.service.validation import is_uuid

    if not is_uuid(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a UUID")
    return value.lower()


def _timeout(value: str) -> int:
    seconds = int(value)
    if not 300 <= seconds <= 7200:
        raise argparse.ArgumentTypeError("must be between 300 and 7200 seconds")
    return seconds


def _settings(args: argparse.Namespace) -> Settings:
    keys = ("database_url", "data_dir", "host", "http_port", "grpc_port", "dev_mode")
    return load_settings(overrides={k: getattr(args, k, None) for k in keys})


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m server", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gRPC and Connect server")
    _add_server_flags(serve)

    migrate = commands.add_parser("migrate", help="apply pending database migrations")
    _add_server_flags(migrate)

    admin = commands.add_parser("admin", help="manage organizations, tokens, runners, projects")
    _add_server_flags(admin)
    what = admin.add_subparsers(dest="admin_command", required=True)

    org = what.add_parser("create-org", help="create an organization")
    org.add_argument("--name", required=True)
    org.add_argument("--id", type=_uuid)

    token = what.add_parser("create-token", help="create a bearer token (printed once)")
    token.add_argument("--org", required=True, type=_uuid, help="organization id")
    token.add_argument("--role", required=True, choices=[r.value for r in Role])
    token.add_argument("--name", default="")

    revoke = what.add_parser("revoke-token", help="revoke a token by its id")
    revoke.add_argument("--id", required=True, type=_uuid)

    runner = what.add_parser("create-runner", help="create a runner")
    runner.add_argument("--org", required=True, type=_uuid)
    runner.add_argument("--name", required=True)
    runner.add_argument("--id", type=_uuid)

    cls = what.add_parser("create-class", help="create an environment class of a runner")
    cls.add_argument("--org", required=True, type=_uuid)
    cls.add_argument("--runner", required=True, type=_uuid)
    cls.add_argument("--name", required=True)
    cls.add_argument("--id", type=_uuid)

    project = what.add_parser(
        "put-project",
        help="create or update a project and its prebuild configuration; on update, options "
        "left out keep their current values",
    )
    project.add_argument("--org", required=True, type=_uuid)
    project.add_argument("--name", help="required when creating")
    project.add_argument("--id", type=_uuid)
    project.add_argument("--prebuilds", action=argparse.BooleanOptionalAction, default=None)
    project.add_argument(
        "--class", dest="classes", action="append", type=_uuid, help="prebuild class id (repeat)"
    )
    project.add_argument(
        "--no-classes", action="store_true", help="remove every class from the configuration"
    )
    project.add_argument("--timeout-seconds", type=_timeout)

    bootstrap = what.add_parser("bootstrap", help="apply a declarative TOML bootstrap file")
    bootstrap.add_argument("file", type=Path)
    _add_controller_commands(what)
    return parser


CONTROLLER_COMMANDS = ("pause", "resume", "sim-fault")


def _add_controller_commands(what: Any) -> None:
    for verb, doing in (("pause", "stop acting on"), ("resume", "act again on")):
        command = what.add_parser(
            verb, help=f"controller: {doing} one warm pool, or every pool (all replicas)"
        )
        command.add_argument("--pool", help="warm pool id; without it, the whole controller")
    fault = what.add_parser(
        "sim-fault", help="simulated provider: make every create from a snapshot fail"
    )
    fault.add_argument("--snapshot", required=True, help="snapshot id")
    fault.add_argument("--message", default="", help="the failure the provider reports")
    fault.add_argument("--clear", action="store_true", help="remove the fault instead")


async def _controller_admin(args: argparse.Namespace, db: Any) -> int:
    from server.providers import simulated
    from server.service.validation import is_uuid
    from server.store import controller

    command = args.admin_command
    if command == "sim-fault":
        if args.clear:
            found = await simulated.clear_snapshot_fault(db, args.snapshot)
            print("fault cleared" if found else f"no fault on snapshot {args.snapshot}")
        else:
            await simulated.inject_snapshot_fault(db, args.snapshot, args.message)
            print(f"creates from snapshot {args.snapshot} now fail")
        return 0
    paused = command == "pause"
    if args.pool is not None and not is_uuid(args.pool):
        print(f"--pool must be a warm pool id (a UUID), got {args.pool!r}", file=sys.stderr)
        return 2
    if args.pool is None:
        await controller.set_controller_paused(db, paused)
        print("controller paused" if paused else "controller resumed")
        return 0
    if not await controller.set_pool_paused(db, args.pool, paused):
        print(f"no warm pool with id {args.pool}", file=sys.stderr)
        return 1
    print(f"warm pool {args.pool} {'paused' if paused else 'resumed'}")
    return 0


async def _with_database(settings: Settings, work: Callable[[Any], Awaitable[int]]) -> int:
    from server.app import open_database

    db, embedded = await open_database(settings)
    try:
        return await work(db)
    finally:
        await db.close()
        if embedded is not None:
            await embedded.stop()


async def _migrate(db: Any) -> int:
    from server.store import migrate

    applied = await migrate.migrate(db)
    version = await migrate.applied_version(db)
    print(f"applied {len(applied)} migration(s); schema version {version}")
    return 0


async def _admin(args: argparse.Namespace, db: Any) -> int:
    from server.service import admin
    from server.store import migrate, tenancy

    if await migrate.applied_version(db) < migrate.latest_version():
        print("database schema is not up to date: run `python -m server migrate`", file=sys.stderr)
        return 1
    command = args.admin_command
    if command in CONTROLLER_COMMANDS:
        return await _controller_admin(args, db)
    if command == "create-org":
        print(await tenancy.create_organization(db, args.name, args.id))
    elif command == "create-token":
        token_id, secret = await admin.create_token(db, args.org, Role(args.role), args.name)
        print(f"token id: {token_id}\ntoken:    {secret}\n(the token is shown only once)")
    elif command == "revoke-token":
        if not await tenancy.revoke_token(db, args.id):
            print(f"no active token with id {args.id}", file=sys.stderr)
            return 1
        print("revoked")
    elif command == "create-runner":
        print(await tenancy.create_runner(db, args.org, args.name, args.id))
    elif command == "create-class":
        print(await tenancy.create_environment_class(db, args.org, args.runner, args.name, args.id))
    elif command == "put-project":
        current = await tenancy.get_project(db, args.org, args.id) if args.id else None
        if current is None and not args.name:
            raise ValueError("--name is required when creating a project")
        # Options left out keep the stored values (or the defaults for a new project).
        prebuilds = current.prebuilds_enabled if current else False
        classes = list(current.prebuild_environment_class_ids) if current else []
        timeout = current.prebuild_timeout_seconds if current else 3600
        project_id, deleted = await tenancy.upsert_project(
            db,
            args.org,
            args.name or (current.name if current else ""),
            project_id=args.id,
            prebuilds_enabled=prebuilds if args.prebuilds is None else args.prebuilds,
            prebuild_environment_class_ids=[] if args.no_classes else (args.classes or classes),
            prebuild_timeout_seconds=args.timeout_seconds or timeout,
        )
        print(project_id)
        if deleted:
            print(f"deleted {deleted} warm pool(s) the new configuration no longer allows")
    elif command == "bootstrap":
        try:
            document = tomllib.loads(args.file.read_text())
        except OSError as exc:
            raise ValueError(f"cannot read {args.file}: {exc.strerror}") from None
        report = await admin.apply_bootstrap(db, document)
        print(
            f"organizations {report.organizations}, runners {report.runners}, "
            f"environment classes {report.environment_classes}, projects {report.projects}, "
            f"warm pools deleted {report.pools_deleted}"
        )
        for org_id, name, role, secret in report.new_tokens:
            print(f"new token {name!r} ({role}) of organization {org_id}: {secret}")
    return 0


def _loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where asked for and installed (it is, from requirements.txt); else asyncio's."""
    if name == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed; using asyncio's event loop")
            return None
        return uvloop.new_event_loop
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = _settings(args)
    except ValueError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    _configure_logging(settings.log_level)

    if args.command == "serve":
        from server.app import StartupError, install_signal_handlers, serve
        from server.errors import Unavailable

        async def run() -> int:
            stop = asyncio.Event()
            install_signal_handlers(stop)
            await serve(settings, stop)
            return 0

        try:
            with asyncio.Runner(loop_factory=_loop_factory(settings.event_loop)) as runner:
                return runner.run(run())
        except (StartupError, Unavailable) as exc:
            log.error("cannot start: %s", exc)
            return 1
    if args.command == "migrate":
        return asyncio.run(_with_database(settings, _migrate))

    async def run_admin(db: Any) -> int:
        return await _admin(args, db)

    from server.errors import Unavailable

    try:
        return asyncio.run(_with_database(settings, run_admin))
    except (ValueError, tomllib.TOMLDecodeError, Unavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
