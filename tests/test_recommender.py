"""The recommender end to end: YouTube (local fake) → catalogue, a real SQLite database, many users."""
from __future__ import annotations

import asyncio
import collections
import os
import random
import time
from datetime import datetime

import pytest

from recommend.catalog import CatalogProvider
from recommend.keyless import KeylessProvider
from recommend.recommender import Recommender
from recommend.setup import build_providers, close_providers
from recommend.types import Song
from recommend.youtube import PACIFIC, YouTubeProvider
from storage import Database
from storage.identity import pseudonymize
from tests.youtube_fixtures import FakeClock, db, fake  # noqa: F401 - fixtures

os.environ.setdefault("NO_PROXY", "127.0.0.1,localhost")
KEY = "test-key"
SECRET = b"s" * 32
EMOTIONS = ("joy", "anxiety", "sadness", "anger")
MODES = ("match", "lift")


#: 2026-07-01 09:00 in Los Angeles
START = datetime(2026, 7, 1, 9, 0, tzinfo=PACIFIC).timestamp()


@pytest.fixture
async def youtube_recommender(fake, db):
    clock = FakeClock(START)
    providers = build_providers(
        db=db, api_key=KEY, api_base=fake.api_base, keyless=False, clock=clock, rng=random.Random(11)
    )
    recommender = Recommender(providers, budget_s=2.0)
    recommender.clock = clock  # type: ignore[attr-defined]
    yield recommender
    await recommender.close()


def uid(n: int) -> str:
    return pseudonymize(SECRET, "console", str(n))


async def rate(db: Database, user: str, key: str, emotion: str, liked: bool) -> None:
    await db.ensure_user(user, "console")
    await db.set_feedback(user, key, emotion, liked)


class EngineLike:
    """What bot/engine.py does around the recommender: last-20 window plus dislikes as ``exclude``."""

    def __init__(self, db: Database, recommender: Recommender, window: int = 20) -> None:
        self.db = db
        self.recommender = recommender
        self.recent: dict[str, collections.deque[str]] = collections.defaultdict(lambda: collections.deque(maxlen=window))

    async def reply(self, user: str, emotion: str, mode: str, count: int = 4) -> list[Song]:
        exclude = set(self.recent[user]) | await self.db.disliked_keys(user)
        songs = await self.recommender.recommend(emotion, mode, count, exclude)
        for song in songs:
            self.recent[user].appendleft(song.key)
        return songs


# ----------------------------------------------------------------------------------- quota


async def test_thousand_replies_for_fifty_users_cost_at_most_ten_calls(youtube_recommender, db, fake):
    engine = EngineLike(db, youtube_recommender)
    rng = random.Random(2026)
    sources: collections.Counter[str] = collections.Counter()
    started = time.monotonic()
    for n in range(1000):
        user = uid(rng.randrange(50))
        emotion, mode = rng.choice(EMOTIONS), rng.choice(MODES)
        before = set(engine.recent[user])
        songs = await engine.reply(user, emotion, mode)
        assert len(songs) == 4
        keys = [s.key for s in songs]
        assert len(set(keys)) == 4, "no song twice in one reply"
        assert not set(keys) & before, "no repeat within the person's last 20 songs"
        sources.update(s.source for s in songs)
        youtube_recommender.clock.now += 20  # one reply every 20 s: 1,000 replies ≈ 5.5 hours
    elapsed = time.monotonic() - started
    for provider in youtube_recommender.providers:
        if isinstance(provider, YouTubeProvider):
            await provider.wait_idle()
    print(f"\n1,000 replies / 50 users: {fake.search_calls} search.list calls, songs by source {dict(sources)}, "
          f"{elapsed:.1f} s in all ({elapsed:.2f} ms per reply)")
    assert fake.search_calls <= 10
    assert sources["youtube"] >= 0.97 * sum(sources.values()), sources


async def test_next_day_refreshes_in_background_at_most_once_per_hundred_replies(youtube_recommender, db, fake):
    engine = EngineLike(db, youtube_recommender)
    rng = random.Random(7)
    for _ in range(200):
        await engine.reply(uid(rng.randrange(50)), rng.choice(EMOTIONS), "match")
    assert fake.search_calls == 4  # one per emotion, first time only
    youtube_recommender.clock.now += 25 * 3600  # a day later: all pools are stale (still served)
    for _ in range(250):
        songs = await engine.reply(uid(rng.randrange(50)), rng.choice(EMOTIONS), "match")
        assert {s.source for s in songs} == {"youtube"}
    provider = youtube_recommender.providers[0]
    await provider.wait_idle()
    assert 4 < fake.search_calls <= 4 + 3, fake.search_calls  # ≤ 1 per 100 replies


# ---------------------------------------------------------------------------- variety, feedback


async def test_more_songs_returns_the_next_unseen_ones(youtube_recommender):
    seen: set[str] = set()
    for _ in range(6):
        songs = await youtube_recommender.recommend("anxiety", "lift", 4, seen)
        keys = {s.key for s in songs}
        assert len(keys) == 4 and not keys & seen
        seen |= keys


async def test_a_disliked_song_never_returns_to_that_person(youtube_recommender, db):
    engine = EngineLike(db, youtube_recommender)
    hater, other = uid(1), uid(2)
    first = await engine.reply(hater, "sadness", "match")
    disliked = first[0].key
    await rate(db, hater, disliked, "sadness", False)
    assert disliked in await db.disliked_keys(hater)
    others_saw_it = 0
    for _ in range(150):
        songs = await engine.reply(hater, "sadness", "match")
        assert disliked not in {s.key for s in songs}
        others_saw_it += disliked in {s.key for s in await engine.reply(other, "sadness", "match")}
    assert others_saw_it > 0, "the song is still offered to people who did not dislike it"


async def test_songs_liked_for_an_emotion_rank_higher(youtube_recommender, db):
    probe = await youtube_recommender.recommend("sadness", "lift", 30, set())
    liked, plain = probe[0].key, probe[1].key
    for n in range(6):
        await rate(db, uid(100 + n), liked, "sadness", True)
    await rate(db, uid(200), plain, "joy", True)  # a like for another emotion does not count
    liked_hits = plain_hits = 0
    trials = 200
    for _ in range(trials):
        keys = {s.key for s in await youtube_recommender.recommend("sadness", "lift", 4, set())}
        liked_hits += liked in keys
        plain_hits += plain in keys
    print(f"\nliked song in {liked_hits}/{trials} replies, unrated song in {plain_hits}/{trials}")
    # Beta(7, 1) against ~28 uniform draws: in the top 4 about 60% of the time; an unrated song ~4/28
    assert liked_hits >= 0.45 * trials
    assert plain_hits <= 0.3 * trials and liked_hits >= 3 * plain_hits


async def test_disliked_by_many_sinks(youtube_recommender, db):
    probe = await youtube_recommender.recommend("anger", "lift", 30, set())
    bad = probe[0].key
    for n in range(8):
        await rate(db, uid(300 + n), bad, "anger", False)
    hits = 0
    for _ in range(200):
        hits += bad in {s.key for s in await youtube_recommender.recommend("anger", "lift", 4, set())}
    assert hits <= 10


# ---------------------------------------------------------------------------- orchestration


class StubProvider:
    """A provider with scripted behaviour, for the recommender's own rules."""

    def __init__(self, name: str, songs: list[Song], *, delay: float = 0.0, fail: bool = False) -> None:
        self.name = name
        self.songs = songs
        self.delay = delay
        self.fail = fail
        self.calls = 0

    async def search(self, emotion, mode, count, exclude):
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("boom")
        return self.songs[:count]


def songs(prefix: str, n: int, source: str) -> list[Song]:
    return [Song(key=f"{prefix}:{i}", title=f"t{i}", artist="a", url="https://example.invalid", source=source)
            for i in range(n)]


async def test_slow_provider_is_cut_at_the_budget():
    slow = StubProvider("youtube", songs("yt", 4, "youtube"), delay=5.0)
    recommender = Recommender([slow, CatalogProvider()], budget_s=0.25)
    started = time.monotonic()
    result = await recommender.recommend("joy", "match", 4, set())
    elapsed = time.monotonic() - started
    assert elapsed < 1.5, elapsed  # cut at the 0.25 s budget, long before the provider's 5 s
    assert len(result) == 4 and {s.source for s in result} == {"catalog"}


async def test_budget_is_shared_and_partial_answers_are_topped_up():
    partial = StubProvider("youtube", songs("yt", 2, "youtube"))
    failing = StubProvider("keyless", [], fail=True)
    recommender = Recommender([partial, failing, CatalogProvider()], budget_s=1.0)
    result = await recommender.recommend("anger", "match", 4, set())
    assert [s.source for s in result] == ["youtube", "youtube", "catalog", "catalog"]
    assert failing.calls == 1


async def test_excluded_keys_never_come_back_even_from_a_careless_provider():
    careless = StubProvider("youtube", songs("yt", 6, "youtube"))
    recommender = Recommender([careless, CatalogProvider()], budget_s=1.0)
    result = await recommender.recommend("joy", "lift", 4, {"yt:0", "yt:1"})
    keys = [s.key for s in result]
    assert keys[:2] == ["yt:2", "yt:3"] and len(keys) == 4 and len(set(keys)) == 4
    assert not {"yt:0", "yt:1"} & set(keys)
    assert {s.source for s in result[2:]} == {"catalog"}


async def test_build_providers_order(db, fake):
    with_key = build_providers(db=db, api_key=KEY, api_base=fake.api_base, keyless=True)
    no_key = build_providers(db=db, api_key=None, keyless=True)
    offline = build_providers(db=db, api_key=None, keyless=False)
    try:
        assert [p.name for p in with_key] == ["youtube", "keyless", "catalog"]
        assert [p.name for p in no_key] == ["keyless", "catalog"]
        assert [p.name for p in offline] == ["catalog"]
        assert isinstance(with_key[1], KeylessProvider) and isinstance(with_key[2], CatalogProvider)
    finally:
        for providers in (with_key, no_key, offline):
            await close_providers(providers)


async def test_close_stops_background_searches(db, fake):
    fake.behaviour = "slow"
    fake.slow_s = 5.0
    providers = build_providers(db=db, api_key=KEY, api_base=fake.api_base, keyless=False)
    recommender = Recommender(providers, budget_s=0.2)
    await recommender.recommend("joy", "match", 4, set())  # the search keeps running in the background
    youtube = providers[0]
    assert youtube._tasks
    started = time.monotonic()
    await recommender.close()
    assert time.monotonic() - started < 3.0  # does not wait for the 5 s search
    assert not youtube._tasks
    assert await youtube.search("joy", "match", 4, set()) == []  # closed providers answer nothing
