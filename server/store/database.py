"""The asyncpg pool every part of the process shares, and the translation of its failures.

A lost or unreachable database becomes `Unavailable` (retryable), never an unknown error;
asyncpg reconnects by itself on the next acquire, so the server recovers without a restart.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any

import asyncpg

from server.errors import Unavailable

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

log = logging.getLogger(__name__)

# Failures that mean "the database cannot be reached or went away", as opposed to a bug in a
# statement. Class 08 (connection exception), 53 (insufficient resources), 57P (operator
# intervention, e.g. shutdown) and client-side connection errors.
_UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.exceptions.PostgresConnectionError,
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.InterfaceError,
)


class _OneLineConnectionWarnings(logging.Filter):
    """asyncpg's pool logs each failed reconnect during an outage with a full traceback;
    an outage is an expected condition, so keep it to one line with the cause."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


logging.getLogger("asyncpg.pool").addFilter(_OneLineConnectionWarnings())


_CONNECT_ERRORS: tuple[type[BaseException], ...] = (*_UNAVAILABLE_ERRORS, TimeoutError)


async def _reset(conn: asyncpg.Connection) -> None:
    """What a connection needs before it goes back to the pool: no open transaction.

    asyncpg's default reset runs `SELECT pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` on every release — a second round trip for every one-statement call. Nothing
    here leaves session state behind (advisory locks and LISTENs are undone explicitly by
    their users), so skip it.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


def _unavailable(exc: BaseException) -> Unavailable:
    return Unavailable(f"database unavailable ({type(exc).__name__}); retry later")


def _translated(exc: BaseException) -> Unavailable | None:
    """The `Unavailable` a connection-level asyncpg/OS failure stands for; None for others."""
    if isinstance(exc, asyncpg.exceptions.QueryCanceledError | TimeoutError):
        # The database is there but did not answer within the statement timeout.
        return Unavailable("the database did not answer in time; retry later")
    if isinstance(exc, _UNAVAILABLE_ERRORS):
        return _unavailable(exc)
    return None


@contextmanager
def translate_errors() -> Iterator[None]:
    """Turn connection-level asyncpg/OS failures into `Unavailable`."""
    try:
        yield
    except Exception as exc:
        translated = _translated(exc)
        if translated is None:
            raise
        raise translated from exc


class Database:
    """A pool of connections with timeouts and error translation applied to every use."""

    def __init__(self, pool: asyncpg.Pool, timeout: float) -> None:
        self._pool = pool
        self._timeout = timeout

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        min_size: int = 2,
        max_size: int = 10,
        timeout: float = 5.0,
        wait_seconds: float = 30.0,
    ) -> Database:
        """Open the pool, retrying for `wait_seconds` while the database starts up."""
        loop = asyncio.get_running_loop()
        give_up = loop.time() + wait_seconds
        delay = 0.1
        while True:
            try:
                pool = await asyncpg.create_pool(
                    url,
                    min_size=min_size,
                    max_size=max_size,
                    timeout=timeout,
                    command_timeout=timeout,
                    server_settings={"application_name": "warmpool", "jit": "off"},
                    reset=_reset,
                )
            except _CONNECT_ERRORS as exc:
                if loop.time() + delay > give_up:
                    raise _unavailable(exc) from exc
                log.info("database not reachable yet (%s); retrying", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            return cls(pool, timeout)

    @property
    def pool(self) -> asyncpg.Pool:
        return self._pool

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        with translate_errors():
            conn = await self._acquire()
            try:
                yield conn
            finally:
                await self._pool.release(conn)

    async def _acquire(self) -> asyncpg.Connection:
        try:
            conn: asyncpg.Connection = await self._pool.acquire(timeout=self._timeout)
        except TimeoutError:
            raise Unavailable(
                f"no database connection became available within {self._timeout:g}s "
                "(server busy or database unreachable); retry later"
            ) from None
        return conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        async with self.connection() as conn:
            with translate_errors():
                async with conn.transaction():
                    yield conn

    async def _statement(
        self, run: Callable[..., Awaitable[Any]], sql: str, args: tuple[Any, ...]
    ) -> Any:
        """One statement on a pooled connection, as `connection()` would run it.

        The one-statement helpers are the API's hot path; written out, they skip two
        generator-based context managers per call (a measurable share of a GetWarmPool).
        """
        try:
            conn = await self._acquire()
            try:
                return await run(conn, sql, *args, timeout=self._timeout)
            finally:
                await self._pool.release(conn)
        except Exception as exc:
            translated = _translated(exc)
            if translated is None:
                raise
            raise translated from exc

    async def fetch(self, sql: str, *args: Any) -> list[asyncpg.Record]:
        rows: list[asyncpg.Record] = await self._statement(asyncpg.Connection.fetch, sql, args)
        return rows

    async def fetchrow(self, sql: str, *args: Any) -> asyncpg.Record | None:
        row: asyncpg.Record | None = await self._statement(asyncpg.Connection.fetchrow, sql, args)
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._statement(asyncpg.Connection.fetchval, sql, args)

    async def execute(self, sql: str, *args: Any) -> str:
        status: str = await self._statement(asyncpg.Connection.execute, sql, args)
        return status

    async def close(self, timeout: float = 5.0) -> None:
        try:
            await asyncio.wait_for(self._pool.close(), timeout)
        except TimeoutError:
            self._pool.terminate()
