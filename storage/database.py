"""Maeum's storage API: one SQLite file, one writer connection, one reader connection.

Every write runs inside ``BEGIN IMMEDIATE`` under an asyncio.Lock (see :class:`Writer`), so no
write is lost when many tasks (or two processes) write at once. Reads use a separate read-only
connection, so they only ever see committed data. All times are unix seconds (UTC); every method
where time matters takes an optional ``now``.

User ids are pseudonyms from :func:`storage.identity.pseudonymize`; raw channel ids are refused.
"""
from __future__ import annotations

import json
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from nlp.labels import LABELS, parse_label
from recommend.types import MODES, Song
from storage.connection import Writer, open_connection
from storage.identity import is_pseudonym
from storage.migrations import migrate
from storage.rows import MessageRow

DEFAULT_MODE = "match"
_SCORE_COLUMNS = {label: f"p_{label}" for label in LABELS}


def _now(now: float | None) -> float:
    return time.time() if now is None else float(now)


def _check_user_id(user_id: str) -> None:
    if not is_pseudonym(user_id):
        raise ValueError(
            "user_id must be a pseudonym from storage.identity.pseudonymize(), "
            "never a raw channel user id"
        )


def _canonical_label(label: str) -> str:
    canonical = parse_label(label) if isinstance(label, str) else None
    if canonical is None:
        raise ValueError(f"unknown emotion label {label!r}; expected one of {LABELS}")
    return canonical


class Database:
    """Use ``db = await Database.open(path)`` … ``await db.close()``, or ``async with``."""

    def __init__(self, path: Path, writer: Writer, reader: aiosqlite.Connection) -> None:
        self.path = path
        self._writer = writer
        self._reader = reader
        self._closed = False

    # ----------------------------------------------------------------------------- lifecycle

    @classmethod
    async def open(cls, path: str | Path) -> Database:
        """Open (creating parent folders and the file if needed) and migrate to the latest schema."""
        if str(path) == ":memory:":
            raise ValueError("Database needs a file path (WAL and two connections); use tmp_path in tests")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = await open_connection(path)
        try:
            await migrate(conn, where=str(path))
            reader = await open_connection(path, read_only=True)
        except BaseException:
            await conn.close()
            raise
        return cls(path, Writer(conn), reader)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._reader.close()
        finally:
            await self._writer.close()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # ------------------------------------------------------------------------------- helpers

    def _write(self) -> AbstractAsyncContextManager[aiosqlite.Connection]:
        if self._closed:
            raise RuntimeError("database is closed")
        return self._writer.transaction()

    async def _fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        if self._closed:
            raise RuntimeError("database is closed")
        return list(await self._reader.execute_fetchall(sql, params))

    async def _fetchone(self, sql: str, params: Sequence[Any] = ()) -> aiosqlite.Row | None:
        rows = await self._fetchall(sql, params)
        return rows[0] if rows else None

    # --------------------------------------------------------------------------------- users

    async def ensure_user(self, user_id: str, channel: str, *, now: float | None = None) -> bool:
        """Create the user if missing; return True when created."""
        _check_user_id(user_id)
        if not channel:
            raise ValueError("channel must be non-empty")
        async with self._write() as conn:
            cursor = await conn.execute(
                "INSERT INTO users(id, channel, mode, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(id) DO NOTHING",
                (user_id, channel, DEFAULT_MODE, _now(now)),
            )
            return cursor.rowcount == 1

    async def get_mode(self, user_id: str) -> str:
        """The user's mode ("match" or "lift"); "match" for unknown users."""
        row = await self._fetchone("SELECT mode FROM users WHERE id = ?", (user_id,))
        return row["mode"] if row is not None else DEFAULT_MODE

    async def set_mode(self, user_id: str, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; expected one of {MODES}")
        async with self._write() as conn:
            cursor = await conn.execute("UPDATE users SET mode = ? WHERE id = ?", (mode, user_id))
            if cursor.rowcount == 0:
                raise LookupError("unknown user; call ensure_user() first")

    # ------------------------------------------------------------------------------ messages

    async def add_message(
        self,
        user_id: str,
        text: str,
        label: str,
        scores: dict[str, float],
        model_version: str,
        *,
        now: float | None = None,
    ) -> int:
        """Store one classified message and return its id (the user must exist)."""
        label = _canonical_label(label)
        unknown = set(scores) - set(LABELS)
        if unknown:
            raise ValueError(f"unknown score labels {sorted(unknown)}")
        values = [None if scores.get(lab) is None else float(scores[lab]) for lab in LABELS]
        async with self._write() as conn:
            cursor = await conn.execute(
                "INSERT INTO messages(user_id, text, label, p_joy, p_anxiety, p_sadness, p_anger, "
                "model_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (user_id, text, label, *values, model_version, _now(now)),
            )
            message_id = cursor.lastrowid
        assert message_id is not None
        return message_id

    async def get_message(self, message_id: int) -> MessageRow | None:
        row = await self._fetchone(
            "SELECT m.*, c.corrected FROM messages m "
            "LEFT JOIN corrections c ON c.message_id = m.id WHERE m.id = ?",
            (message_id,),
        )
        if row is None:
            return None
        scores = {
            label: float(row[column])
            for label, column in _SCORE_COLUMNS.items()
            if row[column] is not None
        }
        return MessageRow(
            id=row["id"],
            user_id=row["user_id"],
            text=row["text"],
            label=row["label"],
            scores=scores,
            model_version=row["model_version"],
            created_at=row["created_at"],
            corrected=row["corrected"],
        )

    async def last_message_id(self, user_id: str) -> int | None:
        """The user's most recent stored message (what "fix" and "more" refer to in text channels)."""
        row = await self._fetchone(
            "SELECT id FROM messages WHERE user_id = ? ORDER BY id DESC LIMIT 1", (user_id,)
        )
        return None if row is None else int(row["id"])

    # --------------------------------------------------------------------------- corrections

    async def set_correction(
        self, message_id: int, user_id: str, corrected: str, *, now: float | None = None
    ) -> None:
        """Record the user's label for their own message; the latest choice wins.

        Raises LookupError when the message does not exist or belongs to someone else (a forged
        button must not touch other people's data).
        """
        corrected = _canonical_label(corrected)
        now = _now(now)
        async with self._write() as conn:
            async with conn.execute(
                "SELECT label FROM messages WHERE id = ? AND user_id = ?", (message_id, user_id)
            ) as cursor:
                row = await cursor.fetchone()
            if row is None:
                raise LookupError("no such message for this user")
            await conn.execute(
                "INSERT INTO corrections(message_id, user_id, predicted, corrected, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(message_id) DO UPDATE SET corrected = excluded.corrected, "
                "updated_at = excluded.updated_at",
                (message_id, user_id, row["label"], corrected, now, now),
            )

    async def export_corrections(self, *, since: float | None = None) -> list[dict[str, Any]]:
        """Corrections for training, oldest first. ``since`` filters on updated_at (>=).

        Keys: message_id, user_id (pseudonym), text, predicted, corrected, model_version,
        created_at, updated_at.
        """
        rows = await self._fetchall(
            "SELECT c.message_id, c.user_id, m.text, c.predicted, c.corrected, m.model_version, "
            "c.created_at, c.updated_at FROM corrections c JOIN messages m ON m.id = c.message_id "
            "WHERE c.updated_at >= ? ORDER BY c.created_at, c.message_id",
            (float("-inf") if since is None else float(since),),
        )
        return [dict(row) for row in rows]

    # ------------------------------------------------------------------------------- songs

    async def record_shown(
        self,
        message_id: int | None,
        user_id: str,
        songs: Sequence[Song],
        *,
        now: float | None = None,
    ) -> int:
        """Remember which songs were shown (in display order) for a message; return how many."""
        if not songs:
            return 0
        now = _now(now)
        rows = [
            (message_id, user_id, s.key, s.title, s.artist, s.url, s.source, now) for s in songs
        ]
        async with self._write() as conn:
            await conn.executemany(
                "INSERT INTO shown_songs(message_id, user_id, song_key, title, artist, url, "
                "source, shown_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return len(rows)

    async def recent_song_keys(self, user_id: str, limit: int = 20) -> list[str]:
        """Distinct song keys shown to the user, most recently shown first."""
        if limit <= 0:
            return []
        rows = await self._fetchall(
            "SELECT song_key FROM shown_songs WHERE user_id = ? GROUP BY song_key "
            "ORDER BY MAX(shown_at) DESC, MAX(id) DESC LIMIT ?",
            (user_id, int(limit)),
        )
        return [row["song_key"] for row in rows]

    async def shown_for_message(self, message_id: int) -> list[str]:
        """Song keys shown for one message, in display order."""
        rows = await self._fetchall(
            "SELECT song_key FROM shown_songs WHERE message_id = ? ORDER BY id", (message_id,)
        )
        return [row["song_key"] for row in rows]

    # ---------------------------------------------------------------------------- feedback

    async def set_feedback(
        self, user_id: str, song_key: str, emotion: str, liked: bool, *, now: float | None = None
    ) -> None:
        """Like/dislike a song for an emotion; the latest choice wins."""
        emotion = _canonical_label(emotion)
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO song_feedback(user_id, song_key, emotion, liked, updated_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(user_id, song_key) DO UPDATE SET "
                "emotion = excluded.emotion, liked = excluded.liked, updated_at = excluded.updated_at",
                (user_id, song_key, emotion, 1 if liked else 0, _now(now)),
            )

    async def disliked_keys(self, user_id: str) -> set[str]:
        rows = await self._fetchall(
            "SELECT song_key FROM song_feedback WHERE user_id = ? AND liked = 0", (user_id,)
        )
        return {row["song_key"] for row in rows}

    async def feedback_counts(self, emotion: str) -> dict[str, tuple[int, int]]:
        """song_key -> (likes, dislikes) over all users, for one emotion."""
        emotion = _canonical_label(emotion)
        rows = await self._fetchall(
            "SELECT song_key, SUM(liked) AS likes, SUM(1 - liked) AS dislikes "
            "FROM song_feedback WHERE emotion = ? GROUP BY song_key",
            (emotion,),
        )
        return {row["song_key"]: (int(row["likes"]), int(row["dislikes"])) for row in rows}

    # ------------------------------------------------------------------------ search cache

    async def cache_get(self, query: str, now: float | None = None) -> list[dict[str, Any]] | None:
        """Cached results for a query, or None when missing or expired."""
        row = await self._fetchone(
            "SELECT results_json FROM search_cache WHERE query = ? AND expires_at > ?",
            (query, _now(now)),
        )
        return None if row is None else json.loads(row["results_json"])

    async def cache_put(
        self,
        query: str,
        emotion: str,
        mode: str,
        results: list[dict[str, Any]],
        ttl_s: float,
        now: float | None = None,
    ) -> None:
        now = _now(now)
        payload = json.dumps(results, ensure_ascii=False)
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO search_cache(query, emotion, mode, results_json, fetched_at, expires_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(query) DO UPDATE SET "
                "emotion = excluded.emotion, mode = excluded.mode, "
                "results_json = excluded.results_json, fetched_at = excluded.fetched_at, "
                "expires_at = excluded.expires_at",
                (query, emotion, mode, payload, now, now + float(ttl_s)),
            )

    async def cache_pool(
        self, emotion: str, mode: str, now: float | None = None
    ) -> list[dict[str, Any]]:
        """Union of all fresh cached results for an emotion/mode, newest fetch first.

        Duplicates are dropped by their "key" field (or the whole item when it has none).
        """
        rows = await self._fetchall(
            "SELECT results_json FROM search_cache WHERE emotion = ? AND mode = ? "
            "AND expires_at > ? ORDER BY fetched_at DESC, query",
            (emotion, mode, _now(now)),
        )
        seen: set[str] = set()
        pool: list[dict[str, Any]] = []
        for row in rows:
            for item in json.loads(row["results_json"]):
                identity = item.get("key") if isinstance(item, dict) else None
                if not isinstance(identity, str):
                    identity = json.dumps(item, sort_keys=True, ensure_ascii=False)
                if identity not in seen:
                    seen.add(identity)
                    pool.append(item)
        return pool

    async def cache_purge(self, now: float | None = None) -> int:
        """Delete expired cache entries; return how many."""
        async with self._write() as conn:
            cursor = await conn.execute(
                "DELETE FROM search_cache WHERE expires_at <= ?", (_now(now),)
            )
            return cursor.rowcount

    # -------------------------------------------------------------------------- API budget

    async def try_consume_call(self, day: str, provider: str, budget: int, cost: int = 1) -> bool:
        """Atomically add ``cost`` to the day's count if it stays within ``budget``.

        Never exceeds the budget, even with many tasks or several processes on one file.
        """
        if cost <= 0:
            raise ValueError("cost must be positive")
        async with self._write() as conn:
            async with conn.execute(
                "SELECT count FROM api_calls WHERE day = ? AND provider = ?", (day, provider)
            ) as cursor:
                row = await cursor.fetchone()
            used = 0 if row is None else int(row["count"])
            if used + cost > budget:
                return False
            await conn.execute(
                "INSERT INTO api_calls(day, provider, count) VALUES (?, ?, ?) "
                "ON CONFLICT(day, provider) DO UPDATE SET count = ?",
                (day, provider, used + cost, used + cost),
            )
            return True

    async def calls_on(self, day: str, provider: str) -> int:
        row = await self._fetchone(
            "SELECT count FROM api_calls WHERE day = ? AND provider = ?", (day, provider)
        )
        return 0 if row is None else int(row["count"])

    # ------------------------------------------------------------------------------- state

    async def get_state(self, key: str) -> str | None:
        row = await self._fetchone("SELECT value FROM state WHERE key = ?", (key,))
        return None if row is None else row["value"]

    async def set_state(self, key: str, value: str, *, now: float | None = None) -> None:
        async with self._write() as conn:
            await conn.execute(
                "INSERT INTO state(key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) "
                "DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                (key, str(value), _now(now)),
            )

    async def delete_state(self, key: str) -> bool:
        async with self._write() as conn:
            cursor = await conn.execute("DELETE FROM state WHERE key = ?", (key,))
            return cursor.rowcount == 1

    # ----------------------------------------------------------------------------- privacy

    async def user_summary(self, user_id: str) -> dict[str, Any]:
        """What is stored about a user (one consistent snapshot).

        Keys: user_id, exists, channel, mode, created_at, messages, corrections, shown_songs,
        feedback, first_message_at, last_message_at (times None when there is nothing).
        """
        row = await self._fetchone(
            "SELECT "
            "(SELECT channel FROM users WHERE id = :u) AS channel, "
            "(SELECT mode FROM users WHERE id = :u) AS mode, "
            "(SELECT created_at FROM users WHERE id = :u) AS created_at, "
            "(SELECT COUNT(*) FROM messages WHERE user_id = :u) AS messages, "
            "(SELECT COUNT(*) FROM corrections WHERE user_id = :u) AS corrections, "
            "(SELECT COUNT(*) FROM shown_songs WHERE user_id = :u) AS shown_songs, "
            "(SELECT COUNT(*) FROM song_feedback WHERE user_id = :u) AS feedback, "
            "(SELECT MIN(created_at) FROM messages WHERE user_id = :u) AS first_message_at, "
            "(SELECT MAX(created_at) FROM messages WHERE user_id = :u) AS last_message_at",
            {"u": user_id},
        )
        assert row is not None
        summary = dict(row)
        summary["user_id"] = user_id
        summary["exists"] = summary["channel"] is not None
        if summary["mode"] is None:
            summary["mode"] = DEFAULT_MODE
        return summary

    async def delete_user(self, user_id: str) -> dict[str, int]:
        """Delete everything stored about a user in one transaction; return counts per kind.

        Keys: corrections, feedback, shown_songs, messages, users.
        """
        counts: dict[str, int] = {}
        async with self._write() as conn:
            for key, sql in (
                ("corrections", "DELETE FROM corrections WHERE user_id = ?"),
                ("feedback", "DELETE FROM song_feedback WHERE user_id = ?"),
                ("shown_songs", "DELETE FROM shown_songs WHERE user_id = ?"),
                ("messages", "DELETE FROM messages WHERE user_id = ?"),
                ("users", "DELETE FROM users WHERE id = ?"),
            ):
                cursor = await conn.execute(sql, (user_id,))
                counts[key] = cursor.rowcount
        return counts
