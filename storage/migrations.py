"""Versioned schema. ``PRAGMA user_version`` holds the version of a database file.

Rules: a released migration is never edited; changes go into a new migration appended to
``MIGRATIONS``. Each migration runs in its own ``BEGIN IMMEDIATE`` transaction together with the
``user_version`` bump, so a failure leaves the file at the previous version, untouched.
All times are unix seconds (REAL, UTC).
"""
from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass
from typing import Sequence

import aiosqlite

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]


class SchemaTooNewError(RuntimeError):
    """The file was written by a newer Maeum than this one."""


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "core tables: users, messages, corrections, shown songs",
        (
            """CREATE TABLE users (
                id TEXT PRIMARY KEY,
                channel TEXT NOT NULL,
                mode TEXT NOT NULL DEFAULT 'match',
                created_at REAL NOT NULL
            )""",
            """CREATE TABLE messages (
                id INTEGER PRIMARY KEY,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                text TEXT NOT NULL,
                label TEXT NOT NULL,
                p_joy REAL,
                p_anxiety REAL,
                p_sadness REAL,
                p_anger REAL,
                model_version TEXT NOT NULL,
                created_at REAL NOT NULL
            )""",
            "CREATE INDEX messages_by_user ON messages(user_id, created_at)",
            """CREATE TABLE corrections (
                message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                predicted TEXT NOT NULL,
                corrected TEXT NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            )""",
            "CREATE INDEX corrections_by_user ON corrections(user_id)",
            "CREATE INDEX corrections_by_time ON corrections(created_at)",
            """CREATE TABLE shown_songs (
                id INTEGER PRIMARY KEY,
                message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                song_key TEXT NOT NULL,
                title TEXT NOT NULL,
                artist TEXT NOT NULL,
                url TEXT NOT NULL,
                source TEXT NOT NULL,
                shown_at REAL NOT NULL
            )""",
            "CREATE INDEX shown_by_user ON shown_songs(user_id, shown_at)",
            "CREATE INDEX shown_by_message ON shown_songs(message_id)",
        ),
    ),
    Migration(
        2,
        "song feedback, YouTube search cache, API call budget, key/value state",
        (
            """CREATE TABLE song_feedback (
                user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                song_key TEXT NOT NULL,
                emotion TEXT NOT NULL,
                liked INTEGER NOT NULL CHECK (liked IN (0, 1)),
                updated_at REAL NOT NULL,
                PRIMARY KEY (user_id, song_key)
            )""",
            "CREATE INDEX feedback_by_emotion ON song_feedback(emotion, song_key)",
            """CREATE TABLE search_cache (
                query TEXT PRIMARY KEY,
                emotion TEXT NOT NULL,
                mode TEXT NOT NULL,
                results_json TEXT NOT NULL,
                fetched_at REAL NOT NULL,
                expires_at REAL NOT NULL
            )""",
            "CREATE INDEX cache_by_pool ON search_cache(emotion, mode, expires_at)",
            """CREATE TABLE api_calls (
                day TEXT NOT NULL,
                provider TEXT NOT NULL,
                count INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (day, provider)
            )""",
            """CREATE TABLE state (
                key TEXT PRIMARY KEY,
                value TEXT NOT NULL,
                updated_at REAL NOT NULL
            )""",
        ),
    ),
)

LATEST_VERSION = MIGRATIONS[-1].version


async def schema_version(conn: aiosqlite.Connection) -> int:
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    return int(row[0])


def _too_new_message(found: int, known: int, where: str) -> str:
    return (
        f"database {where} has schema version {found}, but this version of Maeum only knows "
        f"versions up to {known}; it was written by a newer Maeum. Upgrade Maeum (or point it at "
        f"another database file) instead of opening this one with older code."
    )


async def migrate(
    conn: aiosqlite.Connection,
    *,
    where: str = "file",
    migrations: Sequence[Migration] = MIGRATIONS,
    target: int | None = None,
) -> int:
    """Bring the database up to ``target`` (default: the latest); return the resulting version.

    ``conn`` must be in autocommit mode (``isolation_level=None``). Safe if another process
    migrates at the same time: the version is re-read inside each write transaction.
    """
    known = migrations[-1].version if migrations else 0
    target = known if target is None else target
    current = await schema_version(conn)
    if current > known:
        raise SchemaTooNewError(_too_new_message(current, known, where))

    for migration in migrations:
        if migration.version > target:
            break
        if migration.version <= current:
            continue
        await conn.execute("BEGIN IMMEDIATE")
        try:
            current = await schema_version(conn)  # another process may have migrated meanwhile
            if current > known:
                raise SchemaTooNewError(_too_new_message(current, known, where))
            if migration.version <= current:
                await conn.execute("COMMIT")
                continue
            if current != migration.version - 1:
                raise RuntimeError(f"cannot apply migration {migration.version} to version {current}")
            for statement in migration.statements:
                await conn.execute(statement)
            # user_version is part of the database header, so this bump commits (or rolls back)
            # together with the migration's statements.
            await conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            await conn.execute("COMMIT")
        except BaseException:
            try:
                await conn.execute("ROLLBACK")
            except sqlite3.OperationalError:
                pass  # no transaction was active
            raise
        current = migration.version
        log.info("database migrated to schema version %d (%s)", current, migration.name)
    return current
