"""Storage layer tests on real SQLite files (tmp_path)."""
from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import aiosqlite
import pytest

from recommend.types import Song
from storage import (
    LATEST_VERSION,
    Database,
    SchemaTooNewError,
    SecretError,
    is_pseudonym,
    load_or_create_secret,
    pseudonymize,
    secret_path_for,
)
from storage.migrations import MIGRATIONS, Migration, migrate

REPO_ROOT = Path(__file__).resolve().parents[1]
SECRET = b"s" * 32
SCORES = {"joy": 0.7, "anxiety": 0.1, "sadness": 0.15, "anger": 0.05}
V2_TABLES = {"song_feedback", "search_cache", "api_calls", "state"}


def uid(name: str, channel: str = "telegram") -> str:
    return pseudonymize(SECRET, channel, name)


def song(key: str) -> Song:
    return Song(key=key, title=f"title {key}", artist="artist", url=f"https://example.test/{key}")


def tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "maeum.db"


@pytest.fixture
async def db(db_path: Path):
    database = await Database.open(db_path)
    try:
        yield database
    finally:
        await database.close()


async def new_user(db: Database, name: str, channel: str = "telegram") -> str:
    user_id = uid(name, channel)
    await db.ensure_user(user_id, channel)
    return user_id


# --------------------------------------------------------------------------- schema/migrations


async def test_open_creates_latest_schema_with_wal(db_path: Path) -> None:
    async with await Database.open(db_path) as db:
        assert db_path.exists()
        assert user_version(db_path) == LATEST_VERSION == MIGRATIONS[-1].version
        with sqlite3.connect(db_path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert {"users", "messages", "corrections", "shown_songs"} | V2_TABLES <= tables(db_path)
        # foreign keys are enforced: a message for an unknown user is refused
        with pytest.raises(sqlite3.IntegrityError):
            await db.add_message(uid("ghost"), "hi", "joy", SCORES, "v1")
    # reopening is a no-op migration and keeps data
    async with await Database.open(db_path) as db:
        assert await db.get_mode(uid("ghost")) == "match"


async def test_migrates_v1_file_and_keeps_data(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    alice = uid("alice")
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN")
    for statement in MIGRATIONS[0].statements:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO users VALUES (?, 'telegram', 'lift', 100.0)", (alice,))
    conn.execute(
        "INSERT INTO messages(id, user_id, text, label, p_joy, p_anxiety, p_sadness, p_anger, "
        "model_version, created_at) VALUES (7, ?, '시험이 걱정돼', 'anxiety', 0.1, 0.6, 0.2, 0.1, "
        "'old-model', 101.0)",
        (alice,),
    )
    conn.execute(
        "INSERT INTO corrections VALUES (7, ?, 'anxiety', 'sadness', 102.0, 102.0)", (alice,)
    )
    conn.execute(
        "INSERT INTO shown_songs(message_id, user_id, song_key, title, artist, url, source, "
        "shown_at) VALUES (7, ?, 'cat:x', 'X', 'Y', 'https://e.test', 'catalog', 101.5)",
        (alice,),
    )
    conn.execute("COMMIT")
    conn.close()
    assert user_version(db_path) == 1
    assert not (V2_TABLES & tables(db_path))

    async with await Database.open(db_path) as db:
        assert user_version(db_path) == LATEST_VERSION
        assert V2_TABLES <= tables(db_path)
        message = await db.get_message(7)
        assert message is not None
        assert message.text == "시험이 걱정돼"
        assert message.label == "anxiety"
        assert message.scores == pytest.approx({"joy": 0.1, "anxiety": 0.6, "sadness": 0.2, "anger": 0.1})
        assert message.corrected == "sadness"
        assert await db.get_mode(alice) == "lift"
        assert await db.recent_song_keys(alice) == ["cat:x"]
        # new tables work for the old user
        await db.set_feedback(alice, "cat:x", "anxiety", liked=False)
        assert await db.disliked_keys(alice) == {"cat:x"}
        assert (await db.export_corrections())[0]["corrected"] == "sadness"


async def test_failed_migration_rolls_back_completely(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    bad = Migration(2, "broken", ("CREATE TABLE half_done(x)", "INSERT INTO no_such_table VALUES (1)"))
    conn = await aiosqlite.connect(db_path, isolation_level=None)
    try:
        with pytest.raises(sqlite3.OperationalError):
            await migrate(conn, migrations=(MIGRATIONS[0], bad))
        assert not conn.in_transaction
    finally:
        await conn.close()
    assert user_version(db_path) == 1  # migration 1 committed on its own
    assert "half_done" not in tables(db_path)
    assert "users" in tables(db_path)
    # the real code then finishes the job
    async with await Database.open(db_path):
        pass
    assert user_version(db_path) == LATEST_VERSION


async def test_refuses_newer_schema(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    with sqlite3.connect(db_path) as conn:
        conn.execute("CREATE TABLE future(x)")
        conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    with pytest.raises(SchemaTooNewError) as info:
        await Database.open(db_path)
    message = str(info.value)
    assert str(LATEST_VERSION + 1) in message and str(LATEST_VERSION) in message
    assert "newer" in message
    assert user_version(db_path) == LATEST_VERSION + 1
    assert tables(db_path) == {"future"}


# --------------------------------------------------------------------------------- concurrency


async def test_eight_tasks_times_200_writes_lose_nothing(db: Database) -> None:
    users = [await new_user(db, f"user{i}") for i in range(8)]

    async def worker(index: int) -> None:
        user_id = users[index]
        for n in range(200):
            message_id = await db.add_message(user_id, f"{index}-{n}", "joy", SCORES, "v1")
            await db.set_correction(message_id, user_id, ("anger", "sadness")[n % 2])
            assert await db.try_consume_call("2026-01-01", "counter", budget=10**9)

    await asyncio.gather(*(worker(i) for i in range(8)))

    assert await db.calls_on("2026-01-01", "counter") == 1600
    exported = await db.export_corrections()
    assert len(exported) == 1600
    assert len({row["message_id"] for row in exported}) == 1600
    for row in exported:
        n = int(row["text"].split("-")[1])
        assert row["corrected"] == ("anger", "sadness")[n % 2]
        assert row["user_id"] == users[int(row["text"].split("-")[0])]
    for user_id in users:
        summary = await db.user_summary(user_id)
        assert summary["messages"] == 200 and summary["corrections"] == 200


async def test_two_connections_share_budget_exactly(db_path: Path) -> None:
    first = await Database.open(db_path)
    second = await Database.open(db_path)
    try:

        async def spend(database: Database, provider: str, budget: int) -> int:
            granted = 0
            for _ in range(200):
                if await database.try_consume_call("2026-01-01", provider, budget):
                    granted += 1
            return granted

        # unlimited: 2 x 200 read-modify-write increments, none lost
        a, b = await asyncio.gather(spend(first, "free", 10**9), spend(second, "free", 10**9))
        assert a + b == 400
        assert await first.calls_on("2026-01-01", "free") == 400

        # limited: exactly the budget is granted, never more
        a, b = await asyncio.gather(spend(first, "yt", 300), spend(second, "yt", 300))
        assert a + b == 300
        assert await second.calls_on("2026-01-01", "yt") == 300
        assert not await first.try_consume_call("2026-01-01", "yt", 300)
    finally:
        await first.close()
        await second.close()


async def test_two_processes_share_budget_exactly(db_path: Path) -> None:
    async with await Database.open(db_path) as db:
        script = textwrap.dedent(
            f"""
            import asyncio, sys
            from storage import Database
            async def main():
                async with await Database.open({str(db_path)!r}) as db:
                    print("ready", flush=True)
                    sys.stdin.readline()
                    granted = 0
                    for _ in range(150):
                        granted += await db.try_consume_call("d", "yt", 200, cost=1)
                    print(granted, flush=True)
            asyncio.run(main())
            """
        )
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", script, env=env,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert child.stdout is not None and child.stdin is not None
            assert (await asyncio.wait_for(child.stdout.readline(), 30)).strip() == b"ready"
            child.stdin.write(b"go\n")
            await child.stdin.drain()
            mine = 0
            for _ in range(150):
                mine += await db.try_consume_call("d", "yt", 200)
            out, _ = await asyncio.wait_for(child.communicate(), 30)
        finally:
            if child.returncode is None:
                child.kill()
                await child.wait()
        assert child.returncode == 0
        theirs = int(out.strip())
        assert mine + theirs == 200
        assert await db.calls_on("d", "yt") == 200


async def test_cancelled_writes_leave_database_usable(db: Database) -> None:
    alice = await new_user(db, "alice")
    tasks = [
        asyncio.create_task(db.add_message(alice, f"m{i}", "joy", SCORES, "v1")) for i in range(40)
    ]
    for _ in range(5):
        await asyncio.sleep(0)
    for task in tasks[10:]:
        task.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    done = [r for r in results if isinstance(r, int)]
    assert len(done) >= 1
    # no transaction is left open: more writes succeed and counts are consistent
    message_id = await db.add_message(alice, "after", "sadness", SCORES, "v1")
    await db.set_correction(message_id, alice, "joy")
    stored = (await db.user_summary(alice))["messages"]
    assert len(done) + 1 <= stored <= 41


# ------------------------------------------------------------------------ users/messages/etc.


async def test_modes(db: Database) -> None:
    alice = await new_user(db, "alice")
    assert await db.get_mode(alice) == "match"
    await db.set_mode(alice, "lift")
    assert await db.get_mode(alice) == "lift"
    with pytest.raises(ValueError):
        await db.set_mode(alice, "party")
    with pytest.raises(LookupError):
        await db.set_mode(uid("nobody"), "lift")
    assert await db.ensure_user(alice, "telegram") is False
    assert await db.get_mode(alice) == "lift"  # ensure_user does not reset the mode


async def test_raw_channel_ids_are_refused_and_never_stored(db: Database, db_path: Path) -> None:
    raw = "987654321"
    with pytest.raises(ValueError):
        await db.ensure_user(raw, "telegram")
    user_id = pseudonymize(SECRET, "telegram", raw)
    await db.ensure_user(user_id, "telegram")
    await db.add_message(user_id, "안녕", "joy", SCORES, "v1")
    blob = b"".join(p.read_bytes() for p in db_path.parent.iterdir() if p.is_file())
    assert raw.encode() not in blob
    assert user_id.encode() in blob


async def test_message_roundtrip_and_validation(db: Database) -> None:
    alice = await new_user(db, "alice")
    message_id = await db.add_message(alice, "너무 화나", "분노", {"anger": 0.8, "joy": 0.2}, "m-1", now=50.0)
    row = await db.get_message(message_id)
    assert row is not None
    assert (row.id, row.user_id, row.text, row.label) == (message_id, alice, "너무 화나", "anger")
    assert row.scores == pytest.approx({"anger": 0.8, "joy": 0.2})
    assert (row.model_version, row.created_at, row.corrected) == ("m-1", 50.0, None)
    assert await db.get_message(message_id + 1000) is None
    with pytest.raises(ValueError):
        await db.add_message(alice, "x", "boredom", SCORES, "m-1")
    with pytest.raises(ValueError):
        await db.add_message(alice, "x", "joy", {"surprise": 1.0}, "m-1")


async def test_correction_latest_wins_and_is_owner_only(db: Database) -> None:
    alice = await new_user(db, "alice")
    bob = await new_user(db, "bob")
    message_id = await db.add_message(alice, "그냥 그래", "joy", SCORES, "v1", now=10.0)
    await db.set_correction(message_id, alice, "sadness", now=20.0)
    await db.set_correction(message_id, alice, "불안", now=30.0)
    row = await db.get_message(message_id)
    assert row is not None and row.corrected == "anxiety" and row.label == "joy"
    [exported] = await db.export_corrections()
    assert exported == {
        "message_id": message_id,
        "user_id": alice,
        "text": "그냥 그래",
        "predicted": "joy",
        "corrected": "anxiety",
        "model_version": "v1",
        "created_at": 20.0,
        "updated_at": 30.0,
    }
    with pytest.raises(LookupError):
        await db.set_correction(message_id, bob, "anger")  # forged button from another user
    with pytest.raises(LookupError):
        await db.set_correction(message_id + 99, alice, "anger")
    with pytest.raises(ValueError):
        await db.set_correction(message_id, alice, "meh")
    assert (await db.get_message(message_id)).corrected == "anxiety"  # type: ignore[union-attr]


async def test_export_corrections_ordered_by_time_with_since(db: Database) -> None:
    alice = await new_user(db, "alice")
    bob = await new_user(db, "bob")
    m1 = await db.add_message(alice, "one", "joy", SCORES, "v1", now=1.0)
    m2 = await db.add_message(bob, "two", "joy", SCORES, "v1", now=2.0)
    m3 = await db.add_message(alice, "three", "joy", SCORES, "v1", now=3.0)
    await db.add_message(alice, "never corrected", "joy", SCORES, "v1", now=4.0)
    await db.set_correction(m3, alice, "anger", now=100.0)
    await db.set_correction(m1, alice, "sadness", now=200.0)
    await db.set_correction(m2, bob, "anxiety", now=300.0)
    await db.set_correction(m3, alice, "sadness", now=400.0)  # update keeps its place
    exported = await db.export_corrections()
    assert [row["message_id"] for row in exported] == [m3, m1, m2]
    assert [row["text"] for row in exported] == ["three", "one", "two"]
    assert exported[0]["corrected"] == "sadness"
    recent = await db.export_corrections(since=300.0)
    assert [row["message_id"] for row in recent] == [m3, m2]


async def test_recent_song_keys_order_limit_and_per_message(db: Database) -> None:
    alice = await new_user(db, "alice")
    bob = await new_user(db, "bob")
    m1 = await db.add_message(alice, "a", "joy", SCORES, "v1")
    m2 = await db.add_message(alice, "b", "joy", SCORES, "v1")
    assert await db.record_shown(m1, alice, [song("k1"), song("k2")], now=10.0) == 2
    await db.record_shown(m2, alice, [song("k3"), song("k1")], now=20.0)
    await db.record_shown(None, bob, [song("bob-only")], now=30.0)
    assert await db.record_shown(m2, alice, [], now=40.0) == 0
    keys = await db.recent_song_keys(alice)
    assert keys[:2] in (["k3", "k1"], ["k1", "k3"])  # shown together at t=20
    assert keys[2] == "k2"
    assert len(keys) == 3  # distinct
    assert len(await db.recent_song_keys(alice, limit=2)) == 2
    assert await db.recent_song_keys(alice, limit=0) == []
    assert await db.recent_song_keys(bob) == ["bob-only"]
    assert await db.shown_for_message(m1) == ["k1", "k2"]
    assert await db.shown_for_message(m2) == ["k3", "k1"]
    await db.record_shown(m1, alice, [song("k2")], now=50.0)
    assert (await db.recent_song_keys(alice, limit=1)) == ["k2"]


async def test_feedback_latest_wins_and_counts(db: Database) -> None:
    alice = await new_user(db, "alice")
    bob = await new_user(db, "bob")
    await db.set_feedback(alice, "yt:a", "joy", liked=True)
    await db.set_feedback(alice, "yt:b", "joy", liked=False)
    await db.set_feedback(bob, "yt:a", "joy", liked=False)
    await db.set_feedback(bob, "yt:c", "sadness", liked=True)
    assert await db.disliked_keys(alice) == {"yt:b"}
    assert await db.feedback_counts("joy") == {"yt:a": (1, 1), "yt:b": (0, 1)}
    await db.set_feedback(alice, "yt:b", "기쁨", liked=True)  # changed their mind
    assert await db.disliked_keys(alice) == set()
    assert await db.feedback_counts("joy") == {"yt:a": (1, 1), "yt:b": (1, 0)}
    assert await db.feedback_counts("sadness") == {"yt:c": (1, 0)}
    assert await db.feedback_counts("anger") == {}


async def test_search_cache_ttl_pool_and_purge(db: Database) -> None:
    a = [{"key": "yt:1", "title": "하나"}, {"key": "yt:2", "title": "둘"}]
    b = [{"key": "yt:2", "title": "둘"}, {"key": "yt:3", "title": "셋"}]
    await db.cache_put("q-a", "sadness", "match", a, ttl_s=100, now=1000.0)
    await db.cache_put("q-b", "sadness", "match", b, ttl_s=500, now=1010.0)
    await db.cache_put("q-c", "sadness", "lift", [{"key": "yt:9"}], ttl_s=500, now=1000.0)
    assert await db.cache_get("q-a", now=1099.0) == a
    assert await db.cache_get("q-a", now=1100.0) is None  # expired exactly at fetched + ttl
    assert await db.cache_get("missing", now=1000.0) is None
    pool = await db.cache_pool("sadness", "match", now=1050.0)
    assert [item["key"] for item in pool] == ["yt:2", "yt:3", "yt:1"]  # newest fetch first, deduped
    pool_later = await db.cache_pool("sadness", "match", now=1200.0)
    assert [item["key"] for item in pool_later] == ["yt:2", "yt:3"]
    assert await db.cache_pool("joy", "match", now=1050.0) == []
    # refresh replaces
    await db.cache_put("q-a", "sadness", "match", [{"key": "yt:new"}], ttl_s=100, now=2000.0)
    assert await db.cache_get("q-a", now=2050.0) == [{"key": "yt:new"}]
    assert await db.cache_purge(now=2000.0) == 0 + 2  # q-b and q-c expired at 1510/1500
    assert await db.cache_get("q-a", now=2050.0) is not None


async def test_budget_cost_and_days(db: Database) -> None:
    assert await db.calls_on("2026-01-01", "youtube") == 0
    assert await db.try_consume_call("2026-01-01", "youtube", budget=250, cost=100)
    assert await db.try_consume_call("2026-01-01", "youtube", budget=250, cost=100)
    assert not await db.try_consume_call("2026-01-01", "youtube", budget=250, cost=100)
    assert await db.try_consume_call("2026-01-01", "youtube", budget=250, cost=50)
    assert await db.calls_on("2026-01-01", "youtube") == 250
    assert await db.try_consume_call("2026-01-02", "youtube", budget=250, cost=100)
    assert not await db.try_consume_call("2026-01-03", "youtube", budget=0)
    with pytest.raises(ValueError):
        await db.try_consume_call("2026-01-03", "youtube", budget=10, cost=0)


async def test_state(db: Database) -> None:
    assert await db.get_state("telegram.offset") is None
    await db.set_state("telegram.offset", "41")
    await db.set_state("telegram.offset", "42")
    assert await db.get_state("telegram.offset") == "42"
    assert await db.delete_state("telegram.offset") is True
    assert await db.get_state("telegram.offset") is None


# ------------------------------------------------------------------------------------ privacy


async def test_summary_and_delete_user_removes_everything(db: Database, db_path: Path) -> None:
    alice = await new_user(db, "alice")
    bob = await new_user(db, "bob")
    for who in (alice, bob):
        m1 = await db.add_message(who, "첫째", "joy", SCORES, "v1", now=10.0)
        m2 = await db.add_message(who, "둘째", "anger", SCORES, "v1", now=20.0)
        await db.set_correction(m1, who, "sadness")
        await db.record_shown(m1, who, [song("k1"), song("k2")])
        await db.record_shown(m2, who, [song("k3")])
        await db.set_feedback(who, "k1", "joy", liked=False)
    await db.set_mode(alice, "lift")

    summary = await db.user_summary(alice)
    assert summary["exists"] is True and summary["mode"] == "lift" and summary["channel"] == "telegram"
    assert (summary["messages"], summary["corrections"], summary["shown_songs"], summary["feedback"]) == (2, 1, 3, 1)
    assert (summary["first_message_at"], summary["last_message_at"]) == (10.0, 20.0)

    counts = await db.delete_user(alice)
    assert counts == {"corrections": 1, "feedback": 1, "shown_songs": 3, "messages": 2, "users": 1}

    gone = await db.user_summary(alice)
    assert gone["exists"] is False
    assert (gone["messages"], gone["corrections"], gone["shown_songs"], gone["feedback"]) == (0, 0, 0, 0)
    with sqlite3.connect(db_path) as conn:
        for table, column in (
            ("users", "id"), ("messages", "user_id"), ("corrections", "user_id"),
            ("shown_songs", "user_id"), ("song_feedback", "user_id"),
        ):
            assert conn.execute(f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", (alice,)).fetchone()[0] == 0
    assert all(row["user_id"] == bob for row in await db.export_corrections())

    kept = await db.user_summary(bob)
    assert (kept["messages"], kept["corrections"], kept["shown_songs"], kept["feedback"]) == (2, 1, 3, 1)
    assert await db.disliked_keys(bob) == {"k1"}
    assert await db.delete_user(alice) == {"corrections": 0, "feedback": 0, "shown_songs": 0, "messages": 0, "users": 0}


# ----------------------------------------------------------------------------------- identity


def test_pseudonym_stable_and_per_channel() -> None:
    a = pseudonymize(SECRET, "telegram", "12345")
    assert a == pseudonymize(SECRET, "telegram", "12345")
    assert is_pseudonym(a) and len(a) == 32
    assert a != pseudonymize(SECRET, "kakao", "12345")
    assert a != pseudonymize(SECRET, "telegram", "12346")
    assert a != pseudonymize(b"t" * 32, "telegram", "12345")
    assert "12345" not in a
    with pytest.raises(SecretError):
        pseudonymize(b"short", "telegram", "12345")
    assert not is_pseudonym("12345")


def test_secret_file_created_0600_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MAEUM_SECRET", raising=False)
    path = secret_path_for(tmp_path / "var" / "maeum.db")
    assert path == tmp_path / "var" / "maeum.db.secret"
    secret = load_or_create_secret(path)
    assert len(secret) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_secret(path) == secret
    assert [p.name for p in path.parent.iterdir()] == ["maeum.db.secret"]  # no temp files left
    os.chmod(path, 0o644)
    assert load_or_create_secret(path) == secret
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # tightened


def test_secret_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "maeum.db.secret"
    monkeypatch.setenv("MAEUM_SECRET", "env-secret-that-is-long-enough")
    assert load_or_create_secret(path) == b"env-secret-that-is-long-enough"
    assert not path.exists()
    monkeypatch.setenv("MAEUM_SECRET", "short")
    with pytest.raises(SecretError):
        load_or_create_secret(path)
    monkeypatch.delenv("MAEUM_SECRET")
    file_secret = load_or_create_secret(path)
    assert file_secret != b"env-secret-that-is-long-enough" and len(file_secret) == 32
