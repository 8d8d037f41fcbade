"""Opening SQLite connections with Maeum's pragmas, and the serialised write transaction."""
from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

BUSY_TIMEOUT_S = 10.0


async def open_connection(path: Path, *, read_only: bool = False) -> aiosqlite.Connection:
    """Autocommit connection (transactions are explicit) with WAL, foreign keys and a busy timeout."""
    conn = await aiosqlite.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_S)
    try:
        conn.row_factory = aiosqlite.Row
        await conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        await conn.execute("PRAGMA foreign_keys = ON")
        if read_only:
            await conn.execute("PRAGMA query_only = ON")
        else:
            async with conn.execute("PRAGMA journal_mode = WAL") as cursor:
                row = await cursor.fetchone()
            if row is None or str(row[0]).lower() != "wal":
                raise RuntimeError(f"could not switch {path} to WAL mode (got {row and row[0]!r})")
            # NORMAL is the recommended WAL setting: no corruption on crash; an OS crash or power
            # loss may drop the last commits, an application crash loses nothing.
            await conn.execute("PRAGMA synchronous = NORMAL")
    except BaseException:
        await conn.close()
        raise
    return conn


class Writer:
    """The one connection that writes, used by one task at a time.

    The asyncio.Lock serialises write transactions inside this process; ``BEGIN IMMEDIATE`` takes
    SQLite's write lock up front so a second process (or a second Database object) waits for its
    turn (busy timeout) instead of failing halfway through a read-modify-write.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        async with self._lock:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
                await self.conn.execute("COMMIT")
            except BaseException:
                # Runs on cancellation too. Statements run on the connection's thread in the order
                # they were queued, so this ROLLBACK lands after a still-pending BEGIN and before
                # the next writer's BEGIN. "no transaction is active" is fine to ignore.
                try:
                    await asyncio.shield(self.conn.execute("ROLLBACK"))
                except sqlite3.OperationalError:
                    pass
                raise

    async def close(self) -> None:
        """Close after any write transaction in progress has finished."""
        async with self._lock:
            await self.conn.close()
